"""R12: a 30-symbol book resync at depth limit 5,000 under the exchange's 6,000 weight/min.

Each snapshot weighs 250, so the resync needs 7,500 weight: more than one
minute allows. Time is virtual (``FakeTime``) on both sides: the exchange's
rate-limit windows, Retry-After and bans, and the feed's clock and waits, so
the two minutes of the run take well under a second. Figures: the weight
the connector tracks from ``X-MBX-USED-WEIGHT-1M`` equals the exchange's
count at every wait (within ±1: 0 apart); snapshots are spaced and stay
within the 80 % budget per minute; with another process eating the same
IP's budget, exactly one 429, nothing sent before its Retry-After, 0 x 418;
all 30 books valid and equal to the exchange's.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.fake_time import FakeTime
from tests.reliability.streams_fixtures import (
    IP,
    D,
    feed_books_match,
    market_feed,
    random_book,
    running,
    until,
)

MINUTE_MS = 60_000
START_S = 6_000.0 + 45  # 15 s before a minute turns: the resync straddles a window


def thirty_symbols(server: SandboxServer) -> tuple[str, ...]:
    names = sorted(s for s, spec in server.info.symbols.items()
                   if spec.status == "TRADING" and s.endswith("USDT"))  # fmt: skip
    return tuple(names[:30])


def depth_records(server: SandboxServer) -> list[Any]:
    return [r for r in server.requests.records if r.path == "/api/v3/depth"]


@pytest.mark.parametrize("other_process_weight", [0, 2_900])
async def test_thirty_symbol_resync_staggered_without_a_ban(other_process_weight: int) -> None:
    """7,500 weight over two windows: weight tracked exactly, <= 1 x 429, 0 x 418, 30 books."""
    ft = FakeTime(START_S)
    rng = random.Random(12)
    async with running(clock=ft.wall_ms, weight_limit=6_000) as server:
        symbols = thirty_symbols(server)
        for symbol in symbols:
            server.set_book(symbol, *random_book(rng, D("100"), D("0.01"), depth=20))
        server.flush()
        clock = ServerClock(ft.wall_ns)
        limiter = RateLimiter(6_000, server_ms=clock.now_ms, guard_s=0.0)  # one shared clock
        rest = BinanceRest(server.rest_url, clock=clock, limiter=limiter, monotonic=ft.mono)
        disagreements: list[tuple[int, int]] = []
        samples: list[int] = []
        injected = False

        def on_sleep() -> None:
            nonlocal injected
            n = len(depth_records(server))
            ours = limiter.statistics(ft.mono()).used_weight
            theirs = server.limiter.used(IP)
            # the other process's weight is invisible until the next answer's header
            if abs(ours - theirs) > 1 and not (injected and n == 12):
                disagreements.append((ours, theirs))
            samples.append(n)
            if other_process_weight and not injected and n == 12:
                injected = True  # another process on this IP spends weight we cannot see
                server.limiter.charge(IP, other_process_weight)

        ft.on_sleep = on_sleep
        async with market_feed(server, symbols, rest=rest, depth_limit=5_000,
                               snapshot_spacing_s=0.25,
                               feed_kwargs={"monotonic": ft.mono, "sleep": ft.sleep}) as feed:  # fmt: skip
            await until(lambda: feed_books_match(feed, server), timeout_s=20)
            stats = feed.statistics()
        await rest.close()
        records = depth_records(server)
        limits = dict(server.limiter.stats)
    ok = [r for r in records if r.status == 200]
    assert len(ok) == stats.snapshots_fetched == 30
    assert disagreements == []
    assert len(samples) >= 60  # compared before and after every wait of the resync
    gaps = [b.received_ms - a.received_ms for a, b in itertools.pairwise(records)]
    assert min(gaps) >= 250  # staggered: never two snapshots within the spacing
    per_minute: dict[int, int] = {}
    for r in records:
        per_minute[r.received_ms // MINUTE_MS] = per_minute.get(r.received_ms // MINUTE_MS, 0) + 250
    assert limits.get("418", 0) == 0
    if other_process_weight == 0:
        assert limits.get("429", 0) == 0
        assert sorted(per_minute.values()) == [2_750, 4_750]  # 19 then 11: the 80 % budget
    else:
        assert limits["429"] == 1
        [hit] = [r for r in records if r.status == 429]
        retry_until = (hit.received_ms // MINUTE_MS + 1) * MINUTE_MS
        after = [r.received_ms for r in server.requests.records if r.received_ms > hit.received_ms]
        assert min(after) >= retry_until  # nothing sent before Retry-After
        assert len(records) == 31
