"""A live start under rate limits, and what a start costs, against the loopback exchange.

``open_live_session`` (journal, exchangeInfo, clock, user stream, snapshot,
book top) and then the market feed's first depth snapshot, as the daemon does.
Time is virtual (``FakeTime``) for the exchange and the clients, so a 120 s
ban is waited out at once. Figures: a 429 or 418 at start is waited out for
exactly its Retry-After, said in one log line, and the start completes (it
used to exit 2); a start spends 123 request weight with one depth-stream
symbol (it spent 166): 73 for the session, 50 for the feed's snapshot, and
the feed's client makes no clock calls of its own (it shares the session's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from genesis.daemon.live_session import LiveEndpoints, LiveSession, open_live_session
from genesis.exchange.binance import (
    BinanceRest,
    Credentials,
    SharedLimits,
    UserStreamConfig,
    VenueConfig,
)
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.fake_time import FakeTime
from tests.reliability.streams_fixtures import IP, KEY, SECRET, market_feed, running, until

D = Decimal
SYMBOL = "BTCUSDT"
START_S = 6_000.0 + 5  # a fresh exchange minute, with room for a whole start in it


def endpoints(server: SandboxServer) -> LiveEndpoints:
    return LiveEndpoints(
        rest_url=server.rest_url, ws_url=server.ws_url, ws_api_url=server.ws_api_url,
        credentials=Credentials(KEY, SECRET), timeout_s=5,
        user_stream=UserStreamConfig(backoff_initial_s=0.01, backoff_max_s=0.05),
        venue=VenueConfig(query_backoff_s=(0.02,)),
    )  # fmt: skip


@asynccontextmanager
async def live_start(server: SandboxServer, ft: FakeTime, shared: SharedLimits,
                     tmp_path: Path) -> AsyncIterator[LiveSession]:  # fmt: skip
    """An open live session (closed after), waits and clocks virtual."""
    session = await open_live_session(SYMBOL, endpoints(server), None, tmp_path, shared=shared,
                                      sleep=ft.sleep, monotonic=ft.mono)  # fmt: skip
    try:
        yield session
    finally:
        await session.close()
        await session.repo.close()


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime(START_S)


@asynccontextmanager
async def exchange(ft: FakeTime) -> AsyncIterator[SandboxServer]:
    async with running(clock=ft.wall_ms, weight_limit=6_000) as server:
        server.set_book(SYMBOL, [(D("40000"), D("1"))], [(D("40001"), D("1"))])
        server.flush()
        yield server


def count(server: SandboxServer, path: str) -> int:
    return sum(1 for r in server.requests.records if r.path == path)


@pytest.mark.parametrize(
    ("path", "status", "retry_after"),
    [("/api/v3/exchangeInfo", 429, 7), ("/api/v3/account", 418, 120)],
)
async def test_a_start_waits_out_a_rate_limit_and_continues(
    ft: FakeTime, tmp_path: Path, path: str, status: int, retry_after: int
) -> None:
    """A 429 (exchangeInfo) or 418 (account) at start: one wait of Retry-After, one log line
    naming how long and why, then the session opens with the venue's balances."""
    async with exchange(ft) as server:
        server.faults.arm("rest.force", status=status, code=-1003, retry_after=retry_after,
                          path=path)  # fmt: skip
        with capture_logs() as logs:
            async with live_start(server, ft, SharedLimits(wall_ns=ft.wall_ns), tmp_path) as s:
                balances = dict(s.snapshot.balances)
    waits = [e for e in logs if e["event"] == "binance_rate_limit_wait"]
    assert ft.slept == [float(retry_after)]
    assert [(w["path"], w["wait_s"]) for w in waits] == [(path, float(retry_after))]
    assert f"HTTP {status}" in waits[0]["reason"]
    assert count(server, path) == 2  # the refused request, then one after the wait
    assert balances["USDT"].free == D("1000000")


async def test_a_start_costs_123_weight_and_the_feed_shares_the_clock(
    ft: FakeTime, tmp_path: Path
) -> None:
    """Session 73 (exchangeInfo 20, time 3, subscribe 2, openOrders 6, myTrades 20, account
    20, bookTicker 2) + the feed's depth snapshot 50; one account read, no depth for the book
    top, no time calls from the feed's client (the clock is shared)."""
    shared = SharedLimits(wall_ns=ft.wall_ns)
    async with exchange(ft) as server, live_start(server, ft, shared, tmp_path) as session:
        session_weight = server.limiter.used(IP)
        rest = BinanceRest(server.rest_url, shared=shared, monotonic=ft.mono)
        assert rest.clock is session.rest.clock
        async with market_feed(server, (SYMBOL,), rest=rest) as feed:
            await until(lambda: feed.statistics().snapshots_fetched == 1)
        await rest.close()
        total = server.limiter.used(IP)
        calls = {p: count(server, p) for p in ("/api/v3/account", "/api/v3/time",
                                               "/api/v3/exchangeInfo", "/api/v3/depth")}  # fmt: skip
    assert (session_weight, total) == (73, 123)
    assert calls == {"/api/v3/account": 1, "/api/v3/time": 3, "/api/v3/exchangeInfo": 1,
                     "/api/v3/depth": 1}  # fmt: skip


async def test_only_a_subscription_before_the_snapshot_skips_its_backfill(ft: FakeTime) -> None:
    """start(snapshot_follows=True): a subscription's backfill before snapshot() is skipped
    (the snapshot covers it); once the snapshot began, a subscription backfills as always."""
    from genesis.exchange.binance import BinanceVenue

    async with exchange(ft) as server:
        rest = BinanceRest(server.rest_url, Credentials(KEY, SECRET),
                           shared=SharedLimits(wall_ns=ft.wall_ns), monotonic=ft.mono)  # fmt: skip
        venue = BinanceVenue(rest, exchange_info={"symbols": [server.info.symbols[SYMBOL].raw]})
        await venue.start(lambda _event: None, snapshot_follows=True)
        await venue.resync("subscribed")
        before_snapshot = count(server, "/api/v3/account")
        await venue.snapshot([SYMBOL], {})
        await venue.resync("subscribed")
        await venue.close()
        await rest.close()
        after = count(server, "/api/v3/account")
    assert (before_snapshot, after) == (0, 2)  # the snapshot's read, then the backfill's
