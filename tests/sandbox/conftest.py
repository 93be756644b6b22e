"""Shared fixtures: a sandbox on ephemeral loopback ports and a signing REST client."""

from __future__ import annotations

import decimal
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from genesis.exchange.sandbox import SandboxConfig, SandboxServer

KEY = "canary-key-3f9a1c"
SECRET = "canary-secret-7b2e44"
D = Decimal


def config(**overrides: Any) -> SandboxConfig:
    base: dict[str, Any] = {
        "api_key": KEY,
        "api_secret": SECRET,
        "balances": {"USDT": D("10000"), "BTC": D("1")},
        "depth_interval_s": 0.02,
        "ping_interval_s": 0.5,
        "maker_bps": D(0),
        "taker_bps": D(0),
    }
    base.update(overrides)
    return SandboxConfig(**base)


def btc_book(server: SandboxServer) -> None:
    server.set_book(
        "BTCUSDT",
        bids=[(D("40000.00"), D("1")), (D("39999.00"), D("2"))],
        asks=[(D("40001.00"), D("0.5")), (D("40002.00"), D("1"))],
    )


class Client:
    """A minimal Binance REST client: signs query strings as §3.2 says."""

    def __init__(self, session: aiohttp.ClientSession, server: SandboxServer) -> None:
        self.session = session
        self.server = server
        self.key = KEY
        self.secret = SECRET

    def ts(self) -> int:
        return self.server.clock.now_ms()

    async def call(
        self, method: str, path: str, *, signed: bool = True, key: str | None = None, **params: Any
    ) -> tuple[int, Any, Any]:
        if signed:
            params.setdefault("timestamp", self.ts())
            query = urlencode(params)
            sig = hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            query = f"{query}&signature={sig}"
        else:
            query = urlencode(params)
        headers = {"X-MBX-APIKEY": key if key is not None else self.key}
        url = f"{self.server.rest_url}{path}" + (f"?{query}" if query else "")
        async with self.session.request(method, url, headers=headers) as resp:
            text = await resp.text()
            return resp.status, json.loads(text, parse_float=Decimal), resp.headers

    async def order(self, **params: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", "/api/v3/order", **params)


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    s = SandboxServer(config())
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def client(server: SandboxServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, server)


def wall() -> int:
    return time.time_ns() // 1_000_000


class FrozenClock:
    """An injected exchange clock that moves only when a test moves it."""

    def __init__(self, ms: int = 1_700_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
async def frozen() -> AsyncIterator[tuple[SandboxServer, Client, FrozenClock]]:
    clock = FrozenClock()
    s = SandboxServer(config(clock=clock))
    await s.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield s, Client(session, s), clock
    finally:
        await s.stop()


async def user_stream(
    session: aiohttp.ClientSession, server: SandboxServer
) -> aiohttp.ClientWebSocketResponse:
    """A WS API socket subscribed with userDataStream.subscribe.signature (§3.4)."""
    ws = await session.ws_connect(server.ws_api_url)
    params: dict[str, Any] = {"apiKey": KEY, "timestamp": server.clock.now_ms()}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    await ws.send_json(
        {"id": "sub", "method": "userDataStream.subscribe.signature", "params": params}
    )
    reply = await ws.receive_json(timeout=2)
    assert reply["status"] == 200, reply
    assert reply["result"] == {"subscriptionId": 0}
    return ws


async def drain(ws: aiohttp.ClientWebSocketResponse, idle_s: float = 0.15) -> list[Any]:
    """Every user event that arrives until the socket is idle for ``idle_s``."""
    out: list[Any] = []
    while True:
        try:
            msg = await ws.receive(timeout=idle_s)
        except TimeoutError:
            return out
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return out
        data = json.loads(msg.data)
        out.append(data["event"] if isinstance(data, dict) and "event" in data else data)


def reports(events: list[Any]) -> list[tuple[str, str]]:
    return [(e["x"], e["X"]) for e in events if e.get("e") == "executionReport"]


@pytest.fixture(autouse=True)
def _ccxt_decimal_context() -> Iterator[None]:
    """These tests drive an unmodified ccxt client, whose number formatting rewrites the
    Decimal context it finds (rounding half up, underflow trapped): each gets its own, as
    Genesis' ccxt session does (``CcxtSession.call``)."""
    with decimal.localcontext():
        yield
