"""The OANDA sandbox's control port: fault hooks and market actions over loopback HTTP JSON.

``POST /faults`` {"hook", "times", "probability", "params"}; ``POST /faults/clear``;
``POST /settings`` {"streams_silenced": bool}; ``POST /actions`` {"action": "advance",
"minutes": n} or {"action": "quote", "bid": "1.5", "ask": "1.6"}; ``GET /stats``.
No token is needed (the port is loopback only and separate from the v20 port); bad
input is a 400 ``{"error": ...}`` and changes nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from aiohttp import web

from genesis.exchange.oanda_sandbox.faults import OandaFaultPlan

__all__ = ["Controlled", "control_routes"]


class Controlled(Protocol):
    """What the control routes use of the server (``OandaSandboxServer`` is one)."""

    @property
    def faults(self) -> OandaFaultPlan: ...
    def advance(self, minutes: int = 1) -> None: ...
    def set_quote(self, bid: Decimal, ask: Decimal) -> None: ...
    def stats(self) -> dict[str, Any]: ...


class _Bad(Exception):
    pass


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text())
    except ValueError as exc:
        raise _Bad(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Bad("body must be a JSON object")
    return data


def _price(value: Any, name: str) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise _Bad(f"{name} {value!r} is not a decimal") from None
    if not price.is_finite() or price <= 0:
        raise _Bad(f"{name} {value!r} must be a positive number")
    return price


def _arm(server: Controlled, body: dict[str, Any]) -> dict[str, Any]:
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise _Bad("params must be an object")
    try:
        server.faults.arm(
            str(body.get("hook")),
            int(body.get("times", 1)),
            float(body.get("probability", 1.0)),
            **params,
        )
    except (TypeError, ValueError) as exc:
        raise _Bad(str(exc)) from None
    return {"armed": body.get("hook")}


def _act(server: Controlled, body: dict[str, Any]) -> dict[str, Any]:
    action = body.get("action")
    if action == "advance":
        minutes = body.get("minutes", 1)
        if not isinstance(minutes, int) or minutes < 0:
            raise _Bad(f"minutes {minutes!r} must be a whole number >= 0")
        server.advance(minutes)
        return {"advanced": minutes}
    if action == "quote":
        bid, ask = _price(body.get("bid"), "bid"), _price(body.get("ask"), "ask")
        if not bid < ask:
            raise _Bad(f"bid {bid} must be below ask {ask}")
        server.set_quote(bid, ask)
        return {"bid": str(bid), "ask": str(ask)}
    raise _Bad(f"unknown action {action!r}: advance or quote")


def _settings(server: Controlled, body: dict[str, Any]) -> dict[str, Any]:
    silenced = body.get("streams_silenced")
    if not isinstance(silenced, bool) or set(body) != {"streams_silenced"}:
        raise _Bad('settings: expected {"streams_silenced": true|false}')
    server.faults.streams_silenced = silenced
    return {"streams_silenced": silenced}


def control_routes(server: Controlled) -> list[web.RouteDef]:
    """The control port's routes over ``server``."""

    def post(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            try:
                return web.json_response(fn(server, await _body(request)))
            except _Bad as exc:
                return web.json_response({"error": str(exc)}, status=400)

        return handler

    async def clear(request: web.Request) -> web.Response:
        server.faults.clear()
        return web.json_response({"cleared": True})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(server.stats())

    return [
        web.post("/faults", post(_arm)),
        web.post("/faults/clear", clear),
        web.post("/settings", post(_settings)),
        web.post("/actions", post(_act)),
        web.get("/stats", stats),
    ]
