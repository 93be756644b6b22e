"""The §4.3 classification table, one row per listed code, mapped into genesis.errors."""

from __future__ import annotations

import pytest

from genesis.errors import OrderRejectedByVenue, OrderStatusUnknown, RateLimited, VenueUnavailable
from genesis.exchange.binance.errors import (
    AuthError,
    CancelRejected,
    DuplicateOrder,
    IpBanned,
    OrderNotFound,
    Outcome,
    TimestampRejected,
    WafBlocked,
    classify,
    machine_reason,
    to_exception,
)

CASES = [
    (500, None, "", Outcome.UNKNOWN, OrderStatusUnknown),
    (503, None, "", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1000, "UNKNOWN", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1001, "DISCONNECTED", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1006, "UNEXPECTED_RESP", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1007, "TIMEOUT", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1008, "SERVER_BUSY", Outcome.UNKNOWN, OrderStatusUnknown),
    (0, None, "timeout", Outcome.UNKNOWN, OrderStatusUnknown),
    (400, -1021, "Timestamp outside recvWindow", Outcome.NOT_REACHED, TimestampRejected),
    (400, -1022, "Signature invalid", Outcome.AUTH, AuthError),
    (429, -1003, "Too many requests", Outcome.RATE_LIMITED, RateLimited),
    (429, -1015, "Too many orders", Outcome.RATE_LIMITED, RateLimited),
    (418, -1003, "IP banned until 1", Outcome.BANNED, IpBanned),
    (403, None, "", Outcome.WAF, WafBlocked),
    (400, -1013, "Filter failure: LOT_SIZE", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1102, "Mandatory parameter", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1104, "Not all sent parameters were read", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1106, "Parameter not required", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1111, "Precision", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1114, "TIF not required", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1115, "Invalid TIF", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1116, "Invalid orderType", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1117, "Invalid side", Outcome.REJECTED, OrderRejectedByVenue),
    (400, -1121, "Invalid symbol.", Outcome.REJECTED, OrderRejectedByVenue),
    (
        400,
        -2010,
        "Account has insufficient balance for requested action.",
        Outcome.REJECTED,
        OrderRejectedByVenue,
    ),
    (400, -2010, "Duplicate order sent.", Outcome.DUPLICATE, DuplicateOrder),
    (401, -2014, "API-key format invalid.", Outcome.AUTH, AuthError),
    (401, -2015, "Invalid API-key, IP, or permissions for action.", Outcome.AUTH, AuthError),
    (401, -1002, "Unauthorized", Outcome.AUTH, AuthError),
    (400, -2011, "Unknown order sent.", Outcome.CANCEL_REJECTED, CancelRejected),
    (400, -2013, "Order does not exist.", Outcome.NOT_FOUND, OrderNotFound),
    (400, -2026, "Order archived", Outcome.NOT_FOUND, OrderNotFound),
    (
        400,
        -2039,
        "Client order id is not valid for this order id",
        Outcome.NOT_FOUND,
        OrderNotFound,
    ),
]


@pytest.mark.parametrize(("status", "code", "msg", "outcome", "exc_type"), CASES)
def test_classification_table(
    status: int, code: int | None, msg: str, outcome: Outcome, exc_type: type
) -> None:
    """Each listed status/code lands in its §4.3 class and exception type."""
    assert classify(status, code, msg) is outcome
    exc = to_exception(status, code, msg, path="/api/v3/order", is_order=True, retry_after_s=7)
    assert type(exc) is exc_type


def test_unknown_outcome_on_a_read_is_venue_unavailable() -> None:
    """A 5XX on a read is "retry later", not an order-status question."""
    exc = to_exception(502, None, "", path="/api/v3/account", is_order=False)
    assert type(exc) is VenueUnavailable


def test_retry_after_is_carried() -> None:
    """429 and 418 exceptions carry the Retry-After seconds."""
    exc = to_exception(418, -1003, "banned", path="/x", is_order=False, retry_after_s=120)
    assert isinstance(exc, RateLimited)
    assert exc.retry_after_s == 120


def test_signature_in_venue_message_is_scrubbed() -> None:
    """A venue message echoing a signed query never reaches the exception text (P11)."""
    sig = "a" * 64
    exc = to_exception(400, -1022, f"bad: symbol=X&signature={sig}", path="/p", is_order=True)
    assert sig not in str(exc)


@pytest.mark.parametrize(
    ("code", "msg", "reason"),
    [
        (-1013, "Filter failure: LOT_SIZE", "FILTER_LOT_SIZE"),
        (-2010, "Order would immediately match and take.", "WOULD_TAKE"),
        (-2010, "Order would trigger immediately.", "WOULD_TRIGGER"),
        (-2010, "Market is closed.", "MARKET_CLOSED"),
        (-1111, "Precision is over the maximum defined for this asset.", "BAD_PARAMETER"),
        (-2015, "Invalid API-key", "AUTH"),
    ],
)
def test_machine_reasons(code: int, msg: str, reason: str) -> None:
    """Rejections get a stable machine reason next to the venue's sentence."""
    assert machine_reason(code, msg) == reason
