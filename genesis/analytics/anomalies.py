"""Microstructure anomalies in the book, quote and trade stream (SPEC AN-5).

Five detectors, each a small object fed one observation at a time, O(1)
amortised per update, driven by event time only (never the wall clock):

* spread blow-out: the spread in bps of the mid against a rolling baseline
  of the last ``window`` spreads; ``z = (spread - mean) / max(stdev,
  min_std_bps)``, judged before the spread joins the baseline;
* imbalance shock: the top-``levels`` book imbalance (in [-1, 1]) moves by
  at least ``jump`` from one book update to the next;
* quote stuffing: updates in the last ``window_ns`` of event time, as a rate,
  against the rate over the last ``baseline_ns``; judged only once a whole
  baseline has been seen and at least ``min_updates`` fall in the window;
* stale book: no update of an instrument for ``stale_after_ns`` of event
  time, as measured by the latest event of *any* instrument (or a ``check``);
* crossed book: best bid >= best ask.

Every detector reports an episode once, when it starts: it is then disarmed
until the condition clears (for the z-score and the stuffing ratio: until
the value falls below half its threshold, a hysteresis so that one
blow-out is one event, not fifty). An :class:`Anomaly` carries the
instrument, the kind, the value that tripped, the threshold and a sentence.

:class:`AnomalyMonitor` wires them per instrument from market events. Top of
book comes from quotes (``bookTicker``, the exact top) when the instrument has
any, else from its L2 book; the book, kept with :class:`BookSync`, also gives
the imbalance. Stuffing counts quote updates, or the level changes of book
diffs when there are no quotes. A crossed book is reported from either source.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import msgspec

from genesis.analytics.ranking import RollingStats
from genesis.core.events import BookDelta, BookSnapshot, MarketEvent, QuoteTick
from genesis.data.book import BookSync, OrderBook, SyncOutcome

__all__ = [
    "Anomaly",
    "AnomalyConfig",
    "AnomalyKind",
    "AnomalyMonitor",
    "CrossedBook",
    "ImbalanceShock",
    "QuoteStuffing",
    "SpreadBlowout",
    "StaleBooks",
]

_NS_PER_S: Final = 1_000_000_000


class AnomalyKind(enum.Enum):
    SPREAD_BLOWOUT = "spread_blowout"
    IMBALANCE_SHOCK = "imbalance_shock"
    QUOTE_STUFFING = "quote_stuffing"
    STALE_BOOK = "stale_book"
    CROSSED_BOOK = "crossed_book"


class Anomaly(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One anomaly episode, reported when it starts.

    Attributes:
        ts: event time (ns) of the observation that tripped it.
        instrument: the instrument id.
        kind: which detector.
        value: what tripped (z-score, imbalance jump, rate ratio, seconds stale, bid - ask).
        threshold: the bound it reached, in the same unit.
        sentence: a human-readable account.
    """

    ts: int
    instrument: str
    kind: AnomalyKind
    value: float
    threshold: float
    sentence: str


class SpreadBlowout:
    """Spread z-score against a rolling baseline of the last ``window`` spreads."""

    __slots__ = ("_armed", "_baseline", "min_samples", "min_std_bps", "z_threshold")

    def __init__(
        self,
        *,
        window: int = 1_000,
        z_threshold: float = 6.0,
        min_samples: int = 100,
        min_std_bps: float = 0.01,
    ) -> None:
        if not 2 <= min_samples <= window or z_threshold <= 0 or min_std_bps <= 0:
            raise ValueError(
                f"invalid spread blow-out settings: window {window}, min_samples {min_samples},"
                f" z_threshold {z_threshold}, min_std_bps {min_std_bps}"
            )
        self._baseline = RollingStats(window)
        self.z_threshold = z_threshold
        self.min_samples = min_samples
        self.min_std_bps = min_std_bps
        self._armed = True

    def update(self, ts: int, instrument: str, spread_bps: float) -> Anomaly | None:
        """Judge ``spread_bps`` against the baseline, then add it to the baseline."""
        base = self._baseline
        found = None
        if base.count >= self.min_samples:
            z = (spread_bps - base.mean) / max(base.stdev(), self.min_std_bps)
            if self._armed and z >= self.z_threshold:
                self._armed = False
                found = Anomaly(
                    ts=ts, instrument=instrument, kind=AnomalyKind.SPREAD_BLOWOUT, value=z,
                    threshold=self.z_threshold,
                    sentence=f"{instrument} spread {spread_bps:.3f} bps is {z:.1f} stdev above"
                    f" its baseline {base.mean:.3f} bps (over {base.count} spreads)",
                )  # fmt: skip
            elif z < self.z_threshold / 2:
                self._armed = True
        base.push(spread_bps)
        return found


