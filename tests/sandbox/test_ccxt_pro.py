"""An unmodified ccxt.pro binance against the sandbox's market streams and WS API user stream.

ccxt 4.5 subscribes spot user data with the WS API's
``userDataStream.subscribe.signature`` (no listenKey), and keeps its book from
``<symbol>@depth@100ms`` diffs over a REST snapshot: both served as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from genesis.exchange.sandbox import SandboxServer

from .conftest import KEY, SECRET, btc_book

ccxtpro = pytest.importorskip("ccxt.pro")


def pro_binance(server: SandboxServer) -> Any:
    exchange = ccxtpro.binance(
        {
            "apiKey": KEY,
            "secret": SECRET,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    api, dead = f"{server.rest_url}/api/v3", f"{server.ws_url}/not-served"
    ws = dict.fromkeys(exchange.urls["api"]["ws"], dead)
    ws.update(spot=f"{server.ws_url}/ws")
    ws["ws-api"] = {"spot": server.ws_api_url, "linear": dead, "inverse": dead}
    exchange.urls["api"] = {**exchange.urls["api"], "public": api, "private": api, "ws": ws}
    return exchange


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (checked every 10 ms); fails the test after ``within`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_watch_order_book_equals_the_sandbox_book_at_its_nonce(server):
    """ccxt's streamed book after a published diff is the sandbox's book at that update id."""
    btc_book(server)
    server.flush()
    exchange = pro_binance(server)
    try:
        book = await asyncio.wait_for(exchange.watch_order_book("BTC/USDT"), 5)
        server.set_book(
            "BTCUSDT",
            bids=[(Decimal("40000.50"), Decimal("3"))],
            asks=[(Decimal("40001.00"), Decimal("0.25")), (Decimal("40003.00"), Decimal("4"))],
        )
        server.flush()
        snap = server.engine.market.snapshot("BTCUSDT", 100)
        while book["nonce"] < snap["lastUpdateId"]:
            book = await asyncio.wait_for(exchange.watch_order_book("BTC/USDT"), 5)
    finally:
        await exchange.close()
    assert book["nonce"] == snap["lastUpdateId"]
    assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book["bids"]] == [
        [Decimal(p), Decimal(q)] for p, q in snap["bids"]
    ]
    assert [[Decimal(str(p)), Decimal(str(q))] for p, q in book["asks"]] == [
        [Decimal(p), Decimal(q)] for p, q in snap["asks"]
    ]


async def test_watch_my_trades_over_the_ws_api_signature_subscription(server):
    """watch_my_trades subscribes through the WS API (no listenKey) and gets the ledger's trade."""
    btc_book(server)
    exchange = pro_binance(server)
    try:
        watching = asyncio.ensure_future(exchange.watch_my_trades("BTC/USDT"))
        await until(lambda: any(s.subscription is not None for s in server.users.sessions))
        order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
        [trade] = await asyncio.wait_for(watching, 5)
    finally:
        await exchange.close()
    [ledger] = server.ledger()["trades"]
    assert (trade["id"], trade["order"]) == (str(ledger["id"]), order["id"])
    assert (Decimal(str(trade["amount"])), Decimal(str(trade["price"]))) == (
        Decimal(ledger["qty"]),
        Decimal(ledger["price"]),
    )
    assert server.handlers.listen_keys == {}
