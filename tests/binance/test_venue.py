"""BinanceVenue order path on loopback: round trip, local refusals, unknown outcome, -1021, auth."""

from __future__ import annotations

import asyncio
import gzip
import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from genesis.core.commands import CancelOrder, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
)
from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig
from genesis.exchange.live import LiveVenue
from genesis.resources import EXCHANGE_INFO

KEY, SECRET = "CANARYKEY0123456789", "CANARYSECRET0123456789"
with gzip.open(EXCHANGE_INFO, "rt", encoding="utf-8") as _fh:
    _ALL = json.load(_fh)
INFO = {"symbols": [s for s in _ALL["symbols"] if s["symbol"] in ("BTCUSDT", "BCCUSDT")]}
T0_NS = 1_700_000_000_000_000_000


class Wall:
    """Local wall clock (ns) advancing ``step_ms`` on every read: time passes per request."""

    def __init__(self, step_ms: int = 0) -> None:
        self.now = T0_NS
        self.step = step_ms * 1_000_000

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def order(cid: str = "s1-1-1", **over: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "ts_init": 0,
        "strategy_id": "s1",
        "instrument_id": "BTCUSDT",
        "client_order_id": cid,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": Decimal("0.001"),
        "price": Decimal("40000.123"),
    }
    fields.update(over)
    return SubmitOrder(**fields)


def full_answer(request: web.Request, status: str = "FILLED") -> dict[str, Any]:
    q = request.query
    return {
        "symbol": q["symbol"],
        "orderId": 77,
        "orderListId": -1,
        "clientOrderId": q["newClientOrderId"],
        "transactTime": 1700000000001,
        "price": q.get("price", "0"),
        "origQty": q["quantity"],
        "executedQty": q["quantity"],
        "cummulativeQuoteQty": "40",
        "status": status,
        "timeInForce": "GTC",
        "type": q["type"],
        "side": q["side"],
        "fills": [
            {
                "price": "40000.12000000",
                "qty": q["quantity"],
                "commission": "0.00000100",
                "commissionAsset": "BTC",
                "tradeId": 9001,
            }
        ],
    }


