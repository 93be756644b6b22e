"""R2: a crash between send and ack on an order that fills at once; the restart adopts it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp

from genesis.core.enums import OrderType, TimeInForce
from genesis.core.events import OrderAccepted, OrderFilled
from genesis.exchange.sandbox import SandboxServer

from .conftest import order, posts, queries, start_venue, until

TRIALS = 200


async def test_restart_adopts_the_filled_order_and_never_resends(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """200 of 200 trials: adopted by origClientOrderId, 0 duplicates, 0 POSTs of a known id."""
    raced = 0
    for i in range(TRIALS):
        cid = f"r2-{i}"
        cmd = (
            order(cid, kind=OrderType.MARKET, price=None)
            if i % 2
            else order(cid, tif=TimeInForce.IOC)
        )
        first: list[Any] = []
        crashed = await start_venue(sandbox, session, first.append)
        sandbox.faults.arm("order.drop_response")
        crashed.execute(cmd, 0)
        await until(lambda c=cid: c in sandbox.engine.ledger.orders, step_s=0)
        raced += queries(sandbox, cid) > 0  # did the doomed process query before the kill?
        await crashed.close()  # the kill: the venue object and its tasks are gone

        second: list[Any] = []
        restarted = await start_venue(sandbox, session, second.append)
        restarted.recover(cmd)  # the journal's in-flight intent
        await until(lambda v=restarted, c=cid: v.tracker.orders[c].done)
        await restarted.close()

        truth = sandbox.engine.ledger.orders[cid]
        assert [o.status for o in truth] == ["FILLED"]
        assert posts(sandbox, cid) == 1
        assert [type(e) for e in first] == []
        assert isinstance(second[0], OrderAccepted)
        fills = [e for e in second if isinstance(e, OrderFilled)]
        assert sum((f.last_qty for f in fills), Decimal(0)) == truth[0].executed
        assert {f.trade_id for f in fills} == {str(f["tradeId"]) for f in truth[0].fills}
        assert restarted.resends == 0

    ledger = sandbox.ledger()
    assert sandbox.faults.stats["order.drop_response"] == TRIALS
    assert len(ledger["orders"]) == TRIALS
    assert all(n == 1 for n in ledger["accepted_posts"].values())  # 0 POSTs of a known id
    assert sandbox.requests.count("POST", "/api/v3/order") == TRIALS
    assert raced == 0  # every kill landed between send and ack
