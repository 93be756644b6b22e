"""User data over the WS API on loopback (P4, P6, R6-R8) and the tracker's event rules."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderFilled
from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.parse import parse_execution_report
from genesis.exchange.binance.signing import Credentials, ws_payload
from genesis.exchange.binance.tracker import OrderTracker
from genesis.exchange.binance.userstream import BinanceUserStream, UserStreamConfig

KEY, SECRET = "CANARYKEY0123456789", "CANARYSECRET0123456789"


def cmd(cid: str = "s1-1-1", qty: str = "2") -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id="s1",
        instrument_id="BTCUSDT",
        client_order_id=cid,
        side=Side.SELL,
        order_type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal("100"),
    )


def report(
    x: str, status: str, t: int = -1, qty: str = "0", cum: str = "0", **over: Any
) -> dict[str, Any]:
    data = {
        "e": "executionReport",
        "E": 1700000000000,
        "s": "BTCUSDT",
        "c": "s1-1-1",
        "S": "SELL",
        "o": "LIMIT",
        "f": "GTC",
        "q": "2",
        "p": "100",
        "x": x,
        "X": status,
        "r": "NONE",
        "i": 7,
        "l": qty,
        "z": cum,
        "L": "100.00000000",
        "n": "0.1",
        "N": "USDT",
        "t": t,
        "m": True,
        "C": "",
    }
    data.update(over)
    return data


def test_cancel_fill_race_and_duplicates() -> None:
    """NEW, CANCELED, then a TRADE with a new id: the fill is still delivered; a replay adds nothing."""
    tracker = OrderTracker(lambda: 5)
    tracker.track(cmd())
    stream = [
        report("NEW", "NEW"),
        report("CANCELED", "CANCELED", c="cancel-1", C="s1-1-1"),
        report("TRADE", "FILLED", t=31, qty="2", cum="2"),
    ]
    events = [
        e for r in stream + stream for e in tracker.on_execution_report(parse_execution_report(r))
    ]
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled, OrderFilled]
    fill = events[2]
    assert (fill.trade_id, fill.last_qty, fill.fee, fill.fee_currency, fill.ts_event) == (
        "31",
        Decimal("2"),
        Decimal("0.1"),
        "USDT",
        1700000000000 * 1_000_000,
    )


def test_backfill_and_stream_share_the_fill_key_and_overfills_are_refused() -> None:
    """A myTrades row for a streamed trade is ignored; a fill beyond the quantity is refused (R6)."""
    tracker = OrderTracker(lambda: 5)
    tracker.track(cmd(qty="1"))
    first = tracker.on_execution_report(
        parse_execution_report(report("TRADE", "PARTIALLY_FILLED", t=1, qty="1", cum="1"))
    )
    row = {
        "symbol": "BTCUSDT",
        "id": 1,
        "orderId": 7,
        "price": "100",
        "qty": "1",
        "commission": "0",
        "commissionAsset": "USDT",
        "time": 1,
        "isMaker": True,
    }
    assert tracker.on_trade_row(row) == []
    assert tracker.on_trade_row(row | {"id": 2}) == []
    assert [type(e) for e in first] == [OrderAccepted, OrderFilled]
    assert tracker.overfills == 1
    assert tracker.last_trade_id["BTCUSDT"] == 2


class WsApi:
    """A loopback WS API: checks the §3.4 signature, then plays the test's script."""

    def __init__(self, loopback: Any, script: list[Any]) -> None:
        self.script = script
        self.subscribes: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.connections = 0
        loopback.route("GET", "/ws-api/v3", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            req = json.loads(msg.data)
            params = req["params"]
            self.subscribes.append(params)
            if Credentials(KEY, SECRET).sign(ws_payload(params)) != params["signature"]:
                self.bad_signatures += 1
            await ws.send_str(
                json.dumps({"id": req["id"], "status": 200, "result": {"subscriptionId": 0}})
            )
            while self.script:
                step = self.script.pop(0)
                if step == "close":
                    await ws.close()
                    return ws
                if step == "terminate":
                    await ws.send_str(
                        json.dumps(
                            {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1}}
                        )
                    )
                    break
                await ws.send_str(json.dumps({"subscriptionId": 0, "event": step}))
        return ws


async def run_stream(
    loopback: Any, script: list[Any], until: Any, **cfg: Any
) -> tuple[BinanceUserStream, list[Any], list[str], WsApi]:
    api = WsApi(loopback, script)
    url = (await loopback.start()).replace("http", "ws") + "/ws-api/v3"
    events: list[Any] = []
    resyncs: list[str] = []

    async def on_resync(reason: str) -> None:
        resyncs.append(reason)

    config = UserStreamConfig(backoff_initial_s=0.01, backoff_max_s=0.02, **cfg)
    stream = BinanceUserStream(
        url,
        Credentials(KEY, SECRET),
        ServerClock(lambda: 10**18),
        on_event=events.append,
        on_resync=on_resync,
        has_open_orders=lambda: True,
        config=config,
    )
    await stream.start()
    for _ in range(300):
        if until(stream, events, resyncs):
            break
        await asyncio.sleep(0.01)
    await stream.close()
    return stream, events, resyncs, api


async def test_subscribe_is_signed_and_events_are_unwrapped(loopback: Any) -> None:
    """The subscription verifies with §3.4; enveloped events reach on_event; a backfill follows."""
    _, events, resyncs, api = await run_stream(
        loopback, [report("NEW", "NEW")], lambda s, e, r: e and r
    )
    assert api.bad_signatures == 0
    assert set(api.subscribes[0]) == {"apiKey", "timestamp", "recvWindow", "signature"}
    assert events[0]["x"] == "NEW"
    assert resyncs == ["subscribed"]


async def test_terminated_stream_is_resubscribed_and_backfilled(loopback: Any) -> None:
    """eventStreamTerminated -> resubscribe on the same socket -> another backfill (R8)."""
    stream, _, resyncs, api = await run_stream(loopback, ["terminate"], lambda s, e, r: len(r) == 2)
    assert len(api.subscribes) == 2
    assert api.connections == 1
    assert resyncs == ["subscribed", "subscribed"]
    assert stream.statistics().terminations == 1


async def test_reconnect_after_a_drop_backfills(loopback: Any) -> None:
    """A dropped socket reconnects (backoff), resubscribes and backfills (P6)."""
    stream, _, resyncs, api = await run_stream(loopback, ["close"], lambda s, e, r: len(r) == 2)
    assert api.connections == 2
    assert stream.statistics().reconnects == 1
    assert resyncs == ["subscribed", "subscribed"]


async def test_silence_with_open_orders_is_degraded_and_backfilled(loopback: Any) -> None:
    """No event for longer than silence_s while orders are open: DEGRADED and a backfill (R8)."""
    stream, _, resyncs, _ = await run_stream(
        loopback, [], lambda s, e, r: "silence" in r, silence_s=0.05, watchdog_interval_s=0.01
    )
    assert stream.degraded
    assert resyncs[:2] == ["subscribed", "silence"]
