"""Order placement, §8.3 errors (R4), lifecycles and balances against a set book."""

from __future__ import annotations

from typing import Any

import pytest

from genesis.exchange.sandbox import SandboxServer

from .conftest import Client, D, btc_book, drain, reports, user_stream

LIMIT = {
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


def _with(**kw: Any) -> dict[str, Any]:
    out = {**LIMIT, **kw}
    return {k: v for k, v in out.items() if v is not None}


# R4: every definitive rejection with its exact code and message
CASES = [
    (
        "insufficient",
        _with(quantity="1", price="39000.00"),
        -2010,
        "Account has insufficient balance for requested action.",
    ),
    (
        "maker-takes",
        _with(type="LIMIT_MAKER", timeInForce=None, price="40001.00"),
        -2010,
        "Order would immediately match and take.",
    ),
    (
        "trigger-now",
        _with(type="STOP_LOSS_LIMIT", stopPrice="41000.00", side="SELL"),
        -2010,
        "Order would trigger immediately.",
    ),
    ("price-filter", _with(price="39000.005"), -1013, "Filter failure: PRICE_FILTER"),
    ("lot-size", _with(quantity="0.000001"), -1013, "Filter failure: LOT_SIZE"),
    ("min-notional", _with(quantity="0.0002"), -1013, "Filter failure: MIN_NOTIONAL"),
    (
        "market-lot",
        {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "101"},
        -1013,
        "Filter failure: MARKET_LOT_SIZE",
    ),
    (
        "precision",
        _with(quantity="0.000000001"),
        -1111,
        "Precision is over the maximum defined for this asset.",
    ),
    ("bad-symbol", _with(symbol="NOPEUSDT"), -1121, "Invalid symbol."),
    (
        "missing",
        _with(price=None),
        -1102,
        "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
    ),
    (
        "unknown-param",
        _with(foo="1"),
        -1104,
        "Not all sent parameters were read; read 8 parameter(s) but was sent 9.",
    ),
    ("bad-tif", _with(timeInForce="GTX"), -1115, "Invalid timeInForce."),
    ("bad-type", _with(type="LIMITX"), -1116, "Invalid orderType."),
    ("bad-side", _with(side="HOLD"), -1117, "Invalid side."),
    (
        "not-required",
        _with(type="MARKET", price=None, timeInForce="GTC"),
        -1106,
        "Parameter 'timeInForce' sent when not required.",
    ),
    ("closed", _with(symbol="BCCBTC", price="0.01000000"), -2010, "Market is closed."),
    (
        "type-not-allowed",
        _with(type="STOP_LOSS", timeInForce=None, price=None, stopPrice="41000.00"),
        -2010,
        "Stop loss orders are not supported for this symbol.",
    ),
    (
        "exponent",
        _with(quantity="1E-2"),
        -1100,
        "Illegal characters found in parameter 'quantity'; legal range is "
        "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    ),
]


@pytest.mark.parametrize(("name", "params", "code", "msg"), CASES, ids=[c[0] for c in CASES])
async def test_rejection(
    book: SandboxServer, client: Client, name: str, params: dict[str, Any], code: int, msg: str
) -> None:
    status, body, _ = await client.order(**params)
    assert (status, body) == (400, {"code": code, "msg": msg})
    assert book.ledger()["orders"] == {}  # a rejected request changes nothing


async def test_max_num_orders_filter(book: SandboxServer, client: Client) -> None:
    spec = book.info.symbols["BTCUSDT"]
    next(f for f in spec.raw["filters"] if f["filterType"] == "MAX_NUM_ORDERS")["maxNumOrders"] = 2
    spec.__post_init__()
    for i in range(2):
        assert (await client.order(**_with(newClientOrderId=f"m{i}")))[0] == 200
    _, body, _ = await client.order(**_with(newClientOrderId="m2"))
    assert body == {"code": -1013, "msg": "Filter failure: MAX_NUM_ORDERS"}


async def test_notional_filter(book: SandboxServer, client: Client) -> None:
    spec = book.info.symbols["BTCUSDT"]
    spec.raw["filters"] = [f for f in spec.raw["filters"] if f["filterType"] != "MIN_NOTIONAL"]
    spec.raw["filters"].append(
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "1000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    )
    spec.__post_init__()
    assert (await client.order(**_with(quantity="0.0001")))[1] == {
        "code": -1013,
        "msg": "Filter failure: NOTIONAL",
    }
    assert (await client.order(**_with(quantity="0.03")))[1]["msg"] == "Filter failure: NOTIONAL"
    assert (await client.order(**_with(quantity="0.0002")))[0] == 200


async def test_duplicate_open_id_then_reuse_after_close(
    book: SandboxServer, client: Client
) -> None:
    assert (await client.order(**_with(newClientOrderId="dup-1")))[0] == 200
    _, body, _ = await client.order(**_with(newClientOrderId="dup-1"))
    assert body == {"code": -2010, "msg": "Duplicate order sent."}
    status, body, _ = await client.call(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="dup-1"
    )
    assert (status, body["status"], body["origClientOrderId"]) == (200, "CANCELED", "dup-1")
    status, body, _ = await client.order(**_with(newClientOrderId="dup-1"))
    assert (status, body["orderId"]) == (200, 2)
    ledger = book.ledger()
    assert ledger["accepted_posts"] == {"dup-1": 2}
    assert [o["status"] for o in ledger["orders"]["dup-1"]] == ["CANCELED", "NEW"]
    assert book.requests.count("POST", "/api/v3/order", "dup-1") == 3


async def test_cancel_unknown_is_2011_query_unknown_is_2013(
    book: SandboxServer, client: Client
) -> None:
    status, body, _ = await client.call("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=77)
    assert (status, body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    status, body, _ = await client.call(
        "GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="never"
    )
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})


async def test_limit_rests_then_fills_with_reports_and_balances(
    book: SandboxServer, client: Client
) -> None:
    ws = await user_stream(client.session, book)
    _, body, _ = await client.order(**_with(quantity="0.1", newClientOrderId="r1"))
    assert (body["status"], body["fills"]) == ("NEW", [])
    acct = {b["asset"]: b for b in (await client.call("GET", "/api/v3/account"))[1]["balances"]}
    assert acct["USDT"] == {"asset": "USDT", "free": "6100.00000000", "locked": "3900.00000000"}
    book.trade("BTCUSDT", D("38999.00"), D("0.04"))  # a public print through our price
    book.trade("BTCUSDT", D("38998.00"), D("0.06"))
    events = await drain(ws)
    assert reports(events) == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED")]
    trades = [e for e in events if e.get("x") == "TRADE"]
    # public prints take ids 1 and 3; our fills 2 and 4 (one per-symbol trade id space)
    assert [(t["l"], t["z"], t["L"], t["m"], t["t"]) for t in trades] == [
        ("0.04000000", "0.04000000", "39000.00000000", True, 2),
        ("0.06000000", "0.10000000", "39000.00000000", True, 4),
    ]
    assert trades[-1]["Z"] == "3900.00000000"
    assert trades[-1]["n"] == "0.00000000"
    acct = {b["asset"]: b for b in (await client.call("GET", "/api/v3/account"))[1]["balances"]}
    assert (acct["USDT"]["free"], acct["USDT"]["locked"]) == ("6100.00000000", "0.00000000")
    assert acct["BTC"]["free"] == "1.10000000"
    positions = [e for e in events if e.get("e") == "outboundAccountPosition"]
    assert positions[-1]["B"] == [
        {"a": "BTC", "f": "1.10000000", "l": "0.00000000"},
        {"a": "USDT", "f": "6100.00000000", "l": "0.00000000"},
    ]
    _, mine, _ = await client.call("GET", "/api/v3/myTrades", symbol="BTCUSDT", fromId=4)
    assert [(t["id"], t["qty"], t["isMaker"]) for t in mine] == [(4, "0.06000000", True)]
    await ws.close()


async def test_market_fill_walks_the_book(book: SandboxServer, client: Client) -> None:
    ws = await user_stream(client.session, book)
    _, body, _ = await client.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
    assert (body["status"], body["executedQty"], body["cummulativeQuoteQty"]) == (
        "FILLED",
        "0.10000000",
        "4000.10000000",
    )
    assert body["fills"] == [
        {
            "price": "40001.00000000",
            "qty": "0.10000000",
            "commission": "0.00000000",
            "commissionAsset": "USDT",
            "tradeId": 1,
        }
    ]
    assert reports(await drain(ws)) == [("NEW", "NEW"), ("TRADE", "FILLED")]
    _, acct, _ = await client.call("GET", "/api/v3/account")
    bal = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in acct["balances"]}
    assert bal == {"BTC": (D("1.1"), D(0)), "USDT": (D("5999.9"), D(0))}
    await ws.close()


async def test_ioc_partial_then_expired(book: SandboxServer, client: Client) -> None:
    book.set_book("BTCUSDT", bids=[(D("40000.00"), D("0.5"))], asks=[(D("40001.00"), D("1"))])
    ws = await user_stream(client.session, book)
    _, body, _ = await client.order(
        **_with(side="SELL", timeInForce="IOC", quantity="0.9", price="40000.00")
    )
    assert (body["status"], body["executedQty"], body["expiryReason"]) == (
        "EXPIRED",
        "0.50000000",
        "UNFILLED_IOC_QUANTITY_EXPIRED",
    )
    events = await drain(ws)
    assert reports(events) == [
        ("NEW", "NEW"),
        ("TRADE", "PARTIALLY_FILLED"),
        ("EXPIRED", "EXPIRED"),
    ]
    _, acct, _ = await client.call("GET", "/api/v3/account")
    assert {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]} == {
        "BTC": ("0.50000000", "0.00000000"),
        "USDT": ("30000.00000000", "0.00000000"),
    }
    await ws.close()


async def test_fok_unfillable_expires_without_trades(book: SandboxServer, client: Client) -> None:
    book.set_book("BTCUSDT", bids=[(D("40000.00"), D("0.5"))], asks=[(D("40001.00"), D("1"))])
    ws = await user_stream(client.session, book)
    _, body, _ = await client.order(
        **_with(side="SELL", timeInForce="FOK", quantity="0.9", price="40000.00")
    )
    assert (body["status"], body["executedQty"], body["fills"]) == ("EXPIRED", "0.00000000", [])
    assert body["expiryReason"] == "UNFILLED_FOK_ORDER_EXPIRED"
    assert reports(await drain(ws)) == [("NEW", "NEW"), ("EXPIRED", "EXPIRED")]
    _, acct, _ = await client.call("GET", "/api/v3/account")
    assert {b["asset"]: b["locked"] for b in acct["balances"]} == {
        "BTC": "0.00000000",
        "USDT": "0.00000000",
    }
    await ws.close()


async def test_cancel_report_carries_cancel_id_and_original(
    book: SandboxServer, client: Client
) -> None:
    ws = await user_stream(client.session, book)
    await client.order(**_with(newClientOrderId="orig-1"))
    _, body, _ = await client.call(
        "DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=1, newClientOrderId="cxl-1"
    )
    assert (body["clientOrderId"], body["origClientOrderId"]) == ("cxl-1", "orig-1")
    cancel = [e for e in await drain(ws) if e.get("x") == "CANCELED"]
    assert [(e["c"], e["C"], e["X"]) for e in cancel] == [("cxl-1", "orig-1", "CANCELED")]
    await ws.close()


async def test_oco_leg_fill_expires_the_other(book: SandboxServer, client: Client) -> None:
    ws = await user_stream(client.session, book)
    status, body, _ = await client.call(
        "POST",
        "/api/v3/orderList/oco",
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.5",
        aboveType="LIMIT_MAKER",
        abovePrice="41000.00",
        aboveClientOrderId="tp",
        belowType="STOP_LOSS_LIMIT",
        belowPrice="38000.00",
        belowStopPrice="38500.00",
        belowTimeInForce="GTC",
        belowClientOrderId="sl",
        listClientOrderId="L1",
    )
    assert status == 200, body
    assert (body["contingencyType"], body["listOrderStatus"]) == ("OCO", "EXECUTING")
    assert [o["clientOrderId"] for o in body["orders"]] == ["sl", "tp"]
    _, acct, _ = await client.call("GET", "/api/v3/account")
    assert {b["asset"]: b["locked"] for b in acct["balances"]}["BTC"] == "0.50000000"
    book.trade("BTCUSDT", D("41000.00"), D("0.5"))
    events = await drain(ws)
    assert [(e["c"], e["x"], e["X"]) for e in events if e.get("e") == "executionReport"] == [
        ("sl", "NEW", "NEW"),
        ("tp", "NEW", "NEW"),
        ("tp", "TRADE", "FILLED"),
        ("sl", "EXPIRED", "EXPIRED"),
    ]
    lists = [e for e in events if e.get("e") == "listStatus"]
    assert [(e["l"], e["L"]) for e in lists] == [
        ("EXEC_STARTED", "EXECUTING"),
        ("ALL_DONE", "ALL_DONE"),
    ]
    expired = [e for e in events if e.get("x") == "EXPIRED"]
    assert expired[0]["eR"] == "OCO_TRIGGER"
    _, acct, _ = await client.call("GET", "/api/v3/account")
    bal = {b["asset"]: (b["free"], b["locked"]) for b in acct["balances"]}
    assert bal == {"BTC": ("0.50000000", "0.00000000"), "USDT": ("30500.00000000", "0.00000000")}
    await ws.close()


async def test_oco_bad_price_relationship(book: SandboxServer, client: Client) -> None:
    _, body, _ = await client.call(
        "POST",
        "/api/v3/orderList/oco",
        symbol="BTCUSDT",
        side="SELL",
        quantity="0.5",
        aboveType="LIMIT_MAKER",
        abovePrice="39000.00",
        belowType="STOP_LOSS_LIMIT",
        belowPrice="38000.00",
        belowStopPrice="38500.00",
        belowTimeInForce="GTC",
    )
    assert body == {
        "code": -2010,
        "msg": "The relationship of the prices for the orders is not correct.",
    }


async def test_take_profit_sell_triggers_upward(book: SandboxServer, client: Client) -> None:
    _, body, _ = await client.order(
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT_LIMIT",
        timeInForce="GTC",
        quantity="0.2",
        price="40000.00",
        stopPrice="40500.00",
        newClientOrderId="tp1",
    )
    assert body == {
        "symbol": "BTCUSDT",
        "orderId": 1,
        "orderListId": -1,
        "clientOrderId": "tp1",
        "transactTime": body["transactTime"],
    }
    _, q, _ = await client.call("GET", "/api/v3/order", symbol="BTCUSDT", orderId=1)
    assert (q["isWorking"], q["workingTime"]) == (False, -1)
    book.trade("BTCUSDT", D("40500.00"), D("0.01"))
    _, q, _ = await client.call("GET", "/api/v3/order", symbol="BTCUSDT", orderId=1)
    assert (q["status"], q["executedQty"]) == ("FILLED", "0.20000000")  # took the 40000 bid


async def test_open_orders_cancel_all_and_all_orders(book: SandboxServer, client: Client) -> None:
    for i in range(3):
        await client.order(**_with(newClientOrderId=f"o{i}"))
    _, opened, _ = await client.call("GET", "/api/v3/openOrders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in opened] == ["o0", "o1", "o2"]
    _, cancelled, _ = await client.call("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
    assert [c["status"] for c in cancelled] == ["CANCELED"] * 3
    _, every, _ = await client.call("GET", "/api/v3/allOrders", symbol="BTCUSDT", orderId=2)
    assert [o["orderId"] for o in every] == [2, 3]
    _, limits, _ = await client.call("GET", "/api/v3/rateLimit/order")
    assert limits[0] == {
        "rateLimitType": "ORDERS",
        "interval": "SECOND",
        "intervalNum": 10,
        "limit": 50,
        "count": 3,
    }


async def test_order_test_validates_without_placing(book: SandboxServer, client: Client) -> None:
    assert (await client.call("POST", "/api/v3/order/test", **LIMIT))[1] == {}
    assert (await client.call("POST", "/api/v3/order/test", **_with(quantity="5")))[1][
        "code"
    ] == -2010
    assert book.ledger()["orders"] == {}
