"""The session log: every market event a paper session consumed, exactly, in order.

A paper session on live data has no recording to rebuild from after a crash,
so the daemon writes each event here before the trading loop sees it; a
restart replays this file the way it replays a bundled recording. A session
on recordings writes it too, so every paper session can be replayed from its
log (``backtest --data SESSION_LOG``, ``genesis.backtesting.session``). One JSON
object per line, ``{"type": "<EventClass>", "event": {...}}``: the event's
own fields with Decimals as strings and integer nanosecond stamps, so a read
gives back events equal to the ones written (a capture-format file would
round receive times to microseconds).

A crash can leave a torn last line; opening the log for appending cuts it
(it was never acknowledged to the trading loop, which only sees an event
after its line is written).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from genesis.core.events import Bar, BookDelta, BookSnapshot, MarketEvent, QuoteTick, TradeTick
from genesis.errors import DataError

__all__ = ["SessionLog", "is_session_log", "read_session_log"]

_TYPES: dict[str, type[MarketEvent]] = {
    cls.__name__: cls for cls in (Bar, BookDelta, BookSnapshot, QuoteTick, TradeTick)
}
_ENCODER = msgspec.json.Encoder(decimal_format="string")


class SessionLog:
    """Appends events, one flushed line each; ``sync`` makes them durable (checkpoints)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lines = _cut_torn_tail(path)  # complete lines (events) already in the file
        self._file: IO[bytes] = path.open("ab")
        self.written = 0

    def append(self, event: MarketEvent) -> None:
        name = type(event).__name__
        if name not in _TYPES:
            raise DataError(f"session log cannot store {name} events")
        line = _ENCODER.encode({"type": name, "event": event})
        self._file.write(line + b"\n")
        self._file.flush()  # in the OS before the trading loop sees the event
        self.written += 1
        self.lines += 1

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_session_log(path: Path) -> Iterator[MarketEvent]:
    """Yield the logged events in order (nothing if the file does not exist yet).

    Raises:
        DataError: a complete line that is not a logged event, with file:line.
    """
    if not path.exists():
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                return  # a torn tail: never acknowledged
            yield _decode(raw, f"{path}:{number}")


def is_session_log(path: Path) -> bool:
    """Whether ``path`` is a session log: its first line is a logged event (any name;
    ``backtest --data`` tells it from a capture or a bars file this way)."""
    if path.name.endswith(".gz") or not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
        _decode(first, str(path))
    except (OSError, DataError):
        return False
    return True


def _decode(raw: bytes, where: str) -> MarketEvent:
    try:
        record: Any = msgspec.json.decode(raw)
        cls = _TYPES[record["type"]]
        event: MarketEvent = msgspec.convert(record["event"], cls, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as exc:
        raise DataError(f"{where}: not a session-log event ({exc})") from None
    return event


def _cut_torn_tail(path: Path) -> int:
    """Cut a torn last line; return the complete lines left."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)
        return data.count(b"\n")
