"""User data: WS API subscribe errors and unsubscribe; legacy listenKey compat mode."""

from __future__ import annotations

import aiohttp

from genesis.exchange.sandbox import SandboxServer

from .conftest import Client, btc_book, config, drain, user_stream

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "39000.00",
}


async def test_subscribe_twice_bad_signature_and_unsubscribe(
    server: SandboxServer, client: Client
) -> None:
    ws = await user_stream(client.session, server)
    await ws.send_json(
        {
            "id": 1,
            "method": "userDataStream.subscribe.signature",
            "params": {"apiKey": client.key, "timestamp": server.clock.now_ms(), "signature": "00"},
        }
    )
    reply = await ws.receive_json(timeout=1)
    assert (reply["status"], reply["error"]["code"]) == (400, -1022)
    await ws.send_json({"id": 2, "method": "userDataStream.unsubscribe"})
    assert (await ws.receive_json(timeout=1))["result"] == {}
    await ws.send_json({"id": 3, "method": "userDataStream.unsubscribe"})
    assert (await ws.receive_json(timeout=1))["error"] == {
        "code": -2036,
        "msg": "User Data Stream subscription not active.",
    }
    await ws.close()


async def test_legacy_listen_key_stream_is_unwrapped() -> None:
    server = SandboxServer(config(legacy_listen_key=True))
    await server.start()
    btc_book(server)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            status, body, _ = await client.call("POST", "/api/v3/userDataStream", signed=False)
            key = body["listenKey"]
            assert (status, len(key)) == (200, 64)
            assert (await client.call("POST", "/api/v3/userDataStream", signed=False))[1] == body
            ws = await session.ws_connect(f"{server.ws_url}/ws/{key}")
            await client.order(**ORDER, newClientOrderId="lk1")
            events = await drain(ws)
            assert [e["e"] for e in events] == ["executionReport", "outboundAccountPosition"]
            assert events[0]["c"] == "lk1"
            status, body, _ = await client.call(
                "PUT", "/api/v3/userDataStream", signed=False, listenKey="nope"
            )
            assert (status, body["code"]) == (400, -1125)
            server.expire_listen_keys()
            expired = (await drain(ws))[0]
            assert (expired["e"], expired["listenKey"]) == ("listenKeyExpired", key)
            await ws.close()
    finally:
        await server.stop()
