"""Unknown outcomes, snapshot, auth failures and secrets, against the local exchange."""

from __future__ import annotations

import logging
import re

import pytest
import structlog

from genesis.core.enums import Side
from genesis.core.events import OrderAccepted, OrderFilled, OrderRejected
from genesis.exchange.ccxt import AuthError, CcxtVenue

from .conftest import KEY, SECRET, D, Events, binance_at, submit


async def test_dropped_response_is_resolved_by_client_id_without_resend(venue, server):
    """The order applied but its answer dropped: found by client id, POSTed exactly once."""
    v, events = venue
    server.faults.arm("order.drop_response")
    v.execute(submit("drop-1", Side.BUY, "0.001", "39000.00"), 0)
    [accepted] = await events.wait_for(OrderAccepted, "drop-1")
    ledger = server.ledger()
    assert ledger["accepted_posts"]["drop-1"] == 1
    assert server.requests.count("POST", "/api/v3/order", "drop-1") == 1
    assert accepted.venue_order_id == str(ledger["orders"]["drop-1"][0]["orderId"])
    assert (v.stats["order_unknown"], v.stats["order_resolved"]) == (1, 1)


async def test_dropped_market_response_delivers_the_fill_once(venue, server):
    """A market order whose answer was lost is adopted and its one fill delivered once."""
    v, events = venue
    server.faults.arm("order.drop_response")
    v.execute(submit("drop-2", Side.BUY, "0.01"), 0)
    [fill] = await events.wait_for(OrderFilled, "drop-2")
    await v._rec.sync_fills("BTC/USDT")
    assert events.of(OrderFilled) == [fill]
    assert (fill.last_qty, fill.last_px) == (D("0.01"), D("40001"))
    assert server.requests.count("POST", "/api/v3/order", "drop-2") == 1


async def test_request_cut_before_the_engine_is_rejected_absent_after_settle(venue, server):
    """Reset before the engine: "not found" until settle_s, then OrderRejected(ABSENT), no resend."""
    v, events = venue
    server.faults.arm("order.reset_before")
    v.execute(submit("cut-1", Side.BUY, "0.001", "39000.00"), 0)
    [rejected] = await events.wait_for(OrderRejected, "cut-1")
    assert rejected.code == "ABSENT"
    assert "cut-1" not in server.ledger()["orders"]
    assert server.requests.count("POST", "/api/v3/order", "cut-1") == 1
    queries = [
        r
        for r in server.requests.records
        if (r.method, r.path, r.orig_client_order_id) == ("GET", "/api/v3/order", "cut-1")
    ]
    assert len(queries) >= 2
    assert {r.code for r in queries} == {-2013}


async def test_snapshot_equals_the_ledger(venue, server):
    """Open orders, exact balances and own fills since a trade id match the exchange ledger."""
    v, events = venue
    v.execute(submit("snap-lim", Side.BUY, "0.002", "39000.00"), 0)
    v.execute(submit("snap-mkt", Side.BUY, "0.01"), 0)
    await events.wait_for(OrderFilled, "snap-mkt")
    await events.wait_for(OrderAccepted, "snap-lim")
    snap = await v.snapshot(["BTCUSDT"], {"BTCUSDT": 0})
    ledger = server.ledger()
    [open_order] = snap.open_orders
    truth = ledger["orders"]["snap-lim"][0]
    assert (
        open_order.client_order_id,
        open_order.venue_order_id,
        open_order.quantity,
        open_order.price,
        open_order.status,
    ) == ("snap-lim", str(truth["orderId"]), D(truth["origQty"]), D(truth["price"]), "NEW")
    assert {a: (b.free, b.locked) for a, b in snap.balances.items()} == {
        a: (D(b["free"]), D(b["locked"]))
        for a, b in ledger["balances"].items()
        if D(b["free"]) or D(b["locked"])
    }
    assert [(f.trade_id, f.client_order_id, f.last_qty, f.fee) for f in snap.fills] == [
        (str(t["id"]), t["clientOrderId"], D(t["qty"]), D(t["commission"]))
        for t in ledger["trades"]
    ]
    assert (await v.snapshot(["BTCUSDT"], {"BTCUSDT": 1})).fills == ()


async def test_wrong_secret_maps_to_auth(server):
    """A refused signature: orders are rejected with code AUTH, snapshot raises AuthError."""
    v = CcxtVenue(binance_at(server, secret="canary-wrong-9e8d7c6b"), poll_interval_s=0.05)
    events = Events()
    await v.start(events.append)
    try:
        v.execute(submit("auth-1", Side.BUY, "0.001", "39000.00"), 0)
        [rejected] = await events.wait_for(OrderRejected, "auth-1")
        with pytest.raises(AuthError) as info:
            await v.snapshot(["BTCUSDT"], {})
    finally:
        await v.close()
    assert rejected.code == "AUTH"
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


_SIGNED = re.compile(r"signature=[0-9a-fA-F]{8}|[0-9a-f]{64}")


async def test_no_secret_in_logs_or_exception_text(server, caplog):
    """Canary key and secret, and any signature, are absent from every log line and error text."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with structlog.testing.capture_logs() as captured:
        for secret in (SECRET, "canary-wrong-9e8d7c6b"):
            v = CcxtVenue(
                binance_at(server, secret=secret),
                poll_interval_s=0.02,
                resolve_interval_s=0.02,
                settle_s=0.2,
            )
            events = Events()
            await v.start(events.append)
            try:
                server.faults.arm("order.drop_response")
                v.execute(submit(f"sec-{secret[-4:]}", Side.BUY, "0.001", "39000.00"), 0)
                await events.wait_for(OrderRejected if "wrong" in secret else OrderAccepted)
                try:
                    await v.snapshot(["BTCUSDT"], {})
                except AuthError as exc:
                    texts.append(str(exc))
                texts += [repr(v), *(repr(e) for e in events)]
            finally:
                await v.close()
    texts += [r.getMessage() for r in caplog.records] + [repr(c) for c in captured]
    blob = "\n".join(texts)
    assert any("AuthenticationError" in t for t in texts)  # the auth failure text was captured
    assert any("api/v3/order" in r.getMessage() for r in caplog.records)  # ccxt DEBUG lines
    for canary in (KEY, SECRET, "canary-wrong-9e8d7c6b"):
        assert canary not in blob
    assert not _SIGNED.search(blob)
