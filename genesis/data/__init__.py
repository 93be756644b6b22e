"""Market data: L2 books and their synchronisation, loaders, capture readers, bar aggregation,
and recordings of several symbols and venues merged into one stream.

The names below are imported from their modules on first use (PEP 562), not when the
package is: a backtest reading cached bars imports ``genesis.data.barcache`` and must
not pay for every capture reader and source parser (several milliseconds of each
command's start)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genesis.data.book import BookSync, BookSyncStats, OrderBook, SyncOutcome
    from genesis.data.capture import (
        read_binance_streams,
        read_futures_depth_csv,
        read_spot_capture,
    )
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

_WHERE = {
    "BookSync": "book",
    "BookSyncStats": "book",
    "OrderBook": "book",
    "SyncOutcome": "book",
    "read_binance_streams": "capture",
    "read_futures_depth_csv": "capture",
    "read_spot_capture": "capture",
    "read_bybit_orderbook": "capture_venues",
    "read_gemini_l2": "capture_venues",
    "DataSpec": "sources",
    "SourceInstrument": "sources",
    "SourceInstruments": "sources",
    "describe_sources": "sources",
    "instruments_for": "sources",
    "open_sources": "sources",
    "parse_data_arg": "sources",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'genesis.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"genesis.data.{module}"), name)
    globals()[name] = value
    return value
