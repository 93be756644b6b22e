"""Fixtures: the local Binance-compatible sandbox and a CcxtVenue on ccxt's binance class."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import ccxt.pro as ccxt_pro  # type: ignore[import-untyped]
import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderEvent
from genesis.exchange.ccxt import CcxtVenue
from genesis.exchange.sandbox import SandboxConfig, SandboxServer
from genesis.retry import BackoffPolicy

KEY = "canary-key-5d1e0a77"
SECRET = "canary-secret-c4f19b2e"
D = Decimal
FAST_RETRY = BackoffPolicy(initial_s=0.02, cap_s=0.2)  # stream reconnects in tests


_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchTradesMethod": "publicGetTrades",
    "recvWindow": 300,
}


def binance_at(server: SandboxServer, *, key: str = KEY, secret: str = SECRET) -> Any:
    """ccxt's binance class pointed at the sandbox (spot only, no sapi calls)."""
    exchange = ccxt_async.binance(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": True,
            "options": dict(_OPTIONS),
        }
    )
    base = f"{server.rest_url}/api/v3"
    exchange.urls["api"] = {**exchange.urls["api"], "public": base, "private": base}
    return exchange


def pro_binance_at(server: SandboxServer, *, key: str = KEY, secret: str = SECRET) -> Any:
    """ccxt.pro's binance class on the sandbox: REST, market streams and the WS API.

    Every other WebSocket entry points at an unserved loopback path, so nothing
    can leave the machine.
    """
    exchange = ccxt_pro.binance(
        {"apiKey": key, "secret": secret, "enableRateLimit": True, "options": dict(_OPTIONS)}
    )
    base = f"{server.rest_url}/api/v3"
    dead = f"{server.ws_url}/not-served"
    ws = dict.fromkeys(exchange.urls["api"]["ws"], dead)
    ws.update(spot=f"{server.ws_url}/ws", margin=f"{server.ws_url}/ws")
    ws["ws-api"] = {"spot": server.ws_api_url, "linear": dead, "inverse": dead}
    exchange.urls["api"] = {**exchange.urls["api"], "public": base, "private": base, "ws": ws}
    return exchange


class Events(list[OrderEvent]):
    """The sink: every event the venue emitted, in order."""

    def of(self, cls: type, cid: str | None = None) -> list[Any]:
        return [e for e in self if isinstance(e, cls) and (cid is None or e.client_order_id == cid)]

    async def wait_for(
        self, cls: type, cid: str | None = None, n: int = 1, within: float = 5.0
    ) -> list[Any]:
        await eventually(lambda: len(self.of(cls, cid)) >= n, within)
        return self.of(cls, cid)


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polls every 10 ms); fails the test after ``within`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    s = SandboxServer(
        SandboxConfig(
            api_key=KEY,
            api_secret=SECRET,
            balances={"USDT": D("10000"), "BTC": D("1")},
            capture=None,
            replay_speed=0.0,
            port=0,
            control_port=0,
            seed=0,
            replay=False,
            maker_bps=D(10),
            taker_bps=D(10),
            depth_interval_s=0.02,
        )
    )
    await s.start()
    s.set_book(
        "BTCUSDT",
        bids=[(D("40000.00"), D("1")), (D("39999.00"), D("2"))],
        asks=[(D("40001.00"), D("0.5")), (D("40002.00"), D("1"))],
    )
    s.flush()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def venue(server: SandboxServer) -> AsyncIterator[tuple[CcxtVenue, Events]]:
    v = CcxtVenue(binance_at(server), poll_interval_s=0.05, resolve_interval_s=0.02, settle_s=0.4)
    events = Events()
    await v.start(events.append)
    try:
        yield v, events
    finally:
        await v.close()


def submit(
    cid: str,
    side: Side,
    qty: str,
    price: str | None = None,
    *,
    strategy: str = "s1",
    instrument: str = "BTCUSDT",
) -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id=strategy,
        instrument_id=instrument,
        client_order_id=cid,
        side=side,
        order_type=OrderType.LIMIT if price else OrderType.MARKET,
        quantity=D(qty),
        price=D(price) if price else None,
    )
