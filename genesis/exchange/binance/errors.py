"""HTTP status and Binance error code -> the Genesis exception tree (§4; STYLE R15).

This module is the one place where venue answers become exceptions, so every
caller sees the same meaning for the same code::

    VenueError
    ├── VenueUnavailable            5XX / -1000.. on a read: retry later
    │   └── WafBlocked              403: stop and alert
    ├── RateLimited                 429 (-1003 / -1015): nothing sent before retry_after_s
    │   └── IpBanned                418: the IP is banned for retry_after_s
    ├── AuthError                   -2014 / -2015 / -1002 / -1022: halt trading, CRITICAL
    ├── TimestampRejected           -1021: never reached the engine; resync, re-sign, resend
    ├── OrderNotFound               -2013 / -2026 / -2039: not (yet) visible; not proof of absence
    ├── OrderRejectedByVenue        definitive: -1013, -11xx, -2010 ...
    │   ├── DuplicateOrder          -2010 "Duplicate order sent.": adopt the open order
    │   └── CancelRejected          -2011: *not* proof of cancel; query the order
    └── OrderStatusUnknown          order request with an unknown outcome: resolve by query

Messages carry the code and the venue's text (scrubbed of anything that looks
like a signature), never the request URL (P11).
"""

from __future__ import annotations

import enum
import re
from typing import Final

