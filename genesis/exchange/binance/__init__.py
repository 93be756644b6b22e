"""Native Binance spot connector: signed REST, market streams, WS API user data, ``LiveVenue``.

Modules, each with one responsibility:

* ``signing``: HMAC-SHA256 signing of REST queries and WS API params (pure).
* ``errors``: HTTP status and Binance code -> ``genesis.errors``; the one translation point.
* ``clock``: server clock offset from ``/api/v3/time`` round trips.
* ``ratelimit``: request weight, order counts and Retry-After bans (pure).
* ``shared``: that state and the server clock, shared per host and per API key.
* ``rest``: the aiohttp REST client (sign, send with timeout, classify, parse).
* ``parse``: strict parsers of venue JSON into ``core.events`` (pure).
* ``streams``: the combined market stream feed with exact local books.
* ``userstream``: user data over the WebSocket API.
* ``resolve``: the unknown-outcome resolution rule (pure).
* ``venue``: ``BinanceVenue``, the ``LiveVenue`` implementation.
"""

from __future__ import annotations

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.errors import (
    AuthError,
    CancelRejected,
    DuplicateOrder,
    IpBanned,
    OrderNotFound,
    TimestampRejected,
    WafBlocked,
)
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.shared import SharedLimits, process_limits
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.binance.streams import BinanceMarketFeed, FeedConfig, FeedStats
from genesis.exchange.binance.userstream import BinanceUserStream, UserStreamConfig
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig

__all__ = [
    "AuthError",
    "BinanceMarketFeed",
    "BinanceRest",
    "BinanceUserStream",
    "BinanceVenue",
    "CancelRejected",
    "Credentials",
    "DuplicateOrder",
    "FeedConfig",
    "FeedStats",
    "IpBanned",
    "OrderNotFound",
    "RateLimiter",
    "ServerClock",
    "SharedLimits",
    "TimestampRejected",
    "UserStreamConfig",
    "VenueConfig",
    "WafBlocked",
    "process_limits",
]
