"""Signing (§3.2/§3.4 test vectors), key checks and both §3.3 timing checks."""

from __future__ import annotations

import pytest

from genesis.exchange.sandbox import SandboxServer
from genesis.exchange.sandbox.auth import rest_payload, sign, verify, ws_payload

from .conftest import Client, D, btc_book, config

VECTOR_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_rest_signature_matches_the_published_vector() -> None:
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert sign(VECTOR_SECRET, payload) == sig
    assert verify(VECTOR_SECRET, payload, sig.upper())  # case-insensitive, as Binance


def test_rest_payload_is_query_then_body_without_the_signature() -> None:
    assert rest_payload("symbol=LTCBTC&side=BUY", "type=LIMIT&signature=ab") == (
        "symbol=LTCBTC&side=BUYtype=LIMIT",
        "ab",
    )


def test_ws_api_signature_matches_the_published_vector() -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
        "signature": "ignored",
    }
    assert (
        sign(VECTOR_SECRET, ws_payload(params))
        == "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


async def test_missing_key_is_2014_unknown_key_2015(client: Client) -> None:
    status, body, _ = await client.call("GET", "/api/v3/account", key="")
    assert (status, body) == (401, {"code": -2014, "msg": "API-key format invalid."})
    status, body, _ = await client.call("GET", "/api/v3/account", key="other-key")
    assert (status, body["code"]) == (401, -2015)
    assert body["msg"] == "Invalid API-key, IP, or permissions for action."


async def test_wrong_secret_is_1022(client: Client) -> None:
    client.secret = "not-the-secret"
    status, body, _ = await client.call("GET", "/api/v3/account")
    assert (status, body) == (
        400,
        {"code": -1022, "msg": "Signature for this request is not valid."},
    )


async def test_signature_over_body_exactly_as_sent(server: SandboxServer, client: Client) -> None:
    body = f"symbol=BTCUSDT&timestamp={client.ts()}"
    headers = {"X-MBX-APIKEY": client.key, "Content-Type": "application/x-www-form-urlencoded"}
    async with client.session.get(
        f"{server.rest_url}/api/v3/openOrders",
        data=(body + "&signature=" + sign(client.secret, body)).encode(),
        headers=headers,
    ) as resp:
        assert resp.status == 200
        assert await resp.json() == []


async def test_timestamp_ahead_and_outside_window_are_1021(frozen) -> None:  # type: ignore[no-untyped-def]
    _, client, clock = frozen
    now = clock.ms
    status, body, _ = await client.call("GET", "/api/v3/account", timestamp=now + 1000)
    assert (status, body["code"]) == (400, -1021)
    assert body["msg"] == "Timestamp for this request was 1000ms ahead of the server's time."
    status, _, _ = await client.call("GET", "/api/v3/account", timestamp=now + 999)
    assert status == 200
    status, _, _ = await client.call(
        "GET", "/api/v3/account", recvWindow=5000, timestamp=now - 5000
    )
    assert status == 200
    status, body, _ = await client.call(
        "GET", "/api/v3/account", recvWindow=5000, timestamp=now - 5001
    )
    assert (status, body["msg"]) == (
        400,
        "Timestamp for this request is outside of the recvWindow.",
    )


async def test_clock_skew_applies_to_the_exchange_clock(
    server: SandboxServer, client: Client
) -> None:
    local = client.ts()
    server.set_clock_skew(-6000)  # the exchange is 6 s behind: our stamps look 6 s ahead
    _, body, _ = await client.call("GET", "/api/v3/account", timestamp=local)
    assert body["code"] == -1021
    _, t, _ = await client.call("GET", "/api/v3/time", signed=False)
    assert t["serverTime"] <= local - 5000
    assert server.faults.stats["clock.skew"] == 1


async def test_second_check_rejects_after_the_injected_delay() -> None:
    ticks = [1_700_000_000_000]
    server = SandboxServer(config(clock=lambda: ticks[0], recv_window_check_delay_s=0.01))
    await server.start()
    try:
        btc_book(server)
        import aiohttp

        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            stamp = ticks[0]
            # between the checks the exchange clock moves past timestamp + recvWindow
            server.faults.recv_window_delay_s = 0.01
            orig = server.api.second_time_check

            async def late(ctx, delay):  # type: ignore[no-untyped-def]
                ticks[0] = stamp + 5001
                await orig(ctx, delay)

            server.api.second_time_check = late  # type: ignore[method-assign]
            status, body, _ = await client.order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.01",
                price="39000.00",
                recvWindow=5000,
                timestamp=stamp,
                newClientOrderId="late-1",
            )
            assert (status, body["code"]) == (400, -1021)
            assert server.ledger()["orders"] == {}
            assert server.limiter.order_counts() == (1, 1)  # check 2 counts as unfilled order
            assert server.faults.stats["recv_window.delay"] == 1
    finally:
        await server.stop()


@pytest.mark.parametrize("window", ["60001", "-1"])
async def test_recv_window_above_60000_is_refused(client: Client, window: str) -> None:
    status, body, _ = await client.call("GET", "/api/v3/account", recvWindow=window)
    assert (status, body["code"]) == (400, -1131)


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        config(host="0.0.0.0")


async def test_secret_never_in_repr_or_errors(client: Client) -> None:
    assert client.secret not in repr(config())
    _, body, _ = await client.call("GET", "/api/v3/account", key="nope")
    assert client.secret not in str(body)
    assert "signature" not in str(body)
    assert D(1)  # keep the Decimal alias in use
