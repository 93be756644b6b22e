"""CcxtVenue against the local Binance-compatible exchange through ccxt's binance class."""

from __future__ import annotations

from decimal import Decimal

from genesis.core.commands import CancelAllOrders, CancelOrder
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected

from .conftest import D, submit


async def test_limit_rests_then_cancel(venue, server):
    """A limit below the book is accepted with the venue's order id, then cancelled."""
    v, events = venue
    v.execute(submit("lim-1", Side.BUY, "0.001", "39000.00"), 0)
    [accepted] = await events.wait_for(OrderAccepted, "lim-1")
    v.execute(
        CancelOrder(ts_init=0, strategy_id="s1", instrument_id="BTCUSDT", client_order_id="lim-1"),
        0,
    )
    await events.wait_for(OrderCanceled, "lim-1")
    [order] = server.ledger()["orders"]["lim-1"]
    assert accepted.venue_order_id == str(order["orderId"])
    assert order["status"] == "CANCELED"
    assert server.ledger()["accepted_posts"]["lim-1"] == 1


async def test_market_fill_equals_ledger(venue, server):
    """A market buy against the set book gives one OrderFilled equal to the ledger's trade."""
    v, events = venue
    v.execute(submit("mkt-1", Side.BUY, "0.01"), 0)
    [fill] = await events.wait_for(OrderFilled, "mkt-1")
    [trade] = server.ledger()["trades"]
    assert (fill.last_qty, fill.last_px, fill.fee, fill.fee_currency) == (
        D(trade["qty"]),
        D(trade["price"]),
        D(trade["commission"]),
        trade["commissionAsset"],
    )
    assert (fill.last_qty, fill.last_px, fill.fee) == (D("0.01"), D("40001"), D("0.40001"))
    assert fill.liquidity is LiquiditySide.TAKER
    assert fill.trade_id == str(trade["id"])
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderFilled"]


async def test_fill_delivered_once_across_polls(venue, server):
    """Polling my trades many times after a fill never repeats it."""
    v, events = venue
    v.execute(submit("lim-2", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "lim-2")
    server.trade("BTCUSDT", D("38999.00"), D("0.5"))  # crosses the resting buy: maker fill
    [fill] = await events.wait_for(OrderFilled, "lim-2")
    await v._rec.poll_symbol("BTC/USDT")
    await v._rec.poll_symbol("BTC/USDT")
    assert events.of(OrderFilled) == [fill]
    assert fill.liquidity is LiquiditySide.MAKER
    assert (fill.last_qty, fill.last_px, fill.fee) == (D("0.001"), D("39000"), D("0.039"))


async def test_cancel_all_cancels_only_that_strategy(venue, server):
    """CancelAllOrders cancels the strategy's orders on the instrument and leaves others."""
    v, events = venue
    for cid, strategy in (("a-1", "A"), ("a-2", "A"), ("b-1", "B")):
        v.execute(submit(cid, Side.BUY, "0.001", "39000.00", strategy=strategy), 0)
    await events.wait_for(OrderAccepted, n=3)
    v.execute(CancelAllOrders(ts_init=0, strategy_id="A", instrument_id="BTCUSDT"), 0)
    canceled = await events.wait_for(OrderCanceled, n=2)
    orders = server.ledger()["orders"]
    assert sorted(e.client_order_id for e in canceled) == ["a-1", "a-2"]
    assert [orders[c][0]["status"] for c in ("a-1", "a-2", "b-1")] == [
        "CANCELED",
        "CANCELED",
        "NEW",
    ]


async def test_insufficient_balance_is_rejected_with_code(venue, server):
    """-2010 (insufficient balance) becomes OrderRejected with the venue's code and text."""
    v, events = venue
    v.execute(submit("big-1", Side.BUY, "10", "39000.00"), 0)
    [rejected] = await events.wait_for(OrderRejected, "big-1")
    assert rejected.code == "-2010"
    assert "insufficient balance" in rejected.reason
    assert "big-1" not in server.ledger()["orders"]


async def test_venue_filter_failure_is_rejected_with_code(venue, server):
    """A market order under MIN_NOTIONAL passes local checks and is refused by the venue (-1013)."""
    v, events = venue
    v.execute(submit("tiny-1", Side.BUY, "0.0001"), 0)
    [rejected] = await events.wait_for(OrderRejected, "tiny-1")
    assert rejected.code == "-1013"
    assert "NOTIONAL" in rejected.reason


async def test_off_tick_price_is_rejected_locally(venue, server):
    """A price off the instrument's tick never leaves the process."""
    v, events = venue
    v.execute(submit("tick-1", Side.BUY, "0.001", "39000.005"), 0)
    [rejected] = await events.wait_for(OrderRejected, "tick-1")
    assert rejected.code == "INVALID_ORDER"
    assert server.requests.count("POST", "/api/v3/order") == 0


async def test_instrument_built_from_ccxt_market(venue):
    """BTCUSDT's increments and limits come from ccxt's market (exchangeInfo 2021 values)."""
    v, _ = venue
    i = v.instruments()["BTCUSDT"]
    assert (i.tick_size, i.step_size, i.min_qty, i.min_notional) == (
        D("0.01"),
        D("0.00001"),
        D("0.00001"),
        D("10"),
    )
    assert isinstance(i.max_qty, Decimal)


async def test_is_a_live_venue(venue):
    """CcxtVenue satisfies the LiveVenue protocol the daemon expects."""
    from genesis.exchange.live import LiveVenue

    v, _ = venue
    assert isinstance(v, LiveVenue)
    assert v.name == "BINANCE"
