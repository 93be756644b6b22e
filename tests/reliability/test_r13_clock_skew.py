"""R13: the exchange clock is skewed or stepped; the connector keeps its discipline (P9).

Three skew events on one run: the local clock 1.5 s ahead (exchange -1,500 ms),
6 s behind (exchange +6,000 ms) and a 30 s NTP step mid-run. Figures: the
offset is resynced from >= 3 ``/api/v3/time`` samples each time, a read hit by
-1021 is re-signed and retried once, an order hit by -1021 is re-signed with the
same client id; <= 1 x -1021 per skew event (counted at the exchange), 0 lost
or duplicate orders, DEGRADED while |offset| > 500 ms.
"""

from __future__ import annotations

from typing import Any

from genesis.core.events import OrderAccepted
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.streams_fixtures import (
    D,
    limit,
    running,
    start_venue,
    stop_venue,
    until,
)


def rejections(server: SandboxServer) -> int:
    return sum(1 for r in server.requests.records if r.code == -1021)


def time_calls(server: SandboxServer) -> int:
    return server.requests.count("GET", "/api/v3/time")


async def test_skews_and_step_cost_at_most_one_rejection_each() -> None:
    """+1.5 s, -6 s, +30 s step: one -1021 each, offset resynced, orders placed exactly once."""
    async with running() as server:
        server.set_book("BTCUSDT", [(D("40000"), D("1"))], [(D("40001"), D("1"))])
        server.flush()
        venue, events = await start_venue(server)
        clock = venue.rest.clock
        await until(lambda: venue.balances)  # the start-up backfill is done: nothing in flight
        figures: list[tuple[int, int, float, bool]] = []
        n = 0

        async def order() -> None:
            nonlocal n
            n += 1
            venue.execute(limit(f"sk-{n}", "39000"), 0)
            await until(lambda: sum(isinstance(e, OrderAccepted) for e in events) == n)

        assert not clock.degraded
        for skew, read_first in ((-1_500, False), (6_000, True), (None, False)):
            before, times = rejections(server), time_calls(server)
            if skew is None:
                await order()  # mid-run: an order before the step, then the step
                server.step_clock(30_000)
            else:
                server.set_clock_skew(skew)
            if read_first:
                data: Any = await venue.rest.account()  # re-signed and retried once
                assert "balances" in data
            await order()
            await venue.rest.open_orders("BTCUSDT")  # no further rejection: offset is known
            figures.append(
                (rejections(server) - before, time_calls(server) - times, clock.offset_ms,
                 clock.degraded)
            )  # fmt: skip
        server.set_clock_skew(0)
        await venue.rest.sync_clock()
        recovered = not clock.degraded
        await stop_venue(venue)
        ledger = server.ledger()
    assert [f[0] for f in figures] == [1, 1, 1]
    assert all(f[1] >= 3 for f in figures)
    offsets = [f[2] for f in figures]
    assert all(
        abs(o - want) < 100 for o, want in zip(offsets, (-1_500, 6_000, 36_000), strict=True)
    )
    assert all(f[3] for f in figures)
    assert recovered
    assert set(ledger["orders"]) == {f"sk-{i}" for i in range(1, n + 1)}
    assert all(len(v) == 1 for v in ledger["orders"].values())
    assert all(v == 1 for v in ledger["accepted_posts"].values())
    assert venue.resends == 0
