"""OANDA replace identity under failure: a refused replace, a restart that must follow the
venue's own replace chain (``replacedByOrderID``), a lost replace answer OANDA applied late,
a kill or cancel racing a replace, a kill whose list or cancel fails (retried, CRITICAL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from genesis.core.commands import CancelAllOrders, CancelOrder
from genesis.core.events import (
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderUpdated,
)
from genesis.daemon.health import Level
from genesis.daemon.oanda_live import OandaLive
from genesis.errors import OrderRejectedByVenue, OrderStatusUnknown, VenueUnavailable
from genesis.exchange.oanda import OandaClient
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda.venue import OandaVenue
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import TOKEN, D
from tests.oanda.test_replace import ID, _limit, _modify, _shape, _submit, _until


def _venue(server: OandaSandboxServer) -> OandaVenue:
    return OandaVenue(OandaClient(server.url, TOKEN, rate=1000), absent_delay_s=0.02,
                      query_tries=3, kill_retry_s=0.02, kill_retry_max_s=0.1)  # fmt: skip


@pytest.fixture
async def venue(server: OandaSandboxServer) -> AsyncIterator[tuple[OandaVenue, list[OrderEvent]]]:
    events: list[OrderEvent] = []
    v = _venue(server)
    await v.start(events.append)
    try:
        yield v, events
    finally:
        await v.close()


async def _pending(v: OandaVenue) -> list[tuple[str, str]]:
    return [(o["clientExtensions"]["id"], o["units"]) for o in await v.client.pending_orders()]


async def _cross(server: OandaSandboxServer, events: list[OrderEvent], n: int) -> None:
    """Ask at 1.51000: a pending buy limit at 1.51000 fills."""
    server.set_quote(D("1.50990"), D("1.51000"))
    await _until(events, n)
    await asyncio.sleep(0.1)


# --- 1. restart: the venue's chain, never guessed ids ----------------------------------------


async def test_a_refused_replace_gives_its_id_back(
    venue: tuple[OandaVenue, list[OrderEvent]],
) -> None:
    """400 on the first modify: the order stands and the next modify's replacement is x-r1
    again (the refused one never existed at the venue)."""
    v, events = venue
    v.execute(_submit("x", 100, "1.50000"), 1)
    await _until(events, 1)
    real, sent = v.client.replace_order, []

    async def refuse_first(spec: str, body: dict[str, Any]) -> dict[str, Any]:
        sent.append(body["order"]["clientExtensions"]["id"])
        if len(sent) == 1:
            raise OrderRejectedByVenue("INSUFFICIENT_MARGIN", "INSUFFICIENT_MARGIN")
        return await real(spec, body)

    v.client.replace_order = refuse_first  # type: ignore[method-assign]
    v.execute(_modify("x", 300, "1.51000"), 2)
    await _until(events, 2)
    v.execute(_modify("x", 200, "1.51000"), 3)
    await _until(events, 3)
    assert _shape(events) == [("OrderAccepted", "x"), ("OrderModifyRejected", "x"),
                              ("OrderUpdated", "x")]  # fmt: skip
    assert sent == ["x-r1", "x-r1"]
    assert await _pending(v) == [("x-r1", "200")]


async def test_restart_follows_the_venue_chain_across_an_id_gap(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """x was replaced by x-r2 with no x-r1 ever created (a refused replace before the fix, a
    probe gap): the restart reads GET @x, then its replacedByOrderID, adopts x-r2 as x and
    delivers its fill; the original is never resent."""
    await client.create_order(_limit("x", "100", "1.50000"))
    await client.replace_order("@x", _limit("x-r2", "200", "1.51000"))
    events: list[OrderEvent] = []
    v = _venue(server)
    await v.start(events.append)
    try:
        v.recover(_submit("x", 100, "1.50000"), 1)
        await _until(events, 3)
        assert _shape(events) == [("OrderAccepted", "x"), ("OrderPendingUpdate", "x"),
                                  ("OrderUpdated", "x")]  # fmt: skip
        updated = events[2]
        assert isinstance(updated, OrderUpdated)
        assert (updated.quantity, updated.price) == (D(200), D("1.51000"))
        await _cross(server, events, 4)
        fill = events[3]
        assert isinstance(fill, OrderFilled)
        assert (fill.client_order_id, fill.last_qty, fill.last_px) == ("x", D(200), D("1.51000"))
        assert len(events) == 4
        assert await _pending(v) == []
        assert len(server.engine.orders) == 2  # x and x-r2: nothing resent
    finally:
        await v.close()


async def test_restart_retries_a_failing_chain_query(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """A transient error mid-chain is retried: the replacement is still adopted (a probe that
    stopped at the error ended x as expired while x-r1 stayed live)."""
    await client.create_order(_limit("y", "100", "1.50000"))
    await client.replace_order("@y", _limit("y-r1", "200", "1.51000"))
    events: list[OrderEvent] = []
    v = _venue(server)
    await v.start(events.append)
    real, calls = v.client.order, []

    async def flaky(spec: str) -> dict[str, Any]:
        calls.append(spec)
        if len(calls) == 2:  # the replacement's query, once
            raise VenueUnavailable("OANDA GET /orders: 503")
        return await real(spec)

    v.client.order = flaky  # type: ignore[method-assign]
    try:
        v.recover(_submit("y", 100, "1.50000"), 1)
        await _until(events, 3)
        await asyncio.sleep(0.1)
        assert _shape(events)[-1] == ("OrderUpdated", "y")
        assert len(events) == 3
        assert calls[0] == "@y"
        assert calls[1] == calls[2] != "@y-r1"
        assert v.unresolved == {}
    finally:
        await v.close()


async def test_restart_with_an_unreadable_chain_is_left_unresolved(
    server: OandaSandboxServer, client: OandaClient
) -> None:
    """Every query of the replacement fails: nothing is adopted or ended; the order is not a
    known one (a reset is refused while the venue holds x-r1) and health is CRITICAL."""
    await client.create_order(_limit("z", "100", "1.50000"))
    await client.replace_order("@z", _limit("z-r1", "200", "1.51000"))
    events: list[OrderEvent] = []
    v = _venue(server)
    await v.start(events.append)
    real = v.client.order

    async def down(spec: str) -> dict[str, Any]:
        if spec.startswith("@"):
            return await real(spec)
        raise VenueUnavailable("OANDA GET /orders: 503")

    v.client.order = down  # type: ignore[method-assign]
    live = OandaLive(v)
    try:
        v.recover(_submit("z", 100, "1.50000"), 1)
        for _ in range(200):
            if v.unresolved:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert events == []
        assert list(v.unresolved) == ["z"]
        assert "unreadable after 3 queries" in v.unresolved["z"]
        assert v.known_client_ids() == set()
        assert await live.unexplained_open_orders([ID]) == ["z-r1"]
        (orders,) = [h for h in live.health() if h.component == "oanda_orders"]
        assert orders.level is Level.CRITICAL
        assert "z:" in orders.reason
    finally:
        await v.close()


# --- 4. a lost replace answer, applied late ---------------------------------------------------


async def test_a_lost_replace_applied_late_is_adopted(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """The PUT's answer is lost and OANDA applies it only after the last query of w-r1 found
    nothing: the replaced order is read (CANCELLED, replacedByOrderID) and the replacement
    adopted, its fill delivered as w's (not NOT_REPLACED with w-r1 live and unmapped)."""
    v, events = venue
    v.execute(_submit("w", 100, "1.50000"), 1)
    await _until(events, 1)
    real_replace, real_order = v.client.replace_order, v.client.order
    held: list[tuple[str, dict[str, Any]]] = []
    misses = []

    async def lost(spec: str, body: dict[str, Any]) -> dict[str, Any]:
        held.append((spec, body))
        raise OrderStatusUnknown("OANDA PUT /orders/@w: timeout")

    async def late(spec: str) -> dict[str, Any]:
        if spec == "@w-r1" and len(misses) < v.absent_checks:
            misses.append(spec)
            if len(misses) == v.absent_checks:  # OANDA applies the PUT now
                await real_replace(*held[0])
            raise OandaNotFound("ORDER_DOESNT_EXIST", "no such order")
        return await real_order(spec)

    v.client.replace_order = lost  # type: ignore[method-assign]
    v.client.order = late  # type: ignore[method-assign]
    v.execute(_modify("w", 200, "1.51000"), 2)
    await _until(events, 2)
    updated = events[1]
    assert isinstance(updated, OrderUpdated)
    assert (updated.quantity, updated.price) == (D(200), D("1.51000"))
    await _cross(server, events, 3)
    assert _shape(events) == [("OrderAccepted", "w"), ("OrderUpdated", "w"), ("OrderFilled", "w")]
    fill = events[2]
    assert isinstance(fill, OrderFilled)
    assert fill.last_qty == D(200)
    assert fill.venue_order_id == server.engine.find_order("@w-r1").id  # type: ignore[union-attr]


