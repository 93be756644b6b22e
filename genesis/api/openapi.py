"""The OpenAPI 3 document, built from the route table the app registers (no drift)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from genesis.api.table import Route

__all__ = ["document"]

_PARAM = re.compile(r"{([^}]+)}")
_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def _operation(route: Route) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for n in _PARAM.findall(route.path)
    ]
    for q in route.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.maximum is not None:
            schema.update(minimum=1, maximum=q.maximum)
        params.append(
            {"name": q.name, "in": "query", "required": q.required, "schema": schema,
             "description": q.description}
        )  # fmt: skip
    if route.content == "application/json":
        ok: dict[str, Any] = {"application/json": {"schema": route.response or {}}}
    else:
        ok = {route.content: {"schema": {"type": "string"}}}
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{route.handler.__name__}_{route.tag}",
        "parameters": params,
        "responses": {
            str(route.status): {"description": "done", "content": ok},
            "default": {
                "description": "refused: nothing changed",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if route.public:
        op["security"] = []
        op["x-public"] = True
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body.model_json_schema()}},
        }
    return op


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """The whole document: every route, bearer auth, the error body."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Genesis control API",
            "version": "1",
            "description": "Orders, positions, risk, strategies, configuration and health of"
            " one running daemon. Every route needs Authorization: Bearer <GENESIS_API_TOKEN>"
            " (only the dashboard's static files load without it).",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
