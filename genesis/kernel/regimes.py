"""Strategy switching by market regime (SPEC ST-H4), inside the kernel.

A strategy configured with ``regimes: [ranging]`` is *on* for an instrument
only while that instrument's regime (``genesis.analytics.regime``: TRENDING,
RANGING or VOLATILE, from its bars) is one of those; otherwise it is *off*:
the kernel refuses its entries there (``REGIME_OFF``, exits always pass) and,
at the moment it switches off, cancels its working entries on that
instrument (open positions keep their stops and targets, and the strategy
may still close them). During a detector's warm-up the regime is unknown and
gated strategies are off. A strategy without ``regimes`` is never gated.

One detector per instrument serves every gated strategy on it, fed with the
instrument's bars before any strategy sees the bar, so a strategy deciding on
a bar sees the regime that bar closed in. Only bars move the detectors: a
strategy gated on tick or book data stays off (stated here, refused nowhere).
After a restart the detectors start cold (a paper restart rebuilds them by
replaying the session; a live one warms up again before entries resume).

Switches are reported as ``RegimeSwitched`` notices (the daemon logs and
journals them), so an operator sees when and why a strategy went quiet.
"""

from __future__ import annotations

from collections.abc import Iterable

from genesis.analytics.regime import Regime, RegimeDetector, RegimeParams
from genesis.core.events import Bar, RegimeSwitched

__all__ = ["RegimeSwitch", "parse_regimes"]


def parse_regimes(names: Iterable[str]) -> frozenset[Regime]:
    """``["ranging", ...]`` as regimes.

    Raises:
        ValueError: an unknown regime name (the message lists the known ones).
    """
    known = {r.value.lower(): r for r in Regime}
    out = set()
    for name in names:
        regime = known.get(name.strip().lower())
        if regime is None:
            raise ValueError(f"unknown regime {name!r}; known: {', '.join(sorted(known))}")
        out.add(regime)
    return frozenset(out)


class RegimeSwitch:
    """Regime detectors per instrument and which gated strategy is on where."""

    def __init__(self, params: RegimeParams | None = None) -> None:
        self._params = params
        self._detectors: dict[str, RegimeDetector] = {}
        self._allowed: dict[str, frozenset[Regime]] = {}  # strategy -> its regimes
        self._gated: dict[str, list[str]] = {}  # instrument -> gated strategies on it
        self._on: set[tuple[str, str]] = set()  # (strategy, instrument) currently on

    def gate(
        self, strategy_id: str, instruments: Iterable[str], regimes: frozenset[Regime]
    ) -> None:
        """Gate ``strategy_id`` on ``instruments`` to ``regimes``."""
        self._allowed[strategy_id] = regimes
        for instrument_id in instruments:
            self._gated.setdefault(instrument_id, []).append(strategy_id)
            if instrument_id not in self._detectors:
                self._detectors[instrument_id] = RegimeDetector(self._params)

    def is_gated(self, strategy_id: str) -> bool:
        return strategy_id in self._allowed

    def allows(self, strategy_id: str, instrument_id: str) -> bool:
        """True unless ``strategy_id`` is gated and off on ``instrument_id``."""
        return strategy_id not in self._allowed or (strategy_id, instrument_id) in self._on

    def regime(self, instrument_id: str) -> Regime | None:
        detector = self._detectors.get(instrument_id)
        return None if detector is None else detector.regime

    def on_bar(self, bar: Bar) -> list[RegimeSwitched]:
        """Feed ``bar`` to its instrument's detector; the switches it caused."""
        detector = self._detectors.get(bar.instrument_id)
        if detector is None:
            return []
        regime = detector.update(float(bar.high), float(bar.low), float(bar.close))
        switched = []
        for sid in self._gated[bar.instrument_id]:
            key = (sid, bar.instrument_id)
            on = regime is not None and regime in self._allowed[sid]
            if on == (key in self._on):
                continue
            (self._on.add if on else self._on.discard)(key)
            switched.append(
                RegimeSwitched(
                    ts_event=bar.ts_event,
                    ts_init=bar.ts_event,
                    strategy_id=sid,
                    instrument_id=bar.instrument_id,
                    regime="" if regime is None else regime.value.lower(),
                    active=on,
                    confidence=detector.confidence,
                )
            )
        return switched
