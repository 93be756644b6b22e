"""Wyckoff analysis on bars (SPEC AN-8): phases and events from price and volume.

Theory of operation. :class:`WyckoffAnalyzer` reads one closed bar at a time
(``update(ts, open, high, low, close, volume)``, O(1)) and reports the Wyckoff
events that bar completes. The reference statistics are taken over the bars
*before* the current one: ``avg_range`` and ``avg_volume`` are the means of
bar range (high - low) and volume over ``avg_window`` bars; the lookback
extremes are the lowest low and highest high of the last ``lookback`` bars.
Ratios below are against those averages.

A trading range is born from a climax and its reaction:

* SELLING_CLIMAX (SC): a bar whose low undercuts the lookback low, with range
  >= ``climax_range`` x avg range and volume >= ``climax_volume`` x avg volume.
  BUYING_CLIMAX (BC) is the mirror at the lookback high. A climax is looked
  for only outside a trading range; a more extreme climax before the reaction
  is confirmed replaces the first (and is reported too).
* AUTOMATIC_RALLY (AR, after an SC) / AUTOMATIC_REACTION (after a BC): the
  extreme of the rebound that follows the climax, confirmed once
  ``ar_confirm`` bars have passed without exceeding it and the rebound spans at
  least ``min_ar_height`` x the climax's avg range. The event carries the
  extreme's bar and price and is reported on the confirming bar
  (``detected_ts``): a strategy never sees it earlier than it could have known.
  A rebound not confirmed within ``ar_window`` bars, or a non-climactic bar
  beyond the climax extreme, abandons the climax.

The climax and reaction extremes define the range: for an accumulation (after
an SC) support is the SC low and resistance the AR high; for a distribution
(after a BC) resistance is the BC high and support the reaction low. H is the
range height. Inside a range, on each bar:

* SIGN_OF_STRENGTH (SOS): an up bar (close > open) closing above resistance
  with range >= ``breakout_range`` x avg and volume >= ``breakout_volume`` x avg.
  SIGN_OF_WEAKNESS (SOW): the mirror, a down bar closing below support. Either
  ends the range: phase MARKUP after an SOS, MARKDOWN after an SOW.
* SPRING (accumulation): price breaks below support and closes back at or above
  it within ``reclaim_bars`` bars (the same bar or later), the excursion no deeper
  than ``max_penetration`` x H, the breaking bar's volume at most
  ``spring_volume`` x avg (low or moderate: a high-volume, wide break is an SOW).
  UPTHRUST (distribution) is the mirror above resistance.
* An excursion that does not come back within ``reclaim_bars`` bars, or goes
  deeper than ``max_penetration`` x H, breaks the range without an event: below
  support → MARKDOWN, above resistance → MARKUP. (An excursion on the side
  opposite to the spring/upthrust side is a breakout attempt judged the same way.)
  A single bar that pierces a side and closes back inside never breaks the range.
* SECONDARY_TEST (ST): a bar whose low (accumulation; high for distribution)
  comes back within ``st_zone`` x H of the climax extreme without breaking it,
  on volume below ``st_volume`` x the climax bar's volume.
* After an ST (or a spring, an upthrust) price must move ``st_rearm`` x H away
  from the climax side before another of the same is reported: one per swing.

Phases: ACCUMULATION or DISTRIBUTION from the AR/AR-reaction on, MARKUP or
MARKDOWN from the break out of the range on, until the next confirmed range.
Before the first range the phase is None. A trend phase whose price closes back
beyond the far side of the range it left (below the old support in a markup,
above the old resistance in a markdown) flips to the opposite trend phase.

Confidence scores, all in [0, 1]. ``score(x, k) = min(1, x / (2k))`` is 0.5 when
a ratio x is at its threshold k and 1 at twice the threshold.

* climax: mean of score(range ratio), score(volume ratio) and the close's
  distance from the extreme within the bar ((c - l)/(h - l) for an SC: a climax
  closing off its low shows absorption);
* AR: score(rebound height / avg range, ``min_ar_height``);
* ST: mean of (1 - volume / climax volume) and (1 - distance / (st_zone x H));
* spring/upthrust: mean of the shallowness (1 - penetration / (max_penetration x H)),
  the quietness (1 - volume / (spring_volume x avg volume)) of the breaking bar
  and the reclaim (close's distance back inside / (0.25 H), capped at 1);
* SOS/SOW: as a climax, with the breakout thresholds and the close's location
  towards the breakout side.

Phase confidence: a range phase starts at the mean of its climax's and AR's
confidence; each ST, spring or upthrust in it moves it towards 1 by half the
event's confidence times the remaining gap. A trend phase starts at its SOS/SOW's
confidence, or 0.5 when it came from a plain excursion or a flip.

With the defaults (tuned on 1-minute bars), the bundled BTCUSDT month of January
2022 gives 559 events (168 SC, 147 BC, 53 AR, 48 reactions, 83 ST, 7 springs,
7 upthrusts, 23 SOS, 23 SOW); its low of 2022-01-24 13:01 is an SC whose AR and
SOS start the late-January markup.

State: ``snapshot()`` gives the whole state as JSON-ready data (the reference
windows with their running sums, a pending climax, the range and its excursion,
the phase) and ``restore()`` loads it into an analyzer built with the same
params, which then goes on bit for bit: a strategy that reads the analyzer
resumes after a restart with no warm-up and no missed or repeated event.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, SupportsFloat

from pydantic import BaseModel, ConfigDict, Field

from genesis.analytics.indicators import SMA, Persistent, RollingMax, RollingMin

__all__ = [
    "BarLike",
    "WyckoffAnalyzer",
    "WyckoffEvent",
    "WyckoffEventType",
    "WyckoffParams",
    "WyckoffPhase",
]


class WyckoffPhase(enum.Enum):
    ACCUMULATION = "accumulation"
    MARKUP = "markup"
    DISTRIBUTION = "distribution"
    MARKDOWN = "markdown"


class WyckoffEventType(enum.Enum):
    SELLING_CLIMAX = "SC"
    AUTOMATIC_RALLY = "AR"
    BUYING_CLIMAX = "BC"
    AUTOMATIC_REACTION = "AR-"
    SECONDARY_TEST = "ST"
    SPRING = "spring"
    UPTHRUST = "UT"
    SIGN_OF_STRENGTH = "SOS"
    SIGN_OF_WEAKNESS = "SOW"


@dataclass(frozen=True, slots=True, kw_only=True)
class WyckoffEvent:
    """One event: the bar (``ts``) and price it marks, when it became known, how sure it is."""

    kind: WyckoffEventType
    ts: int
    price: float
    confidence: float
    detected_ts: int
    phase: WyckoffPhase | None  # the phase once this event is applied


class BarLike(Protocol):
    """What :meth:`WyckoffAnalyzer.update_bar` reads (``genesis.core.events.Bar`` fits)."""

    @property
    def ts_open(self) -> int: ...
    @property
    def open(self) -> SupportsFloat: ...
    @property
    def high(self) -> SupportsFloat: ...
    @property
    def low(self) -> SupportsFloat: ...
    @property
    def close(self) -> SupportsFloat: ...
    @property
    def volume(self) -> SupportsFloat: ...


class WyckoffParams(BaseModel):
    """Thresholds of the rules in the module docstring (frozen; unknown keys rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback: int = Field(default=240, ge=2, le=100_000)
    avg_window: int = Field(default=50, ge=2, le=100_000)
    climax_range: float = Field(default=3.0, gt=0)
    climax_volume: float = Field(default=3.0, gt=0)
    ar_confirm: int = Field(default=10, ge=1, le=10_000)
    ar_window: int = Field(default=120, ge=2, le=100_000)
    min_ar_height: float = Field(default=4.0, gt=0)
    st_zone: float = Field(default=0.15, gt=0, lt=1)
    st_volume: float = Field(default=0.7, gt=0, le=1)
    st_rearm: float = Field(default=0.3, gt=0, le=1)
    spring_volume: float = Field(default=2.0, gt=0)
    max_penetration: float = Field(default=0.5, gt=0)
    reclaim_bars: int = Field(default=3, ge=1, le=1_000)
    breakout_range: float = Field(default=2.0, gt=0)
    breakout_volume: float = Field(default=2.0, gt=0)


@dataclass(slots=True)
class _Bar:
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def location(self, up: bool) -> float:
        """Where the close sits in the bar: 1 at the high (``up``) or at the low (not ``up``)."""
        span = self.high - self.low
        if span <= 0.0:
            return 0.5
        return (self.close - self.low) / span if up else (self.high - self.close) / span


@dataclass(slots=True)
class _Climax(Persistent):
    down: bool  # a selling climax (True) or a buying climax
    ts: int
    extreme: float
    volume: float
    confidence: float
    avg_range: float
    age: int = 0
    rebound: float | None = None  # the rebound's extreme so far (negated lows after a BC)
    rebound_ts: int = 0
    since_rebound: int = 0


@dataclass(slots=True)
class _Range(Persistent):
    down: bool  # born from a selling climax: an accumulation
    support: float
    resistance: float
    climax_volume: float
    confidence: float
    st_armed: bool = False  # may report a secondary test
    shake_armed: bool = False  # may report a spring or an upthrust
    excursion: int = 0  # +1 above resistance, -1 below support, 0 inside
    excursion_bars: int = 0
    excursion_extreme: float = 0.0
    excursion_ts: int = 0
    excursion_volume: float = 0.0  # volume of the bar that broke out

    @property
    def height(self) -> float:
        return self.resistance - self.support


def _score(ratio: float, threshold: float) -> float:
    """0.5 when ``ratio`` is at ``threshold``, 1.0 at twice it, linear from 0."""
    return _clip(ratio / (2.0 * threshold))


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _mean(*xs: float) -> float:
    return _clip(sum(xs) / len(xs))


E = WyckoffEventType
P = WyckoffPhase


# The reference windows, made Persistent: the running sum and the monotonic deque are
# state, so a restored analyzer computes the very same floats as the original.
class _Mean(Persistent, SMA[float]):
    __slots__ = ()


class _Window(Persistent):
    __slots__ = ()

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        if name == "_deque":  # (bar index, value) pairs: JSON made them lists
            return deque((i, x) for i, x in raw)
        return super()._decode(name, current, raw)


class _Lowest(_Window, RollingMin[float]):
    __slots__ = ()


class _Highest(_Window, RollingMax[float]):
    __slots__ = ()


@dataclass(slots=True)
class _Reference:
    avg_range: float
    avg_volume: float
    low: float  # lowest low of the lookback bars
    high: float  # highest high of the lookback bars


class WyckoffAnalyzer(Persistent):
    """Incremental Wyckoff phases and events; the rules are in the module docstring.

    ``update`` takes one closed bar and returns the events it completes (usually
    none). ``phase`` (None before the first range), ``phase_confidence`` and
    ``trading_range`` (support, resistance while in a range) give the current
    reading; the analyser is ready after ``max(avg_window, lookback)`` bars.
    ``snapshot()``/``restore()`` carry the whole state (JSON-ready: no NaN or
    infinity; the params excluded) to an analyzer built with the same params,
    which then reports exactly the events the original would have.
    """

    __slots__ = (
        "_avg_range",
        "_avg_volume",
        "_climax",
        "_high",
        "_left",
        "_low",
        "_range",
        "params",
        "phase",
        "phase_confidence",
    )

    def __init__(self, params: WyckoffParams | None = None) -> None:
        self.params = p = params if params is not None else WyckoffParams()
        self._avg_range = _Mean(p.avg_window)
        self._avg_volume = _Mean(p.avg_window)
        self._low = _Lowest(p.lookback)
        self._high = _Highest(p.lookback)
        self._climax: _Climax | None = None
        self._range: _Range | None = None
        self._left: tuple[float, float] | None = None  # the range a trend phase broke out of
        self.phase: WyckoffPhase | None = None
        self.phase_confidence = 0.0

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load what :meth:`snapshot` returned on an analyzer built with the same params.

        Raises:
            KeyError: ``state`` lacks a field (not a snapshot of a WyckoffAnalyzer).
        """
        # a pending climax and a range are rebuilt from the state (or dropped), never
        # restored into whatever this instance holds now
        self._climax = self._range = None
        super().restore(state)

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        if raw is None:
            return None
        if name == "_climax":
            return _Climax(**raw)
        if name == "_range":
            return _Range(**raw)
        if name == "_left":
            return (raw[0], raw[1])
        if name == "phase":
            return WyckoffPhase(raw)
        return super()._decode(name, current, raw)

    @property
    def trading_range(self) -> tuple[float, float] | None:
        """(support, resistance) of the current accumulation or distribution, else None."""
        r = self._range
        return (r.support, r.resistance) if r is not None else None

    def update_bar(self, bar: BarLike) -> list[WyckoffEvent]:
        """:meth:`update` with a bar object; its ``ts_open`` is the events' timestamp."""
        return self.update(
            bar.ts_open,
            float(bar.open),
            float(bar.high),
            float(bar.low),
            float(bar.close),
            float(bar.volume),
        )

    def update(
        self, ts: int, open: float, high: float, low: float, close: float, volume: float
    ) -> list[WyckoffEvent]:
        """Add a closed bar; return the events it completes, oldest first."""
        bar = _Bar(ts, open, high, low, close, volume)
        events: list[WyckoffEvent] = []
        ref = self._reference()
        if ref is not None:
            if self._range is not None:
                self._step_range(bar, ref, events)
            else:
                self._step_trend(bar)
                self._step_climax(bar, ref, events)
        self._avg_range.update(high - low)
        self._avg_volume.update(volume)
        self._low.update(low)
        self._high.update(high)
        return events

    def _reference(self) -> _Reference | None:
        avg_range, avg_volume = self._avg_range.value, self._avg_volume.value
        low, high = self._low.value, self._high.value
        if avg_range is None or avg_volume is None or low is None or high is None:
            return None
        if avg_range <= 0.0 or avg_volume <= 0.0:
            return None
        return _Reference(avg_range, avg_volume, low, high)

    def _emit(
        self, events: list[WyckoffEvent], kind: E, at: tuple[int, float], conf: float, now: int
    ) -> None:
        ts, price = at
        events.append(
            WyckoffEvent(
                kind=kind, ts=ts, price=price, confidence=conf, detected_ts=now, phase=self.phase
            )
        )

    # --- outside a range: trend phases, climaxes and their reactions ---------------------

    def _step_trend(self, bar: _Bar) -> None:
        if self._left is None:
            return
        support, resistance = self._left
        if self.phase is P.MARKUP and bar.close < support:
            self.phase, self.phase_confidence = P.MARKDOWN, 0.5
        elif self.phase is P.MARKDOWN and bar.close > resistance:
            self.phase, self.phase_confidence = P.MARKUP, 0.5

    def _step_climax(self, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]) -> None:
        climax = self._climax_at(bar, ref)
        if climax is not None:
            self._climax = climax
            kind = E.SELLING_CLIMAX if climax.down else E.BUYING_CLIMAX
            self._emit(events, kind, (bar.ts, climax.extreme), climax.confidence, bar.ts)
            return
        pending = self._climax
        if pending is None:
            return
        pending.age += 1
        beyond = bar.low < pending.extreme if pending.down else bar.high > pending.extreme
        rebound = bar.high if pending.down else -bar.low
        if beyond:
            self._climax = None
        elif pending.rebound is None or rebound > pending.rebound:
            pending.rebound, pending.rebound_ts, pending.since_rebound = rebound, bar.ts, 0
        else:
            pending.since_rebound += 1
            self._maybe_confirm(pending, bar, events)
        if self._climax is pending and pending.age >= self.params.ar_window:
            self._climax = None

    def _climax_at(self, bar: _Bar, ref: _Reference) -> _Climax | None:
        p = self.params
        range_ratio = (bar.high - bar.low) / ref.avg_range
        volume_ratio = bar.volume / ref.avg_volume
        if range_ratio < p.climax_range or volume_ratio < p.climax_volume:
            return None
        below, above = bar.low < ref.low, bar.high > ref.high
        if not (below or above):
            return None
        down = below and (not above or bar.close < bar.open)
        conf = _mean(
            _score(range_ratio, p.climax_range),
            _score(volume_ratio, p.climax_volume),
            bar.location(up=down),
        )
        extreme = bar.low if down else bar.high
        return _Climax(down, bar.ts, extreme, bar.volume, conf, ref.avg_range)

    def _maybe_confirm(self, c: _Climax, bar: _Bar, events: list[WyckoffEvent]) -> None:
        p = self.params
        assert c.rebound is not None  # called once a bar failed to extend a rebound
        rebound = c.rebound if c.down else -c.rebound
        height = abs(rebound - c.extreme)
        if c.since_rebound < p.ar_confirm or height < p.min_ar_height * c.avg_range:
            return
        conf = _score(height / c.avg_range, p.min_ar_height)
        support, resistance = (c.extreme, rebound) if c.down else (rebound, c.extreme)
        self._range = _Range(
            c.down, support, resistance, c.volume, _mean(c.confidence, conf), True, True
        )
        self._climax = None
        self.phase = P.ACCUMULATION if c.down else P.DISTRIBUTION
        self.phase_confidence = self._range.confidence
        kind = E.AUTOMATIC_RALLY if c.down else E.AUTOMATIC_REACTION
        self._emit(events, kind, (c.rebound_ts, rebound), conf, bar.ts)

    # --- inside a range: tests, springs and upthrusts, breakouts -------------------------

    def _step_range(self, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]) -> None:
        r = self._range
        assert r is not None
        if self._breakout(r, bar, ref, events):
            return
        if r.excursion:
            self._step_excursion(r, bar, ref, events)
            return
        away = bar.high - r.support if r.down else r.resistance - bar.low
        if away >= self.params.st_rearm * r.height:
            r.st_armed = r.shake_armed = True
        if bar.close < r.support or bar.close > r.resistance:
            self._start_excursion(r, bar, ref, events)
        elif bar.low < r.support or bar.high > r.resistance:
            self._shakeout(r, bar, ref, events)  # pierced and closed back inside: one-bar test
        else:
            self._secondary_test(r, bar, events)

    def _breakout(self, r: _Range, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]) -> bool:
        """An SOS or SOW bar: report it and leave the range."""
        p = self.params
        up = bar.close > r.resistance and bar.close > bar.open
        down = bar.close < r.support and bar.close < bar.open
        range_ratio = (bar.high - bar.low) / ref.avg_range
        volume_ratio = bar.volume / ref.avg_volume
        if not (up or down) or range_ratio < p.breakout_range or volume_ratio < p.breakout_volume:
            return False
        conf = _mean(
            _score(range_ratio, p.breakout_range),
            _score(volume_ratio, p.breakout_volume),
            bar.location(up=up),
        )
        self._leave(r, P.MARKUP if up else P.MARKDOWN, conf)
        kind = E.SIGN_OF_STRENGTH if up else E.SIGN_OF_WEAKNESS
        self._emit(events, kind, (bar.ts, bar.close), conf, bar.ts)
        return True

    def _leave(self, r: _Range, phase: WyckoffPhase, confidence: float) -> None:
        self._range = None
        self._left = (r.support, r.resistance)
        self.phase, self.phase_confidence = phase, confidence

    def _start_excursion(
        self, r: _Range, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]
    ) -> None:
        below = bar.close < r.support
        r.excursion = -1 if below else 1
        r.excursion_bars = 0
        r.excursion_extreme = bar.low if below else bar.high
        r.excursion_ts = bar.ts
        r.excursion_volume = bar.volume
        self._step_excursion(r, bar, ref, events)

    def _step_excursion(
        self, r: _Range, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]
    ) -> None:
        below = r.excursion < 0
        r.excursion_bars += 1
        extreme = bar.low if below else bar.high
        if (extreme < r.excursion_extreme) if below else (extreme > r.excursion_extreme):
            r.excursion_extreme, r.excursion_ts = extreme, bar.ts
        depth = r.support - r.excursion_extreme if below else r.excursion_extreme - r.resistance
        inside = r.support <= bar.close <= r.resistance
        if depth > self.params.max_penetration * r.height:
            self._leave(r, P.MARKDOWN if below else P.MARKUP, 0.5)
        elif inside:
            r.excursion = 0
            self._reclaimed(r, below, depth, bar, ref, events)
        elif r.excursion_bars >= self.params.reclaim_bars:
            self._leave(r, P.MARKDOWN if below else P.MARKUP, 0.5)

    def _shakeout(self, r: _Range, bar: _Bar, ref: _Reference, events: list[WyckoffEvent]) -> None:
        below = bar.low < r.support
        r.excursion_extreme, r.excursion_ts = (bar.low if below else bar.high), bar.ts
        r.excursion_volume = bar.volume
        depth = r.support - bar.low if below else bar.high - r.resistance
        if depth <= self.params.max_penetration * r.height:
            self._reclaimed(r, below, depth, bar, ref, events)

    def _reclaimed(
        self,
        r: _Range,
        below: bool,
        depth: float,
        bar: _Bar,
        ref: _Reference,
        events: list[WyckoffEvent],
    ) -> None:
        """A break that came back inside: a spring below an accumulation, an upthrust above a
        distribution, on low or moderate volume; anything else is noise."""
        p = self.params
        quiet_limit = p.spring_volume * ref.avg_volume
        if below != r.down or not r.shake_armed or r.excursion_volume > quiet_limit:
            return
        r.shake_armed = False
        back = bar.close - r.support if below else r.resistance - bar.close
        conf = _mean(
            1.0 - depth / (p.max_penetration * r.height),
            1.0 - r.excursion_volume / quiet_limit,
            _clip(back / (0.25 * r.height)),
        )
        self._confirm(r, conf)
        kind = E.SPRING if below else E.UPTHRUST
        self._emit(events, kind, (r.excursion_ts, r.excursion_extreme), conf, bar.ts)

    def _secondary_test(self, r: _Range, bar: _Bar, events: list[WyckoffEvent]) -> None:
        p = self.params
        distance = bar.low - r.support if r.down else r.resistance - bar.high
        zone = p.st_zone * r.height
        if not r.st_armed or distance > zone or bar.volume >= p.st_volume * r.climax_volume:
            return
        r.st_armed = False
        conf = _mean(1.0 - bar.volume / r.climax_volume, 1.0 - distance / zone)
        self._confirm(r, conf)
        price = bar.low if r.down else bar.high
        self._emit(events, E.SECONDARY_TEST, (bar.ts, price), conf, bar.ts)

    def _confirm(self, r: _Range, event_confidence: float) -> None:
        r.confidence += (1.0 - r.confidence) * 0.5 * event_confidence
        self.phase_confidence = r.confidence
