"""Start-up snapshot (P5): a new process reports the own trades placed by a previous one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from genesis.core.enums import Side, TimeInForce
from genesis.core.events import OrderFilled
from genesis.exchange.sandbox import SandboxServer

from .conftest import SYMBOL, order, start_venue, until

D = Decimal


async def test_snapshot_after_restart_returns_exactly_the_trades_after_the_given_id(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """12 orders filled by a discarded venue; a new one's snapshot equals the ledger after id 5."""
    events: list[Any] = []
    first = await start_venue(sandbox, session, events.append)
    for i in range(10):
        side = Side.BUY if i % 2 else Side.SELL
        first.execute(order(f"snap-{i}", side=side, price="40001.00" if i % 2 else "40000.00",
                            tif=TimeInForce.IOC), 0)  # fmt: skip
    first.execute(order("snap-rest-a", price="39990.00"), 0)
    first.execute(order("snap-rest-b", price="39980.00", qty="0.02"), 0)
    await until(lambda: sum(isinstance(e, OrderFilled) for e in events) == 10)
    await until(lambda: len(sandbox.engine.open_by_client) == 2)
    sandbox.trade(SYMBOL, D("39970.00"), D("1"), buyer_maker=True)  # fills both resting buys
    await first.close()  # discarded: nothing of it survives but the exchange's ledger

    second = await start_venue(sandbox, session, lambda _e: None)
    snap = await second.snapshot([SYMBOL], {SYMBOL: 5})
    await second.close()

    truth = [t for t in sandbox.ledger()["trades"] if t["id"] > 5]
    assert len(sandbox.ledger()["trades"]) == 12
    assert [
        (f.trade_id, f.client_order_id, f.last_qty, f.last_px, f.side) for f in snap.fills
    ] == [
        (str(t["id"]), t["clientOrderId"], D(t["qty"]), D(t["price"]),
         Side.BUY if t["isBuyer"] else Side.SELL)
        for t in truth
    ]  # fmt: skip
    assert snap.open_orders == ()
