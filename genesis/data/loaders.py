"""Streaming loaders for the CSV (and Parquet) market-data files Genesis replays.

Each reader is a generator over one file (plain, or gzip when the name ends in
``.gz``): it holds one block of about a thousand rows, never the whole file. A
``.parquet`` file (:mod:`genesis.data.parquet`) is read as the same rows of text,
a batch at a time, so it gets the same checks and messages.
Columns are found by header name (case-insensitive, a few aliases such as
``qty`` for ``quantity``), so their order does not matter. Prices go from the CSV string
straight to ``Decimal``; timestamps become exact integer ns, UTC
(:mod:`genesis.data.timeparse`).

Theory of operation. The hot loop of each reader does only the work a valid
row needs: slice, look up, compare, build the event. Any row that fails there
(an exception or a failed comparison) is handed to one slow, generic
diagnosis, which re-reads the row field by field and raises
:class:`~genesis.errors.DataError` with ``<file>:<line>: <reason>`` naming the
column, the offending value and what was expected. Price strings repeat a
lot (a bar's open is usually the previous close), so each reader keeps a
bounded ``str -> Decimal`` cache that also validates a price once, when it is
first seen (finite and positive).

Ordering rules:

* bars must have strictly increasing open times, at least ``interval_ns``
  apart (equal is a "duplicate timestamp", lower is "unsorted", closer than
  the interval is an overlap);
* trades and quotes must be non-decreasing: several ticks in the same
  millisecond are normal in real recordings (quote bars follow the bar rule).

Blank lines are skipped. A file without a header is "empty"; a header without
data rows is an error too, since a replay of nothing is always a mistake.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from genesis.core.enums import Side
from genesis.core.events import Bar, QuoteTick, TradeTick
from genesis.data.parquet import is_parquet, parquet_rows
from genesis.data.timeparse import TimestampParser, format_ns, make_timestamp_parser
from genesis.errors import ConfigError, DataError

__all__ = [
    "infer_interval_ns",
    "infer_tick_size",
    "read_bars",
    "read_quote_bars",
    "read_quotes",
    "read_trades",
]

PathLike = str | os.PathLike[str]

_ZERO: Final = Decimal(0)
_INF: Final = Decimal("Infinity")
_NO_TS: Final = -(2**63)  # "no previous row": below every valid timestamp
_PRICE_CACHE_SIZE: Final = 200_000
_BLOCK_CHARS: Final = 1 << 16  # text read per block: about a thousand rows
# Failures a malformed row can raise in a hot loop (Decimal raises ArithmeticError).
_ROW_ERRORS: Final = (ValueError, ArithmeticError, LookupError)
_IO_ERRORS: Final = (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error)

_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "timestamp": ("timestamp", "time", "datetime", "date", "ts"),
    "quantity": ("quantity", "qty", "size", "amount"),
    "buyer_maker": ("buyer_maker", "is_buyer_maker"),
}
# Binance's ``buyer_maker``: True means the seller crossed the spread.
_AGGRESSOR: Final[Mapping[str, Side | None]] = {
    "True": Side.SELL, "true": Side.SELL, "TRUE": Side.SELL, "1": Side.SELL,
    "False": Side.BUY, "false": Side.BUY, "FALSE": Side.BUY, "0": Side.BUY,
    "": None,
}  # fmt: skip

# (column, kind) in diagnosis order; kinds are keys of _CHECKS below.
_Fields = tuple[tuple[str, str], ...]
_BAR_FIELDS: Final[_Fields] = (
    ("timestamp", "timestamp"), ("open", "price"), ("high", "price"),
    ("low", "price"), ("close", "price"), ("volume", "non-negative"),
)  # fmt: skip
_TRADE_FIELDS: Final[_Fields] = (
    ("timestamp", "timestamp"), ("trade_id", "text"), ("price", "price"),
    ("quantity", "positive"), ("buyer_maker", "flag"),
)  # fmt: skip
_QUOTE_FIELDS: Final[_Fields] = (
    ("timestamp", "timestamp"), ("bid", "price"), ("ask", "price"),
    ("bid_size", "non-negative"), ("ask_size", "non-negative"),
)  # fmt: skip
_TICK_PRICE_FIELDS: Final[_Fields] = (
    ("timestamp", "timestamp"), ("open", "price"), ("high", "price"), ("low", "price"),
    ("close", "price"), ("price", "price"), ("bid", "price"), ("ask", "price"),
)  # fmt: skip
_QUOTE_BAR_FIELDS: Final[_Fields] = (
    ("timestamp", "timestamp"), ("bid_close", "price"), ("ask_close", "price"),
    ("bid_size", "non-negative"), ("ask_size", "non-negative"),
)  # fmt: skip
_BAR_REQUIRED: Final = ("timestamp", "open", "high", "low", "close")
_TRADE_REQUIRED: Final = ("timestamp", "price", "quantity")
_QUOTE_REQUIRED: Final = ("timestamp", "bid", "ask")
_QUOTE_BAR_REQUIRED: Final = ("timestamp", "bid_close", "ask_close")


# --- public API ----------------------------------------------------------------


def read_bars(
    path: PathLike, instrument_id: str, *, interval_ns: int | None = None
) -> Iterator[Bar]:
    """Stream bars from a ``timestamp,open,high,low,close[,volume]`` CSV file.

    The timestamp is the bar's open time: ``ts_open`` is that, and
    ``ts_event == ts_init == ts_open + interval_ns`` (a bar is known once it
    has closed). A file without a volume column gives volume 0. Volume is
    taken as written (its unit is the file's: base or quote currency).

    Args:
        path: the CSV file; ``.gz`` is decompressed on the fly.
        instrument_id: stamped on every bar.
        interval_ns: bar length in ns; ``None`` infers it with
            :func:`infer_interval_ns` (this reads the file's first rows now).

    Returns:
        A lazy iterator of :class:`Bar`, in file order.

    Raises:
        ConfigError: ``interval_ns`` is not positive.
        DataError: on iteration (or now, when inferring the interval) for an
            unreadable file, a missing column, a bad value or a bad order;
            the message is ``<file>:<line>: <reason>``.
    """
    source = Path(path)
    return _iter_bars(source, instrument_id, _interval(source, interval_ns))


def read_trades(path: PathLike, instrument_id: str) -> Iterator[TradeTick]:
    """Stream trades from a ``timestamp,trade_id,price,quantity,buyer_maker`` CSV file.

    ``buyer_maker`` True means the seller was the aggressor (``Side.SELL``),
    False the buyer; a missing column or empty value gives ``None``. A missing
    ``trade_id`` column gives ``""``. ``ts_event == ts_init`` = the timestamp.

    Returns:
        A lazy iterator of :class:`TradeTick`, in file order.

    Raises:
        DataError: on iteration, as ``<file>:<line>: <reason>``: unreadable
            file, missing column, non-positive or non-numeric price or
            quantity, unknown ``buyer_maker`` flag, decreasing timestamps.
    """
    return _iter_trades(Path(path), instrument_id)


def read_quotes(path: PathLike, instrument_id: str) -> Iterator[QuoteTick]:
    """Stream top-of-book quotes from a CSV with ``timestamp``, ``bid`` and ``ask``.

    ``bid_size`` and ``ask_size`` are read when present, else 0; other
    columns (``symbol``) are ignored. Locked or crossed quotes are passed
    through: judging them is data-quality monitoring, not parsing.

    Returns:
        A lazy iterator of :class:`QuoteTick`, ``ts_event == ts_init``.

    Raises:
        DataError: on iteration, as ``<file>:<line>: <reason>``: unreadable
            file, missing column, non-positive price, negative size,
            decreasing timestamps.
    """
    return _iter_quotes(Path(path), instrument_id)


def read_quote_bars(
    path: PathLike, instrument_id: str, *, interval_ns: int | None = None
) -> Iterator[QuoteTick]:
    """Stream one :class:`QuoteTick` per quote bar (``-quote.csv``): its closing bid and ask.

    Reads ``timestamp`` (the bar's open), ``bid_close``, ``ask_close`` and the last
    ``bid_size``/``ask_size`` (0 when missing). Each quote is stamped at the bar's
    close, ``ts_event == ts_init == timestamp + interval_ns`` (known only then, as
    bars are); ``interval_ns=None`` infers it now. Lazy, in file order.

    Raises:
        ConfigError / DataError: as :func:`read_bars`.
    """
    source = Path(path)
    return _iter_quotes(source, instrument_id, _interval(source, interval_ns), bars=True)


def infer_interval_ns(path: PathLike, sample: int = 1000) -> int:
    """Return the bar interval of a file: the smallest positive gap in its first rows.

    Args:
        path: a bar CSV file (plain or ``.gz``).
        sample: how many data rows to look at (at least 2).

    Returns:
        The interval in ns (60_000_000_000 for 1-minute bars).

    Raises:
        ConfigError: ``sample`` is below 2.
        DataError: the file is unreadable, a timestamp is bad, or the sample
            holds fewer than two distinct timestamps.
    """
    if sample < 2:
        raise ConfigError(f"invalid `sample` {sample}, expected at least 2 rows")
    source = Path(path)
    with _open_table(source, (("timestamp", "timestamp"),), ("timestamp",)) as table:
        column = table.columns["timestamp"]
        stamps: list[int] = [
            _field(table, row, "timestamp", column)
            for row in itertools.islice(table.rows, sample)
            if not _is_blank(row)
        ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps) if later > earlier]
    if not gaps:
        raise DataError(
            f"{source}: cannot infer the bar interval from {len(stamps)} row(s), "
            "expected two distinct timestamps; pass interval_ns"
        )
    return min(gaps)


def infer_tick_size(path: PathLike, sample: int | None = None) -> Decimal:
    """Return the finest decimal increment written in a file's price columns.

    Price columns are any of open, high, low, close, price, bid, ask. The
    increment is read from the text, so ``46319.0`` gives 0.1 and ``1.57597``
    gives 0.00001: use it only when the venue's metadata has no tick size.

    Args:
        path: a bar, trade or quote CSV file (plain or ``.gz``).
        sample: how many data rows to read; ``None`` reads them all.

    Returns:
        The increment as ``Decimal`` (``Decimal('0.1')``, ``Decimal('1')``).

    Raises:
        DataError: unreadable file, no price column, or a price that is not
            a positive finite number.
    """
    source = Path(path)
    with _open_table(source, _TICK_PRICE_FIELDS, ()) as table:
        names = [name for name, _ in _TICK_PRICE_FIELDS[1:] if name in table.columns]
        if not names:
            raise DataError(
                f"{source}:1: no price column in the header {','.join(table.header)!r}, "
                f"expected one of {_price_names()}"
            )
        exponent = 0
        for row in itertools.islice(table.rows, sample):
            for name in names if not _is_blank(row) else ():
                value = _field(table, row, name, table.columns[name])
                exponent = min(exponent, int(value.as_tuple().exponent))
    return Decimal((0, (1,), exponent))


# --- hot loops -------------------------------------------------------------------


def _iter_bars(path: Path, instrument_id: str, interval_ns: int) -> Iterator[Bar]:
    with _open_table(path, _BAR_FIELDS, _BAR_REQUIRED) as table:
        i_ts, i_open, i_high, i_low, i_close = (table.columns[n] for n in _BAR_REQUIRED)
        i_vol = table.columns.get("volume", -1)
        parse, prices, decimal = table.parse, _PriceCache(), Decimal
        volume, prev_end = _ZERO, _NO_TS
        for row in table.rows:
            try:
                ts = parse(row[i_ts])
                o, h = prices[row[i_open]], prices[row[i_high]]
                lo, c = prices[row[i_low]], prices[row[i_close]]
                if i_vol >= 0:
                    volume = decimal(row[i_vol])
                ok = ts >= prev_end and lo <= o <= h and lo <= c <= h and _ZERO <= volume < _INF
            except _ROW_ERRORS:
                ok = False
            if not ok:
                if _is_blank(row):
                    continue
                raise _row_error(table, row, _previous(prev_end, interval_ns), interval_ns)
            prev_end = end = ts + interval_ns
            yield Bar(
                ts_event=end, ts_init=end, instrument_id=instrument_id, ts_open=ts,
                open=o, high=h, low=lo, close=c, volume=volume,
            )  # fmt: skip


def _iter_trades(path: Path, instrument_id: str) -> Iterator[TradeTick]:
    with _open_table(path, _TRADE_FIELDS, _TRADE_REQUIRED) as table:
        i_ts, i_price, i_qty = (table.columns[n] for n in _TRADE_REQUIRED)
        i_id, i_maker = table.columns.get("trade_id", -1), table.columns.get("buyer_maker", -1)
        parse, prices, decimal, aggressor = table.parse, _PriceCache(), Decimal, _AGGRESSOR
        side, trade_id, prev = None, "", _NO_TS
        for row in table.rows:
            try:
                ts = parse(row[i_ts])
                price, size = prices[row[i_price]], decimal(row[i_qty])
                if i_maker >= 0:
                    side = aggressor[row[i_maker]]
                if i_id >= 0:
                    trade_id = row[i_id]
                ok = ts >= prev and _ZERO < size < _INF
            except _ROW_ERRORS:
                ok = False
            if not ok:
                if _is_blank(row):
                    continue
                raise _row_error(table, row, _previous(prev, 0), 0)
            prev = ts
            yield TradeTick(
                ts_event=ts, ts_init=ts, instrument_id=instrument_id, price=price, size=size,
                aggressor_side=side, trade_id=trade_id,
            )  # fmt: skip


def _iter_quotes(
    path: Path, instrument_id: str, interval_ns: int = 0, bars: bool = False
) -> Iterator[QuoteTick]:
    # Quotes (interval 0: non-decreasing times) and quote bars (each quote at its bar's
    # close, times at least an interval apart) share this loop; only the columns differ.
    fields = _QUOTE_BAR_FIELDS if bars else _QUOTE_FIELDS
    required = _QUOTE_BAR_REQUIRED if bars else _QUOTE_REQUIRED
    with _open_table(path, fields, required) as table:
        i_ts, i_bid, i_ask = (table.columns[n] for n in required)
        i_bsz, i_asz = table.columns.get("bid_size", -1), table.columns.get("ask_size", -1)
        parse, prices, decimal = table.parse, _PriceCache(), Decimal
        bid_size = ask_size = _ZERO
        prev_end = _NO_TS
        for row in table.rows:
            try:
                ts = parse(row[i_ts])
                bid, ask = prices[row[i_bid]], prices[row[i_ask]]
                if i_bsz >= 0:
                    bid_size = decimal(row[i_bsz])
                if i_asz >= 0:
                    ask_size = decimal(row[i_asz])
                ok = ts >= prev_end and _ZERO <= bid_size < _INF and _ZERO <= ask_size < _INF
            except _ROW_ERRORS:
                ok = False
            if not ok:
                if _is_blank(row):
                    continue
                raise _row_error(table, row, _previous(prev_end, interval_ns), interval_ns)
            prev_end = end = ts + interval_ns
            yield QuoteTick(
                ts_event=end, ts_init=end, instrument_id=instrument_id, bid=bid, ask=ask,
                bid_size=bid_size, ask_size=ask_size,
            )  # fmt: skip


class _PriceCache(dict[str, Decimal]):
    """``str -> Decimal`` for prices, validated (finite, positive) when first seen."""

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)
        if not _ZERO < value < _INF:  # a NaN raises InvalidOperation here
            raise ValueError(text)
        if len(self) >= _PRICE_CACHE_SIZE:
            self.clear()
        self[text] = value
        return value


def _interval(path: Path, interval_ns: int | None) -> int:
    if interval_ns is None:
        return infer_interval_ns(path)
    if interval_ns <= 0:
        raise ConfigError(f"invalid `interval_ns` {interval_ns}, expected a positive ns count")
    return interval_ns


def _previous(prev_end: int, interval_ns: int) -> int | None:
    return None if prev_end == _NO_TS else prev_end - interval_ns


# --- opening files ---------------------------------------------------------------


class _RowReader:
    """Data rows of a CSV text stream, split a block at a time; knows each row's line.

    Lines without a quote character are split on commas (about half the cost
    of :mod:`csv`); a block holding a quote goes through :func:`csv.reader`.
    A newline inside a quoted field is not supported (it raises csv.Error).
    """

    __slots__ = ("_block", "_first_line", "_handle")

    def __init__(self, handle: IO[str], first_line: int) -> None:
        self._handle, self._first_line = handle, first_line
        self._block: list[list[str]] = []

    def __iter__(self) -> Iterator[list[str]]:
        return itertools.chain.from_iterable(self._blocks())

    def line_of(self, row: Sequence[str] | None = None) -> int:
        """Return the 1-based line of ``row`` (a row of the current block), else the next line."""
        for i, candidate in enumerate(self._block):
            if candidate is row:
                return self._first_line + i
        return self._first_line + len(self._block)

    def _blocks(self) -> Iterator[list[list[str]]]:
        carry = ""
        while text := self._handle.read(_BLOCK_CHARS):
            text = carry + text
            cut = text.rfind("\n") + 1
            carry = text[cut:]
            yield self._enter(text[:cut])
        if carry:
            yield self._enter(carry + "\n")

    def _enter(self, text: str) -> list[list[str]]:
        self._first_line += len(self._block)
        lines = text.split("\n")
        lines.pop()  # the empty string after the final newline
        if '"' not in text:
            self._block = [line.split(",") for line in lines]
        else:
            self._block = list(csv.reader(lines, strict=True))
            if len(self._block) != len(lines):
                raise csv.Error("a quoted field spans lines, which is not supported")
        return self._block


class _ParquetReader:
    """Rows of a Parquet file (:mod:`genesis.data.parquet`) with CSV line numbers: the
    first data row is line 2, as if the column names were line 1."""

    __slots__ = ("_line", "_rows")

    def __init__(self, rows: Iterator[list[str]]) -> None:
        self._rows, self._line = rows, 1

    def __iter__(self) -> Iterator[list[str]]:
        for row in self._rows:
            self._line += 1
            yield row

    def line_of(self, row: Sequence[str] | None = None) -> int:
        """Return the line of the row being read (Parquet rows are read one at a time)."""
        return self._line


class _Table:
    """An open CSV file: column positions, the data rows and a timestamp parser."""

    __slots__ = ("columns", "fields", "header", "parse", "path", "reader", "rows")

    def __init__(
        self, path: Path, reader: _RowReader | _ParquetReader, header: list[str],
        columns: dict[str, int], fields: _Fields,
    ) -> None:  # fmt: skip
        self.path, self.reader, self.header, self.columns = path, reader, header, columns
        self.fields = tuple((name, kind) for name, kind in fields if name in columns)
        self.rows: Iterator[list[str]] = iter(reader)
        self.parse: TimestampParser = make_timestamp_parser("")

    def error(self, reason: str, row: Sequence[str] | None = None) -> DataError:
        """Return a DataError located at ``row``'s line (else the line being read)."""
        return DataError(f"{self.path}:{self.reader.line_of(row)}: {reason}")


@contextmanager
def _open_table(path: Path, fields: _Fields, required: Sequence[str]) -> Iterator[_Table]:
    # Foreign I/O and decoding errors, during the header or any later row,
    # become DataError here (STYLE R15).
    reader: _RowReader | _ParquetReader | None = None
    try:
        if is_parquet(path):
            names, rows = parquet_rows(path)
            reader = _ParquetReader(rows)
            yield _start_table(path, reader, names, fields, required)
            return
        with _open_text(path) as handle:
            header = next(csv.reader([handle.readline()]), None)
            if header is None or _is_blank(header):
                expected = ",".join(required) or "a header row"
                raise DataError(f"{path}:1: empty file, expected a header row like {expected}")
            reader = _RowReader(handle, first_line=2)
            yield _start_table(path, reader, header, fields, required)
    except _IO_ERRORS as exc:
        line = reader.line_of() if reader is not None else 1
        raise DataError(f"{path}:{line}: cannot read the file: {exc}") from exc


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return path.open(encoding="utf-8-sig")


def _start_table(
    path: Path,
    reader: _RowReader | _ParquetReader,
    header: list[str],
    fields: _Fields,
    required: Sequence[str],
) -> _Table:
    table = _Table(path, reader, header, _resolve_columns(path, header, fields, required), fields)
    first = next((row for row in table.rows if not _is_blank(row)), None)
    if first is None:
        raise table.error(f"no data rows after the header {','.join(header)}")
    i_ts = table.columns.get("timestamp", len(first))
    table.parse = make_timestamp_parser(first[i_ts] if i_ts < len(first) else "")
    table.rows = itertools.chain((first,), table.rows)
    return table


def _is_blank(row: Sequence[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _resolve_columns(
    path: Path, header: list[str], fields: _Fields, required: Sequence[str]
) -> dict[str, int]:
    positions: dict[str, int] = {}
    for i, raw in enumerate(header):
        positions.setdefault(raw.strip().lower(), i)
    columns: dict[str, int] = {}
    for name, _ in fields:
        found = [positions[a] for a in _ALIASES.get(name, (name,)) if a in positions]
        if found:
            columns[name] = found[0]
        elif name in required:
            raise DataError(
                f"{path}:1: missing required column {name!r}; "
                f"the header is {','.join(header)!r}, expected {','.join(required)}"
            )
    return columns


# --- diagnosis (slow path) -------------------------------------------------------


def _row_error(
    table: _Table, row: Sequence[str], prev_ts: int | None, interval_ns: int
) -> DataError:
    """Return the DataError that explains why ``row`` failed the hot loop."""
    try:
        values = {name: _field(table, row, name, table.columns[name]) for name, _ in table.fields}
        _check_bar_shape(values)
        _check_order(row[table.columns["timestamp"]], values["timestamp"], prev_ts, interval_ns)
    except DataError as exc:
        return exc
    except ValueError as exc:
        return table.error(str(exc), row)
    return table.error(f"invalid row {','.join(row)!r}", row)  # not reached for known failures


def _field(table: _Table, row: Sequence[str], name: str, index: int) -> Any:
    """Parse one field with the check its kind calls for; DataError names file:line."""
    if index >= len(row):
        raise table.error(
            f"row has {len(row)} fields, expected {len(table.header)} as in the header "
            f"({','.join(table.header)}); {name!r} is missing",
            row,
        )
    kind = dict(table.fields).get(name, "price")
    try:
        return _CHECKS[kind](name, row[index], table.parse)
    except ValueError as exc:
        raise table.error(str(exc), row) from None


def _decimal(name: str, text: str, *, allow_zero: bool) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise ValueError(f"{name} {text!r} is not a number, expected a decimal") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not finite, expected a decimal number")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} {text!r} is out of range, expected {bound}")
    return value


def _flag(name: str, text: str) -> Side | None:
    if text not in _AGGRESSOR:
        raise ValueError(f"{name} {text!r} is not a flag, expected True or False")
    return _AGGRESSOR[text]


_CHECKS: Final[Mapping[str, Callable[[str, str, TimestampParser], Any]]] = {
    "timestamp": lambda name, text, parse: parse(text),
    "price": lambda name, text, parse: _decimal(name, text, allow_zero=False),
    "positive": lambda name, text, parse: _decimal(name, text, allow_zero=False),
    "non-negative": lambda name, text, parse: _decimal(name, text, allow_zero=True),
    "flag": lambda name, text, parse: _flag(name, text),
    "text": lambda name, text, parse: text,
}


def _check_bar_shape(values: Mapping[str, Any]) -> None:
    if "high" not in values or "low" not in values:
        return
    high, low = values["high"], values["low"]
    if high < low:
        raise ValueError(f"high {high} is below low {low}, expected high >= low")
    for name in ("open", "close"):
        if not low <= values[name] <= high:
            raise ValueError(f"{name} {values[name]} is outside [low {low}, high {high}]")


def _check_order(text: str, ts: int, prev_ts: int | None, interval_ns: int) -> None:
    if prev_ts is None:
        return
    shown = f"{text!r} ({format_ns(ts)})"
    if ts == prev_ts and interval_ns > 0:
        raise ValueError(
            f"duplicate timestamp {shown}: the previous row has the same time "
            f"{format_ns(prev_ts)}, expected increasing time"
        )
    if ts < prev_ts:
        raise ValueError(
            f"unsorted timestamps: {shown} is earlier than the previous row's "
            f"{format_ns(prev_ts)}, expected increasing time"
        )
    if ts < prev_ts + interval_ns:
        raise ValueError(
            f"overlapping bars: {shown} opens {ts - prev_ts} ns after the previous bar "
            f"({format_ns(prev_ts)}), expected at least the interval {interval_ns} ns"
        )


def _price_names() -> str:
    return ", ".join(name for name, _ in _TICK_PRICE_FIELDS[1:])
