"""``OandaVenue`` (the LiveVenue) against the local server: the kernel's commands in,
order events out, each fill once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from genesis.core.commands import CancelOrder, SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from genesis.exchange.live import LiveVenue
from genesis.exchange.oanda import OandaClient
from genesis.exchange.oanda.venue import OandaVenue, oanda_name
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import ASK0, ASK1, BID0, TOKEN, D


@pytest.fixture
async def venue(server: OandaSandboxServer) -> AsyncIterator[tuple[OandaVenue, list[OrderEvent]]]:
    events: list[OrderEvent] = []
    v = OandaVenue(OandaClient(server.url, TOKEN, rate=1000), absent_delay_s=0.05)
    await v.start(events.append)
    try:
        yield v, events
    finally:
        await v.close()


def _submit(
    cid: str, side: Side, qty: int, kind: OrderType = OrderType.MARKET, **kw: Any
) -> SubmitOrder:
    return SubmitOrder(ts_init=1, strategy_id="fx", instrument_id="OANDA:GBP_USD",
                       client_order_id=cid, side=side, order_type=kind, quantity=D(qty), **kw)  # fmt: skip


async def _until(events: list[OrderEvent], n: int) -> None:
    for _ in range(500):
        if len(events) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(events)} events, expected {n}: {events}")


def test_instrument_names_map_to_oanda() -> None:
    """Genesis instrument ids become OANDA's BASE_QUOTE names."""
    assert [oanda_name(i) for i in ("OANDA:GBP_USD", "GBPUSD", "oanda:eurusd")] == [
        "GBP_USD", "GBP_USD", "EUR_USD"]  # fmt: skip


async def test_venue_is_a_live_venue(venue: tuple[OandaVenue, list[OrderEvent]]) -> None:
    """It satisfies the daemon's LiveVenue protocol."""
    assert isinstance(venue[0], LiveVenue)


async def test_market_order_accepted_and_filled_once(
    venue: tuple[OandaVenue, list[OrderEvent]],
) -> None:
    """The answer and the transaction stream both carry the fill; it is delivered once."""
    v, events = venue
    v.execute(_submit("m1", Side.BUY, 1000), 1)
    await _until(events, 2)
    await asyncio.sleep(0.2)  # the stream's copy arrives meanwhile and is dropped
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    fill = events[1]
    assert isinstance(fill, OrderFilled)
    assert (fill.side, fill.last_qty, fill.last_px, fill.venue) == (
        Side.BUY,
        D(1000),
        ASK0,
        "OANDA",
    )


async def test_limit_rests_then_fills_from_the_stream(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """A resting limit's later fill comes through the transaction stream."""
    v, events = venue
    v.execute(_submit("l1", Side.BUY, 100, OrderType.LIMIT, price=D("1.57560")), 1)
    await _until(events, 1)
    server.advance()
    await _until(events, 2)
    fill = events[1]
    assert isinstance(fill, OrderFilled)
    assert (fill.client_order_id, fill.last_px) == ("l1", ASK1)


async def test_cancel_and_ioc_expiry(venue: tuple[OandaVenue, list[OrderEvent]]) -> None:
    """A resting order cancels; a non-marketable IOC limit expires at once."""
    v, events = venue
    v.execute(_submit("c1", Side.SELL, 100, OrderType.LIMIT, price=D("1.60000")), 1)
    await _until(events, 1)
    v.execute(CancelOrder(ts_init=2, strategy_id="fx", instrument_id="OANDA:GBP_USD",
                          client_order_id="c1"), 2)  # fmt: skip
    v.execute(_submit("i1", Side.SELL, 100, OrderType.LIMIT, price=D("1.60000"),
                      time_in_force=TimeInForce.IOC), 3)  # fmt: skip
    await _until(events, 4)
    kinds = {(e.client_order_id, type(e)) for e in events}
    assert kinds == {("c1", OrderAccepted), ("c1", OrderCanceled), ("i1", OrderAccepted),
                     ("i1", OrderExpired)}  # fmt: skip


async def test_rejections_local_and_venue(venue: tuple[OandaVenue, list[OrderEvent]]) -> None:
    """An off-grid price is refused locally; an unaffordable order by OANDA with its code."""
    v, events = venue
    v.execute(_submit("r1", Side.BUY, 100, OrderType.LIMIT, price=D("1.575851")), 1)
    v.execute(_submit("r2", Side.BUY, 100_000_000), 2)
    await _until(events, 2)
    codes = {e.client_order_id: e.code for e in events if isinstance(e, OrderRejected)}
    assert codes == {"r1": "INVALID_ORDER", "r2": "INSUFFICIENT_MARGIN"}


async def test_lost_answer_is_resolved_by_client_id(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """A 503 after the fill: the venue finds the order by @id and delivers its fill."""
    v, events = venue
    server.faults.arm("order.error_after")
    v.execute(_submit("u1", Side.SELL, 500), 1)
    await _until(events, 2)
    await asyncio.sleep(0.2)
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert events[1].last_px == BID0  # type: ignore[attr-defined]
    assert len(server.engine.account.open_trades()) == 1


async def test_refused_before_the_engine_is_not_placed(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """A 503 before the engine: the order is absent on every query, so NOT_PLACED."""
    v, events = venue
    server.faults.arm("order.error_before")
    v.execute(_submit("u2", Side.BUY, 500), 1)
    await _until(events, 1)
    assert isinstance(events[0], OrderRejected)
    assert events[0].code == "NOT_PLACED"
    assert server.engine.account.open_trades() == []


async def test_snapshot_reports_pending_orders_and_margin(
    venue: tuple[OandaVenue, list[OrderEvent]],
) -> None:
    """Open orders with client ids, margin as the USD balance, own fills since an id."""
    v, events = venue
    v.execute(_submit("s1", Side.BUY, 1000), 1)
    v.execute(_submit("s2", Side.BUY, 10, OrderType.LIMIT, price=D("1.50000")), 2)
    await _until(events, 3)
    snap = await v.snapshot(["OANDA:GBP_USD"], {"OANDA:GBP_USD": 0})
    assert [(o.client_order_id, o.price, o.quantity) for o in snap.open_orders] == [
        ("s2", D("1.50000"), D(10))]  # fmt: skip
    # margin: 1000 x mid 1.575805 x 0.0333; the fill cost half the spread on the mark
    assert snap.balances["USD"].locked == D("52.4743")
    assert [f.client_order_id for f in snap.fills] == ["s1"]
