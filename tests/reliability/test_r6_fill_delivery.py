"""R6: 10,000 fills through a faulty stream, a myTrades backfill and a replay: each counted once.

The 1,000 orders (10 fills each, walking ten 0.001 levels) are executed by the test
exchange's engine in-process, not over HTTP: over HTTP their FULL answers would carry every
fill and leave the stream nothing to prove. The venue is told the intents (as if it had
placed them and every answer were lost), then ``BinanceVenue.on_user_event`` is driven with
the exchange's own executionReports under the plan's faults. Its order queries and
``myTrades`` backfills go over loopback to the same exchange.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import aiohttp

from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderFilled
from genesis.exchange.sandbox import SandboxServer
from genesis.exchange.sandbox.validate import parse_placement

from .conftest import SYMBOL, order, start_venue, until

D = Decimal
ORDERS, LEVELS = 1_000, 10


def execute_at_the_exchange(server: SandboxServer) -> list[Any]:
    """1,000 MARKET orders of 0.01 over ten 0.001 levels: 10,000 real trades."""
    server.set_book(
        SYMBOL,
        [(D("40000") - i, D("0.001")) for i in range(LEVELS)],
        [(D("40001") + i, D("0.001")) for i in range(LEVELS)],
    )
    cmds = []
    for i in range(ORDERS):
        side = Side.BUY if i % 2 else Side.SELL
        cmd = order(f"r6-{i}", side=side, kind=OrderType.MARKET, price=None)
        p = parse_placement(server.info, {"symbol": SYMBOL, "side": side.value, "type": "MARKET",
                                          "quantity": "0.01"})  # fmt: skip
        server.engine.place(p, cmd.client_order_id, server.engine.check_placement(p, "x"))
        cmds.append(cmd)
    return cmds


def faulty_stream(reports: list[dict[str, Any]], rng: random.Random) -> tuple[list[Any], int]:
    """10% of TRADEs only in myTrades, 20% duplicated, 5% swapped with the next report."""
    kept, backfill_only = [], 0
    for rep in reports:
        if rep["x"] == "TRADE" and rng.random() < 0.10:
            backfill_only += 1
            continue
        kept += [rep, rep] if rng.random() < 0.20 else [rep]
    for i in range(len(kept) - 1):
        if rng.random() < 0.05:
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return kept, backfill_only


async def test_each_fill_counted_once_and_ledger_equals_ground_truth(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """10,000 fills: 0 double counts, 0 lost, executedQty equal per order, overfill refused."""
    cmds = execute_at_the_exchange(sandbox)
    truth = sandbox.ledger()["trades"]
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append)
    for cmd in cmds:
        venue.tracker.track(cmd)
    stream, backfill_only = faulty_stream(list(sandbox.users.history), random.Random(6))
    for n, rep in enumerate(stream):
        venue.on_user_event(rep)
        if n % 200 == 0:
            await asyncio.sleep(0)  # the stream's socket yields; refresh queries interleave
    await venue.resync("reconnect")  # the reconnect's backfill ...
    for rep in sandbox.users.history:  # ... and the whole stream replayed after it
        venue.on_user_event(rep)
    await until(lambda: not venue.has_open_orders() and not venue._tasks, timeout_s=30)

    fills = [e for e in events if isinstance(e, OrderFilled)]
    keys = Counter((f.instrument_id, f.trade_id) for f in fills)
    assert len(truth) == ORDERS * LEVELS == 10_000
    assert 900 < backfill_only < 1_100
    assert max(keys.values()) == 1  # 0 double counts
    assert sorted(
        (t["id"], t["clientOrderId"], D(t["qty"]), D(t["price"])) for t in truth
    ) == sorted(
        (int(f.trade_id), f.client_order_id, f.last_qty, f.last_px) for f in fills
    )  # the ledger equals ground truth exactly
    executed = {o.client_order_id: o.executed for o in sandbox.engine.orders.values()}
    assert all(t.filled == executed[cid] for cid, t in venue.tracker.orders.items())

    overfill = {**sandbox.users.history[-1], "t": 10**9, "l": "0.001"}  # a trade id never made
    venue.on_user_event(overfill)
    await venue.close()
    assert venue.tracker.overfills == 1
    assert len([e for e in events if isinstance(e, OrderFilled)]) == 10_000
