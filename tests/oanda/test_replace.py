"""OANDA order replace (PUT /orders/{spec}): the sandbox, the native client, OANDA's own
``v20`` client, ``OandaVenue``'s modify (PENDING_UPDATE -> UPDATED / MODIFY_REJECTED) and a
restart with a replacement in place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from genesis.core.commands import ModifyOrder, SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingUpdate,
    OrderUpdated,
)
from genesis.errors import OrderRejectedByVenue
from genesis.exchange.oanda import OandaClient
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda.replace import local_id, replacement_id
from genesis.exchange.oanda.venue import OandaVenue
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import ASK0, TOKEN, D

ID = "OANDA:GBP_USD"


def _limit(cid: str, units: str, price: str) -> dict[str, Any]:
    return {"order": {"type": "LIMIT", "instrument": "GBP_USD", "units": units, "price": price,
                      "clientExtensions": {"id": cid}}}  # fmt: skip


async def test_sandbox_replace_cancels_and_creates_in_one_batch(client: OandaClient) -> None:
    """201: the old order's cancel (CLIENT_REQUEST_REPLACED, replacedByOrderID) and the new
    order's create (REPLACEMENT, replacesOrderID) in one batch; the old is CANCELLED."""
    created = (await client.create_order(_limit("a", "100", "1.50000")))["orderCreateTransaction"]
    answer = await client.replace_order("@a", _limit("a-r1", "200", "1.51000"))
    cancel, new = answer["orderCancelTransaction"], answer["orderCreateTransaction"]
    assert (cancel["orderID"], cancel["reason"], cancel["replacedByOrderID"]) == (
        created["id"], "CLIENT_REQUEST_REPLACED", new["id"])  # fmt: skip
    assert (new["type"], new["reason"], new["replacesOrderID"]) == (
        "LIMIT_ORDER", "REPLACEMENT", created["id"])  # fmt: skip
    assert cancel["batchID"] == new["batchID"] == cancel["id"]
    assert answer["relatedTransactionIDs"] == [cancel["id"], new["id"]]
    old = await client.order("@a")
    assert (old["state"], old["replacedByOrderID"]) == ("CANCELLED", new["id"])
    pending = await client.pending_orders()
    assert [(o["clientExtensions"]["id"], o["units"], o["price"], o["replacesOrderID"])
            for o in pending] == [("a-r1", "200", "1.51000", created["id"])]  # fmt: skip


async def test_sandbox_replace_that_crosses_fills_at_once(client: OandaClient) -> None:
    """A replacement buy limit above the ask fills inside the request, at the ask."""
    await client.create_order(_limit("b", "100", "1.50000"))
    answer = await client.replace_order("@b", _limit("b-r1", "300", "1.57600"))
    fill = answer["orderFillTransaction"]
    assert (fill["clientOrderID"], fill["units"], D(fill["price"])) == ("b-r1", "300", ASK0)
    assert await client.pending_orders() == []


async def test_sandbox_replace_refusals_change_nothing(client: OandaClient) -> None:
    """Bad new terms: 400 with OANDA's code, the order stands; no such pending order: 404;
    the replacement may keep the replaced order's client id; another order's id is refused."""
    await client.create_order(_limit("c", "100", "1.50000"))
    await client.create_order(_limit("other", "100", "1.40000"))
    with pytest.raises(OrderRejectedByVenue) as bad:
        await client.replace_order("@c", _limit("c-r1", "0", "1.51000"))
    assert bad.value.code == "UNITS_INVALID"
    with pytest.raises(OrderRejectedByVenue) as taken:
        await client.replace_order("@c", _limit("other", "100", "1.51000"))
    assert taken.value.code == "CLIENT_ORDER_ID_ALREADY_EXISTS"
    assert (await client.order("@c"))["state"] == "PENDING"
    with pytest.raises(OandaNotFound):
        await client.replace_order("@nobody", _limit("n-r1", "100", "1.51000"))
    same = await client.replace_order("@c", _limit("c", "100", "1.52000"))
    assert same["orderCreateTransaction"]["clientExtensions"] == {"id": "c"}
    assert (await client.order("@c"))["price"] == "1.52000"  # the pending one of the two
    with pytest.raises(OandaNotFound):  # cancelled by the replace: nothing to replace
        await client.replace_order(same["orderCancelTransaction"]["orderID"],
                                   _limit("c-r2", "100", "1.53000"))  # fmt: skip


