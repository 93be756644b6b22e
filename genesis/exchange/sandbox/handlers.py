"""REST endpoint bodies (paths, parameters and weights of §5.2 and §6)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.exchange.sandbox.engine import Engine
from genesis.exchange.sandbox.errors import ApiError, mandatory, unknown_order
from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.klines import INTERVAL_MS, KlineHistory
from genesis.exchange.sandbox.limits import RateLimiter
from genesis.exchange.sandbox.oco import cancel_list, check_oco, place_oco
from genesis.exchange.sandbox.orders import BinanceOrder
from genesis.exchange.sandbox.rest import NONE, SIGNED, USER_STREAM, Ctx, Cut, RestApi, Route
from genesis.exchange.sandbox.symbols import ExchangeInfo, fmt
from genesis.exchange.sandbox.validate import (
    Placement,
    check_filters,
    check_tradable,
    parse_placement,
    require_symbol,
)
from genesis.exchange.sandbox.wsapi import UserHub

__all__ = ["Handlers"]

_V3 = "/api/v3"


def _w(n: int) -> Callable[[dict[str, str]], int]:
    return lambda params: n


def _depth_weight(params: dict[str, str]) -> int:
    limit = _int(params, "limit", 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _int(params: dict[str, str], name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise mandatory(name)
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        ) from None


def _opt_int(params: dict[str, str], name: str) -> int | None:
    return _int(params, name) if params.get(name) else None


_REPLACE_KEYS = frozenset(
    {
        "cancelReplaceMode",
        "cancelOrderId",
        "cancelOrigClientOrderId",
        "cancelNewClientOrderId",
        "cancelRestrictions",
        "orderRateLimitExceededMode",
    }
)


def _replace_failed(
    code: int,
    cancel: dict[str, Any],
    new_result: str,
    new: dict[str, Any] | None,
    *,
    cancel_result: str = "FAILURE",
) -> ApiError:
    """A cancelReplace failure: 409 when one half succeeded (-2021), else 400 (-2022)."""
    partly = code == -2021
    msg = "Order cancel-replace partially failed." if partly else "Order cancel-replace failed."
    data = {"cancelResult": cancel_result, "newOrderResult": new_result,
            "cancelResponse": cancel, "newOrderResponse": new}  # fmt: skip
    return ApiError(code, msg, 409 if partly else 400, data=data)


class Handlers:
    def __init__(
        self,
        *,
        engine: Engine,
        info: ExchangeInfo,
        api: RestApi,
        faults: FaultPlan,
        limiter: RateLimiter,
        users: UserHub,
        legacy_listen_key: bool,
        check_delay_s: float,
        history: KlineHistory | None = None,
    ) -> None:
        self.engine = engine
        self.history = history if history is not None else KlineHistory({})
        self.info = info
        self.api = api
        self.faults = faults
        self.limiter = limiter
        self.users = users
        self.legacy = legacy_listen_key
        self.check_delay_s = check_delay_s
        self.listen_keys: dict[str, int] = {}

    def routes(self) -> list[Route]:
        r = [
            Route("GET", f"{_V3}/ping", self.ping, NONE, _w(1)),
            Route("GET", f"{_V3}/time", self.time, NONE, _w(1)),
            Route("GET", f"{_V3}/exchangeInfo", self.exchange_info, NONE, _w(20)),
            Route("GET", f"{_V3}/depth", self.depth, NONE, _depth_weight),
            Route("GET", f"{_V3}/trades", self.trades, NONE, _w(25)),
            Route("GET", f"{_V3}/klines", self.klines, NONE, _w(2)),
            Route("GET", f"{_V3}/ticker/bookTicker", self.book_ticker, NONE, _w(2)),
            Route("POST", f"{_V3}/order", self.post_order, SIGNED, _w(1)),
            Route(
                "POST",
                f"{_V3}/order/test",
                self.test_order,
                SIGNED,
                lambda p: 20 if p.get("computeCommissionRates") == "true" else 1,
            ),
            Route("DELETE", f"{_V3}/order", self.delete_order, SIGNED, _w(1)),
            Route("POST", f"{_V3}/order/cancelReplace", self.cancel_replace, SIGNED, _w(1)),
            Route("GET", f"{_V3}/order", self.get_order, SIGNED, _w(4)),
            Route(
                "GET",
                f"{_V3}/openOrders",
                self.open_orders,
                SIGNED,
                lambda p: 6 if p.get("symbol") else 80,
            ),
            Route("DELETE", f"{_V3}/openOrders", self.cancel_all, SIGNED, _w(1)),
            Route("GET", f"{_V3}/allOrders", self.all_orders, SIGNED, _w(20)),
            Route(
                "GET",
                f"{_V3}/myTrades",
                self.my_trades,
                SIGNED,
                lambda p: 5 if p.get("orderId") else 20,
            ),
            Route("GET", f"{_V3}/account", self.account, SIGNED, _w(20)),
            Route("GET", f"{_V3}/rateLimit/order", self.rate_limit_order, SIGNED, _w(40)),
            Route("POST", f"{_V3}/orderList/oco", self.post_oco, SIGNED, _w(1)),
            Route("DELETE", f"{_V3}/orderList", self.delete_list, SIGNED, _w(1)),
            Route("GET", f"{_V3}/orderList", self.get_list, SIGNED, _w(4)),
            Route("GET", f"{_V3}/openOrderList", self.open_lists, SIGNED, _w(6)),
        ]
        if self.legacy:
            r += [
                Route(m, f"{_V3}/userDataStream", self.user_data_stream, USER_STREAM, _w(2))
                for m in ("POST", "PUT", "DELETE")
            ]
        return r

    # --- market data ------------------------------------------------------------------

    async def ping(self, ctx: Ctx) -> Any:
        return {}

    async def time(self, ctx: Ctx) -> Any:
        return {"serverTime": self.engine.now_ms()}

    async def exchange_info(self, ctx: Ctx) -> Any:
        wanted: list[str] | None = None
        if ctx.params.get("symbol"):
            wanted = [ctx.params["symbol"]]
        elif ctx.params.get("symbols"):
            try:
                wanted = [str(s) for s in json.loads(ctx.params["symbols"])]
            except (ValueError, TypeError):
                raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if wanted is not None and any(s not in self.info.symbols for s in wanted):
            raise ApiError(-1121, "Invalid symbol.")
        specs = (
            [self.info.symbols[s] for s in wanted]
            if wanted is not None
            else list(self.info.symbols.values())
        )
        status = ctx.params.get("symbolStatus")
        if status:
            specs = [s for s in specs if s.status == status]
        return {
            "timezone": "UTC",
            "serverTime": self.engine.now_ms(),
            "rateLimits": self.rate_limits(),
            "exchangeFilters": self.info.exchange_filters,
            "symbols": [s.raw for s in specs],
        }

    def rate_limits(self) -> list[dict[str, Any]]:
        lim = self.limiter
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.weight_limit,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": lim.orders_10s,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY",
                "intervalNum": 1,
                "limit": lim.orders_1d,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": self.info.limit("RAW_REQUESTS", "MINUTE", 5) or 6100,
            },
        ]

    async def depth(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        if self.faults.take("depth.429") is not None:
            raise ApiError(
                -1003,
                "Too much request weight used; current limit is "
                f"{self.limiter.weight_limit} request weight per 1 MINUTE.",
                429,
                retry_after=1,
            )
        limit = min(_int(ctx.params, "limit", 100), 5000)
        stale = self.faults.take("depth.stale_snapshot")
        back = int(stale.get("back", 1)) if stale is not None else 0
        return self.engine.market.snapshot(spec.symbol, limit, back=back)

    async def trades(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        limit = min(_int(ctx.params, "limit", 500), 1000)
        return list(self.engine.market.market(spec.symbol).trades)[-limit:]

    async def klines(self, ctx: Ctx) -> Any:
        """History from a bar file (``klines.py``) when the symbol has one, else the 1m
        klines built from replayed klines and trades."""
        spec = require_symbol(self.info, ctx.params)
        interval_ms = INTERVAL_MS.get(ctx.params.get("interval") or "")
        if "interval" not in ctx.params:
            raise mandatory("interval")
        start, end = _opt_int(ctx.params, "startTime"), _opt_int(ctx.params, "endTime")
        limit = min(_int(ctx.params, "limit", 500), 1000)
        if spec.symbol in self.history:
            if interval_ms is None or not self.history.serves(spec.symbol, interval_ms):
                raise ApiError(-1120, "Invalid interval.")
            return self.history.rows(spec.symbol, interval_ms, start, end, limit)
        if interval_ms != INTERVAL_MS["1m"]:
            raise ApiError(-1120, "Invalid interval.")
        rows = self.engine.market.kline_rows(spec.symbol)
        rows = [
            r for r in rows if (start is None or r[0] >= start) and (end is None or r[0] <= end)
        ]
        return rows[:limit] if start is not None else rows[-limit:]

    async def book_ticker(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        book = self.engine.market.market(spec.symbol).book
        zero = (Decimal(0), Decimal(0))
        bid, ask = book.best_bid() or zero, book.best_ask() or zero
        return {
            "symbol": spec.symbol,
            "bidPrice": fmt(bid[0]),
            "bidQty": fmt(bid[1]),
            "askPrice": fmt(ask[0]),
            "askQty": fmt(ask[1]),
        }

    # --- orders ---------------------------------------------------------------------

    def _placement(self, params: dict[str, str]) -> Placement:
        p = parse_placement(self.info, params)
        open_n, algo_n = self.engine.open_counts(p.spec.symbol)
        check_filters(p, self.engine.last_price(p.spec.symbol), open_n, algo_n)
        return p

    async def post_order(self, ctx: Ctx) -> Any:
        p = self._placement(ctx.params)
        self._before_engine()
        self.limiter.check_order()
        cid = p.client_id or self.engine.new_client_id()
        self.engine.check_placement(p, cid)
        await self.api.second_time_check(ctx, self.check_delay_s)
        qty = self.engine.check_placement(p, cid)  # again: state may have moved meanwhile
        o = self.engine.place(p, cid, qty)
        self.limiter.count_order()
        self._order_headers(ctx)
        now = self.engine.now_ms()
        body = (
            o.ack(now)
            if p.resp_type == "ACK"
            else o.result(now)
            if p.resp_type == "RESULT"
            else o.full(now)
        )
        return await self._after_engine(body)

    async def cancel_replace(self, ctx: Ctx) -> Any:
        """``POST /api/v3/order/cancelReplace``: cancel an open order, then place a new one.

        The new order's parameters are checked first (a bad one changes nothing). Under
        ``STOP_ON_FAILURE`` a failed cancel places nothing (400, -2022); a new order that
        fails after the cancel succeeded leaves the old one cancelled (409, -2021). Each
        failure carries ``data`` with both halves' results, as Binance answers.
        """
        params = ctx.params
        mode = params.get("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise mandatory("cancelReplaceMode")
        p = self._placement({k: v for k, v in params.items() if k not in _REPLACE_KEYS})
        self._before_engine()
        self.limiter.check_order()
        target = {"symbol": params.get("symbol", "")}
        if params.get("cancelOrderId"):
            target["orderId"] = params["cancelOrderId"]
        if params.get("cancelOrigClientOrderId"):
            target["origClientOrderId"] = params["cancelOrigClientOrderId"]
        o = self._order(target)
        if o is None or not o.is_open:
            cancel, cancel_ok = unknown_order().body, False
            if mode == "STOP_ON_FAILURE":
                raise _replace_failed(-2022, cancel, "NOT_ATTEMPTED", None)
        else:
            cancel = self.engine.cancel(o, params.get("cancelNewClientOrderId") or None)
            cancel_ok = True
        placed = await self._replacement(ctx, p, cancel, cancel_ok)
        if not cancel_ok:  # ALLOW_FAILURE: the new order stands, the cancel did not
            raise _replace_failed(-2021, cancel, "SUCCESS", placed, cancel_result="FAILURE")
        body = {"cancelResult": "SUCCESS", "newOrderResult": "SUCCESS",
                "cancelResponse": cancel, "newOrderResponse": placed}  # fmt: skip
        return await self._after_engine(body)

    async def _replacement(
        self, ctx: Ctx, p: Placement, cancel: dict[str, Any], cancel_ok: bool
    ) -> dict[str, Any]:
        """Place the new half of a cancelReplace; its answer, or the -2021/-2022 error."""
        cid = p.client_id or self.engine.new_client_id()
        try:
            o = self.engine.place(p, cid, self.engine.check_placement(p, cid))
        except ApiError as exc:
            code = -2021 if cancel_ok else -2022
            result = "SUCCESS" if cancel_ok else "FAILURE"
            raise _replace_failed(code, cancel, "FAILURE", exc.body, cancel_result=result) from exc
        self.limiter.count_order()
        self._order_headers(ctx)
        now = self.engine.now_ms()
        if p.resp_type == "ACK":
            return o.ack(now)
        return o.result(now) if p.resp_type == "RESULT" else o.full(now)

    async def test_order(self, ctx: Ctx) -> Any:
        params = {k: v for k, v in ctx.params.items() if k != "computeCommissionRates"}
        p = self._placement(params)
        self.engine.check_placement(p, p.client_id or "sandbox-test")
        return {}

    def _before_engine(self) -> None:
        err = self.faults.take("order.error_before")
        if err is not None:
            code = int(err.get("code", -1000))
            msg = (
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown."
                if code == -1007
                else "An unknown error occurred while processing the request."
            )
            raise ApiError(code, msg, int(err.get("status", 503)))
        if self.faults.take("order.reset_before") is not None:
            raise Cut("reset")

    async def _after_engine(self, body: Any) -> Any:
        if self.faults.take("order.drop_response") is not None:
            raise Cut("drop")
        if self.faults.take("order.reset_after") is not None:
            raise Cut("reset")
        if self.faults.take("order.truncate_response") is not None:
            raise Cut("truncate", body)
        delay = self.faults.take("order.delay_response")
        if delay is not None:
            await asyncio.sleep(float(delay.get("seconds", 1.0)))
        err = self.faults.take("order.error_after")
        if err is not None:
            raise ApiError(
                int(err.get("code", -1007)),
                str(
                    err.get(
                        "msg",
                        "Timeout waiting for response from backend server. Send status unknown; "
                        "execution status unknown.",
                    )
                ),
                int(err.get("status", 503)),
            )
        return body

    def _order_headers(self, ctx: Ctx) -> None:
        ten, day = self.limiter.order_counts()
        ctx.headers["X-MBX-ORDER-COUNT-10S"] = str(ten)
        ctx.headers["X-MBX-ORDER-COUNT-1D"] = str(day)

    def _order(self, params: dict[str, str]) -> BinanceOrder | None:
        spec = require_symbol(self.info, params)
        order_id, cid = _opt_int(params, "orderId"), params.get("origClientOrderId") or None
        if order_id is None and cid is None:
            raise ApiError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return self.engine.find(spec.symbol, order_id, cid)

    async def delete_order(self, ctx: Ctx) -> Any:
        o = self._order(ctx.params)
        if o is None or not o.is_open:
            raise unknown_order()
        return self.engine.cancel(o, ctx.params.get("newClientOrderId") or None)

    async def get_order(self, ctx: Ctx) -> Any:
        o = self._order(ctx.params)
        if o is None:
            raise ApiError(-2013, "Order does not exist.")
        return o.query()

    async def open_orders(self, ctx: Ctx) -> Any:
        symbol = require_symbol(self.info, ctx.params).symbol if ctx.params.get("symbol") else None
        return [
            o.query()
            for o in sorted(self.engine.open_by_client.values(), key=lambda o: (o.time, o.order_id))
            if symbol is None or o.symbol == symbol
        ]

    async def cancel_all(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        mine = [o for o in self.engine.open_by_client.values() if o.symbol == spec.symbol]
        if not mine:
            raise unknown_order()
        out, done_lists = [], set()
        for o in mine:
            if o.order_list_id != -1:
                if o.order_list_id not in done_lists:
                    done_lists.add(o.order_list_id)
                    out.append(
                        cancel_list(
                            self.engine,
                            self.engine.lists[o.order_list_id],
                            self.engine.new_client_id(),
                        )
                    )
            elif o.is_open:
                out.append(self.engine.cancel(o, None))
        return out

    async def all_orders(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        first = _opt_int(ctx.params, "orderId") or 0
        limit = min(_int(ctx.params, "limit", 500), 1000)
        rows = [
            o.query()
            for (s, oid), o in sorted(self.engine.orders.items())
            if s == spec.symbol and oid >= first
        ]
        return rows[:limit] if first else rows[-limit:]

    async def my_trades(self, ctx: Ctx) -> Any:
        spec = require_symbol(self.info, ctx.params)
        order_id, from_id = _opt_int(ctx.params, "orderId"), _opt_int(ctx.params, "fromId")
        limit = min(_int(ctx.params, "limit", 500), 1000)
        rows = [
            t
            for t in self.engine.my_trades
            if t["symbol"] == spec.symbol
            and (order_id is None or t["orderId"] == order_id)
            and (from_id is None or t["id"] >= from_id)
        ]
        return rows[:limit] if from_id is not None else rows[-limit:]

    async def account(self, ctx: Ctx) -> Any:
        body = self.engine.account_body()
        if ctx.params.get("omitZeroBalances") == "true":
            body["balances"] = [
                b for b in body["balances"] if Decimal(b["free"]) or Decimal(b["locked"])
            ]
        return body

    async def rate_limit_order(self, ctx: Ctx) -> Any:
        return self.limiter.order_limits_body()

    # --- order lists ---------------------------------------------------------------------

    async def post_oco(self, ctx: Ctx) -> Any:
        params = ctx.params
        for name in ("symbol", "side", "quantity", "aboveType", "belowType"):
            if not params.get(name):
                raise mandatory(name)
        legs = [self._leg(params, prefix) for prefix in ("above", "below")]
        spec = legs[0].spec
        check_tradable(spec, legs[0].type)
        open_n, algo_n = self.engine.open_counts(spec.symbol)
        for leg in legs:
            check_tradable(spec, leg.type)
            check_filters(leg, self.engine.last_price(spec.symbol), open_n + 1, algo_n)
        self._before_engine()
        self.limiter.check_order(2)
        ids = [
            params.get(f"{p}ClientOrderId") or self.engine.new_client_id()
            for p in ("above", "below")
        ]
        list_id = params.get("listClientOrderId") or self.engine.new_client_id()
        check_oco(self.engine, legs[0], legs[1], ids, list_id)
        await self.api.second_time_check(ctx, self.check_delay_s)
        check_oco(self.engine, legs[0], legs[1], ids, list_id)
        lst, orders = place_oco(self.engine, legs[0], legs[1], ids[0], ids[1], list_id)
        self.limiter.count_order(2)
        self._order_headers(ctx)
        now = self.engine.now_ms()
        return await self._after_engine(lst.body(now, [o.result(now) for o in orders]))

    def _leg(self, params: dict[str, str], prefix: str) -> Placement:
        leg = {
            "symbol": params["symbol"],
            "side": params["side"],
            "type": params[f"{prefix}Type"],
            "quantity": params["quantity"],
        }
        for name in ("Price", "StopPrice", "TimeInForce"):
            if params.get(prefix + name):
                leg[name[0].lower() + name[1:]] = params[prefix + name]
        if params.get(f"{prefix}IcebergQty"):
            leg["icebergQty"] = params[f"{prefix}IcebergQty"]
        return parse_placement(self.info, leg)

    def _list(self, params: dict[str, str]) -> Any:
        list_id = _opt_int(params, "orderListId")
        cid = params.get("listClientOrderId") or params.get("origClientOrderId")
        if list_id is None and not cid:
            raise ApiError(
                -1102,
                "Param 'listClientOrderId' or 'orderListId' must be sent, "
                "but both were empty/null!",
            )
        for lst in sorted(self.engine.lists.values(), key=lambda x: -x.order_list_id):
            if lst.order_list_id == list_id or (list_id is None and lst.list_client_id == cid):
                return lst
        return None

    async def delete_list(self, ctx: Ctx) -> Any:
        require_symbol(self.info, ctx.params)
        lst = self._list(ctx.params)
        if lst is None:
            raise ApiError(-2011, "Order list does not exist.")
        return cancel_list(
            self.engine, lst, ctx.params.get("newClientOrderId") or self.engine.new_client_id()
        )

    async def get_list(self, ctx: Ctx) -> Any:
        lst = self._list(ctx.params)
        if lst is None:
            raise ApiError(-2011, "Order list does not exist.")
        return lst.body(lst.time)

    async def open_lists(self, ctx: Ctx) -> Any:
        return [
            lst.body(lst.time) for lst in self.engine.lists.values() if lst.status == "EXECUTING"
        ]

    # --- legacy listenKey ----------------------------------------------------------------

    async def user_data_stream(self, ctx: Ctx) -> Any:
        method = ctx.request.method
        if method == "POST":
            key = next(iter(self.listen_keys), None) or secrets.token_hex(32)
            self.listen_keys[key] = self.engine.now_ms() + 3_600_000
            return {"listenKey": key}
        key = ctx.params.get("listenKey", "")
        if key not in self.listen_keys:
            raise ApiError(-1125, "This listenKey does not exist.")
        if method == "PUT":
            self.listen_keys[key] = self.engine.now_ms() + 3_600_000
        else:
            del self.listen_keys[key]
            self.users.listen_key_expired(key)
        return {}
