"""Cross-venue arbitrage (AN-1): fee arithmetic, depth walk, and the real Binance/Bybit day.

The real data are the bundled BTCUSD inverse-perpetual quote bars of
2022-12-13 on Binance COIN-M and Bybit (398 minutes quoted on both), one quote
per bar at its close. Their sizes are contracts (Binance 100 USD each, Bybit
1 USD each); the tests turn them into BTC at the quoted price. The taker fees
5 bps (Binance) and 6 bps (Bybit) are assumptions of these tests.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import msgspec
import pytest

from genesis.analytics.arbitrage import (
    ArbitrageStats,
    CrossVenueArbitrage,
    VenueQuote,
    best_cross,
    cross,
)
from genesis.core.events import QuoteTick
from genesis.data.sources import open_sources, parse_data_arg
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BYBIT_BTCUSD_1M_QUOTES

D = Decimal
TAKER = {"binance": 5.0, "bybit": 6.0}
NO_FEES = {"binance": 0.0, "bybit": 0.0}
USD_PER_CONTRACT = {"BTCUSD": D(100), "bybit:BTCUSD": D(1)}


def _venue(name: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = 0):
    return VenueQuote(
        venue=name,
        ts=ts,
        bids=[(D(p), D(q)) for p, q in bids],
        asks=[(D(p), D(q)) for p, q in asks],
    )


def _quote(instrument: str, bid: str, ask: str, ts: int, size: str = "1") -> QuoteTick:
    return QuoteTick(
        ts_event=ts, ts_init=ts, instrument_id=instrument, bid=D(bid), ask=D(ask),
        bid_size=D(size), ask_size=D(size),
    )  # fmt: skip


def _in_btc(quote: QuoteTick) -> QuoteTick:
    usd = USD_PER_CONTRACT[quote.instrument_id]
    return msgspec.structs.replace(
        quote, bid_size=quote.bid_size * usd / quote.bid, ask_size=quote.ask_size * usd / quote.ask
    )


@pytest.fixture(scope="module")
def day() -> list[QuoteTick]:
    """Both venues' quote bars merged by close time, sizes in BTC (1,568 quotes)."""
    specs = [
        parse_data_arg(str(BINANCE_BTCUSD_1M_QUOTES)),
        parse_data_arg(str(BYBIT_BTCUSD_1M_QUOTES)),
    ]
    return [_in_btc(q) for q in open_sources(specs) if isinstance(q, QuoteTick)]


def _scan(quotes: list[QuoteTick], fees: dict[str, float], threshold_bps: float):
    detector = CrossVenueArbitrage(fees, threshold_bps=threshold_bps, max_age_ns=0)
    return [o for q in quotes if (o := detector.on_quote(q)) is not None]


# --- fee arithmetic -------------------------------------------------------------


def test_net_edge_pays_both_taker_fees() -> None:
    """Buy at 100 (+10 bps), sell at 101 (-10 bps): 0.799 per unit, 79.9 bps of the buy."""
    buy = _venue("a", [("99", "5")], [("100", "2")])
    sell = _venue("b", [("101", "3")], [("102", "5")])

    found = cross(buy, sell, buy_fee_bps=10, sell_fee_bps=10)

    assert found is not None
    assert (found.qty, found.buy_price, found.sell_price) == (D(2), D(100), D(101))
    assert found.gross_bps == pytest.approx(100.0)
    assert found.net_bps == pytest.approx(79.9)
    assert found.expected_profit == pytest.approx(1.598)


def test_fees_can_eat_the_whole_edge() -> None:
    """20 bps gross minus 10 + 10 bps of fees is -0.02 bps net (the sell fee is on 100.2)."""
    buy = _venue("a", [], [("100", "1")])
    sell = _venue("b", [("100.2", "1")], [])

    assert cross(buy, sell, buy_fee_bps=10, sell_fee_bps=10) is None
    assert cross(buy, sell, buy_fee_bps=10, sell_fee_bps=10, threshold_bps=-0.03) is not None


def test_threshold_is_inclusive_and_defaults_to_30_bps() -> None:
    """Exactly 30 bps net (100 -> 100.3, no fees) qualifies; 29.99 does not."""
    buy = _venue("a", [], [("100", "1")])

    at = cross(buy, _venue("b", [("100.3", "1")], []), buy_fee_bps=0, sell_fee_bps=0)
    below = cross(buy, _venue("b", [("100.2999", "1")], []), buy_fee_bps=0, sell_fee_bps=0)

    assert at is not None
    assert at.net_bps == pytest.approx(30.0)
    assert below is None


def test_size_walks_both_books_while_each_unit_clears_the_threshold() -> None:
    """1 @100 vs 101, 0.5 @100.2 vs 101, 1 @100.2 vs 100.8; 100.2 vs 100.4 is under 30 bps."""
    buy = _venue("a", [], [("100", "1"), ("100.2", "2"), ("100.5", "5")])
    sell = _venue("b", [("101", "1.5"), ("100.8", "1"), ("100.4", "10")], [])

    found = cross(buy, sell, buy_fee_bps=0, sell_fee_bps=0)

    assert found is not None
    assert (found.qty, found.qty * found.buy_price, found.qty * found.sell_price) == (
        D("2.5"), D("250.3"), D("252.3"),
    )  # fmt: skip
    assert found.expected_profit == pytest.approx(2.0)
    assert (found.best_ask, found.best_bid) == (D(100), D(101))


def test_max_qty_caps_the_size() -> None:
    """With max_qty 0.4 only 0.4 of the first level pair is taken."""
    buy = _venue("a", [], [("100", "1")])
    sell = _venue("b", [("101", "1")], [])

    found = cross(buy, sell, buy_fee_bps=0, sell_fee_bps=0, max_qty=D("0.4"))

    assert found is not None
    assert found.qty == D("0.4")


