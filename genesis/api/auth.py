"""Bearer-token authentication for every route but the data-free dashboard files (R20).

``Authorization: Bearer TOKEN``, compared in constant time (``hmac.compare_digest``).
A token in the query string is refused (400) even when right: URLs end up in
logs and browser histories. No CORS headers are ever sent, so a page from a
foreign origin cannot read an answer; a preflight gets 401 like any request
without the token. Nothing here logs or echoes what was presented.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from genesis.api.errors import ApiError

__all__ = ["authorized", "token_middleware"]

_QUERY_NAMES = ("token", "access_token", "api_key", "apikey", "key")


def authorized(header: str | None, token: bytes) -> bool:
    """Whether ``header`` is ``Bearer <token>``; constant time in the token's content."""
    if header is None:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # aiohttp decodes undecodable header bytes as surrogates: keep them, never raise
    return hmac.compare_digest(presented.strip().encode("utf-8", "surrogatepass"), token)


def token_middleware(
    token: bytes, public: frozenset[str]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse every request without the token, except GETs of the ``public`` paths."""

    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if any(name in request.query for name in _QUERY_NAMES):
            raise ApiError(
                400, "token_in_query", "credentials in the URL are refused (URLs are logged);"
                " send Authorization: Bearer <token>",
            )  # fmt: skip
        if request.method == "GET" and request.path in public:
            return await handler(request)
        if not authorized(request.headers.get("Authorization"), token):
            raise ApiError(
                401, "unauthorized", "missing or wrong token: send Authorization: Bearer <token>"
            )
        return await handler(request)

    return check
