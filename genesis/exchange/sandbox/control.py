"""The control port: fault hooks, actions and the ledger over loopback HTTP JSON.

``POST /faults`` {"hook", "times", "probability", "params"}; ``POST /faults/clear``;
``POST /settings`` {"clock_skew_ms", "step_clock_ms", "recv_window_delay_s",
"user_silenced", "refuse_connects", "close_sockets_every_s"}; ``POST /actions``
{"action": terminate_user_streams | server_shutdown | close_sockets |
expire_listen_keys | place_order | cancel_order | deposit | withdraw | trade |
advance, ...}; ``GET /ledger``; ``GET /stats``. Bad input is a 400 with a reason
and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from aiohttp import web

from genesis.exchange.sandbox.errors import ApiError
from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.limits import RateLimiter
from genesis.exchange.sandbox.orders import BinanceOrder
from genesis.exchange.sandbox.rest import RequestLog

__all__ = ["Controlled", "control_routes"]

_SETTINGS = (
    "clock_skew_ms",
    "step_clock_ms",
    "recv_window_delay_s",
    "user_silenced",
    "refuse_connects",
    "close_sockets_every_s",
)


class Controlled(Protocol):
    """What the control routes use of the server (``server.SandboxServer`` is one).

    A protocol, so this module need not import the server, which mounts these routes.
    """

    @property
    def faults(self) -> FaultPlan: ...
    @property
    def limiter(self) -> RateLimiter: ...
    @property
    def requests(self) -> RequestLog: ...
    def ledger(self) -> dict[str, Any]: ...
    def set_clock_skew(self, ms: int) -> None: ...
    def step_clock(self, ms: int) -> None: ...
    def terminate_user_streams(self) -> int: ...
    def server_shutdown(self) -> None: ...
    async def close_sockets(self) -> int: ...
    def expire_listen_keys(self) -> None: ...
    def external_order(self, **params: str) -> BinanceOrder: ...
    def external_cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]: ...
    def deposit(self, asset: str, amount: Decimal) -> None: ...
    def withdraw(self, asset: str, amount: Decimal) -> None: ...
    def trade(self, symbol: str, price: Decimal, qty: Decimal) -> int: ...
    def advance(self, n_events: int) -> int: ...


class _Bad(Exception):
    pass


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text(), parse_float=Decimal)
    except ValueError as exc:
        raise _Bad(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Bad("body must be a JSON object")
    return data


def _decimal(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"{name} {value!r} is not a decimal") from None
    if not number.is_finite() or number <= 0:
        raise _Bad(f"{name} must be a finite decimal > 0, was {value!r}")
    return number


class _Control:
    def __init__(self, server: Controlled) -> None:
        self.server = server

    async def ledger(self, request: web.Request) -> Any:
        return self.server.ledger()

    async def stats(self, request: web.Request) -> Any:
        server = self.server
        return {
            "faults": dict(server.faults.stats),
            "limits": dict(server.limiter.stats),
            "requests": {f"{m} {p}": n for (m, p), n in server.requests.counts.items()},
        }

    async def arm(self, request: web.Request) -> Any:
        data = await _body(request)
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise _Bad("params must be an object")
        self.server.faults.arm(
            str(data.get("hook")),
            int(data.get("times", 1)),
            float(data.get("probability", 1.0)),
            **params,
        )
        return {"armed": data.get("hook")}

    async def clear(self, request: web.Request) -> Any:
        self.server.faults.clear()
        self.server.set_clock_skew(0)
        return {"cleared": True}

    async def settings(self, request: web.Request) -> Any:
        data = await _body(request)
        unknown = sorted(set(data) - set(_SETTINGS))
        if unknown:
            raise _Bad(f"unknown settings {unknown}; known: {list(_SETTINGS)}")
        server, faults = self.server, self.server.faults
        if "clock_skew_ms" in data:
            server.set_clock_skew(int(data["clock_skew_ms"]))
        if "step_clock_ms" in data:
            server.step_clock(int(data["step_clock_ms"]))
        if "recv_window_delay_s" in data:
            faults.recv_window_delay_s = float(data["recv_window_delay_s"])
        if "user_silenced" in data:
            faults.user_silenced = bool(data["user_silenced"])
        if "refuse_connects" in data:
            faults.refuse_connects = bool(data["refuse_connects"])
        if "close_sockets_every_s" in data:
            every = data["close_sockets_every_s"]
            faults.close_sockets_every_s = float(every) if every else None
        return {"ok": True}

    async def action(self, request: web.Request) -> Any:
        data = await _body(request)
        name = str(data.pop("action", ""))
        act = getattr(self, f"_act_{name}", None)
        if act is None:
            raise _Bad(f"unknown action {name!r}")
        return await act(data)

    async def _act_terminate_user_streams(self, data: dict[str, Any]) -> Any:
        return {"terminated": self.server.terminate_user_streams()}

    async def _act_server_shutdown(self, data: dict[str, Any]) -> Any:
        self.server.server_shutdown()
        return {"ok": True}

    async def _act_close_sockets(self, data: dict[str, Any]) -> Any:
        return {"closed": await self.server.close_sockets()}

    async def _act_expire_listen_keys(self, data: dict[str, Any]) -> Any:
        self.server.expire_listen_keys()
        return {"ok": True}

    async def _act_place_order(self, data: dict[str, Any]) -> Any:
        return self.server.external_order(**{k: str(v) for k, v in data.items()}).query()

    async def _act_cancel_order(self, data: dict[str, Any]) -> Any:
        return self.server.external_cancel(str(data["symbol"]), str(data["clientOrderId"]))

    async def _act_deposit(self, data: dict[str, Any]) -> Any:
        self.server.deposit(str(data["asset"]), _decimal(data.get("amount"), "amount"))
        return {"ok": True}

    async def _act_withdraw(self, data: dict[str, Any]) -> Any:
        self.server.withdraw(str(data["asset"]), _decimal(data.get("amount"), "amount"))
        return {"ok": True}

    async def _act_trade(self, data: dict[str, Any]) -> Any:
        price, qty = _decimal(data.get("price"), "price"), _decimal(data.get("qty"), "qty")
        return {"tradeId": self.server.trade(str(data["symbol"]), price, qty)}

    async def _act_advance(self, data: dict[str, Any]) -> Any:
        return {"advanced": self.server.advance(int(data.get("n", 1)))}


def _guarded(
    fn: Callable[[web.Request], Awaitable[Any]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        try:
            return web.json_response(await fn(request))
        except (_Bad, ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except ApiError as err:
            return web.json_response(err.body, status=err.status)

    return handler


def control_routes(server: Controlled) -> list[web.RouteDef]:
    c = _Control(server)
    return [
        web.get("/ledger", _guarded(c.ledger)),
        web.get("/stats", _guarded(c.stats)),
        web.post("/faults", _guarded(c.arm)),
        web.post("/faults/clear", _guarded(c.clear)),
        web.post("/settings", _guarded(c.settings)),
        web.post("/actions", _guarded(c.action)),
    ]
