"""R5: a duplicate intent or a reused client id is refused before the wire."""

from __future__ import annotations

import random

import aiohttp

from genesis.core.enums import Side, TimeInForce
from genesis.exchange.sandbox import SandboxServer

from .conftest import order, start_venue, until

ATTEMPTS = 10_000
CHUNK = 500


async def test_duplicates_never_reach_the_wire(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """10,000 seeded attempts: each fresh id is POSTed once, every duplicate 0 times."""
    rng = random.Random(5)
    venue = await start_venue(sandbox, session, lambda _e: None)
    issued: list[str] = []
    duplicates = 0
    for attempt in range(ATTEMPTS):
        roll = rng.random()
        if roll < 0.1 or not issued:  # a fresh intent
            cid = f"r5-{attempt}"
            issued.append(cid)
            side = rng.choice((Side.BUY, Side.SELL))
            cmd = order(cid, side=side, price="40001.00" if side is Side.BUY else "40000.00",
                        tif=TimeInForce.IOC)  # fmt: skip
            venue.execute(cmd, 0)
        elif roll < 0.4:  # the same intent again within the same millisecond
            venue.execute(cmd, 0)
            duplicates += 1
        else:  # a past order's client id, in flight or long filled, with other terms
            reused = rng.choice(issued)
            venue.execute(order(reused, qty=str(rng.choice(("0.01", "0.02")))), 0)
            duplicates += 1
        if attempt % CHUNK == CHUNK - 1:  # let the chunk finish: later reuses hit closed orders
            await until(lambda: not venue.has_open_orders())
    await until(lambda: not venue.has_open_orders())
    await venue.close()

    ledger = sandbox.ledger()
    assert len(issued) + duplicates == ATTEMPTS
    assert venue.duplicates_refused == duplicates
    assert sandbox.requests.count("POST", "/api/v3/order") == len(issued)  # 0 for duplicates
    assert all(ledger["accepted_posts"][cid] == 1 for cid in issued)
    assert sorted(ledger["orders"]) == sorted(issued)
