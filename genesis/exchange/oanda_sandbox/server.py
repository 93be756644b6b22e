"""``OandaSandboxServer``: the loopback OANDA v20-compatible server, wired and served.

One aiohttp server on loopback serves both of OANDA's hosts (the REST host and
the stream host) under ``/v3``; a second one is the control port (``control.py``:
fault hooks, replay steps and quotes over HTTP JSON, for a server run by the CLI).
v20 requests carry ``Authorization: Bearer <token>``; a wrong token is 401,
another account id 403, more than ``rate_limit`` requests in one second 429,
each with OANDA's error body ``{"errorMessage": ..., "errorCode"?: ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from genesis.exchange.oanda_sandbox.account import ACCOUNT_ID, rfc3339
from genesis.exchange.oanda_sandbox.closes import close_position, close_trade
from genesis.exchange.oanda_sandbox.control import control_routes
from genesis.exchange.oanda_sandbox.dependents import DEPENDENT_TYPES, create_dependent
from genesis.exchange.oanda_sandbox.engine import Engine
from genesis.exchange.oanda_sandbox.faults import OandaFaultPlan
from genesis.exchange.oanda_sandbox.market import (
    BUNDLED_ASK,
    BUNDLED_BID,
    GBP_USD,
    QuoteReplay,
    load_quotes,
)
from genesis.exchange.oanda_sandbox.streams import StreamHub
from genesis.exchange.oanda_sandbox.views import (
    account_json,
    position_json,
    price_json,
    trade_json,
    unix_times,
)
from genesis.exchange.sandbox.config import LOOPBACK_HOSTS

__all__ = ["OandaSandboxConfig", "OandaSandboxServer"]

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ORDER_PATHS = ("/orders", "/close")
_REPLACE = re.compile(r"/v3/accounts/[^/]+/orders/[^/]+")  # PUT: an order replace


@dataclass(frozen=True, slots=True, kw_only=True)
class OandaSandboxConfig:
    token: str = "canary-token-oanda-sandbox"  # noqa: S105 - a test canary, not a secret
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int = 0
    balance: Decimal = Decimal(100_000)
    replay_speed: float = 0.0  # quotes (minutes) per second; 0: only advance() moves them
    heartbeat_s: float = 5.0
    rate_limit: int = 100  # requests per second (OANDA's documented REST limit)
    seed: int = 0
    bid_file: Path = BUNDLED_BID
    ask_file: Path = BUNDLED_ASK

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"host {self.host!r}: the sandbox binds to loopback only")


class OandaSandboxServer:
    """The v20 test server over the replayed GBP/USD quotes (see the package docstring)."""

    def __init__(self, config: OandaSandboxConfig | None = None) -> None:
        self.config = config = config or OandaSandboxConfig()
        self.faults = OandaFaultPlan(config.seed)
        self.hub = StreamHub(self.faults, config.heartbeat_s, self._heartbeat, _render)
        self.engine = Engine(
            GBP_USD,
            QuoteReplay(load_quotes(config.bid_file, config.ask_file)),
            config.balance,
            lambda tx: self.hub.publish("transactions", tx),
        )
        self._window = (0, 0)  # (second, requests in it)
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.url = self.control_url = ""

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        app.add_routes(self._routes())
        control = web.Application(client_max_size=1 << 16)
        control.add_routes(control_routes(self))
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        self.url = f"http://{host}:{await self._serve(app, self.config.port)}"
        self.control_url = f"http://{host}:{await self._serve(control, self.config.control_port)}"
        if self.config.replay_speed > 0:
            self._tasks.append(asyncio.create_task(self._replayer()))
        log.info("oanda_sandbox_started", url=self.url, control=self.control_url)

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        self._runners.append(runner)
        sockets: list[Any] = list(getattr(site._server, "sockets", None) or [])
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.hub.close_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    def stats(self) -> dict[str, Any]:
        """Counts for the control port: fired faults, stream connections, the account."""
        q = self.engine.quote
        return {
            "faults": dict(self.faults.stats),
            "stream_connections": self.hub.connections,
            "last_transaction_id": self.engine.account.last_id,
            "open_trades": len(self.engine.account.open_trades()),
            "quote": {"time": rfc3339(q.ts_ns), "bid": str(q.bid), "ask": str(q.ask)},
        }

    async def _replayer(self) -> None:
        while True:
            await asyncio.sleep(1.0 / self.config.replay_speed)
            self.advance()

    # --- market control (tests, the replayer) -------------------------------

    def advance(self, minutes: int = 1) -> None:
        """Move the replay ``minutes`` quotes on and publish the new price."""
        self.engine.advance(minutes)
        self.hub.publish("pricing", price_json(self.engine), self.engine.spec.name)

    def set_quote(self, bid: Decimal, ask: Decimal) -> None:
        self.engine.set_quote(bid, ask)
        self.hub.publish("pricing", price_json(self.engine), self.engine.spec.name)

    def _heartbeat(self, kind: str) -> dict[str, Any]:
        now = rfc3339(self.engine.now_ns)
        if kind == "transactions":
            return {"type": "HEARTBEAT", "lastTransactionID": self.engine.account.last_id,
                    "time": now}  # fmt: skip
        return {"type": "HEARTBEAT", "time": now}

    # --- middleware: auth, rate limit, faults, errors -----------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.config.token}":
            return _error(401, "Insufficient authorization to perform request.")
        account = request.match_info.get("account")
        if account is not None and account != ACCOUNT_ID:
            return _error(403, "The provided request was forbidden.")
        second = int(time.monotonic())
        count = self._window[1] + 1 if self._window[0] == second else 1
        self._window = (second, count)
        if count > self.config.rate_limit:
            self.faults.count("rate_limited")
            return _error(429, "Rate limit violation. Allowed: 100 requests per second.",
                          headers={"Retry-After": "1"})  # fmt: skip
        forced = self.faults.take("rest.force", request.path)
        if forced is not None:
            return _error(int(forced.get("status", 503)), str(forced.get("errorMessage", "forced")),
                          headers={"Retry-After": str(forced.get("retry_after", 1))})  # fmt: skip
        placing = request.method in ("POST", "PUT") and request.path.endswith(_ORDER_PATHS)
        if request.method == "PUT" and _REPLACE.fullmatch(request.path) is not None:
            placing = True
        if placing:
            before = self.faults.take("order.error_before")
            if before is not None:
                return _error(int(before.get("status", 503)),
                              str(before.get("errorMessage", "Service unavailable")))  # fmt: skip
        resp = await handler(request)
        if placing:
            resp = await self._after(request, resp)
        return resp

    async def _after(self, request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        if self.faults.take("order.drop_response") is not None:
            if request.transport is not None:
                request.transport.close()
            return resp
        delay = self.faults.take("order.delay_response")
        if delay is not None:
            await asyncio.sleep(float(delay.get("seconds", 1.0)))
        after = self.faults.take("order.error_after")
        if after is not None:
            return _error(int(after.get("status", 503)), "Service unavailable")
        return resp

    # --- routes -------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        a = "/v3/accounts/{account}"
        return [
            web.get("/v3/accounts", self._accounts),
            web.get(a, self._account),
            web.get(a + "/summary", self._summary),
            web.get(a + "/instruments", self._instruments),
            web.get(a + "/pricing", self._pricing),
            web.get(a + "/pricing/stream", self._pricing_stream),
            web.get(a + "/transactions/stream", self._transactions_stream),
            web.get(a + "/transactions/sinceid", self._since),
            web.get(a + "/transactions/{tx}", self._transaction),
            web.post(a + "/orders", self._create_order),
            web.get(a + "/orders", self._orders),
            web.get(a + "/pendingOrders", self._orders),
            web.get(a + "/orders/{spec}", self._order),
            web.put(a + "/orders/{spec}/cancel", self._cancel),
            web.put(a + "/orders/{spec}", self._replace),
            web.get(a + "/trades", self._trades),
            web.get(a + "/openTrades", self._trades),
            web.get(a + "/trades/{spec}", self._trade),
            web.put(a + "/trades/{spec}/close", self._close_trade),
            web.get(a + "/positions", self._positions),
            web.get(a + "/openPositions", self._positions),
            web.get(a + "/positions/{instrument}", self._position),
            web.put(a + "/positions/{instrument}/close", self._close_position),
        ]

    def _last(self) -> str:
        return self.engine.account.last_id

    async def _accounts(self, request: web.Request) -> web.Response:
        return _ok(request, {"accounts": [{"id": ACCOUNT_ID, "tags": []}]})

    async def _account(self, request: web.Request) -> web.Response:
        body = {"account": account_json(self.engine, True), "lastTransactionID": self._last()}
        return _ok(request, body)

    async def _summary(self, request: web.Request) -> web.Response:
        body = {"account": account_json(self.engine, False), "lastTransactionID": self._last()}
        return _ok(request, body)

    async def _instruments(self, request: web.Request) -> web.Response:
        wanted = _instrument_list(request)
        specs = [s.to_json() for n, s in self.engine.specs.items() if not wanted or n in wanted]
        return _ok(request, {"instruments": specs, "lastTransactionID": self._last()})

    def _check_instruments(self, request: web.Request) -> frozenset[str] | web.Response:
        wanted = _instrument_list(request)
        unknown = wanted - self.engine.specs.keys()
        if not wanted or unknown:
            return _error(400, f"Invalid value specified for 'instruments': {sorted(unknown)}",
                          code="INVALID_INSTRUMENTS")  # fmt: skip
        return wanted

    async def _pricing(self, request: web.Request) -> web.Response:
        wanted = self._check_instruments(request)
        if isinstance(wanted, web.Response):
            return wanted
        body = {"prices": [price_json(self.engine)], "time": rfc3339(self.engine.now_ns)}
        return _ok(request, body)

    async def _pricing_stream(self, request: web.Request) -> web.StreamResponse:
        wanted = self._check_instruments(request)
        if isinstance(wanted, web.Response):
            return wanted
        if self.faults.take("stream.refuse_connect") is not None:
            return _error(503, "Service unavailable")
        snapshot = request.query.get("snapshot", "true") != "false"
        first = [price_json(self.engine)] if snapshot else []
        return await self.hub.serve(request, "pricing", wanted, first, _unix(request))

    async def _transactions_stream(self, request: web.Request) -> web.StreamResponse:
        if self.faults.take("stream.refuse_connect") is not None:
            return _error(503, "Service unavailable")
        first = [self._heartbeat("transactions")]
        return await self.hub.serve(request, "transactions", frozenset(), first, _unix(request))

    async def _since(self, request: web.Request) -> web.Response:
        raw = request.query.get("id", "")
        if not raw.isdigit():
            return _error(400, f"Invalid value specified for 'id': {raw!r}", code="INVALID_ID")
        txs = self.engine.account.transactions[int(raw) :]
        return _ok(request, {"transactions": txs, "lastTransactionID": self._last()})

    async def _transaction(self, request: web.Request) -> web.Response:
        raw = request.match_info["tx"]
        txs = self.engine.account.transactions
        if not raw.isdigit() or not 0 < int(raw) <= len(txs):
            return _error(404, f"Transaction {raw} does not exist", code="NO_SUCH_TRANSACTION")
        return _ok(request, {"transaction": txs[int(raw) - 1], "lastTransactionID": self._last()})

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if isinstance(body, web.Response):
            return body
        order = body.get("order") if isinstance(body, dict) else None
        if isinstance(order, dict) and order.get("type") in DEPENDENT_TYPES:
            status, out = create_dependent(self.engine, body)
        else:
            status, out = self.engine.create_order(body)
        return _ok(request, out, status)

    async def _orders(self, request: web.Request) -> web.Response:
        p = self.engine.spec.display_precision
        state = request.query.get("state", "PENDING")
        orders = [o for o in self.engine.orders.values() if state == "ALL" or o.state == state]
        if "pendingOrders" in request.path:
            orders = self.engine.pending()
        count = request.query.get("count", "50")
        if not count.isdigit() or not 0 < int(count) <= 500:
            return _error(400, f"Invalid value specified for 'count': {count!r} (1..500)")
        newest = sorted(orders, key=lambda o: -int(o.id))[: int(count)]
        return _ok(
            request, {"orders": [o.to_json(p) for o in newest], "lastTransactionID": self._last()}
        )

    async def _order(self, request: web.Request) -> web.Response:
        order = self.engine.find_order(request.match_info["spec"])
        if order is None:
            return _error(404, "The Order specified does not exist", code="NO_SUCH_ORDER")
        p = self.engine.spec.display_precision
        return _ok(request, {"order": order.to_json(p), "lastTransactionID": self._last()})

    async def _cancel(self, request: web.Request) -> web.Response:
        status, out = self.engine.cancel_order(request.match_info["spec"])
        return _ok(request, out, status)

    async def _replace(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if isinstance(body, web.Response):
            return body
        status, out = self.engine.replace_order(request.match_info["spec"], body)
        return _ok(request, out, status)

    async def _trades(self, request: web.Request) -> web.Response:
        acct = self.engine.account
        state = "OPEN" if "openTrades" in request.path else request.query.get("state", "OPEN")
        trades = [
            t for t in acct.trades.values() if state == "ALL" or t.is_open == (state == "OPEN")
        ]
        trades.sort(key=lambda t: -int(t.id))
        body = [trade_json(self.engine, t) for t in trades]
        return _ok(request, {"trades": body, "lastTransactionID": self._last()})

    async def _trade(self, request: web.Request) -> web.Response:
        trade = self.engine.find_trade(request.match_info["spec"])
        if trade is None:
            return _error(404, "The Trade specified does not exist", code="NO_SUCH_TRADE")
        return _ok(
            request, {"trade": trade_json(self.engine, trade), "lastTransactionID": self._last()}
        )

    async def _close_trade(self, request: web.Request) -> web.Response:
        body = await _json(request, allow_empty=True)
        if isinstance(body, web.Response):
            return body
        status, out = close_trade(self.engine, request.match_info["spec"], body)
        return _ok(request, out, status)

    async def _positions(self, request: web.Request) -> web.Response:
        acct = self.engine.account
        names = sorted({t.instrument for t in acct.trades.values()
                        if t.is_open or "openPositions" not in request.path})  # fmt: skip
        body = [position_json(self.engine, n) for n in names]
        return _ok(request, {"positions": body, "lastTransactionID": self._last()})

    async def _position(self, request: web.Request) -> web.Response:
        name = request.match_info["instrument"]
        if name not in self.engine.specs:
            return _error(404, f"Instrument {name!r} is unknown", code="NO_SUCH_INSTRUMENT")
        body = {"position": position_json(self.engine, name), "lastTransactionID": self._last()}
        return _ok(request, body)

    async def _close_position(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if isinstance(body, web.Response):
            return body
        status, out = close_position(self.engine, request.match_info["instrument"], body)
        return _ok(request, out, status)


def _unix(request: web.Request) -> bool:
    return request.headers.get("Accept-Datetime-Format", "RFC3339").upper() == "UNIX"


def _render(obj: Any, unix: bool) -> Any:
    return unix_times(obj) if unix else obj


def _instrument_list(request: web.Request) -> frozenset[str]:
    raw = request.query.get("instruments", "")
    return frozenset(filter(None, (s.strip() for s in raw.split(","))))


def _ok(request: web.Request, body: dict[str, Any], status: int = 200) -> web.Response:
    text = json.dumps(_render(body, _unix(request)), separators=(",", ":"))
    return web.Response(status=status, text=text, content_type="application/json")


def _error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"errorMessage": message}
    if code is not None:
        body["errorCode"] = code
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)  # fmt: skip


async def _json(request: web.Request, allow_empty: bool = False) -> Any:
    """The request's JSON body, or a 400 naming what is wrong with it."""
    raw = await request.text()
    if not raw.strip() and allow_empty:
        return {}
    with contextlib.suppress(ValueError):
        return json.loads(raw)
    return _error(400, f"Invalid JSON in request body: {raw[:80]!r}", code="INVALID_JSON")
