"""The connector against the loopback test exchange (genesis.exchange.sandbox): R2, R3 paths."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from genesis.core.commands import CancelOrder, SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import OrderAccepted, OrderCanceled, OrderFilled
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.binance.userstream import BinanceUserStream, UserStreamConfig
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig
from genesis.exchange.sandbox import SandboxConfig, SandboxServer

KEY, SECRET = "CANARYKEYsandbox0123456789", "CANARYSECRETsandbox0123456789"
D = Decimal


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(
        SandboxConfig(api_key=KEY, api_secret=SECRET, balances={"USDT": D("10000")}, replay=False)
    )
    await server.start()
    server.set_book("BTCUSDT", [(D("40000"), D("1"))], [(D("40001"), D("1"))])
    server.flush()
    yield server
    await server.stop()


async def start_venue(
    server: SandboxServer, recv_window_ms: int = 5000
) -> tuple[BinanceVenue, list[Any]]:
    creds = Credentials(KEY, SECRET)
    rest = BinanceRest(server.rest_url, creds, timeout_s=2, recv_window_ms=recv_window_ms)

    def user_stream(venue: BinanceVenue) -> BinanceUserStream:
        return BinanceUserStream(
            server.ws_api_url,
            creds,
            rest.clock,
            on_event=venue.on_user_event,
            on_resync=venue.resync,
            has_open_orders=venue.has_open_orders,
            config=UserStreamConfig(backoff_initial_s=0.01, backoff_max_s=0.05),
        )

    venue = BinanceVenue(
        rest,
        user_stream_factory=user_stream,
        config=VenueConfig(query_backoff_s=(0.02,), skew_margin_ms=100),
    )
    events: list[Any] = []
    await venue.start(events.append)
    await asyncio.wait_for(venue._stream.subscribed_event.wait(), 5)
    return venue, events


async def stop(venue: BinanceVenue) -> None:
    await venue.close()
    await venue.rest.close()


async def until(predicate: Any, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def buy(cid: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id="s",
        instrument_id="BTCUSDT",
        client_order_id=cid,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=D("0.01"),
        price=D(price),
        time_in_force=tif,
    )


async def test_round_trip_fill_is_delivered_once(sandbox: SandboxServer) -> None:
    """A crossing IOC fills: OrderAccepted then one OrderFilled per venue trade (response + stream)."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-1-1", "40001", TimeInForce.IOC), 0)
    await until(lambda: any(isinstance(e, OrderFilled) for e in events))
    await asyncio.sleep(0.2)  # let the executionReport arrive too
    await stop(venue)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    venue_trades = list(sandbox.ledger()["trades"])
    assert isinstance(events[0], OrderAccepted)
    assert len(fills) == len(venue_trades) == 1
    assert fills[0].last_qty == D("0.01")
    assert fills[0].last_px == D("40001")


async def test_cancel_round_trip(sandbox: SandboxServer) -> None:
    """A resting LIMIT is accepted, then cancelled: exactly one OrderCanceled."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-1-2", "39000"), 0)
    await until(lambda: any(isinstance(e, OrderAccepted) for e in events))
    venue.execute(
        CancelOrder(ts_init=0, strategy_id="s", instrument_id="BTCUSDT", client_order_id="s-1-2"), 0
    )
    await until(lambda: any(isinstance(e, OrderCanceled) for e in events))
    await asyncio.sleep(0.2)
    await stop(venue)
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled]


async def test_dropped_response_is_resolved_by_query_without_resend(sandbox: SandboxServer) -> None:
    """The exchange applies the order and drops the answer: adopted by query, one POST (R2, R3)."""
    venue, events = await start_venue(sandbox)
    sandbox.faults.arm("order.drop_response")
    venue.execute(buy("s-1-3", "40001", TimeInForce.IOC), 0)
    await until(lambda: any(isinstance(e, OrderFilled) for e in events))
    await asyncio.sleep(0.2)
    await stop(venue)
    ledger = sandbox.ledger()
    assert len(ledger["orders"]["s-1-3"]) == 1
    assert sum(isinstance(e, OrderFilled) for e in events) == len(ledger["trades"]) == 1
    assert venue.resends == 0


async def test_error_before_engine_is_resent_only_after_proof(sandbox: SandboxServer) -> None:
    """503 before the engine: -2013 until t + recvWindow + margin, then one resend, same id."""
    venue, events = await start_venue(sandbox, recv_window_ms=300)
    sandbox.faults.arm("order.error_before", status=503, code=-1000)
    venue.execute(buy("s-1-4", "39000"), 0)
    await until(lambda: any(isinstance(e, OrderAccepted) for e in events))
    await stop(venue)
    ledger = sandbox.ledger()
    assert venue.resends == 1
    assert len(ledger["orders"]["s-1-4"]) == 1
