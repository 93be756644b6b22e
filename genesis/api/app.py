"""The aiohttp application: the route table, token auth, JSON errors, a 1 MB body limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from genesis.api.auth import token_middleware
from genesis.api.errors import ApiError
from genesis.api.routes import OPERATOR_KEY, ROUTES
from genesis.daemon.operator import Operator

__all__ = ["MAX_BODY", "build_app"]

MAX_BODY = 1024 * 1024  # a larger body is refused (413) before it is read (R20)
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def _error_middleware(log: Any) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every refusal as ``{"error": code, "detail": sentence}``; an unexpected exception
    is a 500 that names no request data (the log has its type and message)."""

    @web.middleware
    async def errors(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.status >= 500:
                log.warning("api_refused", path=request.path, code=exc.code, status=exc.status)
            return web.json_response(exc.body(), status=exc.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = _HTTP_CODES.get(exc.status, "http_error")
            detail = _detail(exc, request)
            return web.json_response({"error": code, "detail": detail}, status=exc.status)
        except Exception as exc:  # the daemon keeps running; the request changed nothing
            log.error(
                "api_failed", path=request.path, error_type=type(exc).__name__, error=str(exc)
            )
            body = {"error": "internal_error", "detail": f"{type(exc).__name__} while handling"
                    f" {request.method} {request.path}; see the daemon log"}  # fmt: skip
            return web.json_response(body, status=500)

    return errors


def _detail(exc: web.HTTPException, request: web.Request) -> str:
    if exc.status == 404:
        return f"no route {request.path}; GET /openapi.json lists them"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return f"the body is larger than {MAX_BODY} bytes"
    return exc.reason


def build_app(operator: Operator, token: bytes, log: Any) -> web.Application:
    """The application for ``operator``, guarded by ``token`` (never stored elsewhere)."""
    public = frozenset(r.path for r in ROUTES if r.public)
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[_error_middleware(log), token_middleware(token, public)],
    )
    app[OPERATOR_KEY] = operator
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    return app
