"""A cancel that races an unresolved placement is honoured, never answered by a resend.

The bug this guards (the kill switch during P2 resolution): a MARKET BUY whose POST
was cut before the engine is being resolved by query; the kill switch's cancel gets
-2011, then absence is proven and the order was sent again -- and filled after the
kill was acknowledged. Now the cancel is recorded on the order: proven absent -> it
ends CANCELED without a resend; found live -> it is cancelled again at once.

Timing is made deterministic by gating the venue's order queries (``_gate``): the
test holds the resolution open, issues the cancel, then lets the query run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from genesis.core.commands import CancelAllOrders, CancelOrder
from genesis.core.enums import OrderType, TimeInForce
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
)
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig
from genesis.exchange.sandbox import SandboxServer

from .conftest import SYMBOL, D, order, posts, queries, start_venue, until

RECV_WINDOW_MS = 300  # absence is proven ~350 ms after the lost POST (margin 50 ms)
CONFIG = VenueConfig(query_backoff_s=(0.02,), skew_margin_ms=50)


def _gate(venue: BinanceVenue) -> asyncio.Event:
    """Hold every order query until the returned event is set."""
    gate = asyncio.Event()
    query: Callable[..., Awaitable[Any]] = venue.rest.query_order

    async def gated(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await query(*args, **kwargs)

    venue.rest.query_order = gated  # type: ignore[method-assign]
    return gate


def _cancel(cid: str) -> CancelOrder:
    return CancelOrder(ts_init=0, strategy_id="s", instrument_id=SYMBOL, client_order_id=cid)


def _cancel_all() -> CancelAllOrders:
    return CancelAllOrders(ts_init=0, strategy_id="operator", instrument_id=SYMBOL)


def _cancels(server: SandboxServer, cid: str) -> int:
    """DELETE /api/v3/order requests the exchange saw for ``origClientOrderId=cid``."""
    return sum(
        1
        for r in server.requests.records
        if (r.method, r.path, r.orig_client_order_id) == ("DELETE", "/api/v3/order", cid)
    )


def _of(events: list[Any], kind: type, cid: str) -> list[Any]:
    return [e for e in events if isinstance(e, kind) and e.client_order_id == cid]


async def _settled(venue: BinanceVenue, cid: str) -> None:
    """The placement task ended (and with it any cancel it owed)."""
    t = venue.tracker.orders[cid]
    await until(lambda: t.done and not t.placing and not venue._tasks, timeout_s=10)
    await venue.close()


@pytest.mark.parametrize("cancel_all", [False, True], ids=["cancel", "cancel_all"])
async def test_cancel_of_an_order_proven_absent_ends_it_canceled_without_resend(
    sandbox: SandboxServer, session: aiohttp.ClientSession, cancel_all: bool
) -> None:
    """(a), (c): reset before the engine; the cancel arrives while the query is held.

    0 POSTs after the cancel, no order in the ledger, 1 OrderCanceled, 0 OrderCancelRejected.
    """
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append, recv_window_ms=RECV_WINDOW_MS,
                              config=CONFIG)  # fmt: skip
    gate = _gate(venue)
    sandbox.faults.arm("order.reset_before")
    cid = "kill-a"
    venue.execute(order(cid, kind=OrderType.MARKET, price=None, qty="0.5"), 0)
    t = venue.tracker.orders[cid]
    await until(lambda: sandbox.faults.stats["order.reset_before"] == 1 and t.placing)
    assert posts(sandbox, cid) == 1
    venue.execute(_cancel_all() if cancel_all else _cancel(cid), 0)
    path = "/api/v3/openOrders" if cancel_all else "/api/v3/order"
    await until(lambda: sandbox.requests.count("DELETE", path) == 1 and t.cancel_wanted)
    await asyncio.sleep(0.05)  # the cancel's -2011 is in: nothing may be emitted for it
    assert events == []
    gate.set()
    await _settled(venue, cid)

    assert posts(sandbox, cid) == 1  # 0 after the cancel: no resend
    assert venue.resends == 0
    assert venue.canceled_unplaced == 1
    assert cid not in sandbox.ledger()["orders"]
    assert sandbox.ledger()["trades"] == []
    assert [type(e) for e in _of(events, object, cid)] == [OrderCanceled]
    assert _of(events, OrderCancelRejected, cid) == []
    assert queries(sandbox, cid) >= 1


@pytest.mark.parametrize("cancel_all", [False, True], ids=["cancel", "cancel_all"])
async def test_cancel_that_missed_a_live_order_is_sent_again_once_it_is_found(
    sandbox: SandboxServer, session: aiohttp.ClientSession, cancel_all: bool
) -> None:
    """(b), (c): the order is live (response dropped after the engine) and the cancel fails
    (503, outcome unknown) while the query is held: the query then finds the order NEW and
    it is cancelled again at once -> CANCELED in the ledger, one OrderCanceled, no reject."""
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append, recv_window_ms=RECV_WINDOW_MS,
                              config=CONFIG)  # fmt: skip
    gate = _gate(venue)
    sandbox.faults.arm("order.drop_response")
    cid = "kill-b"
    venue.execute(order(cid, price="39000.00"), 0)  # rests below the bid
    t = venue.tracker.orders[cid]
    await until(lambda: sandbox.faults.stats["order.drop_response"] == 1 and t.placing)
    path = "/api/v3/openOrders" if cancel_all else "/api/v3/order"
    sandbox.faults.arm("rest.force", status=503, code=-1000, msg="Injected.", path=path)
    venue.execute(_cancel_all() if cancel_all else _cancel(cid), 0)
    await until(lambda: sandbox.faults.stats["rest.force"] == 1 and t.cancel_wanted)
    assert [o.status for o in sandbox.engine.ledger.orders[cid]] == ["NEW"]
    gate.set()
    await _settled(venue, cid)

    assert [o.status for o in sandbox.engine.ledger.orders[cid]] == ["CANCELED"]
    assert posts(sandbox, cid) == 1
    assert _cancels(sandbox, cid) == (1 if cancel_all else 2)  # the failed one, then again
    assert venue.resends == 0
    assert venue.canceled_unplaced == 0
    assert len(_of(events, OrderCanceled, cid)) == 1
    assert _of(events, OrderCancelRejected, cid) == []
    assert _of(events, OrderRejected, cid) == []


async def test_order_placed_after_its_cancel_is_cancelled_again(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """The POST waits 0.6 s before the engine; the client gives up after 0.3 s; the cancel
    gets -2011 (not there yet); then the order lands. It must not stay working."""
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append, timeout_s=0.3, config=CONFIG)
    gate = _gate(venue)
    sandbox.faults.recv_window_delay_s = 0.6
    cid = "kill-late"
    venue.execute(order(cid, price="39000.00"), 0)
    t = venue.tracker.orders[cid]
    await until(lambda: sandbox.faults.stats["recv_window.delay"] == 1)  # the POST waits
    sandbox.faults.recv_window_delay_s = 0.0  # only that POST is held back
    venue.execute(_cancel(cid), 0)
    await until(lambda: _cancels(sandbox, cid) == 1 and t.cancel_wanted)  # -2011 answered
    assert cid not in sandbox.engine.ledger.orders
    await until(lambda: cid in sandbox.engine.ledger.orders)  # it landed after its cancel
    gate.set()
    await _settled(venue, cid)

    assert [o.status for o in sandbox.engine.ledger.orders[cid]] == ["CANCELED"]
    assert _cancels(sandbox, cid) == 2
    assert posts(sandbox, cid) == 1
    assert [type(e) for e in _of(events, object, cid)] == [OrderAccepted, OrderCanceled]


@pytest.mark.parametrize("kind", ["market", "ioc"])
async def test_order_filled_before_its_cancel_delivers_its_fill_once(
    sandbox: SandboxServer, session: aiohttp.ClientSession, kind: str
) -> None:
    """(d): the order filled at once but its answer was lost; the cancel gets -2011. The
    query then finds it FILLED: one OrderFilled (0.01 @ 40001.00), no resend, no cancel
    outcome of either kind."""
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append, recv_window_ms=RECV_WINDOW_MS,
                              config=CONFIG)  # fmt: skip
    gate = _gate(venue)
    sandbox.faults.arm("order.drop_response")
    cid = f"kill-{kind}"
    cmd = (
        order(cid, kind=OrderType.MARKET, price=None)
        if kind == "market"
        else order(cid, tif=TimeInForce.IOC)
    )
    venue.execute(cmd, 0)
    t = venue.tracker.orders[cid]
    await until(lambda: sandbox.faults.stats["order.drop_response"] == 1 and t.placing)
    venue.execute(_cancel(cid), 0)
    await until(lambda: _cancels(sandbox, cid) == 1 and t.cancel_wanted)
    await asyncio.sleep(0.05)  # the cancel's -2011 is in
    gate.set()
    await _settled(venue, cid)

    fills = _of(events, OrderFilled, cid)
    assert [(f.last_qty, f.last_px) for f in fills] == [(D("0.01"), D("40001.00"))]
    assert [tr["clientOrderId"] for tr in sandbox.ledger()["trades"]] == [cid]
    assert [o.status for o in sandbox.engine.ledger.orders[cid]] == ["FILLED"]
    assert posts(sandbox, cid) == 1
    assert _cancels(sandbox, cid) == 1
    assert (venue.resends, venue.canceled_unplaced) == (0, 0)
    assert _of(events, OrderCanceled, cid) == _of(events, OrderCancelRejected, cid) == []


async def test_without_a_cancel_an_absent_order_is_still_resent(
    sandbox: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """P2 unchanged for orders nobody asked to cancel: proven absent -> sent again once."""
    events: list[Any] = []
    venue = await start_venue(sandbox, session, events.append, recv_window_ms=RECV_WINDOW_MS,
                              config=CONFIG)  # fmt: skip
    sandbox.faults.arm("order.reset_before")
    cid = "no-cancel"
    venue.execute(order(cid, kind=OrderType.MARKET, price=None), 0)
    await _settled(venue, cid)
    assert posts(sandbox, cid) == 2
    assert (venue.resends, venue.canceled_unplaced) == (1, 0)
    assert [o.status for o in sandbox.engine.ledger.orders[cid]] == ["FILLED"]
    assert [type(e) for e in _of(events, object, cid)] == [OrderAccepted, OrderFilled]