async def test_v20_client_replaces_an_order(server: OandaSandboxServer) -> None:
    """OANDA's own v20 client: order.replace parses both halves of the answer."""
    v20 = pytest.importorskip("v20")
    port = int(server.url.rsplit(":", 1)[1])
    ctx = v20.Context("127.0.0.1", port, ssl=False, token=TOKEN)
    account = server.engine.account.id
    resp = await asyncio.to_thread(ctx.order.limit, account, instrument="GBP_USD", units=100,
                                   price="1.50000", clientExtensions={"id": "v"})  # fmt: skip
    old_id = resp.get("orderCreateTransaction", 201).id
    order = {"type": "LIMIT", "instrument": "GBP_USD", "units": "250", "price": "1.51000",
             "clientExtensions": {"id": "v-r1"}}  # fmt: skip
    resp = await asyncio.to_thread(ctx.order.replace, account, "@v", order=order)
    cancel = resp.get("orderCancelTransaction", 201)
    new = resp.get("orderCreateTransaction", 201)
    assert (cancel.reason, cancel.replacedByOrderID, cancel.orderID) == (
        "CLIENT_REQUEST_REPLACED", new.id, old_id)  # fmt: skip
    assert (new.replacesOrderID, new.units, new.price) == (old_id, 250.0, 1.51)
    got = (await asyncio.to_thread(ctx.order.get, account, "@v-r1")).get("order", 200)
    assert (got.state, got.replacesOrderID) == ("PENDING", old_id)


def test_replacement_ids_map_back() -> None:
    """``X-rN`` is the n-th replacement of X; the kernel's ids never end in -rN."""
    assert replacement_id("s-1700000000-7", 2) == "s-1700000000-7-r2"
    assert [local_id(i) for i in ("s-1-7-r2", "s-1-7", "x-r", "-r1")] == [
        "s-1-7", "s-1-7", "x-r", "-r1"]  # fmt: skip


# --- the venue's modify ---------------------------------------------------------------------


@pytest.fixture
async def venue(server: OandaSandboxServer) -> AsyncIterator[tuple[OandaVenue, list[OrderEvent]]]:
    events: list[OrderEvent] = []
    v = OandaVenue(OandaClient(server.url, TOKEN, rate=1000), absent_delay_s=0.05)
    await v.start(events.append)
    try:
        yield v, events
    finally:
        await v.close()


def _submit(cid: str, qty: int, price: str) -> SubmitOrder:
    return SubmitOrder(ts_init=1, strategy_id="fx", instrument_id=ID, client_order_id=cid,
                       side=Side.BUY, order_type=OrderType.LIMIT, quantity=D(qty), price=D(price))  # fmt: skip


def _modify(cid: str, qty: int, price: str) -> ModifyOrder:
    return ModifyOrder(ts_init=2, strategy_id="fx", instrument_id=ID, client_order_id=cid,
                       quantity=D(qty), price=D(price))  # fmt: skip


async def _until(events: list[OrderEvent], n: int) -> None:
    for _ in range(500):
        if len(events) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(events)} events, expected {n}: {events}")


def _shape(events: list[OrderEvent]) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.client_order_id) for e in events]


