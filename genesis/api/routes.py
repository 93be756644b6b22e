"""The control API's route table: one list that the app registers and OpenAPI documents.

Each ``Route`` names its method, path, handler, request body model, query
parameters and what it answers, so ``openapi.py`` builds the document from the
same objects ``app.py`` serves: they cannot drift. Handlers parse and check the
request, call the daemon's ``Operator`` facade and turn its answer into JSON;
every refusal is an ``ApiError`` (``{"error": code, "detail": sentence}``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from genesis.api import schemas as S
from genesis.api.errors import ApiError
from genesis.api.models import (
    ClosePositionRequest,
    ModifyRequest,
    OrderRequest,
    ParamsRequest,
    RollbackRequest,
)
from genesis.api.openapi import document
from genesis.api.table import Handler, Query, Route
from genesis.daemon.operator import Operator, performance_report
from genesis.paper.ledger import PromotionLedger, PromotionRefused

__all__ = ["OPERATOR_KEY", "ROUTES", "Query", "Route"]

OPERATOR_KEY = web.AppKey("operator", Operator)
DASHBOARD = Path(__file__).parent / "dashboard"


def _op(request: web.Request) -> Operator:
    return request.app[OPERATOR_KEY]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, default=str))


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    """Parse and validate the JSON body with ``model``.

    Raises:
        ApiError: 400 malformed JSON or not an object; 422 naming the field and reason.
    """
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body_not_object", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "body"
        raise ApiError(422, "invalid_body", f"{field}: {err['msg']}", field=field) from None


def _int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "bad_query", f"{name} must be an integer 1..{maximum}, was {raw!r}")
    return int(raw)


def _text(request: web.Request, name: str, maximum: int = 200) -> str | None:
    value = request.query.get(name)
    if value is not None and len(value) > maximum:
        raise ApiError(400, "bad_query", f"{name} is longer than {maximum} characters")
    return value


# --- handlers --------------------------------------------------------------------------


async def submit_order(request: web.Request) -> web.Response:
    req = await _body(request, OrderRequest)
    return _json(await _op(request).submit(req), 201)


async def modify_order(request: web.Request) -> web.Response:
    req = await _body(request, ModifyRequest)
    return _json(await _op(request).modify(request.match_info["id"], req))


async def cancel_order(request: web.Request) -> web.Response:
    return _json(await _op(request).cancel(request.match_info["id"]))


async def list_orders(request: web.Request) -> web.Response:
    status, strategy = _text(request, "status"), _text(request, "strategy")
    return _json(_op(request).orders(status, strategy, _int(request, "limit", 100, 1000)))


async def list_positions(request: web.Request) -> web.Response:
    return _json(_op(request).positions(_text(request, "account_id")))


async def close_position(request: web.Request) -> web.Response:
    req = await _body(request, ClosePositionRequest)
    return _json(await _op(request).close_position(req.instrument_id, req.strategy_id))


async def validate_order(request: web.Request) -> web.Response:
    return _json(_op(request).validate(await _body(request, OrderRequest)))


async def kill_switch(request: web.Request) -> web.Response:
    arrived = time.perf_counter()
    reason = _text(request, "reason") or "operator (API)"
    flatten = _text(request, "flatten") or "false"
    if flatten not in ("true", "false"):
        raise ApiError(400, "bad_query", f"flatten must be true or false, was {flatten!r}")
    account = request.match_info["account_id"]
    done = await _op(request).kill(account, reason, flatten=flatten == "true")
    # from the request reaching its handler to the switch engaged in the kernel (R15)
    done["latency_ms"] = round((time.perf_counter() - arrived) * 1000, 3)
    return _json(done)


async def reset_switch(request: web.Request) -> web.Response:
    reason = _text(request, "reason")
    if reason is None:
        raise ApiError(422, "reason_required", "a reset needs ?reason= saying why it is safe")
    return _json(await _op(request).kill(request.match_info["account_id"], reason, False))


async def risk_status(request: web.Request) -> web.Response:
    return _json(_op(request).risk_status())


async def performance(request: web.Request) -> web.Response:
    return _json(performance_report(_op(request).d))


async def health(request: web.Request) -> web.Response:
    return _json(_op(request).health())


async def list_strategies(request: web.Request) -> web.Response:
    return _json(_op(request).strategies())


async def enable_strategy(request: web.Request) -> web.Response:
    return _json(await _op(request).enable(request.match_info["id"], True))


async def disable_strategy(request: web.Request) -> web.Response:
    reason = _text(request, "reason") or ""
    return _json(await _op(request).enable(request.match_info["id"], False, reason))


async def get_params(request: web.Request) -> web.Response:
    return _json(_op(request).params(request.match_info["id"]))


async def put_params(request: web.Request) -> web.Response:
    req = await _body(request, ParamsRequest)
    return _json(await _op(request).set_params(request.match_info["id"], req.params))


async def config_versions(request: web.Request) -> web.Response:
    return _json(await _op(request).config_versions(_text(request, "strategy_id")))


async def config_rollback(request: web.Request) -> web.Response:
    req = await _body(request, RollbackRequest)
    return _json(await _op(request).rollback(req.strategy_id, req.sha256))


async def alerts(request: web.Request) -> web.Response:
    return _json(_op(request).alerts(_int(request, "limit", 100, 1000)))


def _ledger(request: web.Request) -> PromotionLedger:
    ledger = _op(request).d.promotions
    if ledger is None:
        raise ApiError(404, "no_promotions", "promotions are proposed by a paper daemon with a"
                       " journal; this daemon has none")  # fmt: skip
    return ledger


async def list_promotions(request: web.Request) -> web.Response:
    if _op(request).d.promotions is None:
        return _json([])
    return _json([p.as_json() for p in await _ledger(request).promotions()])


async def approve_promotion(request: web.Request) -> web.Response:
    return await _decide(request, approve=True)


async def reject_promotion(request: web.Request) -> web.Response:
    return await _decide(request, approve=False)


async def _decide(request: web.Request, *, approve: bool) -> web.Response:
    """The operator's decision on a promotion, journaled with actor ``api``."""
    reason = _text(request, "reason") or ""
    ledger, pid = _ledger(request), request.match_info["id"]
    decide = ledger.approve if approve else ledger.reject
    try:
        promotion = await decide(pid, "api", reason, time.time_ns())
    except PromotionRefused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    _op(request).d.log.warning(
        "promotion_approved" if approve else "promotion_rejected", promotion_id=pid,
        strategy_id=promotion.strategy_id, reason=reason.strip(), actor="api",
    )  # fmt: skip
    return _json(promotion.as_json())