from genesis.errors import (
    OrderRejectedByVenue,
    OrderStatusUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

__all__ = [
    "AUTH_CODES",
    "UNKNOWN_CODES",
    "AuthError",
    "CancelRejected",
    "DuplicateOrder",
    "IpBanned",
    "OrderNotFound",
    "Outcome",
    "TimestampRejected",
    "WafBlocked",
    "classify",
    "machine_reason",
    "scrub",
    "to_exception",
]

UNKNOWN_CODES: Final = frozenset({-1000, -1001, -1006, -1007, -1008})
AUTH_CODES: Final = frozenset({-2014, -2015, -1002, -1022})
NOT_FOUND_CODES: Final = frozenset({-2013, -2026, -2039})
DUPLICATE_MSG: Final = "Duplicate order sent."
_SECRETISH = re.compile(r"\S*signature=\S*|[0-9a-fA-F]{64}", re.IGNORECASE)


class Outcome(enum.Enum):
    """What an error means for the request that caused it (§4.3)."""

    UNKNOWN = "UNKNOWN"  # may have executed: resolve by query, never resend blindly
    NOT_REACHED = "NOT_REACHED"  # certainly not executed (-1021): fix the clock, re-sign, resend
    RATE_LIMITED = "RATE_LIMITED"  # 429: not executed; wait Retry-After
    BANNED = "BANNED"  # 418: not executed; IP banned
    WAF = "WAF"  # 403: not executed; stop and alert
    AUTH = "AUTH"  # not executed; halt trading
    REJECTED = "REJECTED"  # definitive
    DUPLICATE = "DUPLICATE"  # an open order with this client id exists: adopt it
    CANCEL_REJECTED = "CANCEL_REJECTED"  # the order was not open: query it
    NOT_FOUND = "NOT_FOUND"  # query: not visible (yet)


class AuthError(VenueError):
    """The key, its permissions or the signature was refused: halt trading (CRITICAL)."""

    def __init__(self, message: str, code: int) -> None:
        self.code = code
        super().__init__(message)


class IpBanned(RateLimited):
    """HTTP 418: the IP is banned until ``retry_after_s`` has passed; send nothing."""


class WafBlocked(VenueUnavailable):
    """HTTP 403 from the web application firewall: stop and alert an operator."""


class TimestampRejected(VenueError):
    """-1021: the request was outside recvWindow and never reached the matching engine."""

    code = -1021


class OrderNotFound(VenueError):
    """-2013/-2026/-2039: the venue does not show the order (not proof of absence by itself)."""

    def __init__(self, message: str, code: int) -> None:
        self.code = code
        super().__init__(message)


class DuplicateOrder(OrderRejectedByVenue):
    """-2010 "Duplicate order sent.": an open order already has this client id."""


class CancelRejected(OrderRejectedByVenue):
    """-2011: the order was not open (filled, cancelled or unknown); query it."""


def classify(status: int, code: int | None, msg: str = "") -> Outcome:
    """Classify one error answer per §4.2/§4.3.

    Args:
        status: the HTTP status (0 for a transport failure or timeout).
        code: the Binance error code, or None when the body had none.
        msg: the Binance message (only -2010 duplicate detection reads it).
    """
    if status == 0 or status >= 500 or code in UNKNOWN_CODES:
        return Outcome.UNKNOWN
    if status in _STATUS_OUTCOMES:
        return _STATUS_OUTCOMES[status]
    if code is not None and code in _CODE_OUTCOMES:
        return _CODE_OUTCOMES[code]
    if code == -2010 and msg.strip() == DUPLICATE_MSG:
        return Outcome.DUPLICATE
    if code is None and status < 400:
        return Outcome.UNKNOWN  # a success status without a usable body
    return Outcome.REJECTED


_STATUS_OUTCOMES: Final = {418: Outcome.BANNED, 429: Outcome.RATE_LIMITED, 403: Outcome.WAF}
_CODE_OUTCOMES: Final = {
    -1003: Outcome.RATE_LIMITED,
    -1015: Outcome.RATE_LIMITED,
    -1021: Outcome.NOT_REACHED,
    -2011: Outcome.CANCEL_REJECTED,
    **dict.fromkeys(AUTH_CODES, Outcome.AUTH),
    **dict.fromkeys(NOT_FOUND_CODES, Outcome.NOT_FOUND),
}


def scrub(text: str) -> str:
    """Remove anything shaped like a signature or a signed query from ``text``."""
    return _SECRETISH.sub("***", text)[:300]


def to_exception(
    status: int,
    code: int | None,
    msg: str,
    *,
    path: str,
    is_order: bool,
    retry_after_s: float = 0.0,
) -> VenueError:
    """The exception for one error answer (see the tree in the module docstring).

    Args:
        status: HTTP status, 0 for transport failures and timeouts.
        code: Binance code or None.
        msg: the venue's text or a description of the transport failure.
        path: the REST path (never the query string).
        is_order: the request places or cancels an order, so an unknown outcome
            is ``OrderStatusUnknown`` rather than ``VenueUnavailable``.
        retry_after_s: the Retry-After delay for 429 and 418.
    """
    outcome = classify(status, code, msg)
    text = f"{path}: HTTP {status} code {code}: {scrub(msg)}"
    if outcome is Outcome.UNKNOWN:
        return OrderStatusUnknown(text) if is_order else VenueUnavailable(text)
    if outcome is Outcome.BANNED:
        return IpBanned(text, retry_after_s)
    if outcome is Outcome.RATE_LIMITED:
        return RateLimited(text, retry_after_s)
    if outcome is Outcome.WAF:
        return WafBlocked(text)
    if outcome is Outcome.AUTH:
        return AuthError(text, code if code is not None else 0)
    if outcome is Outcome.NOT_REACHED:
        return TimestampRejected(text)
    if outcome is Outcome.NOT_FOUND:
        return OrderNotFound(text, code if code is not None else 0)
    if outcome is Outcome.CANCEL_REJECTED:
        return CancelRejected(text, code if code is not None else status)
    if outcome is Outcome.DUPLICATE:
        return DuplicateOrder(text, code if code is not None else status)
    return OrderRejectedByVenue(text, code if code is not None else status)


_REASONS: Final[dict[str, str]] = {
    "Account has insufficient balance for requested action.": "INSUFFICIENT_BALANCE",
    "Order would immediately match and take.": "WOULD_TAKE",
    "Order would trigger immediately.": "WOULD_TRIGGER",
    "Market is closed.": "MARKET_CLOSED",
    "Unknown order sent.": "UNKNOWN_ORDER",
    "The relationship of the prices for the orders is not correct.": "OCO_BAD_PRICES",
    DUPLICATE_MSG: "DUPLICATE",
}


def machine_reason(code: int | None, msg: str) -> str:
    """A stable reason word for a rejection: ``FILTER_LOT_SIZE``, ``INSUFFICIENT_BALANCE``..."""
    if msg.startswith("Filter failure:"):
        return "FILTER_" + msg.removeprefix("Filter failure:").strip().replace(" ", "_")
    if msg in _REASONS:
        return _REASONS[msg]
    if code is not None and -1199 <= code <= -1100:
        return "BAD_PARAMETER"
    if code in AUTH_CODES:
        return "AUTH"
    return "REJECTED"
