"""A live venue over ``ccxt.async_support``: one adapter for the venues ccxt supports.

``CcxtVenue`` implements ``genesis.exchange.live.LiveVenue`` (orders by
client order id, unknown outcomes resolved by query, fills and order states
streamed by ccxt.pro where the exchange has them, else polled, delivered
once); ``CcxtMarketSource`` yields market events, streamed where ccxt.pro
can and polled elsewhere; ``CcxtMarketFeed`` only polls. ccxt's exceptions are
mapped onto ``genesis.errors`` in ``errors.py`` only, and every message is
scrubbed of credentials and signed URLs there.
"""

from __future__ import annotations

from genesis.exchange.ccxt.errors import AuthError, OrderNotFound, Outcome, classify, to_genesis
from genesis.exchange.ccxt.feed import CcxtMarketFeed, FeedKind
from genesis.exchange.ccxt.mapping import instrument_from_market
from genesis.exchange.ccxt.market import CcxtMarketSource, MarketSourceStats
from genesis.exchange.ccxt.venue import CcxtVenue
from genesis.exchange.ccxt.watch import WatchStats

__all__ = [
    "AuthError",
    "CcxtMarketFeed",
    "CcxtMarketSource",
    "CcxtVenue",
    "FeedKind",
    "MarketSourceStats",
    "OrderNotFound",
    "Outcome",
    "WatchStats",
    "classify",
    "instrument_from_market",
    "to_genesis",
]
