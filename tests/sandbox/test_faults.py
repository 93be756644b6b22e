"""Fault hooks fire, act as specified and are counted; the control port drives them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from genesis.exchange.sandbox import SandboxServer

from .conftest import Client, D, btc_book, drain, reports, user_stream

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "39000.00",
}


@pytest.fixture
async def book(server: SandboxServer) -> SandboxServer:
    btc_book(server)
    return server


@pytest.mark.parametrize(
    "hook", ["order.drop_response", "order.truncate_response", "order.reset_after"]
)
async def test_response_lost_after_the_order_was_applied(
    book: SandboxServer, client: Client, hook: str
) -> None:
    book.faults.arm(hook)
    with pytest.raises((aiohttp.ClientError, json.JSONDecodeError)):
        await client.order(**ORDER, newClientOrderId="lost-1")
    assert book.ledger()["accepted_posts"] == {"lost-1": 1}
    _, found, _ = await client.call(
        "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="lost-1"
    )
    assert found["status"] == "NEW"
    assert book.faults.stats[hook] == 1


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [({"status": 503, "code": -1000}, 503, -1000), ({"status": 400, "code": -1007}, 400, -1007)],
)
async def test_error_before_applying_places_nothing(
    book: SandboxServer, client: Client, params: dict[str, Any], status: int, code: int
) -> None:
    book.faults.arm("order.error_before", **params)
    got, body, _ = await client.order(**ORDER, newClientOrderId="e1")
    assert (got, body["code"]) == (status, code)
    assert book.ledger()["orders"] == {}


async def test_error_after_applying_keeps_the_order(book: SandboxServer, client: Client) -> None:
    book.faults.arm("order.error_after", status=503, code=-1007)
    got, body, _ = await client.order(**ORDER, newClientOrderId="e2")
    assert (got, body["code"]) == (503, -1007)
    assert book.ledger()["accepted_posts"] == {"e2": 1}


async def test_reset_before_applying(book: SandboxServer, client: Client) -> None:
    book.faults.arm("order.reset_before")
    with pytest.raises(aiohttp.ClientError):
        await client.order(**ORDER, newClientOrderId="r1")
    assert book.ledger()["orders"] == {}


async def test_forced_statuses_and_depth_faults(book: SandboxServer, client: Client) -> None:
    book.faults.arm("rest.force", status=403, code=-1003, msg="WAF", path="/api/v3/time")
    assert (await client.call("GET", "/api/v3/ping", signed=False))[0] == 200
    assert (await client.call("GET", "/api/v3/time", signed=False))[0] == 403
    book.faults.arm("depth.429")
    status, _, headers = await client.call("GET", "/api/v3/depth", signed=False, symbol="BTCUSDT")
    assert (status, headers["Retry-After"]) == (429, "1")
    book.flush()
    first = book.engine.market.market("BTCUSDT").update_id
    book.set_book("BTCUSDT", bids=[(D("40000.00"), D("2"))], asks=[(D("40001.00"), D("1"))])
    book.flush()
    book.faults.arm("depth.stale_snapshot", back=1)
    _, snap, _ = await client.call("GET", "/api/v3/depth", signed=False, symbol="BTCUSDT")
    assert snap["lastUpdateId"] == first
    assert book.faults.stats["depth.stale_snapshot"] == 1


async def test_depth_drop_duplicate_swap(book: SandboxServer, client: Client) -> None:
    book.flush()
    ws = await client.session.ws_connect(f"{book.ws_url}/ws/btcusdt@depth@100ms")
    await asyncio.sleep(0.05)
    for hook in ("depth.duplicate", "depth.swap", "depth.drop"):
        book.faults.arm(hook)
    ids = []
    for i in range(5):
        book.set_book("BTCUSDT", bids=[(D("39000.00") + i, D("1"))], asks=[(D("41000.00"), D("1"))])
        book.flush()
    while True:
        try:
            ids.append((lambda d: (d["U"], d["u"]))(await ws.receive_json(timeout=0.2)))
        except TimeoutError:
            break
    # batches d1..d5: d1 dropped, d2 swapped behind d3, d3 duplicated
    d3, d2, d3_again, d4, d5 = ids
    assert d3 == d3_again
    assert d2[1] + 1 == d3[0]
    assert d4[0] == d3[1] + 1
    assert d5[0] == d4[1] + 1
    assert {k: book.faults.stats[k] for k in ("depth.duplicate", "depth.swap", "depth.drop")} == {
        "depth.duplicate": 1,
        "depth.swap": 1,
        "depth.drop": 1,
    }
    await ws.close()


async def test_user_stream_faults(book: SandboxServer, client: Client) -> None:
    ws = await user_stream(client.session, book)
    book.faults.arm("user.duplicate")
    await client.order(**ORDER, newClientOrderId="u1")
    assert reports(await drain(ws)) == [("NEW", "NEW"), ("NEW", "NEW")]
    book.faults.arm("user.drop")
    await client.order(**ORDER, newClientOrderId="u2")
    assert reports(await drain(ws)) == []
    book.faults.arm("user.replay")
    await client.order(**ORDER, newClientOrderId="u3")
    assert [e["c"] for e in await drain(ws) if e.get("e") == "executionReport"] == [
        "u1",
        "u2",
        "u3",
    ]
    book.faults.user_silenced = True
    await client.order(**ORDER, newClientOrderId="u4")
    assert await drain(ws) == []
    await ws.send_json({"id": 1, "method": "ping"})  # requests still answered
    assert (await ws.receive_json(timeout=1))["status"] == 200
    book.faults.user_silenced = False
    assert book.terminate_user_streams() == 1
    assert (await drain(ws))[0]["e"] == "eventStreamTerminated"
    await ws.send_json({"id": 2, "method": "session.status"})
    assert (await ws.receive_json(timeout=1))["result"]["userDataStream"] is False
    await ws.close()


async def test_refuse_connects_shutdown_and_close(book: SandboxServer, client: Client) -> None:
    book.faults.arm("ws.refuse_connect")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.session.ws_connect(f"{book.ws_url}/ws/btcusdt@trade")
    ws = await client.session.ws_connect(f"{book.ws_url}/stream?streams=btcusdt@trade")
    await asyncio.sleep(0.05)
    book.server_shutdown()
    assert (await ws.receive_json(timeout=1))["stream"] == "!serverShutdown"
    assert await book.close_sockets() == 1
    assert (await ws.receive(timeout=1)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert book.faults.stats["ws.refused"] == 1


async def test_malformed_frame_is_injected(book: SandboxServer, client: Client) -> None:
    ws = await client.session.ws_connect(f"{book.ws_url}/ws/btcusdt@trade")
    await asyncio.sleep(0.05)
    book.faults.arm("stream.malformed", frame='{"e":"trade","p":"NaN"}')
    book.trade("BTCUSDT", D("40000.00"), D("0.1"))
    assert (await ws.receive_str(timeout=1)) == '{"e":"trade","p":"NaN"}'
    assert (await ws.receive_json(timeout=1))["e"] == "trade"
    await ws.close()


async def test_control_port_faults_actions_and_ledger(book: SandboxServer, client: Client) -> None:
    ws = await user_stream(client.session, book)
    control = book.control_url
    async with client.session.post(f"{control}/faults", json={"hook": "nope"}) as resp:
        assert resp.status == 400
    async with client.session.post(
        f"{control}/faults", json={"hook": "rest.force", "params": {"status": 418, "code": -1003}}
    ) as resp:
        assert resp.status == 200
    assert (await client.call("GET", "/api/v3/ping", signed=False))[0] == 418
    async with client.session.post(
        f"{control}/actions", json={"action": "place_order", **ORDER, "newClientOrderId": "web_1"}
    ) as resp:
        assert (await resp.json())["status"] == "NEW"
    async with client.session.post(
        f"{control}/actions", json={"action": "deposit", "asset": "USDT", "amount": "250.5"}
    ) as resp:
        assert resp.status == 200
    async with client.session.post(
        f"{control}/actions", json={"action": "withdraw", "asset": "BTC", "amount": "5"}
    ) as resp:
        assert resp.status == 400  # more than free: refused, nothing changed
    async with client.session.post(f"{control}/settings", json={"clock_skew_ms": 1500}) as resp:
        assert resp.status == 200
    assert book.clock.skew_ms == 1500
    events = await drain(ws)
    assert [e["e"] for e in events] == [
        "executionReport",
        "outboundAccountPosition",
        "balanceUpdate",
        "outboundAccountPosition",
    ]
    assert events[2]["d"] == "250.50000000"
    async with client.session.get(f"{control}/ledger") as resp:
        ledger = await resp.json()
    assert ledger["orders"]["web_1"][0]["external"] is True
    assert ledger["accepted_posts"] == {}
    assert ledger["balances"]["USDT"] == {"free": "9860.50000000", "locked": "390.00000000"}
    async with client.session.get(f"{control}/stats") as resp:
        stats = await resp.json()
    assert stats["faults"]["rest.force"] == 1
    assert stats["faults"]["external.place"] == 1
    await ws.close()