class ImbalanceShock:
    """A jump of the top-N book imbalance between consecutive book updates."""

    __slots__ = ("_last", "jump")

    def __init__(self, *, jump: float = 1.0) -> None:
        if not 0 < jump <= 2:
            raise ValueError(f"invalid imbalance `jump` {jump}; expected in (0, 2]")
        self.jump = jump
        self._last: float | None = None

    def update(self, ts: int, instrument: str, imbalance: float | None) -> Anomaly | None:
        """Compare with the previous imbalance; None (an empty book) resets it."""
        last, self._last = self._last, imbalance
        if last is None or imbalance is None:
            return None
        move = imbalance - last
        if abs(move) < self.jump:
            return None
        return Anomaly(
            ts=ts, instrument=instrument, kind=AnomalyKind.IMBALANCE_SHOCK, value=move,
            threshold=self.jump,
            sentence=f"{instrument} book imbalance jumped {move:+.2f}, from {last:+.2f} to"
            f" {imbalance:+.2f} in one update",
        )  # fmt: skip


class QuoteStuffing:
    """Update rate in a short window against the rate over a long baseline (event time)."""

    __slots__ = (
        "_armed",
        "_first",
        "_long",
        "_long_n",
        "_short",
        "_short_n",
        "baseline_ns",
        "factor",
        "min_updates",
        "window_ns",
    )

    def __init__(
        self,
        *,
        window_ns: int = _NS_PER_S,
        baseline_ns: int = 60 * _NS_PER_S,
        factor: float = 5.0,
        min_updates: int = 50,
    ) -> None:
        if not 0 < window_ns < baseline_ns or factor <= 1 or min_updates < 1:
            raise ValueError(
                f"invalid quote stuffing settings: window_ns {window_ns}, baseline_ns"
                f" {baseline_ns}, factor {factor}, min_updates {min_updates}"
            )
        self.window_ns, self.baseline_ns = window_ns, baseline_ns
        self.factor, self.min_updates = factor, min_updates
        self._short: deque[tuple[int, int]] = deque()
        self._long: deque[tuple[int, int]] = deque()
        self._short_n = self._long_n = 0
        self._first: int | None = None
        self._armed = True

    def update(self, ts: int, instrument: str, updates: int = 1) -> Anomaly | None:
        """Count ``updates`` at ``ts`` and judge the window's rate."""
        if self._first is None:
            self._first = ts
        self._short.append((ts, updates))
        self._long.append((ts, updates))
        self._short_n += updates
        self._long_n += updates
        self._short_n -= _expire(self._short, ts - self.window_ns)
        self._long_n -= _expire(self._long, ts - self.baseline_ns)
        if ts - self._first < self.baseline_ns:
            return None
        ratio = (self._short_n / self.window_ns) / (self._long_n / self.baseline_ns)
        if ratio < self.factor / 2:
            self._armed = True
        if not (self._armed and ratio >= self.factor and self._short_n >= self.min_updates):
            return None
        self._armed = False
        per_s = self._short_n * _NS_PER_S / self.window_ns
        return Anomaly(
            ts=ts, instrument=instrument, kind=AnomalyKind.QUOTE_STUFFING, value=ratio,
            threshold=self.factor,
            sentence=f"{instrument} {per_s:,.0f} updates/s over the last"
            f" {self.window_ns / _NS_PER_S:g} s, {ratio:.1f}x its"
            f" {self.baseline_ns / _NS_PER_S:g} s rate",
        )  # fmt: skip


