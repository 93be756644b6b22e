"""Order-path reliability tests (plan R2-R7): BinanceVenue against the loopback test exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import OrderEvent
from genesis.exchange.binance.errors import AuthError
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig
from genesis.exchange.sandbox import SandboxConfig, SandboxServer

KEY, SECRET = "CANARYKEYreliability0123456789", "CANARYSECRETreliability0123456789"
D = Decimal
SYMBOL = "BTCUSDT"
BID, ASK = D("40000.00"), D("40001.00")
UNLIMITED = 10**9


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """Rich account, no replay, rate limits out of the way (R12 tests those, not these)."""
    base: dict[str, Any] = {
        "api_key": KEY,
        "api_secret": SECRET,
        "balances": {"USDT": D(UNLIMITED), "BTC": D(10_000)},
        "replay": False,
        "weight_limit": UNLIMITED,
        "order_limit_10s": UNLIMITED,
        "order_limit_1d": UNLIMITED,
        "depth_interval_s": 0.02,
        "ping_interval_s": 0.5,
        "maker_bps": D(0),
        "taker_bps": D(0),
    }
    base.update(overrides)
    return SandboxConfig(**base)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(sandbox_config())
    await server.start()
    server.set_book(SYMBOL, [(BID, D("5"))], [(ASK, D("5"))])
    server.flush()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def exchange_info(server: SandboxServer) -> dict[str, Any]:
    """Only BTCUSDT: building 1,695 instruments per venue would dominate R2's 400 venues."""
    return {"symbols": [server.info.symbols[SYMBOL].raw]}


async def start_venue(
    server: SandboxServer,
    session: aiohttp.ClientSession,
    sink: Callable[[OrderEvent], None],
    *,
    recv_window_ms: int = 5000,
    timeout_s: float = 2.0,
    config: VenueConfig | None = None,
    key: str = KEY,
    secret: str = SECRET,
    info: dict[str, Any] | None = None,
    on_auth_error: Callable[[AuthError], None] = lambda _exc: None,
) -> BinanceVenue:
    """A started venue without a user stream: REST answers, queries and backfills only."""
    rest = BinanceRest(
        server.rest_url,
        Credentials(key, secret),
        session=session,
        timeout_s=timeout_s,
        recv_window_ms=recv_window_ms,
    )
    venue = BinanceVenue(
        rest,
        exchange_info=info if info is not None else exchange_info(server),
        config=config or VenueConfig(query_backoff_s=(0.02,), skew_margin_ms=50),
        on_auth_error=on_auth_error,
    )
    await venue.start(sink)
    return venue


async def until(
    predicate: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.005
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(step_s)


def order(
    cid: str,
    *,
    side: Side = Side.BUY,
    kind: OrderType = OrderType.LIMIT,
    qty: str = "0.01",
    price: str | None = "40001.00",
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    trigger: str | None = None,
) -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id="s",
        instrument_id=SYMBOL,
        client_order_id=cid,
        side=side,
        order_type=kind,
        quantity=D(qty),
        price=D(price) if price is not None else None,
        trigger_price=D(trigger) if trigger is not None else None,
        time_in_force=tif,
        post_only=post_only,
    )


def posts(server: SandboxServer, cid: str) -> int:
    """POST /api/v3/order requests the exchange saw carrying ``cid`` (any outcome)."""
    return server.requests.count("POST", "/api/v3/order", cid)


def queries(server: SandboxServer, cid: str) -> int:
    """GET /api/v3/order requests the exchange saw for ``origClientOrderId=cid``."""
    return sum(
        1
        for r in server.requests.records
        if (r.method, r.path, r.orig_client_order_id) == ("GET", "/api/v3/order", cid)
    )
