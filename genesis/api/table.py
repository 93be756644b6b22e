"""What a route of the control API is: the rows of ``routes.ROUTES`` (read by the app
and by ``openapi.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

__all__ = ["Handler", "Query", "Route"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter: its name, JSON-schema type, whether required, and what it means."""

    name: str
    type: str
    description: str
    required: bool = False
    maximum: int | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. ``public``: served without a token (the data-free dashboard files)."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: tuple[Query, ...] = ()
    status: int = 200
    content: str = "application/json"
    public: bool = False
    response: dict[str, Any] | None = None  # JSON schema of the success answer