async def test_a_lost_replace_never_applied_is_not_replaced(
    venue: tuple[OandaVenue, list[OrderEvent]],
) -> None:
    """The PUT never reached OANDA: the replaced order is still PENDING, not replaced ->
    NOT_REPLACED and its id is free again."""
    v, events = venue
    v.execute(_submit("u", 100, "1.50000"), 1)
    await _until(events, 1)

    async def lost(spec: str, body: dict[str, Any]) -> dict[str, Any]:
        raise OrderStatusUnknown("OANDA PUT /orders/@u: timeout")

    v.client.replace_order = lost  # type: ignore[method-assign]
    v.execute(_modify("u", 200, "1.51000"), 2)
    await _until(events, 2)
    rejected = events[1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.code == "NOT_REPLACED"
    assert v._orders["u"].replaces == 0
    assert "u-r1" not in v._wire
    assert await _pending(v) == [("u", "100")]


# --- 2. a kill or a cancel racing a replace ---------------------------------------------------


async def test_a_kill_during_a_replace_leaves_nothing_live(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """The replace is applied at once, its answer delayed; the kill cancels the OANDA id it
    listed (k-r1's), so nothing stays pending; the order ends cancelled after its update."""
    v, events = venue
    v.execute(_submit("k", 100, "1.50000"), 1)
    await _until(events, 1)
    server.faults.arm("order.delay_response", seconds=0.5)
    v.execute(_modify("k", 200, "1.51000"), 2)
    await asyncio.sleep(0.2)
    v.execute(CancelAllOrders(ts_init=3, strategy_id="operator", instrument_id=ID), 3)
    await _until(events, 3)
    await asyncio.sleep(0.2)
    assert await _pending(v) == []
    assert _shape(events) == [("OrderAccepted", "k"), ("OrderUpdated", "k"), ("OrderCanceled", "k")]
    assert v.kill_unconfirmed == {}


async def test_a_cancel_during_a_replace_waits_for_it(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """A CancelOrder while the replace is out cancels what the replace leaves live (c-r1),
    not the replaced order (a 404 and a live replacement)."""
    v, events = venue
    v.execute(_submit("c", 100, "1.50000"), 1)
    await _until(events, 1)
    server.faults.arm("order.delay_response", seconds=0.4)
    v.execute(_modify("c", 200, "1.51000"), 2)
    await asyncio.sleep(0.1)
    v.execute(CancelOrder(ts_init=3, strategy_id="fx", instrument_id=ID, client_order_id="c"), 3)
    await _until(events, 3)
    await asyncio.sleep(0.2)
    assert await _pending(v) == []
    assert _shape(events) == [("OrderAccepted", "c"), ("OrderUpdated", "c"), ("OrderCanceled", "c")]


# --- 3. a kill retries until the venue holds nothing ------------------------------------------


async def test_a_kill_retries_a_failing_list_and_cancel_and_reports_critical(
    venue: tuple[OandaVenue, list[OrderEvent]],
) -> None:
    """The pending list fails twice, then a cancel fails once: the kill retries (CRITICAL
    health meanwhile) until the list reads empty, then health is back to HEALTHY."""
    v, events = venue
    v.execute(_submit("h", 100, "1.50000"), 1)
    await _until(events, 1)
    real_list, real_cancel = v.client.pending_orders, v.client.cancel_order
    lists, cancels, seen = [], [], []
    live = OandaLive(v)

    async def list_flaky() -> list[dict[str, Any]]:
        lists.append(1)
        seen.append(next(h.level for h in live.health() if h.component == "oanda_kill"))
        if len(lists) <= 2:
            raise VenueUnavailable("OANDA GET /pendingOrders: 503")
        return await real_list()

    async def cancel_flaky(spec: str) -> dict[str, Any]:
        cancels.append(spec)
        if len(cancels) == 1:
            raise VenueUnavailable("OANDA PUT /orders/cancel: 503")
        return await real_cancel(spec)

    v.client.pending_orders = list_flaky  # type: ignore[method-assign]
    v.client.cancel_order = cancel_flaky  # type: ignore[method-assign]
    v.execute(CancelAllOrders(ts_init=2, strategy_id="operator", instrument_id=ID), 2)
    await _until(events, 2)
    await asyncio.sleep(0.3)
    assert _shape(events) == [("OrderAccepted", "h"), ("OrderCanceled", "h")]
    venue_id = v._orders["h"].venue_order_id
    assert cancels == [venue_id, venue_id]  # by the OANDA id listed
    assert len(lists) == 5  # fail, fail, h (cancel fails), h (cancelled), empty
    assert seen == [Level.HEALTHY] + [Level.CRITICAL] * 4  # at each read of the list
    assert v.kill_unconfirmed == {}
    assert [h.level for h in live.health() if h.component == "oanda_kill"] == [Level.HEALTHY]
    assert await real_list() == []
