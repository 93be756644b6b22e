"""The one ccxt -> Genesis error mapping: every ccxt exception class, and the scrubber."""

from __future__ import annotations

import logging

import ccxt  # type: ignore[import-untyped]
import pytest

from genesis.errors import (
    OrderRejectedByVenue,
    OrderStatusUnknown,
    RateLimited,
    VenueUnavailable,
)
from genesis.exchange.ccxt.errors import (
    AuthError,
    OrderNotFound,
    Outcome,
    Scrubber,
    ScrubFilter,
    classify,
    to_genesis,
)

U, NR, RL, AU, NF, RJ = (
    Outcome.UNKNOWN,
    Outcome.NOT_REACHED,
    Outcome.RATE_LIMITED,
    Outcome.AUTH,
    Outcome.NOT_FOUND,
    Outcome.REJECTED,
)

# ccxt class -> (outcome, exception for an order request, exception for a read)
TABLE = {
    "BaseError": (U, OrderStatusUnknown, VenueUnavailable),
    "ExchangeError": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "AuthenticationError": (AU, AuthError, AuthError),
    "PermissionDenied": (AU, AuthError, AuthError),
    "AccountNotEnabled": (AU, AuthError, AuthError),
    "AccountSuspended": (AU, AuthError, AuthError),
    "ArgumentsRequired": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "BadRequest": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "BadSymbol": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "OperationRejected": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "NoChange": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "MarginModeAlreadySet": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "MarketClosed": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "ManualInteractionNeeded": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "RestrictedLocation": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "InsufficientFunds": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "InvalidAddress": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "AddressPending": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "InvalidOrder": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "OrderNotFound": (NF, OrderNotFound, OrderNotFound),
    "OrderNotCached": (NF, OrderNotFound, OrderNotFound),
    "OrderImmediatelyFillable": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "OrderNotFillable": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "DuplicateOrderId": (U, OrderStatusUnknown, VenueUnavailable),
    "ContractUnavailable": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "NotSupported": (RJ, OrderRejectedByVenue, OrderRejectedByVenue),
    "InvalidProxySettings": (NR, VenueUnavailable, VenueUnavailable),
    "ExchangeClosedByUser": (NR, VenueUnavailable, VenueUnavailable),
    "OperationFailed": (U, OrderStatusUnknown, VenueUnavailable),
    "NetworkError": (U, OrderStatusUnknown, VenueUnavailable),
    "DDoSProtection": (RL, RateLimited, RateLimited),
    "RateLimitExceeded": (RL, RateLimited, RateLimited),
    "ExchangeNotAvailable": (U, OrderStatusUnknown, VenueUnavailable),
    "OnMaintenance": (NR, VenueUnavailable, VenueUnavailable),
    "InvalidNonce": (NR, VenueUnavailable, VenueUnavailable),
    "ChecksumError": (NR, VenueUnavailable, VenueUnavailable),
    "RequestTimeout": (U, OrderStatusUnknown, VenueUnavailable),
    "BadResponse": (U, OrderStatusUnknown, VenueUnavailable),
    "NullResponse": (U, OrderStatusUnknown, VenueUnavailable),
    "CancelPending": (U, OrderStatusUnknown, VenueUnavailable),
    "UnsubscribeError": (U, OrderStatusUnknown, VenueUnavailable),
}


def _all_names(tree: dict[str, dict]) -> list[str]:
    return [n for name, sub in tree.items() for n in (name, *_all_names(sub))]


def test_table_covers_every_ccxt_exception_class():
    """Every class in ccxt's error hierarchy has a row (a new ccxt class fails this test)."""
    assert sorted(_all_names(ccxt.error_hierarchy)) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_ccxt_class_maps_to_its_outcome_and_exception(name):
    """classify and to_genesis give the row's outcome and exception, for orders and reads."""
    outcome, on_order, on_read = TABLE[name]
    exc = getattr(ccxt, name)("binance boom")
    scrub = Scrubber([])
    assert classify(exc) is outcome
    assert type(to_genesis(exc, scrub, is_order=True, what="create_order")) is on_order
    assert type(to_genesis(exc, scrub, is_order=False, what="fetch_order")) is on_read


@pytest.mark.parametrize("exc", [TimeoutError(), OSError("reset"), ValueError("x")])
def test_non_ccxt_exceptions_are_unknown(exc):
    """An exception that escaped ccxt's wrapping mid-request may have executed: UNKNOWN."""
    assert classify(exc) is Outcome.UNKNOWN
    assert isinstance(to_genesis(exc, Scrubber([]), is_order=True, what="x"), OrderStatusUnknown)


def test_rejection_carries_the_venue_code():
    """A JSON code in ccxt's message becomes OrderRejectedByVenue.code."""
    exc = ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}')
    err = to_genesis(exc, Scrubber([]), is_order=True, what="create_order")
    assert isinstance(err, OrderRejectedByVenue)
    assert err.code == "-1013"


def test_rate_limit_reads_retry_after_header():
    """RateLimited.retry_after_s comes from the Retry-After header, else the default."""
    exc = ccxt.DDoSProtection("binance 429 Too Many Requests")
    scrub = Scrubber([])
    with_header = to_genesis(exc, scrub, is_order=False, what="x", headers={"Retry-After": "7"})
    without = to_genesis(exc, scrub, is_order=False, what="x", default_retry_s=2.5)
    assert isinstance(with_header, RateLimited)
    assert isinstance(without, RateLimited)
    assert (with_header.retry_after_s, without.retry_after_s) == (7.0, 2.5)


def test_scrubber_removes_credentials_signatures_and_query_strings():
    """Key, secret, signed query and a bare digest are replaced; the path stays readable."""
    key, secret, sig = "canary-key-0a1b2c", "canary-secret-3d4e5f", "ab" * 32
    text = (
        f"binance GET http://127.0.0.1:1/api/v3/order?timestamp=1&signature={sig} "
        f"key={key} {secret} body signature={sig}&x=1 {sig}"
    )
    out = Scrubber([key, secret])(text)
    assert key not in out
    assert secret not in out
    assert sig not in out
    assert "http://127.0.0.1:1/api/v3/order?***" in out


def test_mapped_message_is_scrubbed():
    """The Genesis exception's text never carries ccxt's signed URL."""
    exc = ccxt.RequestTimeout(
        "binance POST http://h/api/v3/order?apiKey=canary-key-77&signature=" + "c" * 64
    )
    err = to_genesis(exc, Scrubber(["canary-key-77"]), is_order=True, what="create_order")
    assert "canary-key-77" not in str(err)
    assert "c" * 64 not in str(err)


def test_scrub_filter_rewrites_log_records():
    """ccxt's DEBUG line (args, headers with the key) reaches handlers scrubbed."""
    record = logging.LogRecord(
        "ccxt",
        logging.DEBUG,
        __file__,
        1,
        "%s %s",
        ("GET http://h/x?signature=" + "d" * 64, {"X-MBX-APIKEY": "canary-key-88"}),
        None,
    )
    ScrubFilter(Scrubber(["canary-key-88"])).filter(record)
    assert "canary-key-88" not in record.getMessage()
    assert "d" * 64 not in record.getMessage()
