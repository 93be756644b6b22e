"""HTTP status and OANDA error body -> the Genesis exception tree (STYLE R15).

The one place where v20 answers become exceptions::

    VenueError
    ├── VenueUnavailable        5XX, transport failure on a read: retry later
    ├── RateLimited             429: nothing was done; wait ``retry_after_s``
    ├── OandaAuthError          401 / 403: wrong token or account; halt, CRITICAL
    ├── OandaNotFound           404: no such order / trade / transaction
    ├── OrderRejectedByVenue    400 with a reject transaction (``code`` = errorCode)
    │   └── OandaBadRequest     400 without one (malformed request)
    └── OrderStatusUnknown      an order request with an unknown outcome: query, never resend

An OANDA error body is ``{"errorMessage": ..., "errorCode"?: ...}``; messages
carry the status, the code and the venue's text, never the token.
"""

from __future__ import annotations

from typing import Any

from genesis.errors import (
    OrderRejectedByVenue,
    OrderStatusUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

__all__ = [
    "OandaAuthError",
    "OandaBadRequest",
    "OandaNotFound",
    "error_from_response",
    "unknown_outcome",
]


class OandaAuthError(VenueError):
    """The token is wrong or not allowed this account: nothing will work until fixed."""


class OandaNotFound(VenueError):
    """The order, trade, transaction or account does not exist (or is not visible)."""

    def __init__(self, message: str, code: str) -> None:
        self.code = code
        super().__init__(message)


class OandaBadRequest(OrderRejectedByVenue):
    """A 400 without a reject transaction: the request itself was malformed."""


def _text(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        return "", str(body)[:200]
    code = body.get("errorCode")
    message = body.get("errorMessage")
    return (str(code) if code else ""), (str(message) if message else "no errorMessage")


def error_from_response(
    status: int, body: Any, what: str, retry_after: str | None = None
) -> VenueError:
    """The exception for a non-2xx answer to ``what`` (e.g. "POST orders")."""
    code, message = _text(body)
    text = f"OANDA {what}: HTTP {status}" + (f" {code}" if code else "") + f": {message}"
    if status in (401, 403):
        return OandaAuthError(text)
    if status == 404:
        return OandaNotFound(text, code or "NOT_FOUND")
    if status == 429:
        try:
            wait = float(retry_after) if retry_after else 1.0
        except ValueError:
            wait = 1.0
        return RateLimited(text, wait)
    if status == 400:
        rejected = isinstance(body, dict) and any(k.endswith("RejectTransaction") for k in body)
        if rejected:
            return OrderRejectedByVenue(text, code or "REJECTED")
        return OandaBadRequest(text, code or "BAD_REQUEST")
    if status >= 500:
        return VenueUnavailable(text)
    return VenueError(text)


def unknown_outcome(what: str, cause: BaseException | str) -> OrderStatusUnknown:
    """An order request whose answer was lost: the order may or may not exist."""
    return OrderStatusUnknown(f"OANDA {what}: outcome unknown ({cause}); query before resending")
