"""A live venue over ``ccxt.async_support``: one adapter for the venues ccxt supports.

``CcxtVenue`` implements ``genesis.exchange.live.LiveVenue`` (orders by
client order id, unknown outcomes resolved by query, fills polled and
delivered once); ``CcxtMarketFeed`` polls market data. ccxt's exceptions are
mapped onto ``genesis.errors`` in ``errors.py`` only, and every message is
scrubbed of credentials and signed URLs there.
"""

from __future__ import annotations

from genesis.exchange.ccxt.errors import AuthError, OrderNotFound, Outcome, classify, to_genesis
from genesis.exchange.ccxt.feed import CcxtMarketFeed, FeedKind
from genesis.exchange.ccxt.mapping import instrument_from_market
from genesis.exchange.ccxt.venue import CcxtVenue

__all__ = [
    "AuthError",
    "CcxtMarketFeed",
    "CcxtVenue",
    "FeedKind",
    "OrderNotFound",
    "Outcome",
    "classify",
    "instrument_from_market",
    "to_genesis",
]