async def make_venue(
    loopback: Any, wall: Wall | None = None, **cfg: Any
) -> tuple[BinanceVenue, list[Any]]:
    async def server_time(_r: web.Request) -> web.Response:
        return web.json_response({"serverTime": (wall or Wall()).now // 1_000_000})

    loopback.route("GET", "/api/v3/time", server_time)
    url = await loopback.start()
    rest = BinanceRest(
        url, Credentials(KEY, SECRET), timeout_s=2, clock=ServerClock(wall or Wall())
    )
    config = VenueConfig(query_backoff_s=(0.0,), skew_margin_ms=1000, **cfg)
    venue = BinanceVenue(rest, exchange_info=INFO, config=config)
    events: list[Any] = []
    await venue.start(events.append)
    return venue, events


async def settle(venue: BinanceVenue) -> None:
    for _ in range(200):
        if not venue._tasks:
            return
        await asyncio.sleep(0.01)


def posts(loopback: Any) -> list[web.Request]:
    return [r for r in loopback.requests if r.method == "POST" and r.path == "/api/v3/order"]


async def test_venue_satisfies_live_venue_protocol(loopback: Any) -> None:
    """BinanceVenue is a LiveVenue (runtime protocol check)."""
    venue, _ = await make_venue(loopback)
    assert isinstance(venue, LiveVenue)
    await venue.rest.close()


async def test_round_trip_full_answer_gives_accepted_then_one_fill(loopback: Any) -> None:
    """A FULL answer yields OrderAccepted(77) and one taker OrderFilled with fee in BTC; price quantized."""

    async def place(request: web.Request) -> web.Response:
        return web.json_response(full_answer(request))

    loopback.route("POST", "/api/v3/order", place)
    venue, events = await make_venue(loopback)
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert events[0].venue_order_id == "77"
    fill = events[1]
    assert (
        fill.venue,
        fill.trade_id,
        fill.last_qty,
        fill.fee,
        fill.fee_currency,
        fill.liquidity,
    ) == ("BINANCE", "9001", Decimal("0.00100"), Decimal("0.00000100"), "BTC", LiquiditySide.TAKER)
    assert posts(loopback)[0].query["price"] == "40000.12"
    assert posts(loopback)[0].query["quantity"] == "0.00100"


async def test_duplicate_intent_is_refused_before_the_wire(loopback: Any) -> None:
    """The same client id twice: one POST; the second is counted and produces no event (R5)."""

    async def place(request: web.Request) -> web.Response:
        return web.json_response(full_answer(request, "NEW") | {"fills": [], "executedQty": "0"})

    loopback.route("POST", "/api/v3/order", place)
    venue, events = await make_venue(loopback)
    venue.execute(order(), 0)
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    assert len(posts(loopback)) == 1
    assert venue.duplicates_refused == 1
    assert [type(e) for e in events] == [OrderAccepted]


async def test_local_refusals_never_reach_the_wire(loopback: Any) -> None:
    """Non-TRADING symbol, bad client id and a quantity below the step are refused locally (R22)."""
    venue, events = await make_venue(loopback)
    venue.execute(order("a-1", instrument_id="BCCUSDT"), 0)
    venue.execute(order("bad id with spaces"), 0)
    venue.execute(order("a-2", quantity=Decimal("0.000001")), 0)
    venue.execute(order("x" * 37), 0)
    await settle(venue)
    await venue.rest.close()
    assert posts(loopback) == []
    assert [type(e) for e in events] == [OrderRejected] * 4
    assert all(e.code == "LOCAL" and e.reason.startswith("INVALID_ORDER: ") for e in events)
    assert "TRADING" in events[0].reason


async def test_definitive_reject_carries_code_reason_and_sentence(loopback: Any) -> None:
    """-2010 insufficient balance -> OrderRejected(code -2010, machine reason + sentence), no retry."""

    async def place(_r: web.Request) -> web.Response:
        return web.json_response(
            {"code": -2010, "msg": "Account has insufficient balance for requested action."},
            status=400,
        )

    loopback.route("POST", "/api/v3/order", place)
    venue, events = await make_venue(loopback)
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    assert len(posts(loopback)) == 1
    assert events[0].code == "-2010"
    assert events[0].reason == (
        "INSUFFICIENT_BALANCE: Account has insufficient balance for requested action."
    )


async def test_auth_error_rejects_and_reports_for_halt(loopback: Any) -> None:
    """-2015 rejects the order and calls on_auth_error once (the daemon halts)."""

    async def place(_r: web.Request) -> web.Response:
        return web.json_response(
            {"code": -2015, "msg": "Invalid API-key, IP, or permissions."}, status=401
        )

    loopback.route("POST", "/api/v3/order", place)
    venue, events = await make_venue(loopback)
    halts: list[Any] = []
    venue._on_auth_error = halts.append
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    assert events[0].code == "-2015"
    assert len(halts) == 1


async def test_minus_1021_is_resigned_with_the_same_client_id(loopback: Any) -> None:
    """-1021: clock resynced, the order re-signed and sent again with the same client id (R13)."""
    answers = [
        web.json_response({"code": -1021, "msg": "Timestamp outside recvWindow"}, status=400)
    ]

    async def place(request: web.Request) -> web.Response:
        return answers.pop() if answers else web.json_response(full_answer(request))

    loopback.route("POST", "/api/v3/order", place)
    venue, events = await make_venue(loopback)
    time_calls = loopback.count("/api/v3/time")
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    sent = posts(loopback)
    assert [r.query["newClientOrderId"] for r in sent] == ["s1-1-1", "s1-1-1"]
    assert loopback.count("/api/v3/time") == time_calls + 3
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]


async def test_unknown_outcome_is_resolved_by_query_not_resent(loopback: Any) -> None:
    """503 after acceptance: -2013 twice, then found FILLED; fills fetched; 0 resends (P2, P3)."""

    async def place(_r: web.Request) -> web.Response:
        return web.Response(status=503)

    queries: list[int] = []

    async def query(request: web.Request) -> web.Response:
        queries.append(1)
        if len(queries) <= 2:
            return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)
        return web.json_response(
            {
                "symbol": "BTCUSDT",
                "orderId": 5,
                "clientOrderId": "s1-1-1",
                "executedQty": "0.00100",
                "status": "FILLED",
                "updateTime": 1,
            }
        )

    async def trades(_r: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "symbol": "BTCUSDT",
                    "id": 42,
                    "orderId": 5,
                    "price": "40000",
                    "qty": "0.00100",
                    "commission": "0.04",
                    "commissionAsset": "USDT",
                    "time": 2,
                    "isBuyer": True,
                    "isMaker": True,
                }
            ]
        )

    loopback.route("POST", "/api/v3/order", place)
    loopback.route("GET", "/api/v3/order", query)
    loopback.route("GET", "/api/v3/myTrades", trades)
    venue, events = await make_venue(loopback)
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    assert len(posts(loopback)) == 1
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert events[1].liquidity is LiquiditySide.MAKER
    assert events[1].trade_id == "42"


