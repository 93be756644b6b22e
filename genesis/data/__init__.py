"""Market data: L2 books and their synchronisation, loaders, capture readers, bar aggregation."""

from genesis.data.book import BookSync, BookSyncStats, OrderBook, SyncOutcome
from genesis.data.capture import read_binance_streams, read_futures_depth_csv, read_spot_capture
from genesis.data.capture_venues import read_bybit_orderbook, read_gemini_l2

__all__ = [
    "BookSync",
    "BookSyncStats",
    "OrderBook",
    "SyncOutcome",
    "read_binance_streams",
    "read_bybit_orderbook",
    "read_futures_depth_csv",
    "read_gemini_l2",
    "read_spot_capture",
]