async def test_modify_is_updated_then_the_new_order_fills_once(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """OrderUpdated with the new terms comes before the replacement's fill (which the answer
    and the stream both carry: delivered once, as the kernel's order); the replaced order's
    cancel is not the order's end."""
    v, events = venue
    v.execute(_submit("m", 100, "1.50000"), 1)
    await _until(events, 1)
    v.execute(_modify("m", 200, "1.57600"), 2)
    await _until(events, 3)
    await asyncio.sleep(0.2)
    assert _shape(events) == [("OrderAccepted", "m"), ("OrderUpdated", "m"), ("OrderFilled", "m")]
    updated, fill = events[1], events[2]
    assert isinstance(updated, OrderUpdated)
    assert isinstance(fill, OrderFilled)
    assert (updated.quantity, updated.price) == (D(200), D("1.57600"))
    assert (fill.last_qty, fill.last_px) == (D(200), ASK0)
    assert fill.venue_order_id == server.engine.find_order("@m-r1").id  # type: ignore[union-attr]


async def test_modify_of_an_order_gone_at_the_venue_is_rejected(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """No such pending order (404): MODIFY_REJECTED with OANDA's code; a local refusal for a
    quantity not above the filled one; nothing is sent for it."""
    v, events = venue
    v.execute(_submit("g", 100, "1.50000"), 1)
    await _until(events, 1)
    server.faults.streams_silenced = True  # the venue object does not hear of it
    server.engine.cancel_order("@g")  # gone behind the venue object's back
    v.execute(_modify("g", 100, "1.51000"), 2)
    await _until(events, 2)
    rejected = events[1]
    assert isinstance(rejected, OrderModifyRejected)
    assert rejected.code == "ORDER_DOESNT_EXIST"
    v.execute(_modify("g", 0, "1.51000"), 3)
    await _until(events, 3)
    assert isinstance(events[2], OrderModifyRejected)
    assert events[2].code == "LOCAL"
    assert server.engine.find_order("@g-r1") is None


async def test_lost_replace_answer_is_resolved_by_the_new_id(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """503 after the replace happened: found by X-r1, it is UPDATED. 503 before: absent, so
    NOT_REPLACED, and the next replace takes the unused id. Never sent twice."""
    v, events = venue
    v.execute(_submit("u", 100, "1.50000"), 1)
    await _until(events, 1)
    server.faults.arm("order.error_after")
    v.execute(_modify("u", 150, "1.51000"), 2)
    await _until(events, 2)
    assert isinstance(events[1], OrderUpdated)
    assert server.engine.find_order("@u-r1").state == "PENDING"  # type: ignore[union-attr]
    server.faults.arm("order.error_before")
    v.execute(_modify("u", 175, "1.52000"), 3)
    await _until(events, 3)
    assert isinstance(events[2], OrderModifyRejected)
    assert events[2].code == "NOT_REPLACED"
    v.execute(_modify("u", 175, "1.52000"), 4)
    await _until(events, 4)
    assert isinstance(events[3], OrderUpdated)
    replaced = server.engine.find_order("@u-r2")
    assert replaced is not None
    assert (replaced.state, replaced.units) == ("PENDING", D(175))
    creates = [t for t in server.engine.account.transactions if t["type"] == "LIMIT_ORDER"]
    assert [t["clientExtensions"]["id"] for t in creates] == ["u", "u-r1", "u-r2"]


async def test_restart_adopts_the_replacement_and_never_resends(
    server: OandaSandboxServer,
) -> None:
    """Killed after a replace: the next process, recovering X from its journaled intent,
    finds X-r1 first and adopts it as X (accepted, pending update, updated with its terms);
    its later fill is X's; the snapshot names the pending replacement as X; nothing is sent."""
    first: list[OrderEvent] = []
    v1 = OandaVenue(OandaClient(server.url, TOKEN, rate=1000), absent_delay_s=0.05)
    await v1.start(first.append)
    intent = _submit("x", 100, "1.50000")
    v1.execute(intent, 1)
    await _until(first, 1)
    v1.execute(_modify("x", 300, "1.51000"), 2)
    await _until(first, 2)
    await v1.close()  # the process dies; the venue keeps the replacement
    sent = len(server.engine.account.transactions)

    events: list[OrderEvent] = []
    v2 = OandaVenue(OandaClient(server.url, TOKEN, rate=1000), absent_delay_s=0.05)
    await v2.start(events.append)
    try:
        snap = await v2.snapshot([ID], {})
        assert [(o.client_order_id, o.quantity, o.price) for o in snap.open_orders] == [
            ("x", D(300), D("1.51000"))]  # fmt: skip
        v2.recover(intent, 1)
        await _until(events, 3)
        assert [type(e) for e in events] == [OrderAccepted, OrderPendingUpdate, OrderUpdated]
        new_id = server.engine.find_order("@x-r1").id  # type: ignore[union-attr]
        assert events[0].venue_order_id == new_id  # type: ignore[attr-defined]
        assert (events[2].quantity, events[2].price) == (D(300), D("1.51000"))  # type: ignore[attr-defined]
        assert len(server.engine.account.transactions) == sent  # nothing sent
        server.set_quote(D("1.50990"), D("1.51000"))
        await _until(events, 4)
        fill = events[3]
        assert isinstance(fill, OrderFilled)
        assert (fill.client_order_id, fill.last_qty, fill.last_px) == ("x", D(300), D("1.51000"))
    finally:
        await v2.close()


async def test_a_cancel_made_by_hand_at_the_venue_ends_the_order(
    venue: tuple[OandaVenue, list[OrderEvent]], server: OandaSandboxServer
) -> None:
    """A pending order cancelled outside (the OANDA UI: reason CLIENT_REQUEST too) is
    CANCELED through the transaction stream; a cancel of the replaced half is not."""
    v, events = venue
    v.execute(_submit("h", 100, "1.50000"), 1)
    await _until(events, 1)
    v.execute(_modify("h", 100, "1.51000"), 2)
    await _until(events, 2)
    server.engine.cancel_order("@h-r1")
    await _until(events, 3)
    await asyncio.sleep(0.1)
    assert _shape(events) == [("OrderAccepted", "h"), ("OrderUpdated", "h"),
                              ("OrderCanceled", "h")]  # fmt: skip
