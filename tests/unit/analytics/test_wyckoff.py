"""WyckoffAnalyzer on real bars: hand-checked scenarios, pinned counts, invariants.

Data: the bundled BTCUSDT 1-minute month (45,031 bars, 2021-12-31 23:01 →
2022-02-01 05:31 UTC) read with ``read_bars``; events are stamped with the bar's
open time. Reference figures quoted below (ratios to the 50-bar averages of
range and volume before the bar, the 240-bar low) were computed by hand with
pandas from the CSV.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from genesis.analytics.wyckoff import (
    WyckoffAnalyzer,
    WyckoffEvent,
    WyckoffEventType,
    WyckoffParams,
    WyckoffPhase,
)
from genesis.data.loaders import read_bars
from genesis.resources import ALTBTC_5M_BARS, BTCUSDT_1M_BARS
from genesis.testing.builders import real_bars

E, P = WyckoffEventType, WyckoffPhase


def _ns(minute: str) -> int:
    return pd.Timestamp(minute, tz="UTC").value


def _minute(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").strftime("%Y-%m-%d %H:%M")


class _Run:
    """Every event of one pass, and the phase and its confidence after each bar."""

    def __init__(self, path, symbol: str) -> None:
        analyzer = WyckoffAnalyzer()
        self.events: list[WyckoffEvent] = []
        self.phases: list[tuple[WyckoffPhase | None, float]] = []
        for bar in read_bars(path, symbol):
            self.events.extend(analyzer.update_bar(bar))
            self.phases.append((analyzer.phase, analyzer.phase_confidence))

    def between(self, first: str, last: str) -> list[tuple]:
        lo, hi = _ns(first), _ns(last)
        return [
            (e.kind, _minute(e.ts), e.price, _minute(e.detected_ts), e.phase)
            for e in self.events
            if lo <= e.ts <= hi
        ]


@pytest.fixture(scope="module")
def month() -> _Run:
    return _Run(BTCUSDT_1M_BARS, "BTCUSDT")


def test_the_2022_01_24_low_is_a_selling_climax_then_rally_then_sign_of_strength(
    month: _Run,
) -> None:
    """SC at 13:00 (low 33,025, range 3.5x, volume 4.7x) deepened at 13:01 (low 32,837, the
    month's low, 4.5x/5.1x); AR at 33,788 (13:12) confirmed after 10 lower highs; the 14:33 up
    bar closes 33,853 above it on 4.3x volume: SOS, MARKUP."""
    assert month.between("2022-01-24 12:50", "2022-01-24 14:40") == [
        (E.SELLING_CLIMAX, "2022-01-24 13:00", 33025.0, "2022-01-24 13:00", P.MARKDOWN),
        (E.SELLING_CLIMAX, "2022-01-24 13:01", 32837.0, "2022-01-24 13:01", P.MARKDOWN),
        (E.AUTOMATIC_RALLY, "2022-01-24 13:12", 33788.0, "2022-01-24 13:22", P.ACCUMULATION),
        (E.SIGN_OF_STRENGTH, "2022-01-24 14:33", 33853.0, "2022-01-24 14:33", P.MARKUP),
    ]


def test_the_2022_01_24_confidences_follow_their_formulas(month: _Run) -> None:
    """SC: mean(4.52/6, 5.09/6, close location 0.846); AR: height 951 = 9 avg ranges → 1.0."""
    sc, ar, sos = (
        e for e in month.events if _ns("2022-01-24 13:01") <= e.ts <= _ns("2022-01-24 14:33")
    )

    assert sc.confidence == pytest.approx((4.52 / 6 + 5.09 / 6 + 401 / 474) / 3, abs=0.002)
    assert ar.confidence == 1.0
    assert sos.confidence == pytest.approx((2.15 / 4 + 1.0 + 127 / 224) / 3, abs=0.002)


def test_the_2022_01_22_range_is_tested_sprung_then_broken(month: _Run) -> None:
    """SC 16:06 (34,524 on 12.4x volume), AR 35,510; ST at 17:29 (67 above support, volume
    0.2x the climax's) and again at 17:53 after a swing up; spring at 17:54 (low 34,500, closed back at 34,578 on 1.8x volume);
    the range then fails: an SOW at 18:04 closes 34,333 on 4.6x volume."""
    assert month.between("2022-01-22 16:00", "2022-01-22 18:10") == [
        (E.SELLING_CLIMAX, "2022-01-22 16:06", 34524.0, "2022-01-22 16:06", P.MARKDOWN),
        (E.AUTOMATIC_RALLY, "2022-01-22 16:14", 35510.0, "2022-01-22 16:24", P.ACCUMULATION),
        (E.SECONDARY_TEST, "2022-01-22 17:29", 34591.0, "2022-01-22 17:29", P.ACCUMULATION),
        (E.SECONDARY_TEST, "2022-01-22 17:53", 34578.0, "2022-01-22 17:53", P.ACCUMULATION),
        (E.SPRING, "2022-01-22 17:54", 34500.0, "2022-01-22 17:54", P.ACCUMULATION),
        (E.SIGN_OF_WEAKNESS, "2022-01-22 18:04", 34333.0, "2022-01-22 18:04", P.MARKDOWN),
    ]


def test_a_distribution_with_an_upthrust_that_resolves_upwards(month: _Run) -> None:
    """BC 2022-01-22 21:58 at 35,710, reaction low 34,726; two STs under the BC high, an
    upthrust closing back inside one bar after piercing to 35,776, then an SOS: MARKUP."""
    assert month.between("2022-01-22 21:50", "2022-01-23 08:15") == [
        (E.BUYING_CLIMAX, "2022-01-22 21:58", 35710.0, "2022-01-22 21:58", P.MARKUP),
        (E.AUTOMATIC_REACTION, "2022-01-22 22:49", 34726.0, "2022-01-22 22:59", P.DISTRIBUTION),
        (E.SECONDARY_TEST, "2022-01-23 05:59", 35587.0, "2022-01-23 05:59", P.DISTRIBUTION),
        (E.SECONDARY_TEST, "2022-01-23 07:19", 35575.0, "2022-01-23 07:19", P.DISTRIBUTION),
        (E.UPTHRUST, "2022-01-23 07:31", 35776.0, "2022-01-23 07:32", P.DISTRIBUTION),
        (E.SIGN_OF_STRENGTH, "2022-01-23 08:12", 35828.0, "2022-01-23 08:12", P.MARKUP),
    ]


def test_event_counts_over_the_month_are_pinned(month: _Run) -> None:
    """559 events: 168 SC, 147 BC, 53 AR, 48 reactions, 83 ST, 7 springs, 7 upthrusts, 23+23 SOS/SOW."""
    assert Counter(e.kind for e in month.events) == {
        E.SELLING_CLIMAX: 168,
        E.BUYING_CLIMAX: 147,
        E.AUTOMATIC_RALLY: 53,
        E.AUTOMATIC_REACTION: 48,
        E.SECONDARY_TEST: 83,
        E.SPRING: 7,
        E.UPTHRUST: 7,
        E.SIGN_OF_STRENGTH: 23,
        E.SIGN_OF_WEAKNESS: 23,
    }


def test_phase_bar_counts_over_the_month_are_pinned(month: _Run) -> None:
    """Bars per phase: trend phases dominate 1-minute bars; ranges last about 45 bars."""
    assert Counter(phase for phase, _ in month.phases) == {
        None: 435,
        P.MARKDOWN: 22_954,
        P.MARKUP: 17_122,
        P.DISTRIBUTION: 2_478,
        P.ACCUMULATION: 2_042,
    }


def test_ethbtc_5m_event_counts_are_pinned() -> None:
    """ETHBTC 5m, January 2018: few climaxes at 240-bar (20 h) extremes, long ranges."""
    run = _Run(ALTBTC_5M_BARS["ETHBTC"], "ETHBTC")

    assert Counter(e.kind for e in run.events) == {
        E.SELLING_CLIMAX: 2,
        E.BUYING_CLIMAX: 5,
        E.AUTOMATIC_RALLY: 1,
        E.AUTOMATIC_REACTION: 1,
        E.SECONDARY_TEST: 13,
        E.SPRING: 4,
        E.UPTHRUST: 3,
    }


def test_confidences_are_in_the_unit_interval(month: _Run) -> None:
    """Every event's and every bar's phase confidence lies in [0, 1]."""
    assert all(0.0 <= e.confidence <= 1.0 for e in month.events)
    assert all(0.0 <= conf <= 1.0 for _, conf in month.phases)


def test_no_event_is_known_before_its_bar(month: _Run) -> None:
    """detected_ts >= ts always; an AR is known at least ar_confirm (10) bars after its extreme."""
    reactions = (E.AUTOMATIC_RALLY, E.AUTOMATIC_REACTION)

    assert all(e.detected_ts >= e.ts for e in month.events)
    assert all(e.detected_ts - e.ts >= 10 * 60 * 10**9 for e in month.events if e.kind in reactions)


def test_events_respect_the_phase_grammar(month: _Run) -> None:
    """Tests, springs and upthrusts only inside ranges; SOS → MARKUP, SOW → MARKDOWN; each AR
    follows an SC and each reaction a BC."""
    ranges = {P.ACCUMULATION, P.DISTRIBUTION}
    last_climax = {}
    for e in month.events:
        if e.kind in (E.SELLING_CLIMAX, E.BUYING_CLIMAX):
            last_climax["kind"] = e.kind
        if e.kind is E.AUTOMATIC_RALLY:
            assert last_climax.pop("kind") is E.SELLING_CLIMAX
        if e.kind is E.AUTOMATIC_REACTION:
            assert last_climax.pop("kind") is E.BUYING_CLIMAX

    assert all(
        e.phase in ranges
        for e in month.events
        if e.kind in (E.SECONDARY_TEST, E.SPRING, E.UPTHRUST)
    )
    assert {e.phase for e in month.events if e.kind is E.SPRING} == {P.ACCUMULATION}
    assert {e.phase for e in month.events if e.kind is E.UPTHRUST} == {P.DISTRIBUTION}
    assert {e.phase for e in month.events if e.kind is E.SIGN_OF_STRENGTH} == {P.MARKUP}
    assert {e.phase for e in month.events if e.kind is E.SIGN_OF_WEAKNESS} == {P.MARKDOWN}


def test_analysis_is_deterministic(month: _Run) -> None:
    """A second pass over the month yields the same events, field for field."""
    again = _Run(BTCUSDT_1M_BARS, "BTCUSDT")

    assert again.events == month.events


def test_trading_range_is_readable_while_in_a_range() -> None:
    """Right after the 2022-01-24 AR is confirmed the range is (32,837, 33,788)."""
    analyzer = WyckoffAnalyzer()
    for bar in read_bars(BTCUSDT_1M_BARS, "BTCUSDT"):
        analyzer.update_bar(bar)
        if bar.ts_open == _ns("2022-01-24 13:22"):
            break

    assert analyzer.trading_range == (32837.0, 33788.0)
    assert analyzer.phase is P.ACCUMULATION


@pytest.mark.parametrize("bad", [{"lookback": 1}, {"st_zone": 1.5}, {"climax_range": 0}, {"x": 1}])
def test_bad_parameters_are_rejected(bad: dict) -> None:
    """Out-of-range thresholds and unknown keys are refused."""
    with pytest.raises(ValidationError):
        WyckoffParams(**bad)


# --- snapshot / restore -------------------------------------------------------------


_Reading = tuple[WyckoffPhase | None, float, tuple[float, float] | None]
_Bars = list[tuple[list[WyckoffEvent], _Reading]]  # per bar: its events, the reading after it


def _reading(analyzer: WyckoffAnalyzer) -> _Reading:
    return analyzer.phase, analyzer.phase_confidence, analyzer.trading_range


def _resumed(cut: str) -> tuple[_Bars, _Bars, dict[str, Any]]:
    """Run the month to the bar opening at ``cut``, restore a fresh analyzer from a JSON round
    trip of the snapshot, then feed both the rest: (original, restored) events and readings
    per bar, and the snapshot."""
    bars = real_bars()
    last = next(i for i, b in enumerate(bars) if b.ts_open == _ns(cut))
    original = WyckoffAnalyzer()
    for bar in bars[: last + 1]:
        original.update_bar(bar)
    state = original.snapshot()
    restored = WyckoffAnalyzer()
    restored.restore(json.loads(json.dumps(state, allow_nan=False)))

    runs: tuple[_Bars, _Bars] = ([], [])
    for bar in bars[last + 1 :]:
        for analyzer, seen in zip((original, restored), runs, strict=True):
            seen.append((analyzer.update_bar(bar), _reading(analyzer)))
    return *runs, state


@pytest.mark.parametrize(
    ("cut", "held"),
    [
        ("2022-01-15 12:00", "a markdown, nothing pending"),
        ("2022-01-22 17:00", "an accumulation range"),
        ("2022-01-23 07:31", "a distribution mid-excursion above resistance"),
        ("2022-01-24 13:01", "a selling climax with no rebound yet"),
    ],
)
def test_a_restored_analyzer_reports_the_same_remaining_events(cut: str, held: str) -> None:
    """Restored from a JSON round trip of its snapshot at ``cut`` (holding ``held``), an analyzer
    reports the same events, phases, confidences and ranges as the uninterrupted one to the
    month's end, bit for bit."""
    original, restored, _ = _resumed(cut)

    assert restored == original
    assert sum(len(events) for events, _ in original) > 100


def test_the_snapshot_holds_the_pending_state_and_no_params() -> None:
    """At 2022-01-24 13:01 the snapshot carries the pending climax (rebound unknown: null, not
    -inf) and the markdown it interrupts; the params are settings, not state."""
    *_, state = _resumed("2022-01-24 13:01")

    assert state["_climax"]["extreme"] == 32837.0
    assert state["_climax"]["rebound"] is None
    assert (state["phase"], state["_range"]) == ("markdown", None)
    assert "params" not in state


def test_restore_replaces_what_the_analyzer_held() -> None:
    """Restoring a snapshot taken before any range into an analyzer that is inside one leaves
    it exactly as the snapshot's analyzer was."""
    bars = real_bars(0, 31_320)
    fresh, busy = WyckoffAnalyzer(), WyckoffAnalyzer()
    for bar in bars:
        busy.update_bar(bar)
    assert busy.phase is P.ACCUMULATION

    busy.restore(fresh.snapshot())

    assert busy.snapshot() == fresh.snapshot()
    assert _reading(busy) == (None, 0.0, None)


def test_a_snapshot_of_something_else_is_refused() -> None:
    """A state without the analyzer's fields is a KeyError."""
    with pytest.raises(KeyError):
        WyckoffAnalyzer().restore({"phase": None})
