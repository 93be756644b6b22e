"""REST client on loopback: headers, 429/Retry-After, 418, timeouts, truncated bodies, clock, P11."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
import structlog
from aiohttp import web

from genesis.errors import ConfigError, OrderStatusUnknown, RateLimited, VenueUnavailable
from genesis.exchange.binance.clock import ClockSample, ServerClock
from genesis.exchange.binance.errors import AuthError, IpBanned
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Credentials

CANARY_KEY = "CANARYKEYvmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7J"
CANARY_SECRET = "CANARYSECRETNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvq"


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client(url: str, **kw: Any) -> BinanceRest:
    return BinanceRest(
        url, Credentials(CANARY_KEY, CANARY_SECRET), timeout_s=kw.pop("timeout_s", 2.0), **kw
    )


async def test_weight_and_order_counts_come_from_headers(loopback: Any) -> None:
    """X-MBX-USED-WEIGHT-1M and the order-count headers replace the local estimate."""

    async def order(_r: web.Request) -> web.Response:
        return web.json_response(
            {"orderId": 1},
            headers={
                "X-MBX-USED-WEIGHT-1M": "37",
                "X-MBX-ORDER-COUNT-10S": "3",
                "X-MBX-ORDER-COUNT-1D": "12",
            },
        )

    loopback.route("POST", "/api/v3/order", order)
    rest = client(await loopback.start())
    await rest.place_order([("symbol", "BTCUSDT")], 1)
    stats = rest.limiter.statistics(0.0)
    await rest.close()
    assert (stats.used_weight, stats.order_count_10s, stats.order_count_1d) == (37, 3, 12)


async def test_nothing_is_sent_before_retry_after(loopback: Any) -> None:
    """After a 429 with Retry-After: 30 the next request raises locally; after 30 s it is sent."""

    async def limited(_r: web.Request) -> web.Response:
        return web.json_response(
            {"code": -1003, "msg": "Too many requests"}, status=429, headers={"Retry-After": "30"}
        )

    loopback.route("GET", "/api/v3/depth", limited)
    clock = FakeTime()
    rest = client(await loopback.start(), monotonic=clock)
    with pytest.raises(RateLimited) as first:
        await rest.depth("BTCUSDT", 100)
    clock.now += 29.9
    with pytest.raises(RateLimited) as second:
        await rest.depth("BTCUSDT", 100)
    sent_while_blocked = loopback.count("/api/v3/depth")
    clock.now += 0.2
    with pytest.raises(RateLimited):
        await rest.depth("BTCUSDT", 100)
    await rest.close()
    assert first.value.retry_after_s == 30
    assert second.value.retry_after_s == pytest.approx(0.1)
    assert sent_while_blocked == 1
    assert loopback.count("/api/v3/depth") == 2


async def test_418_is_a_ban(loopback: Any) -> None:
    """A 418 raises IpBanned and blocks every later request for Retry-After seconds."""

    async def banned(_r: web.Request) -> web.Response:
        return web.json_response(
            {"code": -1003, "msg": "IP banned until 9"}, status=418, headers={"Retry-After": "120"}
        )

    loopback.route("GET", "/api/v3/account", banned)
    rest = client(await loopback.start(), monotonic=FakeTime())
    with pytest.raises(IpBanned):
        await rest.account()
    with pytest.raises(IpBanned):
        await rest.account()
    await rest.close()
    assert loopback.count("/api/v3/account") == 1
    assert rest.limiter.statistics(1000.0).http_418 == 1


async def test_timeout_on_order_is_unknown_outcome(loopback: Any) -> None:
    """An order request that times out is OrderStatusUnknown, never a rejection."""

    async def hang(_r: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    loopback.route("POST", "/api/v3/order", hang)
    rest = client(await loopback.start(), timeout_s=0.2)
    with pytest.raises(OrderStatusUnknown):
        await rest.place_order([("symbol", "BTCUSDT")], 1)
    await rest.close()


@pytest.mark.parametrize(("status", "body"), [(200, b'{"orderId": 12, "sta'), (503, b"")])
async def test_truncated_or_5xx_order_answer_is_unknown(
    loopback: Any, status: int, body: bytes
) -> None:
    """A truncated success body or a 503 leaves the order's outcome unknown."""

    async def answer(_r: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    loopback.route("POST", "/api/v3/order", answer)
    rest = client(await loopback.start())
    with pytest.raises(OrderStatusUnknown):
        await rest.place_order([("symbol", "BTCUSDT")], 1)
    await rest.close()


async def test_5xx_on_read_is_unavailable(loopback: Any) -> None:
    """A 502 on a read raises VenueUnavailable (retry later)."""

    async def bad(_r: web.Request) -> web.Response:
        return web.Response(status=502)

    loopback.route("GET", "/api/v3/exchangeInfo", bad)
    rest = client(await loopback.start())
    with pytest.raises(VenueUnavailable):
        await rest.exchange_info()
    await rest.close()


async def test_signed_request_carries_recv_window_timestamp_and_valid_signature(
    loopback: Any,
) -> None:
    """The server can verify the signature over the query as sent; signature is last."""
    seen: dict[str, str] = {}

    async def order(request: web.Request) -> web.Response:
        seen["qs"] = request.query_string
        seen["key"] = request.headers["X-MBX-APIKEY"]
        return web.json_response({})

    loopback.route("POST", "/api/v3/order", order)
    rest = client(await loopback.start())
    await rest.place_order([("symbol", "BTCUSDT"), ("price", "0.00000001")], 1700000000000)
    await rest.close()
    payload, _, signature = seen["qs"].rpartition("&signature=")
    assert payload.endswith("recvWindow=5000&timestamp=1700000000000")
    assert "price=0.00000001" in payload
    assert signature == Credentials(CANARY_KEY, CANARY_SECRET).sign(payload)
    assert seen["key"] == CANARY_KEY


def test_recv_window_above_5000_is_refused() -> None:
    """recvWindow for orders may not exceed 5,000 ms (P9)."""
    with pytest.raises(ConfigError):
        BinanceRest("http://127.0.0.1:1", recv_window_ms=6000)


async def test_clock_offset_from_three_samples_at_round_trip_midpoint(loopback: Any) -> None:
    """Three /api/v3/time samples; an exchange clock 1.5 s ahead gives offset ~ +1500 ms, DEGRADED."""
    local = [1_000_000_000_000_000_000]

    def wall_ns() -> int:
        local[0] += 10_000_000  # every read advances 10 ms: each round trip is 10 ms
        return local[0]

    async def server_time(_r: web.Request) -> web.Response:
        return web.json_response(
            {"serverTime": local[0] // 1_000_000 + 1500 + 5}
        )  # read at the midpoint

    loopback.route("GET", "/api/v3/time", server_time)
    clock = ServerClock(wall_ns)
    rest = client(await loopback.start(), clock=clock)
    offset = await rest.sync_clock()
    await rest.close()
    assert loopback.count("/api/v3/time") == 3
    assert offset == pytest.approx(1500, abs=1)
    assert clock.degraded


def test_clock_keeps_the_shortest_round_trip() -> None:
    """Of several samples the one with the smallest RTT sets the offset; < 3 samples refused."""
    clock = ServerClock(lambda: 0)
    ms = 1_000_000
    samples = [
        ClockSample(0, 120, 200 * ms),
        ClockSample(1000 * ms, 1010, 1010 * ms),
        ClockSample(2000 * ms, 2300, 2400 * ms),
    ]
    assert clock.update(samples) == pytest.approx(5.0)
    assert clock.uncertainty_ms == pytest.approx(5.0)
    assert not clock.degraded
    with pytest.raises(ValueError, match=">= 3 samples"):
        clock.update(samples[:2])


async def test_canaries_never_leak_into_errors_or_logs(loopback: Any) -> None:
    """Key, secret, signature and signed query are absent from exception text and logs (P11)."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "code": -1022,
                "msg": "Signature for this request is not valid: " + request.query_string,
            },
            status=400,
        )

    loopback.route("POST", "/api/v3/order", refuse)
    url = await loopback.start()
    out = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=out),
    )
    rest = client(url)
    texts = [repr(rest), repr(rest._credentials)]
    with pytest.raises(AuthError) as auth:
        await rest.place_order([("symbol", "BTCUSDT")], 1)
    texts += [str(auth.value), repr(auth.value)]
    dead = client("http://127.0.0.1:1")  # connection refused: aiohttp puts the URL in its text
    with pytest.raises(OrderStatusUnknown) as transport:
        await dead.place_order([("symbol", "BTCUSDT")], 1)
    texts += [str(transport.value), repr(transport.value), out.getvalue()]
    await rest.close()
    await dead.close()
    structlog.reset_defaults()
    signature = loopback.requests[0].query["signature"]
    blob = "\n".join(texts)
    for canary in (CANARY_KEY, CANARY_SECRET, signature, "signature=", "timestamp="):
        assert canary not in blob