def _expire(window: deque[tuple[int, int]], before: int) -> int:
    """Drop entries at or before ``before``; return the updates dropped."""
    dropped = 0
    while window and window[0][0] <= before:
        dropped += window.popleft()[1]
    return dropped


class StaleBooks:
    """Instruments without an update for ``stale_after_ns`` of event time."""

    __slots__ = ("_last", "_stale", "stale_after_ns")

    def __init__(self, *, stale_after_ns: int = 5 * _NS_PER_S) -> None:
        if stale_after_ns <= 0:
            raise ValueError(f"invalid `stale_after_ns` {stale_after_ns}; expected > 0")
        self.stale_after_ns = stale_after_ns
        self._last: dict[str, int] = {}
        self._stale: set[str] = set()

    def seen(self, ts: int, instrument: str) -> None:
        """``instrument`` updated at ``ts``: it is fresh again."""
        self._last[instrument] = ts
        self._stale.discard(instrument)

    def check(self, now: int) -> list[Anomaly]:
        """The instruments that became stale by ``now`` (each once per episode), in first-seen
        order."""
        found = []
        for instrument, last in self._last.items():
            quiet = now - last
            if quiet >= self.stale_after_ns and instrument not in self._stale:
                self._stale.add(instrument)
                found.append(self._anomaly(now, instrument, quiet))
        return found

    def _anomaly(self, now: int, instrument: str, quiet_ns: int) -> Anomaly:
        quiet, limit = quiet_ns / _NS_PER_S, self.stale_after_ns / _NS_PER_S
        return Anomaly(
            ts=now, instrument=instrument, kind=AnomalyKind.STALE_BOOK, value=quiet,
            threshold=limit,
            sentence=f"{instrument} has not updated for {quiet:.3f} s of event time"
            f" (limit {limit:g} s)",
        )  # fmt: skip


