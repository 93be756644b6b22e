"""Venue trouble seen by the native client: auth, rate limits, 5xx, lost order answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request

import pytest

from genesis.errors import OrderStatusUnknown, VenueUnavailable
from genesis.exchange.oanda import OandaClient, OrderTerms, order_request
from genesis.exchange.oanda.errors import OandaAuthError
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import TOKEN, D


def _buy(client: OandaClient, units: int, client_id: str) -> dict[str, object]:
    terms = OrderTerms(type="MARKET", instrument="GBP_USD", units=D(units), client_id=client_id)
    return order_request(terms, client.instrument("GBP_USD"))


async def test_wrong_token_is_an_auth_error(server: OandaSandboxServer) -> None:
    """401 maps to OandaAuthError, and the token is not in the message."""
    async with OandaClient(server.url, "wrong-token-1x2y") as bad:
        with pytest.raises(OandaAuthError) as info:
            await bad.accounts()
    assert "401" in str(info.value)
    assert "wrong-token" not in str(info.value)


async def test_other_account_is_forbidden(client: OandaClient) -> None:
    """An account id the token does not own is a 403."""
    client.account_id = "101-004-0000000-001"
    with pytest.raises(OandaAuthError, match="403"):
        await client.summary()


@pytest.mark.parametrize("server", [{"rate_limit": 2}], indirect=True)
async def test_429_is_waited_out_and_retried(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """Past the server's 2 requests/s, reads get 429 + Retry-After and succeed on retry
    (5 requests in one burst cannot fit in fewer than 3 one-second windows)."""
    results = await asyncio.gather(*(client.summary() for _ in range(5)))
    assert {r["balance"] for r in results} == {"100000.0000"}
    assert server.faults.stats["rate_limited"] >= 1


async def test_limiter_spaces_requests(server: OandaSandboxServer) -> None:
    """A client limited to 5/s waits for tokens instead of drawing 429s."""
    async with OandaClient(server.url, TOKEN, rate=5) as slow:
        await asyncio.gather(*(slow.accounts() for _ in range(8)))
        assert slow.limiter.waited >= 3
    assert server.faults.stats["rate_limited"] == 0


async def test_forced_503_on_a_read_is_retried(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """Two 503s on GET summary, then success: the read retries with backoff."""
    server.faults.arm("rest.force", times=2, status=503)
    assert (await client.summary())["balance"] == "100000.0000"
    assert server.faults.stats["rest.force"] == 2


async def test_persistent_503_on_a_read_raises_unavailable(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A read that keeps failing ends as VenueUnavailable."""
    server.faults.arm("rest.force", times=-1, status=503)
    with pytest.raises(VenueUnavailable, match="GET /summary: HTTP 503"):
        await client.summary()


async def test_5xx_after_the_order_is_unknown_not_resent(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """The server filled the order but answered 503: the client says unknown and does not retry."""
    server.faults.arm("order.error_after")
    with pytest.raises(OrderStatusUnknown):
        await client.create_order(_buy(client, 100, "lost-1"))
    assert (await client.order("@lost-1"))["state"] == "FILLED"
    assert len(server.engine.account.open_trades()) == 1  # sent once


async def test_dropped_order_answer_is_unknown(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A connection closed instead of an answer is an unknown outcome too."""
    server.faults.arm("order.drop_response")
    with pytest.raises(OrderStatusUnknown):
        await client.create_order(_buy(client, 100, "lost-2"))
    assert (await client.order("@lost-2"))["state"] == "FILLED"


def test_cli_serves_on_loopback_until_terminated() -> None:
    """``genesis oanda-sandbox`` prints its URL as one JSON line and answers v20 requests."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "oanda-sandbox", "--port", "0", "--token", TOKEN,
         "--speed", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        request = urllib.request.Request(
            line["rest_url"] + "/v3/accounts", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body == {"accounts": [{"id": line["account_id"], "tags": []}]}
        assert line["control_url"].startswith("http://127.0.0.1:")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("method", "suffix", "data", "code"),
    [
        ("POST", "/orders", "{not json", "INVALID_JSON"),
        ("GET", "/orders?count=abc", None, None),
        ("GET", "/transactions/sinceid?id=-1", None, "INVALID_ID"),
        ("GET", "/pricing?instruments=EUR_USD", None, "INVALID_INSTRUMENTS"),
    ],
)
async def test_bad_requests_are_400_with_oanda_error_bodies(
    client: OandaClient,
    server: OandaSandboxServer,
    method: str,
    suffix: str,
    data: str | None,
    code: str | None,
) -> None:
    """Malformed input is a 400 {"errorMessage"[, "errorCode"]}; nothing changes."""
    url = f"{server.url}/v3/accounts/{client.account_id}{suffix}"
    async with client.session.request(method, url, data=data, headers=client.headers) as resp:
        body = await resp.json()
    assert resp.status == 400
    assert body.get("errorCode") == code
    assert body["errorMessage"]
    assert server.engine.account.transactions == []


async def test_control_port_arms_faults_and_moves_the_market(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """Over the control port: arm a hook, set a quote, read the stats; bad input is a 400."""
    base = server.control_url
    async with client.session.post(f"{base}/faults", json={"hook": "rest.force",
                                   "params": {"status": 503}}) as resp:  # fmt: skip
        assert resp.status == 200
    async with client.session.post(f"{base}/actions", json={"action": "quote",
                                   "bid": "1.60000", "ask": "1.60010"}) as resp:  # fmt: skip
        assert resp.status == 200
    (price,) = await client.pricing(["GBP_USD"])  # the first try draws the forced 503
    assert (price.bid, price.ask) == (D("1.60000"), D("1.60010"))
    async with client.session.post(f"{base}/actions", json={"action": "quote",
                                   "bid": "1.7", "ask": "1.6"}) as resp:  # fmt: skip
        assert resp.status == 400
        assert "below" in (await resp.json())["error"]
    async with client.session.get(f"{base}/stats") as resp:
        stats = await resp.json()
    assert stats["faults"] == {"rest.force": 1}
    assert stats["quote"]["bid"] == "1.60000"
