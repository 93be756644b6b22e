"""P8 across clients: one process, two REST clients (market data, trading) on one exchange.

The user's incident: the market-data client drew a 429 on a depth request, the
trading client (its own rate-limit state) sent anyway and drew a 418 ban. Time
is virtual (``FakeTime``) for the exchange's windows and bans and for both
clients, so no test waits. Figures: with shared state the trading client sends
nothing before Retry-After and the exchange never bans (0 x 418); with private
state (the old behaviour, kept as the control) the same sequence earns the ban.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from genesis.errors import RateLimited
from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.errors import IpBanned
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.shared import SharedLimits
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.fake_time import FakeTime
from tests.reliability.streams_fixtures import KEY, SECRET, running, until

START_S = 6_000.0 + 15  # 45 s before the exchange's minute turns: Retry-After is 45 s
SYMBOL = "BTCUSDT"


def clients(
    server: SandboxServer, ft: FakeTime, *, share: bool, **trading: Any
) -> tuple[BinanceRest, BinanceRest]:
    """(market data, trading) on one host: shared state, or each its own (the old way)."""
    if share:
        shared = SharedLimits(wall_ns=ft.wall_ns)
        return (
            BinanceRest(server.rest_url, shared=shared, monotonic=ft.mono),
            BinanceRest(server.rest_url, Credentials(KEY, SECRET), shared=shared,
                        monotonic=ft.mono, **trading),
        )  # fmt: skip
    own = [ServerClock(ft.wall_ns) for _ in range(2)]
    return tuple(  # type: ignore[return-value]
        BinanceRest(server.rest_url, creds, clock=clock, monotonic=ft.mono,
                    limiter=RateLimiter(server_ms=clock.now_ms))
        for creds, clock in ((None, own[0]), (Credentials(KEY, SECRET), own[1]))
    )  # fmt: skip


def sent(server: SandboxServer, path: str) -> int:
    return sum(1 for r in server.requests.records if r.path == path)


@pytest.mark.parametrize("share", [True, False])
async def test_a_429_on_market_data_stops_the_trading_client(share: bool) -> None:
    """Depth 5000 (250) breaks a 100 weight/min limit: 429. Shared: the account read raises
    locally, nothing is sent, 0 x 418, and it goes through after Retry-After. Private: 418."""
    ft = FakeTime(START_S)
    async with running(clock=ft.wall_ms, weight_limit=100) as server:
        market, trading = clients(server, ft, share=share)
        with pytest.raises(RateLimited) as limited:
            await market.depth(SYMBOL, 5000)
        try:
            await trading.account()
        except RateLimited as exc:
            held = exc
        accounts_sent = sent(server, "/api/v3/account")
        ft.now += limited.value.retry_after_s
        if share:
            await trading.account()
        await market.close()
        await trading.close()
        limits = dict(server.limiter.stats)
    assert limited.value.retry_after_s == 45
    if share:
        assert accounts_sent == 0
        assert held.retry_after_s == pytest.approx(45)
        assert limits.get("418", 0) == 0
        assert sent(server, "/api/v3/account") == 1
    else:  # the incident: the trading client sends anyway and the IP is banned
        assert isinstance(held, IpBanned)
        assert accounts_sent == 1
        assert limits["418"] == 1


async def test_a_418_on_one_client_bans_every_client_of_the_host() -> None:
    """A ban drawn by the market-data client: the trading client raises IpBanned locally."""
    ft = FakeTime(START_S)
    async with running(clock=ft.wall_ms) as server:
        server.faults.arm("rest.force", status=418, code=-1003, retry_after=120,
                          path="/api/v3/depth")  # fmt: skip
        market, trading = clients(server, ft, share=True)
        with pytest.raises(IpBanned):
            await market.depth(SYMBOL, 100)
        ft.now += 60
        with pytest.raises(IpBanned) as banned:
            await trading.open_orders(SYMBOL)
        await market.close()
        await trading.close()
    assert banned.value.retry_after_s == pytest.approx(60)
    assert sent(server, "/api/v3/openOrders") == 0


async def test_a_patient_client_waits_retry_after_once_then_sends() -> None:
    """wait_rate_limits: the account read waits the 45 s the other client's 429 named (one
    log line saying so), then is sent once and answered."""
    ft = FakeTime(START_S)
    async with running(clock=ft.wall_ms, weight_limit=100) as server:
        market, trading = clients(server, ft, share=True, sleep=ft.sleep, wait_rate_limits=True)
        with pytest.raises(RateLimited):
            await market.depth(SYMBOL, 5000)
        with capture_logs() as logs:
            account = await trading.account()
        await market.close()
        await trading.close()
        limits = dict(server.limiter.stats)
    waits = [e for e in logs if e["event"] == "binance_rate_limit_wait"]
    assert "balances" in account
    assert ft.slept == [45.0]
    assert [(w["path"], w["wait_s"]) for w in waits] == [("/api/v3/account", 45.0)]
    assert sent(server, "/api/v3/account") == 1
    assert limits.get("418", 0) == 0


def user_stream(
    server: SandboxServer, trading: BinanceRest, ft: FakeTime, sleep: Any = None
) -> Any:
    from genesis.exchange.binance.userstream import BinanceUserStream, UserStreamConfig

    async def no_backfill(_reason: str) -> None:
        return None

    return BinanceUserStream(
        server.ws_api_url, Credentials(KEY, SECRET), trading.clock, on_event=lambda _e: None,
        on_resync=no_backfill, has_open_orders=lambda: False, limiter=trading.limiter,
        monotonic=ft.mono, sleep=sleep or ft.sleep,
        config=UserStreamConfig(backoff_initial_s=0.01, backoff_max_s=0.05),
    )  # fmt: skip


async def test_the_user_stream_waits_out_a_rest_429_before_subscribing() -> None:
    """The WS API spends the same IP's weight: after the market client's 429 the user stream
    connects only after Retry-After (a subscription inside it would earn the 418)."""
    ft = FakeTime(START_S)
    async with running(clock=ft.wall_ms, weight_limit=100) as server:
        market, trading = clients(server, ft, share=True)
        with pytest.raises(RateLimited):
            await market.depth(SYMBOL, 5000)
        stream = user_stream(server, trading, ft)
        await stream.start()
        await until(lambda: stream.subscribed)
        await stream.close()
        await market.close()
        await trading.close()
        limits = dict(server.limiter.stats)
    assert ft.slept[0] == pytest.approx(45)
    assert limits.get("418", 0) == 0


async def test_a_ws_api_429_stops_the_rest_clients() -> None:
    """A 429 answered to the subscription (data.retryAfter) blocks the REST clients too."""
    ft = FakeTime(START_S)
    async with running(clock=ft.wall_ms, weight_limit=1) as server:
        market, trading = clients(server, ft, share=True)

        async def parked(_seconds: float) -> None:  # the stream's first wait never ends
            await asyncio.Event().wait()

        stream = user_stream(server, trading, ft, sleep=parked)
        await stream.start()
        await until(lambda: trading.limiter.ip.http_429 == 1)
        await stream.close()
        with pytest.raises(RateLimited) as blocked:
            await market.depth(SYMBOL, 100)
        await market.close()
        await trading.close()
    assert blocked.value.retry_after_s == pytest.approx(45)  # data.retryAfter: the minute's end
    assert sent(server, "/api/v3/depth") == 0
