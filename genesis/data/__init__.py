"""Market data: L2 books and their synchronisation, loaders, capture readers, bar aggregation,
and recordings of several symbols and venues merged into one stream."""

from genesis.data.book import BookSync, BookSyncStats, OrderBook, SyncOutcome
from genesis.data.capture import read_binance_streams, read_futures_depth_csv, read_spot_capture
from genesis.data.capture_venues import read_bybit_orderbook, read_gemini_l2
from genesis.data.sources import (
    DataSpec,
    SourceInstrument,
    SourceInstruments,
    describe_sources,
    instruments_for,
    open_sources,
    parse_data_arg,
)

__all__ = [
    "BookSync",
    "BookSyncStats",
    "DataSpec",
    "OrderBook",
    "SourceInstrument",
    "SourceInstruments",
    "SyncOutcome",
    "describe_sources",
    "instruments_for",
    "open_sources",
    "parse_data_arg",
    "read_binance_streams",
    "read_bybit_orderbook",
    "read_futures_depth_csv",
    "read_gemini_l2",
    "read_spot_capture",
]
