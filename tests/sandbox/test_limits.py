"""Fixed-window weight accounting, 429 + Retry-After, then the 418 ban (R12)."""

from __future__ import annotations

import aiohttp

from genesis.exchange.sandbox import SandboxServer

from .conftest import Client, FrozenClock, config


async def test_weight_headers_429_then_418() -> None:
    clock = FrozenClock(1_700_000_010_000)  # 30 s into a minute: 30 s until the window ends
    server = SandboxServer(config(clock=clock, weight_limit=47, ban_seconds=120))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            seen = []
            for path, params in (
                ("/api/v3/ping", {}),
                ("/api/v3/time", {}),
                ("/api/v3/depth", {"symbol": "NKNUSDT", "limit": "500"}),
            ):
                _, _, headers = await client.call("GET", path, signed=False, **params)
                seen.append((headers["X-MBX-USED-WEIGHT-1M"], headers["X-MBX-USED-WEIGHT"]))
            assert seen == [("1", "1"), ("2", "2"), ("27", "27")]  # 1 + 1 + 25
            _, _, headers = await client.call("GET", "/api/v3/account")
            assert headers["X-MBX-USED-WEIGHT-1M"] == str(server.limiter.used("127.0.0.1"))
            status, body, headers = await client.call("GET", "/api/v3/ping", signed=False)
            assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "30")
            assert headers["X-MBX-USED-WEIGHT-1M"] == "48"
            status, body, headers = await client.call("GET", "/api/v3/ping", signed=False)
            assert (status, headers["Retry-After"]) == (418, "120")
            assert body["msg"].startswith(
                f"Way too much request weight used; IP banned until {clock.ms + 120_000}."
            )
            clock.ms += 60_000  # next window, still banned
            assert (await client.call("GET", "/api/v3/ping", signed=False))[0] == 418
            clock.ms += 61_000  # ban over, fresh window
            status, _, headers = await client.call("GET", "/api/v3/ping", signed=False)
            assert (status, headers["X-MBX-USED-WEIGHT-1M"]) == (200, "1")
            assert dict(server.limiter.stats) == {"429": 1, "418": 2}
    finally:
        await server.stop()


async def test_order_count_limit_is_1015() -> None:
    server = SandboxServer(config(clock=FrozenClock(), order_limit_10s=2))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            params = {
                "symbol": "NKNUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "100",
                "price": "0.3000",
            }
            counts = []
            for _ in range(2):
                _, _, headers = await client.order(**params)
                counts.append((headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1D"]))
            assert counts == [("1", "1"), ("2", "2")]
            status, body, _ = await client.order(**params)
            assert (status, body) == (
                429,
                {
                    "code": -1015,
                    "msg": "Too many new orders; current limit is 2 orders per 10 SECOND.",
                },
            )
    finally:
        await server.stop()