class CrossedBook:
    """Best bid at or above best ask, reported once per episode."""

    __slots__ = ("_crossed",)

    def __init__(self) -> None:
        self._crossed = False

    def update(self, ts: int, instrument: str, bid: Decimal, ask: Decimal) -> Anomaly | None:
        """Judge one top of book."""
        crossed = bid >= ask
        start, self._crossed = crossed and not self._crossed, crossed
        if not start:
            return None
        return Anomaly(
            ts=ts, instrument=instrument, kind=AnomalyKind.CROSSED_BOOK,
            value=float(bid - ask), threshold=0.0,
            sentence=f"{instrument} book crossed: best bid {bid} >= best ask {ask}",
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyConfig:
    """Settings of every detector of an :class:`AnomalyMonitor` (see each detector)."""

    spread_window: int = 1_000
    spread_z: float = 6.0
    spread_min_samples: int = 100
    spread_min_std_bps: float = 0.01
    imbalance_levels: int = 5
    imbalance_jump: float = 1.0
    stuffing_window_ns: int = _NS_PER_S
    stuffing_baseline_ns: int = 60 * _NS_PER_S
    stuffing_factor: float = 5.0
    stuffing_min_updates: int = 50
    stale_after_ns: int = 5 * _NS_PER_S


class _Instrument:
    __slots__ = ("book", "crossed", "has_quotes", "imbalance", "spread", "stuffing")

    def __init__(self, instrument: str, c: AnomalyConfig) -> None:
        self.spread = SpreadBlowout(
            window=c.spread_window, z_threshold=c.spread_z,
            min_samples=c.spread_min_samples, min_std_bps=c.spread_min_std_bps,
        )  # fmt: skip
        self.imbalance = ImbalanceShock(jump=c.imbalance_jump)
        self.stuffing = QuoteStuffing(
            window_ns=c.stuffing_window_ns, baseline_ns=c.stuffing_baseline_ns,
            factor=c.stuffing_factor, min_updates=c.stuffing_min_updates,
        )  # fmt: skip
        self.crossed = CrossedBook()
        self.book: BookSync | None = None
        self.has_quotes = False


class AnomalyMonitor:
    """Every detector, per instrument, fed from market events (module essay)."""

    __slots__ = ("_config", "_counts", "_instruments", "_stale")

    def __init__(self, config: AnomalyConfig | None = None) -> None:
        self._config = config or AnomalyConfig()
        self._instruments: dict[str, _Instrument] = {}
        self._stale = StaleBooks(stale_after_ns=self._config.stale_after_ns)
        self._counts: dict[AnomalyKind, int] = dict.fromkeys(AnomalyKind, 0)

    def statistics(self) -> dict[AnomalyKind, int]:
        """Anomalies reported so far, by kind (every kind listed, zeros included)."""
        return dict(self._counts)

    def on_event(self, event: MarketEvent) -> list[Anomaly]:
        """Feed one market event (in ``ts_init`` order); the anomalies it reveals."""
        ts, instrument = event.ts_init, event.instrument_id
        found = self._stale.check(ts)  # judged before this event refreshes its instrument
        self._stale.seen(ts, instrument)
        state = self._instruments.get(instrument)
        if state is None:
            state = self._instruments[instrument] = _Instrument(instrument, self._config)
        if isinstance(event, QuoteTick):
            state.has_quotes = True
            found += _top(state, ts, instrument, event.bid, event.ask, 1)
        elif isinstance(event, BookSnapshot | BookDelta):
            found += self._book(state, event)
        return self._count(found)

    def check(self, now: int) -> list[Anomaly]:
        """Stale-book check at ``now`` without an event (a timer)."""
        return self._count(self._stale.check(now))

    def _book(self, state: _Instrument, event: BookSnapshot | BookDelta) -> list[Anomaly]:
        ts, instrument = event.ts_init, event.instrument_id
        if state.book is None:
            state.book = BookSync(instrument)
        outcome = state.book.apply(event)
        book = state.book.book
        found: list[Anomaly] = []
        if outcome is SyncOutcome.CROSSED:
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None  # a crossed book has both sides
            assert ask is not None
            found += _present(state.crossed.update(ts, instrument, bid[0], ask[0]))
        if outcome is not SyncOutcome.APPLIED:
            return found
        levels = self._config.imbalance_levels
        found += _present(state.imbalance.update(ts, instrument, book.imbalance(levels)))
        if not state.has_quotes:
            changes = len(event.bids) + len(event.asks)
            found += _book_top(state, ts, instrument, book, changes)
        return found

    def _count(self, found: list[Anomaly]) -> list[Anomaly]:
        for anomaly in found:
            self._counts[anomaly.kind] += 1
        return found


def _book_top(
    state: _Instrument, ts: int, instrument: str, book: OrderBook, changes: int
) -> list[Anomaly]:
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None:
        return []
    return _top(state, ts, instrument, bid[0], ask[0], changes)


def _top(
    state: _Instrument, ts: int, instrument: str, bid: Decimal, ask: Decimal, updates: int
) -> list[Anomaly]:
    """Spread, crossing and update rate from one top of book."""
    found = _present(state.crossed.update(ts, instrument, bid, ask))
    found += _present(state.stuffing.update(ts, instrument, updates))
    if bid < ask:
        mid = (float(bid) + float(ask)) / 2
        spread_bps = (float(ask) - float(bid)) / mid * 10_000
        found += _present(state.spread.update(ts, instrument, spread_bps))
    return found


def _present(anomaly: Anomaly | None) -> list[Anomaly]:
    return [] if anomaly is None else [anomaly]
