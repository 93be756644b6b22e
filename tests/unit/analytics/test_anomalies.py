"""Microstructure anomalies (AN-5) on the real 2024-08-08 Binance streams and in scenarios.

The real data are the bundled BTCUSDT and ETHUSDT spot streams (depth diffs,
bookTicker, trades; 23:54:14-23:59:59 UTC), merged by receive time: 74,867
events. Default settings throughout unless a test says otherwise.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from genesis import resources
from genesis.analytics.anomalies import (
    Anomaly,
    AnomalyConfig,
    AnomalyKind,
    AnomalyMonitor,
    CrossedBook,
    ImbalanceShock,
    QuoteStuffing,
    SpreadBlowout,
    StaleBooks,
)
from genesis.core.events import BookDelta, BookSnapshot, MarketEvent, QuoteTick
from genesis.data.sources import open_sources, parse_data_arg

D = Decimal
S = 1_000_000_000
K = AnomalyKind


@pytest.fixture(scope="module")
def streams() -> list[MarketEvent]:
    """BTCUSDT and ETHUSDT streams merged by receive time."""
    specs = [
        parse_data_arg(str(resources.BTCUSDT_STREAMS)),
        parse_data_arg(str(resources.ETHUSDT_STREAMS)),
    ]
    return list(open_sources(specs))


@pytest.fixture(scope="module")
def found(streams: list[MarketEvent]) -> list[Anomaly]:
    """The default monitor over the streams, but stale after half a second (not 5 s)."""
    return _run(streams, AnomalyConfig(stale_after_ns=S // 2))


def _run(events: list[MarketEvent], config: AnomalyConfig | None = None) -> list[Anomaly]:
    monitor = AnomalyMonitor(config)
    return [a for e in events for a in monitor.on_event(e)]


def _counts(found: list[Anomaly]) -> Counter[tuple[str, str]]:
    return Counter((a.instrument, a.kind.value) for a in found)


def _quote(bid: str, ask: str, ts: int, instrument: str = "X") -> QuoteTick:
    return QuoteTick(
        ts_event=ts, ts_init=ts, instrument_id=instrument, bid=D(bid), ask=D(ask),
        bid_size=D(1), ask_size=D(1),
    )  # fmt: skip


# --- real streams -----------------------------------------------------------------------


def test_real_streams_counts_are_pinned(streams: list[MarketEvent], found: list[Anomaly]) -> None:
    """Six minutes of BTC and ETH: 167 spread blow-outs, 66 imbalance shocks, 3 stuffing bursts."""
    assert len(streams) == 74_867
    assert _counts(found) == {
        ("BTCUSDT", "spread_blowout"): 83, ("ETHUSDT", "spread_blowout"): 84,
        ("BTCUSDT", "imbalance_shock"): 29, ("ETHUSDT", "imbalance_shock"): 37,
        ("BTCUSDT", "quote_stuffing"): 1, ("ETHUSDT", "quote_stuffing"): 2,
    }  # fmt: skip


def test_real_streams_are_never_stale_or_crossed(found: list[Anomaly]) -> None:
    """Neither book is quiet for even half a second, nor ever crossed."""
    kinds = {a.kind for a in found}

    assert K.STALE_BOOK not in kinds
    assert K.CROSSED_BOOK not in kinds


def test_real_first_stuffing_burst(found: list[Anomaly]) -> None:
    """BTCUSDT's burst: 276 quote updates in one second, five times its minute's rate."""
    (burst,) = [a for a in found if a.kind is K.QUOTE_STUFFING and a.instrument == "BTCUSDT"]

    assert burst.value >= 5.0
    assert burst.sentence.startswith("BTCUSDT 276 updates/s over the last 1 s, 5.0x")


def test_stricter_settings_report_fewer(streams: list[MarketEvent]) -> None:
    """A 0.1 bps stdev floor leaves 33 BTC blow-outs; a 0.5 imbalance jump finds 142 BTC shocks."""
    found = _counts(_run(streams, AnomalyConfig(spread_min_std_bps=0.1, imbalance_jump=0.5)))

    assert (found[("BTCUSDT", "spread_blowout")], found[("BTCUSDT", "imbalance_shock")]) == (
        33,
        142,
    )


def test_book_only_feed_takes_the_top_from_the_book(streams: list[MarketEvent]) -> None:
    """BTCUSDT depth diffs alone (no bookTicker): spread and update rate (level changes) from the book."""
    depth = [
        e
        for e in streams
        if e.instrument_id == "BTCUSDT" and isinstance(e, BookDelta | BookSnapshot)
    ]

    found = _counts(_run(depth))

    assert found == {
        ("BTCUSDT", "spread_blowout"): 9,
        ("BTCUSDT", "imbalance_shock"): 29,
        ("BTCUSDT", "quote_stuffing"): 5,
    }


def test_a_feed_outage_is_one_stale_episode(streams: list[MarketEvent]) -> None:
    """BTCUSDT cut for 10 s while ETHUSDT flows: one STALE_BOOK, reported 5 s into the gap."""
    start = streams[0].ts_init + 120 * S
    cut = [
        e
        for e in streams
        if not (e.instrument_id == "BTCUSDT" and start <= e.ts_init < start + 10 * S)
    ]

    stale = [a for a in _run(cut) if a.kind is K.STALE_BOOK]

    assert [a.instrument for a in stale] == ["BTCUSDT"]
    assert 5.0 <= stale[0].value < 5.1


# --- scenarios ----------------------------------------------------------------------------


def test_spread_blowout_fires_once_per_episode() -> None:
    """After 100 spreads of 1 bps, 10 bps trips; more wide spreads do not, until it normalises."""
    detector = SpreadBlowout(min_samples=100)
    calm = [detector.update(t, "X", 1.0 + (t % 2) * 0.01) for t in range(100)]

    first = detector.update(100, "X", 10.0)
    again = detector.update(101, "X", 10.0)
    detector.update(102, "X", 1.0)
    later = detector.update(103, "X", 30.0)

    assert calm == [None] * 100
    assert first is not None
    assert first.kind is K.SPREAD_BLOWOUT
    assert again is None
    assert later is not None


def test_spread_blowout_waits_for_its_baseline() -> None:
    """Below min_samples no z-score is judged."""
    detector = SpreadBlowout(min_samples=10)

    assert [detector.update(t, "X", 1.0 if t < 9 else 50.0) for t in range(10)] == [None] * 10


def test_imbalance_shock_is_a_jump_between_updates() -> None:
    """-0.5 -> +0.6 is a 1.1 jump (>= 1.0); +0.6 -> +0.1 is not; an empty book resets."""
    detector = ImbalanceShock(jump=1.0)

    values = [detector.update(t, "X", v) for t, v in enumerate([-0.5, 0.6, 0.1, None, -0.9])]

    assert [v is not None for v in values] == [False, True, False, False, False]
    assert values[1] is not None
    assert values[1].value == pytest.approx(1.1)


def test_quote_stuffing_needs_a_burst_against_a_full_baseline() -> None:
    """10 updates/s for 60 s, then 100 in one second: one event, about 8x the minute's rate."""
    detector = QuoteStuffing(factor=5.0, min_updates=50)
    calm = [detector.update(t * S // 10, "X") for t in range(600)]
    burst = [detector.update(60 * S + t * S // 100, "X") for t in range(100)]

    found = [a for a in burst if a is not None]

    assert calm == [None] * 600
    assert len(found) == 1
    assert found[0].value >= 5.0


def test_stale_books_report_each_instrument_once() -> None:
    """A quiet for 5 s is reported at the check that sees it, then not again until it updates."""
    stale = StaleBooks(stale_after_ns=5 * S)
    stale.seen(0, "A")
    stale.seen(4 * S, "B")

    first, second = stale.check(5 * S), stale.check(6 * S)
    stale.seen(7 * S, "A")

    assert [a.instrument for a in first] == ["A"]
    assert second == []
    assert [a.instrument for a in stale.check(12 * S)] == ["A", "B"]


def test_crossed_quote_is_one_episode() -> None:
    """Crossed, still crossed, normal, crossed again: two episodes."""
    detector = CrossedBook()
    tops = [("100", "99"), ("100", "100"), ("99", "100"), ("101", "100.5")]

    found = [detector.update(t, "X", D(b), D(a)) for t, (b, a) in enumerate(tops)]

    assert [f is not None for f in found] == [True, False, False, True]


def test_monitor_reports_a_crossed_quote_and_a_crossed_book() -> None:
    """A crossed bookTicker and a depth diff that crosses the book are both reported."""
    monitor = AnomalyMonitor()
    snapshot = BookSnapshot(
        ts_event=1, ts_init=1, instrument_id="B", last_update_id=10,
        bids=((D(99), D(1)),), asks=((D(100), D(1)),),
    )  # fmt: skip
    crossing = BookDelta(
        ts_event=2, ts_init=2, instrument_id="B", first_update_id=11, last_update_id=11,
        bids=((D(101), D(1)),),
    )  # fmt: skip

    quote = monitor.on_event(_quote("100", "99.5", ts=0, instrument="Q"))
    monitor.on_event(snapshot)
    book = monitor.on_event(crossing)

    assert [(a.instrument, a.kind) for a in quote + book] == [
        ("Q", K.CROSSED_BOOK), ("B", K.CROSSED_BOOK),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "build",
    [
        lambda: SpreadBlowout(window=10, min_samples=20),
        lambda: ImbalanceShock(jump=0),
        lambda: QuoteStuffing(window_ns=S, baseline_ns=S),
        lambda: StaleBooks(stale_after_ns=0),
    ],
)
def test_bad_settings_are_refused(build) -> None:
    """Inconsistent or non-positive settings raise ValueError."""
    with pytest.raises(ValueError, match="invalid"):
        build()
