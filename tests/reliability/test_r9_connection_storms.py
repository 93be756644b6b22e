"""R9: connection storms, compressed 100 x: drops, serverShutdown, half the reconnects refused.

Delays are scaled by 1/100 on both sides: the connector's backoff runs from
0.01 s to 0.6 s (1 s..60 s), the exchange's connection-attempt window is 3 s
(300 attempts per 5 min). Each of 16 rounds rests a buy, then drops both the
market and user sockets or sends ``serverShutdown``, makes the order fill
while the sockets are down, and changes the books; every other reconnect is
refused. Figures: every backoff delay within 0.01..0.6 s, 0 connection-limit
violations counted by the exchange (peak attempts per window <= 300), no
socket over 5 messages a second, every book valid and equal to the
exchange's after each round, 0 lost and 0 doubled fills.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from genesis.core.events import OrderAccepted
from genesis.exchange.binance.userstream import UserStreamConfig
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.streams_fixtures import (
    D,
    feed_books_match,
    limit,
    lost_and_doubled,
    market_feed,
    random_book,
    running,
    start_venue,
    stop_venue,
    until,
    venue_fills,
)

SCALE = 0.01
ROUNDS = 16
SYMBOLS = ("BTCUSDT", "ETHUSDT")


class Delays:
    """Records every wait of the feed (backoff and snapshot pacing) and then waits it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def record_backoff(stream: Any) -> list[float]:
    delays: list[float] = []
    original = stream._backoff.next_delay

    def recording() -> float:
        delays.append(original())
        return delays[-1]

    stream._backoff.next_delay = recording
    return delays


def move_eth(server: SandboxServer, rng: random.Random) -> None:
    server.set_book("ETHUSDT", *random_book(rng, D("3000"), D("0.01")))
    server.flush()


async def test_sixteen_storm_rounds_lose_nothing_and_respect_every_limit() -> None:
    """Drops and shutdowns with 50 % refused reconnects: limits kept, books exact, 0 lost fills."""
    rng = random.Random(9)
    delays = Delays()
    user_cfg = UserStreamConfig(backoff_initial_s=1 * SCALE, backoff_max_s=60 * SCALE, seed=9)
    async with running(ws_connect_window_s=300 * SCALE, ws_connect_limit=300) as server:
        server.set_book("BTCUSDT", [(D("40000"), D("1"))], [(D("40001"), D("1"))])
        move_eth(server, rng)
        venue, events = await start_venue(server, stream=user_cfg)
        user_delays = record_backoff(venue._stream)
        async with market_feed(server, SYMBOLS, ("depth@100ms", "trade"),
                               backoff_initial_s=1 * SCALE, backoff_max_s=60 * SCALE, seed=9,
                               feed_kwargs={"sleep": delays.sleep}) as feed:  # fmt: skip
            await until(lambda: feed_books_match(feed, server))
            server.faults.arm("ws.refuse_connect", times=-1, probability=0.5)
            exact_rounds = 0
            for i in range(ROUNDS):
                venue.execute(limit(f"r9-{i}", str(39_990 - i)), 0)
                await until(lambda n=i: sum(isinstance(e, OrderAccepted) for e in events) > n)
                if rng.random() < 0.5:
                    await server.close_sockets()
                else:
                    server.server_shutdown()
                server.trade("BTCUSDT", D(39_990 - i), D("1"))  # fills while the sockets are down
                move_eth(server, rng)
                await until(lambda n=i: len(venue_fills(server)) == n + 1)
                await until(lambda: venue._stream.subscribed, timeout_s=15)
                await until(lambda: feed_books_match(feed, server), timeout_s=15)
                await until(lambda: lost_and_doubled(server, events) == (0, 0), timeout_s=15)
                exact_rounds += feed_books_match(feed, server)
            server.faults.clear()
            stats = feed.statistics()
            lost, doubled = lost_and_doubled(server, events)
            fills = len(venue_fills(server))
        await stop_venue(venue)
        connects, faults = server.connects, dict(server.faults.stats)
        peaks = (server.streams.peak_rate, server.users.peak_rate)
    backoffs = [d for d in delays.waits if d > 0] + user_delays
    assert (lost, doubled, fills) == (0, 0, ROUNDS)
    assert exact_rounds == ROUNDS
    assert faults["ws.refused"] > 0
    assert faults.get("server_shutdown", 0) + stats.reconnects >= ROUNDS
    assert connects.violations == 0
    assert connects.peak <= 300
    assert faults.get("ws.rate_limit_disconnect", 0) == 0
    assert max(peaks) <= 5
    assert backoffs
    assert all(1 * SCALE <= d <= 60 * SCALE for d in backoffs), backoffs
