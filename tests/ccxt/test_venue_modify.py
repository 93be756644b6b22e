"""Modify (EX-2) over ccxt: ccxt's binance class edits through the sandbox's cancelReplace;
an exchange without a native edit gets cancel, then replace (``exchange.ccxt.modify``)."""

from __future__ import annotations

import asyncio

import pytest

from genesis.core.commands import ModifyOrder
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModifyRejected,
    OrderUpdated,
)
from genesis.exchange.ccxt import CcxtVenue

from .conftest import D, Events, binance_at, submit


def modify(cid: str, price: str, quantity: str = "0.001") -> ModifyOrder:
    return ModifyOrder(
        ts_init=0, strategy_id="s1", instrument_id="BTCUSDT", client_order_id=cid,
        quantity=D(quantity), price=D(price),
    )  # fmt: skip


async def test_edit_order_moves_a_resting_limit_and_keeps_its_client_id(venue, server):
    """39000 -> 39100: OrderUpdated; the venue's open order is the replacement, same client id,
    and the replaced order's cancel does not end ours."""
    v, events = venue
    v.execute(submit("ed-1", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "ed-1")
    v.execute(modify("ed-1", "39100.00"), 0)
    [updated] = await events.wait_for(OrderUpdated, "ed-1")
    await asyncio.sleep(0.3)  # the stream's reports of both halves
    await v._rec.poll_symbol("BTC/USDT")
    rows = server.ledger()["orders"]["ed-1"]
    assert updated.price == D("39100.00")
    assert [r["status"] for r in rows] == ["CANCELED", "NEW"]
    assert D(rows[-1]["price"]) == D("39100")
    assert events.of(OrderCanceled) == []


async def test_modify_of_a_stop_is_refused_on_ccxt(venue, server):
    """A trigger price cannot move on a venue without stops: refused, nothing sent."""
    v, events = venue
    v.execute(submit("ed-2", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "ed-2")
    command = ModifyOrder(
        ts_init=0, strategy_id="s1", instrument_id="BTCUSDT", client_order_id="ed-2",
        quantity=D("0.001"), trigger_price=D("39500"),
    )  # fmt: skip
    v.execute(command, 0)
    [refused] = await events.wait_for(OrderModifyRejected, "ed-2")
    assert "no stop orders" in refused.reason
    assert len(server.ledger()["orders"]["ed-2"]) == 1


# --- cancel-replace: an exchange without a native edit -----------------------------------------


@pytest.fixture(params=[False, "emulated"], ids=["no-edit", "ccxt-emulated-edit"])
async def plain(request, server):  # type: ignore[no-untyped-def]
    """A CcxtVenue whose exchange has no native ``editOrder`` (none, or ccxt's blind
    stand-in): modify is cancel, then replace."""
    exchange = binance_at(server)
    exchange.has = {**exchange.has, "editOrder": request.param}
    v = CcxtVenue(exchange, poll_interval_s=0.05, resolve_interval_s=0.02, settle_s=0.4)
    events = Events()
    await v.start(events.append)
    try:
        yield v, events
    finally:
        await v.close()


async def test_cancel_replace_moves_a_resting_limit_under_the_same_client_id(plain, server):
    """39000 -> 39100: the venue cancels the order first, then holds its replacement (same
    client id, 39100); the kernel hears one OrderUpdated and no cancel."""
    v, events = plain
    v.execute(submit("cr-1", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "cr-1")
    v.execute(modify("cr-1", "39100.00"), 0)
    [updated] = await events.wait_for(OrderUpdated, "cr-1")
    rows = server.ledger()["orders"]["cr-1"]
    assert (updated.quantity, updated.price) == (D("0.001"), D("39100.00"))
    assert [(r["status"], D(r["price"])) for r in rows] == [
        ("CANCELED", D("39000")),
        ("NEW", D("39100")),
    ]
    assert events.of(OrderCanceled) == []
    assert events.of(OrderModifyRejected) == []
    assert v.statistics()["modify_cancel_replace"] == 1


async def test_a_partly_filled_order_is_replaced_for_what_is_left(plain, server):
    """0.002 bought 0.001 at 39000, then moved to 39100: the replacement is for the 0.001
    left; the order's total stays 0.002 and a later fill of the replacement completes it."""
    v, events = plain
    v.execute(submit("cr-2", Side.BUY, "0.002", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "cr-2")
    server.trade("BTCUSDT", D("38999.00"), D("0.001"))
    await events.wait_for(OrderFilled, "cr-2")
    v.execute(modify("cr-2", "39100.00", "0.002"), 0)
    [updated] = await events.wait_for(OrderUpdated, "cr-2")
    server.trade("BTCUSDT", D("39099.00"), D("0.5"))
    fills = await events.wait_for(OrderFilled, "cr-2", n=2)
    rows = server.ledger()["orders"]["cr-2"]
    assert updated.quantity == D("0.002")
    assert [(r["status"], D(r["origQty"])) for r in rows] == [
        ("CANCELED", D("0.002")),
        ("FILLED", D("0.001")),
    ]
    assert [(f.last_qty, f.last_px) for f in fills] == [
        (D("0.001"), D("39000")),
        (D("0.001"), D("39100")),
    ]
    assert events.of(OrderCanceled) == []


async def test_a_refused_replacement_ends_the_order_cancelled(plain, server):
    """1 BTC at 39000 needs 39,000 USDT of 10,000: the cancel went, the replacement is
    refused: the modify is rejected with the venue's reason, then the order is cancelled."""
    v, events = plain
    v.execute(submit("cr-3", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "cr-3")
    v.execute(modify("cr-3", "39000.00", "1"), 0)
    await events.wait_for(OrderCanceled, "cr-3")
    [refused] = events.of(OrderModifyRejected, "cr-3")
    kinds = [type(e).__name__ for e in events if e.client_order_id == "cr-3"]
    assert kinds == ["OrderAccepted", "OrderModifyRejected", "OrderCanceled"]
    assert "replacement was refused" in refused.reason
    assert [r["status"] for r in server.ledger()["orders"]["cr-3"]] == ["CANCELED"]


async def test_a_cancel_that_finds_the_order_filled_fails_the_modify_and_keeps_the_fill(
    plain, server
):
    """Through the kernel: the order fills at the venue as its modify goes; the cancel
    fails, nothing is placed again, and the kernel's order ends FILLED with no refused
    event (the modify's rejection, if any, comes before the fill)."""
    from tests.ccxt.test_venue_oco import _kernel, _Loop

    v, events = plain
    loop = _Loop(_kernel(), v, events)
    strategy = loop.kernel.strategies["s1"]
    order = strategy.ctx.orders.limit("BTCUSDT", Side.BUY, "0.001", "39000")
    loop.send(loop.kernel.submit(order)[1])
    await loop.until(lambda: order.status is OrderStatus.ACCEPTED)
    server.trade("BTCUSDT", D("38999.00"), D("0.5"))  # fills it at the venue
    loop.send(loop.kernel.modify(order.client_order_id, price="39100"))
    await loop.until(lambda: order.status is OrderStatus.FILLED)
    await asyncio.sleep(0.2)  # any late report would arrive now
    await loop.until(lambda: True)
    assert [r["status"] for r in server.ledger()["orders"][order.client_order_id]] == ["FILLED"]
    assert events.of(OrderUpdated) == []
    assert loop.kernel.oms.statistics().illegal_events == 0
    assert loop.kernel.portfolio.position_qty("BTCUSDT", "s1") == D("0.001")
