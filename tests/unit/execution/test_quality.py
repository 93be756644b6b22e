"""Execution quality per fill (EX-6): slippage signs, latency legs, fill ratio, breakdowns."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderSubmitted
from genesis.core.orders import Order
from genesis.errors import ConfigError
from genesis.execution.quality import FillQuality, percentile
from genesis.testing.builders import T0, fill, order, real_bars
from genesis.testing.instruments import BTCUSDT, lookup

MS = 1_000_000
BARS = real_bars(0, 2)
DECISION = BARS[0].close  # 46377.0: the close the strategy decided on
FILLED = BARS[1].open  # the next bar's open, where a market order fills


def _book(mid: D | None = DECISION) -> FillQuality:
    return FillQuality(instruments=lookup, mid=lambda _iid: mid)


def _sent(
    quality: FillQuality,
    side: Side = Side.BUY,
    *,
    cid: str = "s1-1",
    qty: str = "0.5",
    strategy_id: str = "s1",
    order_type: OrderType = OrderType.MARKET,
    price: str | None = None,
) -> Order:
    o = order(side, qty, order_type, client_order_id=cid, strategy_id=strategy_id, price=price)
    o.decision_price = DECISION
    o.apply(OrderSubmitted(**_ids(o, T0)))
    quality.on_submitted(o, T0)
    return o


def _ids(o: Order, ts: int) -> dict[str, object]:
    return {
        "ts_event": ts,
        "ts_init": ts,
        "client_order_id": o.client_order_id,
        "strategy_id": o.strategy_id,
        "instrument_id": o.instrument_id,
    }


def _fill(quality: FillQuality, o: Order, px: D, qty: str = "0.5", **kw: object):
    event = fill(
        o.side, qty, px, client_order_id=o.client_order_id, strategy_id=o.strategy_id, **kw
    )
    o.apply(event)
    quality.on_fill(event, o)
    return quality.records()[-1]


def test_buy_filled_above_its_decision_price_pays_positive_slippage() -> None:
    """A buy filled above its decision price shows a cost: positive bps and quote cost."""
    quality = _book()
    buy = _sent(quality, Side.BUY)

    record = _fill(quality, buy, FILLED)

    expected = float((FILLED - DECISION) / DECISION) * 10_000
    assert record.slippage_decision_bps == pytest.approx(expected)
    assert record.slippage_cost == (FILLED - DECISION) * D("0.5")
    assert quality.slippage_cost("s1", BTCUSDT) == (FILLED - DECISION) * D("0.5")


def test_sell_filled_above_its_decision_price_gains_negative_slippage() -> None:
    """A sell receiving more than its decision price has negative slippage (a gain)."""
    quality = _book()
    sell = _sent(quality, Side.SELL)

    record = _fill(quality, sell, DECISION + D(10))

    assert record.slippage_decision_bps == pytest.approx(-10 / float(DECISION) * 10_000)
    assert record.slippage_cost == D(-5)


def test_sell_filled_below_its_decision_price_pays_positive_slippage() -> None:
    """A sell receiving less than its decision price is a cost, as a buy paying more."""
    quality = _book()
    sell = _sent(quality, Side.SELL)

    record = _fill(quality, sell, DECISION - D(10))

    assert record.slippage_decision_bps == pytest.approx(10 / float(DECISION) * 10_000)
    assert record.slippage_cost == D(5)


def test_arrival_price_is_the_mid_when_the_venue_accepted_the_order() -> None:
    """An acknowledged order measures arrival slippage from the mid at its acceptance."""
    mids = {"now": DECISION}
    quality = FillQuality(instruments=lookup, mid=lambda _iid: mids["now"])
    buy = _sent(quality, Side.BUY, order_type=OrderType.LIMIT, price="46400")
    mids["now"] = DECISION + D(20)
    accepted = OrderAccepted(venue_order_id="v1", **_ids(buy, T0 + 3 * MS))
    buy.apply(accepted)
    quality.on_event(accepted, buy)

    record = _fill(quality, buy, DECISION + D(20))

    assert record.arrival_price == DECISION + D(20)
    assert record.slippage_arrival_bps == 0.0
    assert record.slippage_decision_bps == pytest.approx(20 / float(DECISION) * 10_000)


def test_latency_legs_come_from_the_event_times() -> None:
    """Decision -> submitted -> accepted -> first fill, each leg from the events' times."""
    quality = _book()
    o = order(Side.BUY, "0.5", OrderType.LIMIT, price="46400", ts_init=T0 - 2 * MS)
    o.decision_price = DECISION
    o.apply(OrderSubmitted(**_ids(o, T0)))
    quality.on_submitted(o, T0)
    accepted = OrderAccepted(venue_order_id="v1", **_ids(o, T0 + 5 * MS))
    o.apply(accepted)
    quality.on_event(accepted, o)

    first = _fill(quality, o, D("46390"), "0.2", trade_id="T1", ts=T0 + 9 * MS)
    second = _fill(quality, o, D("46390"), "0.3", trade_id="T2", ts=T0 + 20 * MS)

    assert first.latency_ns == {
        "decision_to_submit": 2 * MS,
        "submit_to_accept": 5 * MS,
        "accept_to_fill": 4 * MS,
        "decision_to_fill": 11 * MS,
    }
    assert set(second.latency_ns.values()) == {None}
    assert quality.summary()["overall"]["mean_submit_to_accept_ms"] == 5.0


