"""Pick the reader for a recording by its name: bars CSV, Binance capture JSONL, raw streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from genesis.core.events import MarketEvent
from genesis.data.capture import read_binance_streams, read_spot_capture
from genesis.data.loaders import read_bars

__all__ = ["open_events"]


def open_events(path: Path, symbol: str) -> Iterator[MarketEvent]:
    """Stream the market events of ``path`` in file order.

    ``*.csv[.gz]`` are bars for ``symbol``; ``*.jsonl[.gz]`` is a Binance spot
    capture (REST snapshots and combined-stream messages, every symbol in it);
    ``*.txt[.gz]`` is raw combined-stream text (``<recv ns> <json>``) of ``symbol``.

    Raises:
        DataError: an unreadable or malformed file (file:line in the message).
    """
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return read_spot_capture(path)
    if name.endswith(".txt"):
        return read_binance_streams(path, symbol)
    return read_bars(path, symbol)