def test_best_cross_finds_the_profitable_direction() -> None:
    """b's ask is below a's bid: buy on b, sell on a."""
    a = _venue("a", [("101", "1")], [("101.5", "1")])
    b = _venue("b", [("99.5", "1")], [("100", "1")])

    found = best_cross(a, b, {"a": 0.0, "b": 0.0})

    assert found is not None
    assert (found.buy_venue, found.sell_venue) == ("b", "a")


def test_negative_fee_is_refused() -> None:
    """A fee below zero is an input error."""
    with pytest.raises(ValueError, match="fee"):
        CrossVenueArbitrage({"a": -1.0})


# --- the incremental detector ------------------------------------------------------


def test_detector_checks_each_update_against_the_other_venue() -> None:
    """The bybit quote at t=1 crosses binance's quote of t=0 by 50 bps: one opportunity."""
    detector = CrossVenueArbitrage(NO_FEES)

    first = detector.on_quote(_quote("BTCUSD", "100.5", "100.6", ts=0))
    second = detector.on_quote(_quote("bybit:BTCUSD", "99.9", "100", ts=1))

    assert first is None
    assert second is not None
    assert (second.buy_venue, second.sell_venue, second.symbol) == ("bybit", "binance", "BTCUSD")
    assert detector.statistics() == ArbitrageStats(updates=2, opportunities=1)


def test_detector_ignores_a_stale_other_venue() -> None:
    """With max_age_ns 10, the other venue's quote 11 ns old is left out."""
    detector = CrossVenueArbitrage(NO_FEES, max_age_ns=10)
    detector.on_quote(_quote("BTCUSD", "100.5", "100.6", ts=0))

    assert detector.on_quote(_quote("bybit:BTCUSD", "99.9", "100", ts=11)) is None


def test_detector_refuses_a_venue_without_a_fee() -> None:
    """Every venue fed must have a configured taker fee."""
    detector = CrossVenueArbitrage({"binance": 5.0})

    with pytest.raises(ValueError, match="okx"):
        detector.on_quote(_quote("okx:BTCUSD", "1", "2", ts=0))


def test_edge_bps_is_the_touch_net_edge() -> None:
    """Touch against touch: buy bybit at 100, sell binance at 100.5, 6 + 5 bps of fees."""
    detector = CrossVenueArbitrage(TAKER)
    detector.on_quote(_quote("BTCUSD", "100.5", "100.6", ts=0))
    detector.on_quote(_quote("bybit:BTCUSD", "99.9", "100", ts=0))

    edge = detector.edge_bps("bybit", "binance")

    assert edge == pytest.approx((100.5 * 0.9995 - 100 * 1.0006) / 100 * 10_000)


def test_gross_edge_and_last_update() -> None:
    """Before fees the same touches give 50 bps; each venue's last update time is kept."""
    detector = CrossVenueArbitrage(TAKER)
    detector.on_quote(_quote("BTCUSD", "100.5", "100.6", ts=7))
    detector.on_quote(_quote("bybit:BTCUSD", "99.9", "100", ts=9))

    assert detector.edge_bps("bybit", "binance", net=False) == pytest.approx(50.0)
    assert (detector.last_update_ns("binance"), detector.last_update_ns("okx")) == (7, None)


# --- the real day ---------------------------------------------------------------------


def test_real_day_has_no_opportunity_net_of_fees(day: list[QuoteTick]) -> None:
    """At 0.3%, and at any threshold >= 0, no minute clears 5 + 6 bps of taker fees."""
    assert _scan(day, TAKER, 30) == []
    assert _scan(day, TAKER, 0) == []


@pytest.mark.parametrize(
    ("threshold_bps", "count"), [(30, 0), (10, 0), (5, 147), (3, 234), (2, 281), (1, 333), (0, 394)]
)
def test_real_day_opportunities_before_fees(
    day: list[QuoteTick], threshold_bps: float, count: int
) -> None:
    """Before fees the venues' persistent basis (Bybit cheaper) crosses on most minutes."""
    assert len(_scan(day, NO_FEES, threshold_bps)) == count


def test_real_day_directions_and_best_minute(day: list[QuoteTick]) -> None:
    """At 0 bps: 369 buy-Bybit/sell-Binance, 25 the reverse; best 9.71 bps at 06:38 UTC."""
    found = _scan(day, NO_FEES, 0)
    best = max(found, key=lambda o: o.net_bps)

    assert Counter((o.buy_venue, o.sell_venue) for o in found) == {
        ("bybit", "binance"): 369, ("binance", "bybit"): 25,
    }  # fmt: skip
    assert (best.best_ask, best.best_bid, best.ts) == (
        D(17191),
        D("17207.7"),
        1_670_913_480 * 10**9,
    )
    assert best.net_bps == pytest.approx(9.714385434)


def test_real_day_size_is_the_smaller_quoted_side(day: list[QuoteTick]) -> None:
    """Top-of-book sizing: each opportunity's size is min(buy ask size, sell bid size)."""
    detector = CrossVenueArbitrage(NO_FEES, threshold_bps=5, max_age_ns=0)
    latest: dict[str, QuoteTick] = {}
    for quote in day:
        latest[quote.instrument_id] = quote
        found = detector.on_quote(quote)
        if found is None:
            continue
        buy = latest["bybit:BTCUSD" if found.buy_venue == "bybit" else "BTCUSD"]
        sell = latest["BTCUSD" if found.sell_venue == "binance" else "bybit:BTCUSD"]

        assert found.qty == min(buy.ask_size, sell.bid_size)