def test_market_order_without_acknowledgement_has_no_accept_legs() -> None:
    """A market order answered by its fill alone: no accept leg, the total still counted."""
    quality = _book()
    buy = _sent(quality)

    record = _fill(quality, buy, FILLED, ts=T0 + 7 * MS)

    assert record.latency_ns["submit_to_accept"] is None
    assert record.latency_ns["decision_to_fill"] == 7 * MS
    assert record.arrival_price == DECISION


def test_fill_ratio_is_counted_when_the_order_ends() -> None:
    """An order cancelled after filling 0.2 of 0.5 counts a fill ratio of 0.4."""
    quality = _book()
    o = _sent(quality, order_type=OrderType.LIMIT, price="46400")
    accepted = OrderAccepted(venue_order_id="v1", **_ids(o, T0))
    o.apply(accepted)
    quality.on_event(accepted, o)
    _fill(quality, o, D("46390"), "0.2")
    canceled = OrderCanceled(**_ids(o, T0 + MS))
    o.apply(canceled)

    quality.on_event(canceled, o)

    overall = quality.summary()["overall"]
    assert overall["mean_fill_ratio"] == 0.4
    assert (overall["orders_finished"], overall["orders_filled"]) == (1, 0)
    assert quality.summary()["orders_open"] == 0


def test_breakdown_by_venue_with_two_venues() -> None:
    """Fills on two venues are counted, priced and fee-rated in their own cells."""
    quality = _book()
    a = _sent(quality, cid="s1-1")
    b = _sent(quality, cid="s1-2", qty="0.25")
    _fill(quality, a, FILLED, venue="binance", fee="2.3", trade_id="A1")
    _fill(quality, b, DECISION, "0.25", venue="bybit", fee="0", trade_id="B1")

    venues = quality.summary()["by_venue"]

    assert sorted(venues) == ["binance", "bybit"]
    assert D(venues["binance"]["filled_notional"]) == FILLED * D("0.5")
    assert venues["binance"]["fees_bps"] == round(float(D("2.3") / (FILLED * D("0.5"))) * 1e4, 4)
    assert venues["bybit"]["slippage_decision_bps"]["mean"] == 0.0
    assert venues["bybit"]["orders_filled"] == 1
    assert quality.summary()["by_strategy"]["s1"]["fills"] == 2


def test_breakdown_by_strategy_keeps_median_and_p95() -> None:
    """Per strategy: mean, median and p95 of slippage over its fills."""
    quality = _book()
    for n, offset in enumerate((0, 5, 10, 15, 100)):
        o = _sent(quality, cid=f"s2-{n}", strategy_id="s2")
        _fill(quality, o, DECISION + offset, trade_id=f"T{n}")

    stats = quality.summary()["by_strategy"]["s2"]["slippage_decision_bps"]

    bps = [offset / float(DECISION) * 1e4 for offset in (0, 5, 10, 15, 100)]
    assert stats["n"] == 5
    assert stats["median"] == round(bps[2], 4)
    assert stats["p95"] == round(bps[3] + (bps[4] - bps[3]) * 0.8, 4)
    assert stats["mean"] == round(sum(bps) / 5, 4)


def test_summary_is_json() -> None:
    """The summary survives a JSON round trip unchanged."""
    quality = _book()
    _fill(quality, _sent(quality), FILLED, fee="0.1")

    summary = quality.summary()

    assert json.loads(json.dumps(summary)) == summary


def test_a_fill_without_a_decision_price_has_no_slippage() -> None:
    """A fill of an order nobody decided on (adopted, restored) is counted without slippage."""
    quality = _book()
    quality.on_fill(fill(Side.BUY, "0.5", FILLED), None)

    (record,) = quality.records()

    assert record.slippage_decision_bps is None
    assert record.slippage_cost is None
    assert quality.summary()["overall"]["fills"] == 1


def test_a_bad_window_is_refused() -> None:
    """A window below 1 is a ConfigError naming both values."""
    with pytest.raises(ConfigError, match="window and recent must be >= 1, were 0 and 5"):
        FillQuality(instruments=lookup, mid=lambda _iid: None, window=0, recent=5)


def test_percentile_interpolates_as_numpy_does() -> None:
    """Linear between ranks: the 95th of 1..5 is 4.8."""
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95.0) == pytest.approx(4.8)
    assert percentile([], 50.0) is None