async def metrics(request: web.Request) -> web.Response:
    body, content_type = _op(request).metrics()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def openapi(request: web.Request) -> web.Response:
    return _json(document(ROUTES))


# the page runs only its own script; no other origin is contacted
_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


def _static(name: str, content_type: str) -> Handler:
    async def serve(request: web.Request) -> web.Response:
        body = (DASHBOARD / name).read_bytes()
        response = web.Response(body=body, content_type=content_type, charset="utf-8")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = _CSP
        return response

    return serve


_LIMIT = Query("limit", "integer", "at most this many, newest first (1..1000)", maximum=1000)
_ID = "/{id}"
_REASON = Query("reason", "string", "why; kept in the audit log", required=True)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/orders", submit_order, "Place a manual order", "orders",
          OrderRequest, status=201, response=S.ORDER_ACCEPTED),
    Route("GET", "/api/v1/orders", list_orders, "List orders, newest first", "orders", query=(
        Query("status", "string", "only orders in this status (e.g. SUBMITTED, FILLED)"),
        Query("strategy", "string", "only this strategy's orders (operator: manual ones)"),
        _LIMIT), response=S.ARRAY_OF(S.ORDER)),
    Route("PUT", "/api/v1/orders" + _ID + "/modify", modify_order, "Change price or quantity",
          "orders", ModifyRequest),
    Route("PUT", "/api/v1/orders" + _ID + "/cancel", cancel_order, "Cancel a working order",
          "orders", response=S.ORDER_ACCEPTED),
    Route("GET", "/api/v1/positions", list_positions, "Open positions per strategy",
          "positions", query=(Query("account_id", "string", "only this venue's positions"),),
          response=S.ARRAY_OF(S.POSITION)),
    Route("POST", "/api/v1/positions/close", close_position, "Close a position at market",
          "positions", ClosePositionRequest),
    Route("POST", "/api/v1/risk/validate", validate_order, "Dry-run the risk checks", "risk",
          OrderRequest, response=S.VALIDATION),
    Route("POST", "/api/v1/risk/{account_id}/kill-switch", kill_switch,
          "Engage the kill switch of a venue, or global", "risk",
          query=(Query("reason", "string", "why; kept in the audit log"),
                 Query("flatten", "boolean", "global only: also close every position")),
          response=S.KILL),
    Route("POST", "/api/v1/risk/{account_id}/kill-switch/reset", reset_switch,
          "Reset the kill switch of a venue, or global", "risk",
          query=(Query("reason", "string", "why it is safe to trade again", required=True),),
          response=S.KILL),
    Route("GET", "/api/v1/risk/status", risk_status, "Kill switches and risk state", "risk",
          response=S.RISK),
    Route("GET", "/api/v1/performance/metrics", performance,
          "Equity, balances and per-strategy performance", "performance"),
    Route("GET", "/health", health, "HEALTHY, DEGRADED or CRITICAL with reasons", "health",
          response=S.HEALTH),
    Route("GET", "/api/v1/strategies", list_strategies, "Configured strategies", "strategies",
          response=S.ARRAY_OF(S.STRATEGY)),
    Route("POST", "/api/v1/strategies" + _ID + "/enable", enable_strategy,
          "Enable a strategy the operator disabled", "strategies"),
    Route("POST", "/api/v1/strategies" + _ID + "/disable", disable_strategy,
          "Disable a strategy (cancels its orders)", "strategies",
          query=(Query("reason", "string", "why; kept in the audit log"),)),
    Route("GET", "/api/v1/strategies" + _ID + "/params", get_params, "Running parameters",
          "strategies"),
    Route("PUT", "/api/v1/strategies" + _ID + "/params", put_params,
          "Change parameters (merged, validated, journaled)", "strategies", ParamsRequest),
    Route("GET", "/api/v1/config/versions", config_versions, "Stored configuration versions",
          "config", query=(Query("strategy_id", "string", "only this strategy's versions"),),
          response=S.ARRAY_OF(S.VERSION)),
    Route("POST", "/api/v1/config/rollback", config_rollback, "Run a stored version again",
          "config", RollbackRequest),
    Route("GET", "/api/v1/alerts", alerts, "Recent alerts", "monitoring", query=(_LIMIT,),
          response=S.ARRAY_OF({"type": "object"})),
    Route("GET", "/api/v1/promotions", list_promotions,
          "Promotions to live: proposals, evidence, schedule, decisions", "promotions",
          response=S.ARRAY_OF(S.PROMOTION)),
    Route("POST", "/api/v1/promotions" + _ID + "/approve", approve_promotion,
          "Approve a proposed promotion: grants its first capital step", "promotions",
          query=(_REASON,), response=S.PROMOTION),
    Route("POST", "/api/v1/promotions" + _ID + "/reject", reject_promotion,
          "Reject a proposal, or revoke an approved promotion's live allocation",
          "promotions", query=(_REASON,), response=S.PROMOTION),
    Route("GET", "/metrics", metrics, "Prometheus metrics", "monitoring",
          content="text/plain"),
    Route("GET", "/openapi.json", openapi, "This document", "meta"),
    Route("GET", "/dashboard/", _static("index.html", "text/html"), "The dashboard page",
          "dashboard", content="text/html", public=True),
    Route("GET", "/dashboard/app.js", _static("app.js", "text/javascript"), "Dashboard script",
          "dashboard", content="text/javascript", public=True),
)  # fmt: skip
