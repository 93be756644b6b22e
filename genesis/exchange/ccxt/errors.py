"""ccxt exceptions -> the Genesis exception tree: the one translation point (§4.3; STYLE R15).

ccxt classifies venue answers into its own hierarchy; this module decides,
once, what each class means for the request that raised it::

    ccxt class                                   Outcome        Genesis exception
    RequestTimeout, NetworkError,                UNKNOWN        OrderStatusUnknown (order request)
      ExchangeNotAvailable, BadResponse,                        VenueUnavailable   (anything else)
      NullResponse, OperationFailed, CancelPending,
      any non-ccxt exception
    DuplicateOrderId                             UNKNOWN        (this client id exists: query it)
    OnMaintenance, InvalidNonce, ChecksumError,  NOT_REACHED    VenueUnavailable (not executed)
      ExchangeClosedByUser, InvalidProxySettings
    DDoSProtection, RateLimitExceeded            RATE_LIMITED   RateLimited(retry_after_s)
    AuthenticationError, PermissionDenied,       AUTH           AuthError: halt trading
      AccountNotEnabled, AccountSuspended
    OrderNotFound, OrderNotCached                NOT_FOUND      OrderNotFound: not proof of absence
    InsufficientFunds, InvalidOrder, BadRequest, REJECTED       OrderRejectedByVenue(code): final
      BadSymbol, ArgumentsRequired, NotSupported,
      OperationRejected (+ subclasses), InvalidAddress,
      ExchangeError (unclassified venue answer)

A timeout or a dropped connection on an order request may have executed, so
it is UNKNOWN, never "failed": the venue resolves it by querying the client
order id (``OrderStatusUnknown`` says "reconcile, never resend"). ccxt wraps
both "connection refused" and "connection reset after the request was sent"
in ``ExchangeNotAvailable``, so that class cannot be trusted to mean "never
reached" and is UNKNOWN too; only answers the venue itself gave before
processing (maintenance, a rejected nonce/timestamp, 429) are NOT_REACHED.

ccxt puts the request URL, including signed query strings, into exception
messages. Every message leaving this module goes through ``Scrubber``: URL
query strings, ``signature=`` values, 64-hex digests and the literal
credential values are replaced, and the original exception is never chained.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable
from typing import Final

import ccxt

from genesis.errors import (
    OrderRejectedByVenue,
    OrderStatusUnknown,
    RateLimited,
    VenueError,
    VenueUnavailable,
)

__all__ = [
    "OUTCOMES",
    "AuthError",
    "OrderNotFound",
    "Outcome",
    "ScrubFilter",
    "Scrubber",
    "classify",
    "to_genesis",
    "venue_code",
]


class Outcome(enum.Enum):
    """What an exception means for the request that raised it."""

    UNKNOWN = "UNKNOWN"  # may have executed: resolve by client order id, never resend blindly
    NOT_REACHED = "NOT_REACHED"  # certainly not executed
    RATE_LIMITED = "RATE_LIMITED"  # not executed; back off
    AUTH = "AUTH"  # not executed; credentials or permissions refused: halt trading
    NOT_FOUND = "NOT_FOUND"  # the venue does not show the order (now)
    REJECTED = "REJECTED"  # definitive refusal


class AuthError(VenueError):
    """The key, its permissions or the signature was refused: halt trading (CRITICAL)."""


class OrderNotFound(VenueError):
    """The venue does not show the order; by itself not proof that it was never placed."""


# Most specific first: ``classify`` takes the first class the exception is an instance of,
# so a subclass ccxt adds later falls back to its nearest listed ancestor.
OUTCOMES: Final[tuple[tuple[type[BaseException], Outcome], ...]] = (
    (ccxt.RateLimitExceeded, Outcome.RATE_LIMITED),
    (ccxt.DDoSProtection, Outcome.RATE_LIMITED),
    (ccxt.OnMaintenance, Outcome.NOT_REACHED),
    (ccxt.InvalidNonce, Outcome.NOT_REACHED),  # includes ChecksumError
    (ccxt.RequestTimeout, Outcome.UNKNOWN),
    (ccxt.ExchangeNotAvailable, Outcome.UNKNOWN),
    (ccxt.NetworkError, Outcome.UNKNOWN),
    (ccxt.BadResponse, Outcome.UNKNOWN),  # includes NullResponse
    (ccxt.OperationFailed, Outcome.UNKNOWN),  # includes CancelPending
    (ccxt.AuthenticationError, Outcome.AUTH),  # includes PermissionDenied, AccountSuspended
    (ccxt.DuplicateOrderId, Outcome.UNKNOWN),
    (ccxt.OrderNotFound, Outcome.NOT_FOUND),
    (ccxt.OrderNotCached, Outcome.NOT_FOUND),
    (ccxt.InvalidOrder, Outcome.REJECTED),
    (ccxt.InsufficientFunds, Outcome.REJECTED),
    (ccxt.ExchangeClosedByUser, Outcome.NOT_REACHED),
    (ccxt.InvalidProxySettings, Outcome.NOT_REACHED),
    (ccxt.BadRequest, Outcome.REJECTED),  # includes BadSymbol
    (ccxt.ExchangeError, Outcome.REJECTED),  # an answer ccxt could not classify further
)


def classify(exc: BaseException) -> Outcome:
    """The outcome of the request that raised ``exc`` (see the table above).

    Anything that is not a ccxt exception (aiohttp, asyncio timeouts, OSError)
    escaped ccxt's own wrapping mid-request, so it is UNKNOWN.
    """
    for cls, outcome in OUTCOMES:
        if isinstance(exc, cls):
            return outcome
    return Outcome.UNKNOWN


_CODE: Final = re.compile(r'"code"\s*:\s*"?(-?\w+)"?')
_RETRY_AFTER: Final = re.compile(r"retry[-_ ]?after\D{0,5}(\d+(?:\.\d+)?)", re.IGNORECASE)


def venue_code(exc: BaseException) -> str:
    """The venue's own error code when the message carries a JSON ``code``, else the class name."""
    match = _CODE.search(str(exc))
    return match.group(1) if match else type(exc).__name__


