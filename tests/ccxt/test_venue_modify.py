"""Modify (EX-2) over ccxt: ccxt's binance class edits through the sandbox's cancelReplace."""

from __future__ import annotations

import asyncio

from genesis.core.commands import ModifyOrder
from genesis.core.enums import Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderModifyRejected, OrderUpdated

from .conftest import D, submit


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