async def test_absence_is_proven_only_after_the_recv_window_deadline(loopback: Any) -> None:
    """Always -2013: resent once with the same id, and only after a query sent past t+w+margin."""
    wall = Wall(step_ms=700)

    async def place(request: web.Request) -> web.Response:
        return (
            web.Response(status=503)
            if len(posts(loopback)) == 1
            else web.json_response(full_answer(request, "NEW") | {"fills": [], "executedQty": "0"})
        )

    async def query(_r: web.Request) -> web.Response:
        return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)

    loopback.route("POST", "/api/v3/order", place)
    loopback.route("GET", "/api/v3/order", query)
    venue, events = await make_venue(loopback, wall)
    venue.execute(order(), 0)
    await settle(venue)
    await venue.rest.close()
    first, second = posts(loopback)
    t = int(first.query["timestamp"])
    deadline = t + 5000 + 1000
    between = [r for r in loopback.requests if r.method == "GET" and r.path == "/api/v3/order"]
    assert second.query["newClientOrderId"] == first.query["newClientOrderId"]
    assert int(between[-1].query["timestamp"]) > deadline
    assert any(int(r.query["timestamp"]) <= deadline for r in between)  # early -2013s: no resend
    assert loopback.requests.index(second) > loopback.requests.index(between[-1])
    assert venue.resends == 1
    assert [type(e) for e in events] == [OrderAccepted]


async def test_cancel_rejected_is_checked_by_query(loopback: Any) -> None:
    """-2011 on cancel of a just-filled order: the query shows FILLED; no OrderCanceled, a reject."""

    async def place(request: web.Request) -> web.Response:
        return web.json_response(full_answer(request, "NEW") | {"fills": [], "executedQty": "0"})

    async def cancel(_r: web.Request) -> web.Response:
        return web.json_response({"code": -2011, "msg": "Unknown order sent."}, status=400)

    async def query(_r: web.Request) -> web.Response:
        return web.json_response(
            {
                "symbol": "BTCUSDT",
                "orderId": 77,
                "clientOrderId": "s1-1-1",
                "executedQty": "0.00000",
                "status": "NEW",
            }
        )

    loopback.route("POST", "/api/v3/order", place)
    loopback.route("DELETE", "/api/v3/order", cancel)
    loopback.route("GET", "/api/v3/order", query)
    venue, events = await make_venue(loopback)
    venue.execute(order(), 0)
    await settle(venue)
    venue.execute(
        CancelOrder(ts_init=0, strategy_id="s1", instrument_id="BTCUSDT", client_order_id="s1-1-1"),
        0,
    )
    await settle(venue)
    await venue.rest.close()
    assert [type(e) for e in events] == [OrderAccepted, OrderCancelRejected]
    assert OrderCanceled not in [type(e) for e in events]
