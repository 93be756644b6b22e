"""A downloaded bar file: appended a page at a time, resumable, readable by the backtest.

CSV (``timestamp,open,high,low,close,volume``, the timestamp the bar's open as
``YYYY-MM-DD HH:MM:SS+00:00``, the bundled files' format): each page of bars is
appended as whole lines in one write, then flushed and fsynced before the next
request, so a killed download keeps every page it finished. Should a kill land
inside a write, the torn last line is cut off when the file is next opened for
appending (``BarSink`` repairs before it resumes).

Parquet (:mod:`genesis.data.parquet`) cannot be appended to: the pages go to a
journal beside it, ``FILE.parquet.part`` (the CSV above), and ``finish`` writes the
Parquet file (the rows it already had plus the journal's) atomically and removes
the journal. A killed download leaves the previous Parquet file intact and its
progress in the journal, which the next run continues.

Prices are written as the venue's decimal text without trailing zeros
(``46319.00000000`` -> ``46319``): the same value, and the finest increment in a
file is then the market's, which is what tick-size inference reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from genesis.data.parquet import parquet_rows, write_parquet_bars
from genesis.data.timeparse import make_timestamp_parser
from genesis.errors import ConfigError, DataError

__all__ = ["HEADER", "INTERVAL_MS", "BarRow", "BarSink", "bar_row", "format_open"]

HEADER: Final = "timestamp,open,high,low,close,volume\n"
_MINUTE: Final = 60_000
INTERVAL_MS: Final = {
    "1m": _MINUTE, "3m": 3 * _MINUTE, "5m": 5 * _MINUTE, "15m": 15 * _MINUTE,
    "30m": 30 * _MINUTE, "1h": 60 * _MINUTE, "2h": 120 * _MINUTE, "4h": 240 * _MINUTE,
    "6h": 360 * _MINUTE, "8h": 480 * _MINUTE, "12h": 720 * _MINUTE, "1d": 1440 * _MINUTE,
}  # fmt: skip
"""Bar intervals (Binance's kline names, also ccxt's timeframes) from a minute to a day, in ms."""
# (open ms, open, high, low, close, volume) with the prices as text
BarRow = tuple[int, str, str, str, str, str]
_TAIL_BYTES: Final = 4096


def format_open(ms: int) -> str:
    """``ms`` since the epoch as ``YYYY-MM-DD HH:MM:SS+00:00`` (whole seconds) or with ``.fff``."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if ms % 1000:
        return moment.isoformat(sep=" ", timespec="milliseconds")
    return moment.isoformat(sep=" ", timespec="seconds")


def _decimal_text(value: object, where: str) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0:
        raise DataError(f"{where}: {value!r} is not a decimal >= 0")
    text = format(number.normalize(), "f")
    return "0" if number == 0 else text


def bar_row(open_ms: int, values: Sequence[object], where: str) -> BarRow:
    """One bar from the venue's open, high, low, close, volume (text or numbers).

    Raises:
        DataError: a value is not a finite decimal >= 0 (``where`` names the bar).
    """
    o, h, lo, c, v = (_decimal_text(value, where) for value in values[:5])
    return (open_ms, o, h, lo, c, v)


def _csv_line(row: BarRow) -> str:
    return f"{format_open(row[0])},{','.join(row[1:])}\n"


class BarSink:
    """Where one symbol's bars go; knows where a previous run stopped.

    Args:
        path: the output file, ``.csv`` or ``.parquet``.

    Raises:
        ConfigError: the suffix is neither, or an existing file is not a bar file
            of this format (another header).
        DataError: an existing file cannot be read.
    """

    def __init__(self, path: Path) -> None:
        if path.suffix not in (".csv", ".parquet"):
            raise ConfigError(f"{path}: expected a .csv or .parquet bar file")
        self.path = path
        self.parquet = path.suffix == ".parquet"
        self.journal = path.with_name(path.name + ".part") if self.parquet else path
        self.added = 0
        self._finished: list[BarRow] = []  # the Parquet file's rows, when it exists
        self.last_open_ms = self._resume()

    def _resume(self) -> int | None:
        last = _repair_csv(self.journal) if self.journal.exists() else None
        if self.parquet and self.path.exists():
            header, rows = parquet_rows(self.path)
            if header[: len(HEADER.split(","))] != HEADER.strip().split(","):
                raise ConfigError(f"{self.path}: not a bar file (columns {header})")
            self._finished = [(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
            done = self._finished[-1][0] if self._finished else None
            last = last if last is not None else done
        return last

    def append(self, rows: Sequence[BarRow]) -> None:
        """Append one page (whole lines, one write, fsynced) to the file or the journal."""
        if not rows:
            return
        fresh = not self.journal.exists() or self.journal.stat().st_size == 0
        text = (HEADER if fresh else "") + "".join(_csv_line(row) for row in rows)
        fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.added += len(rows)
        self.last_open_ms = rows[-1][0]

    def finish(self) -> None:
        """Parquet: write the file from its rows and the journal's, then drop the journal."""
        if not self.parquet or not self.journal.exists():
            return
        rows = self._finished + _read_journal(self.journal)
        write_parquet_bars(self.path, rows)
        self.journal.unlink()


def _repair_csv(path: Path) -> int | None:
    """Cut a torn last line; return the last bar's open (ms), None for no bar yet.

    Raises:
        ConfigError: the file's first line is not :data:`HEADER`.
    """
    with path.open("rb+") as handle:
        head = handle.readline().decode(errors="replace")
        if head and head != HEADER:
            raise ConfigError(f"{path}: not a bar file of this format (header {head.strip()!r})")
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
        cut = size - len(tail) + tail.rfind(b"\n") + 1
        if cut < size:
            handle.truncate(cut)
        lines = tail[: tail.rfind(b"\n")].decode().rsplit("\n", 1)
    last = lines[-1].split(",", 1)[0] if lines else ""
    if not last or last == "timestamp":
        return None
    return make_timestamp_parser(last)(last) // 1_000_000


def _read_journal(path: Path) -> list[BarRow]:
    parse = None
    rows: list[BarRow] = []
    with path.open(encoding="utf-8") as handle:
        next(handle, None)
        for line in handle:
            ts, o, h, lo, c, v = line.rstrip("\n").split(",")
            parse = parse or make_timestamp_parser(ts)
            rows.append((parse(ts) // 1_000_000, o, h, lo, c, v))
    return rows
