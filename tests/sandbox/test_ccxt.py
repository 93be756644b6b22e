"""An unmodified third-party client (ccxt's Binance) works against the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.exchange.sandbox import SandboxServer

from .conftest import KEY, SECRET, btc_book, config

ccxt = pytest.importorskip("ccxt.async_support")


async def test_ccxt_round_trip() -> None:
    server = SandboxServer(config(exchange_info=None))
    await server.start()
    btc_book(server)
    api = f"{server.rest_url}/api/v3"
    exchange = ccxt.binance(
        {
            "apiKey": KEY,
            "secret": SECRET,
            "enableRateLimit": False,
            "options": {
                "adjustForTimeDifference": False,
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
                "warnOnFetchOpenOrdersWithoutSymbol": False,
            },
        }
    )
    # every endpoint ccxt knows points at loopback; only /api/v3 is served
    for name in list(exchange.urls["api"]):
        exchange.urls["api"][name] = (
            api if name in ("public", "private") else f"{server.rest_url}/not-served/{name}"
        )
    try:
        assert await exchange.fetch_time() >= server.clock.now_ms() - 1000
        markets = await exchange.load_markets()
        assert markets["BTC/USDT"]["precision"]["price"] is not None
        book = await exchange.fetch_order_book("BTC/USDT", limit=100)
        assert book["bids"][0] == [40000.0, 1.0]
        assert book["asks"][0] == [40001.0, 0.5]
        balance = await exchange.fetch_balance()
        assert balance["USDT"]["free"] == 10000.0
        assert balance["BTC"]["total"] == 1.0
        order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 39000.0)
        assert order["status"] == "open"
        fetched = await exchange.fetch_order(order["id"], "BTC/USDT")
        assert fetched["clientOrderId"] == order["clientOrderId"]
        cancelled = await exchange.cancel_order(order["id"], "BTC/USDT")
        assert cancelled["status"] == "canceled"
        market = await exchange.create_order("BTC/USDT", "market", "buy", 0.02)
        assert market["status"] == "closed"
        trades = await exchange.fetch_my_trades("BTC/USDT")
        assert [(t["price"], t["amount"]) for t in trades] == [(40001.0, 0.02)]
        ledger = server.ledger()
        assert ledger["balances"]["BTC"]["free"] == "1.02000000"
        assert Decimal(ledger["balances"]["USDT"]["free"]) == Decimal("10000") - Decimal("800.02")
        paths = {r.path for r in server.requests.records}
        assert paths <= {
            "/api/v3/time",
            "/api/v3/exchangeInfo",
            "/api/v3/depth",
            "/api/v3/account",
            "/api/v3/order",
            "/api/v3/myTrades",
        }, paths
    finally:
        await exchange.close()
        await server.stop()