def retry_after_s(exc: BaseException, headers: dict[str, str] | None, default: float) -> float:
    """Retry-After from the last response headers or the message, else ``default`` seconds."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                break
    match = _RETRY_AFTER.search(str(exc))
    return float(match.group(1)) if match else default


class Scrubber:
    """Removes credentials and signed request parts from text (messages, log lines)."""

    _PATTERNS: Final = (
        re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*"),  # a URL's query string
        re.compile(r"signature=[^\s&'\"]*", re.IGNORECASE),
        re.compile(r"\b[0-9a-fA-F]{64}\b"),  # an HMAC-SHA256 digest
    )

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str, limit: int = 400) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        url, signature, digest = self._PATTERNS
        text = url.sub(r"\1?***", text)
        text = signature.sub("signature=***", text)
        text = digest.sub("***", text)
        return text[:limit]

    def __repr__(self) -> str:
        return f"Scrubber({len(self._secrets)} secrets)"


class ScrubFilter(logging.Filter):
    """A stdlib logging filter: ccxt's DEBUG request/response lines pass only scrubbed."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._scrub(record.getMessage(), limit=2000)
        record.args = None
        record.exc_info = None  # ccxt tracebacks carry signed URLs
        record.exc_text = None
        return True


def to_genesis(
    exc: BaseException,
    scrub: Scrubber,
    *,
    is_order: bool,
    what: str,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    default_retry_s: float = 1.0,
) -> VenueError:
    """The Genesis exception for ``exc``; raise it ``from None`` (the cause is unscrubbed).

    Args:
        exc: what ccxt (or the transport under it) raised.
        scrub: removes credentials and signed parts from the message.
        is_order: the request places or cancels an order, so an unknown outcome is
            ``OrderStatusUnknown`` (reconcile) rather than ``VenueUnavailable`` (retry).
        what: the operation, e.g. ``create_order``; goes into the message.
        headers: the last response's headers (for Retry-After).
        code: the venue's code when the caller knows it (else read from the message).
        default_retry_s: back-off when a rate limit answer names no delay.
    """
    outcome = classify(exc)
    code = code or venue_code(exc)
    text = f"{what}: {type(exc).__name__} [{code}]: {scrub(str(exc))}"
    if outcome is Outcome.UNKNOWN:
        return OrderStatusUnknown(text) if is_order else VenueUnavailable(text)
    if outcome is Outcome.RATE_LIMITED:
        return RateLimited(text, retry_after_s(exc, headers, default_retry_s))
    if outcome is Outcome.NOT_REACHED:
        return VenueUnavailable(text)
    if outcome is Outcome.AUTH:
        return AuthError(text)
    if outcome is Outcome.NOT_FOUND:
        return OrderNotFound(text)
    return OrderRejectedByVenue(text, code)
