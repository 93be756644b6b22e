"""Replay a spot capture through the exact book procedure and say whether it can be trusted.

Theory of operation
===================

A capture (``{"recv_ts", "kind", ...}`` per line, see ``genesis.data.capture``)
is read line by line in file order, which is arrival order. Every line goes
through the same parser as ``read_spot_capture`` (so a file that checks here
reads there), and each symbol's book events go through one ``BookSync``, the
§10 procedure the live feed and the backtest use. Nothing is re-ordered.

Per symbol the report says:

* ``valid``: the book mirrors the venue at the end of the file. It is false
  when no snapshot was ever loaded, or when a gap (or a crossed book) was not
  healed by a later snapshot. A gap that a later snapshot healed leaves
  ``valid`` true and shows in ``gaps`` and ``resyncs``.
* ``applied``, ``gaps``, ``snapshots``, ``resyncs``, ``discarded_old`` (diffs
  older than the book, e.g. the one straddling a snapshot), ``crossed_books``,
  ``buffered`` (diffs still waiting for a snapshot at the end).
* ``first_update_id`` (the ``lastUpdateId`` of the first snapshot loaded) and
  ``last_update_id`` (the id the book ends at); ``first_recv_ts``,
  ``last_recv_ts`` and ``span_s`` over the symbol's book and ticker lines, as
  written in the file.
* ``best_bid``/``best_ask`` and their quantities: strings exactly as the
  venue wrote them (Decimal keeps trailing zeros; ``format(d, "f")`` never
  uses an exponent). An invalid book reports its last good state; ``null``
  before any snapshot.
* The bookTicker cross-check. ``bookTicker.u`` shares the depth id space
  (§10 notes), but a depth diff covers a batch of ids, so the rebuilt book is
  only observable at each diff's ``u``. A ticker whose ``u`` equals an id the
  valid book reached (before or after the ticker arrived, which runs ahead of
  the 100 ms diffs) is compared on all four of bid, bid qty, ask, ask qty:
  ``book_ticker_matched`` or ``book_ticker_mismatched``; any other ticker is
  ``book_ticker_unpaired``.

Unreadable input. A line that is not a valid capture record is reported as
``file:line: reason`` and skipped; the rest is still checked, and the exit
code is 2. A *truncated tail* is different: a recorder killed mid-write
leaves a gzip stream without its end marker, or a plain file whose last line
has no newline. That is reported as a warning with its line number and does
not change the verdict, because every complete line before it is intact.
"""

from __future__ import annotations

import gzip
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from genesis.core.events import BookDelta, BookSnapshot, MarketEvent
from genesis.data import capture as _capture
from genesis.data.book import BookSync, Level
from genesis.errors import DataError

__all__ = [
    "CaptureLineError",
    "CaptureReport",
    "SymbolReport",
    "check_capture",
    "parse_capture_record",
]

_GZIP_MAGIC: Final = b"\x1f\x8b"
_MAX_REMEMBERED_IDS: Final = 4096  # top-of-book states kept for late bookTickers


class CaptureLineError(ValueError):
    """One capture record is malformed (the caller adds file:line)."""


def parse_capture_record(record: dict[str, Any]) -> MarketEvent | None:
    """Map one decoded capture record to its market event, exactly as ``read_spot_capture`` does.

    Raises:
        CaptureLineError: the record lacks or mistypes a field.
    """
    # The capture module's record parser is the single definition of the
    # format; the recorder and this checker call it so all three agree.
    try:
        return _capture._capture_record(record)
    except _capture._Malformed as exc:
        raise CaptureLineError(str(exc)) from None


def decode_capture_line(line: str) -> tuple[dict[str, Any], MarketEvent | None]:
    """Decode one capture line into its record and market event.

    Raises:
        CaptureLineError: the line is not JSON, not an object, or not a valid record.
    """
    try:
        record = _capture._decode(line)
    except _capture._Malformed as exc:
        raise CaptureLineError(str(exc)) from None
    return record, parse_capture_record(record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolReport:
    """The verdict on one symbol of a capture (see the module essay for each field)."""

    symbol: str
    valid: bool
    applied: int
    gaps: int
    snapshots: int
    resyncs: int
    discarded_old: int
    crossed_books: int
    diffs: int
    buffered: int
    first_update_id: int | None
    last_update_id: int | None
    best_bid: str | None
    best_bid_qty: str | None
    best_ask: str | None
    best_ask_qty: str | None
    first_recv_ts: str | None
    last_recv_ts: str | None
    span_s: str | None
    book_ticker_matched: int
    book_ticker_mismatched: int
    book_ticker_unpaired: int

    def to_json(self) -> str:
        """One JSON line, keys in declaration order."""
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureReport:
    """All symbols of one capture plus what could not be read.

    Attributes:
        errors: ``file:line: reason`` of each malformed line (skipped).
        truncated: ``file:line: reason`` of a truncated tail, or None.
        lines: lines read (blank lines included).
    """

    symbols: tuple[SymbolReport, ...]
    errors: tuple[str, ...]
    truncated: str | None
    lines: int

    @property
    def exit_code(self) -> int:
        """0 when every symbol is valid, 1 when one is not, 2 when a line was unreadable."""
        if self.errors or not self.symbols:
            return 2
        return 0 if all(s.valid for s in self.symbols) else 1


_Top = tuple[Level | None, Level | None]
_Quote = tuple[Decimal, Decimal, Decimal, Decimal]


@dataclass(slots=True)
class _SymbolCheck:
    sync: BookSync
    diffs: int = 0
    first_id: int | None = None
    first_ts: Decimal | None = None
    last_ts: Decimal | None = None
    tops: OrderedDict[int, _Top] = field(default_factory=OrderedDict)
    pending: dict[int, _Quote] = field(default_factory=dict)
    matched: int = 0
    mismatched: int = 0
    unpaired: int = 0

    def stamp(self, recv_ts: Decimal) -> None:
        if self.first_ts is None:
            self.first_ts = recv_ts
        self.last_ts = recv_ts

    def book_event(self, event: BookSnapshot | BookDelta) -> None:
        sync = self.sync
        if type(event) is BookDelta:
            self.diffs += 1
        sync.apply(event)
        if type(event) is BookSnapshot and self.first_id is None:
            self.first_id = event.last_update_id
        if not sync.valid:
            return
        book_id = sync.last_update_id
        top = (sync.book.best_bid(), sync.book.best_ask())
        self.tops[book_id] = top
        if len(self.tops) > _MAX_REMEMBERED_IDS:
            self.tops.popitem(last=False)
        quote = self.pending.pop(book_id, None)
        if quote is not None:
            self._compare(quote, top)
        stale = [u for u in self.pending if u < book_id]
        for u in stale:
            del self.pending[u]
        self.unpaired += len(stale)

    def ticker(self, update_id: int, quote: _Quote) -> None:
        top = self.tops.get(update_id)
        if top is not None:
            self._compare(quote, top)
        elif update_id > self.sync.last_update_id or not self.sync.valid:
            if len(self.pending) >= _MAX_REMEMBERED_IDS:
                self.pending.pop(next(iter(self.pending)))
                self.unpaired += 1
            self.pending[update_id] = quote
        else:
            self.unpaired += 1

    def _compare(self, quote: _Quote, top: _Top) -> None:
        bid, ask = top
        if bid is not None and ask is not None and quote == (*bid, *ask):
            self.matched += 1
        else:
            self.mismatched += 1

    def report(self, symbol: str) -> SymbolReport:
        stats = self.sync.statistics()
        book = self.sync.book
        bid, ask = (book.best_bid(), book.best_ask()) if stats.snapshots else (None, None)
        return SymbolReport(
            symbol=symbol,
            valid=stats.valid,
            applied=stats.applied,
            gaps=stats.gaps,
            snapshots=stats.snapshots,
            resyncs=stats.resyncs,
            discarded_old=stats.stale_dropped,
            crossed_books=stats.crossed,
            diffs=self.diffs,
            buffered=stats.buffered,
            first_update_id=self.first_id,
            last_update_id=stats.last_update_id if stats.snapshots else None,
            best_bid=_fmt(bid, 0),
            best_bid_qty=_fmt(bid, 1),
            best_ask=_fmt(ask, 0),
            best_ask_qty=_fmt(ask, 1),
            first_recv_ts=_plain(self.first_ts),
            last_recv_ts=_plain(self.last_ts),
            span_s=(
                _plain(self.last_ts - self.first_ts)
                if self.first_ts is not None and self.last_ts is not None
                else None
            ),
            book_ticker_matched=self.matched,
            book_ticker_mismatched=self.mismatched,
            book_ticker_unpaired=self.unpaired + len(self.pending),
        )


def _fmt(level: Level | None, index: int) -> str | None:
    return None if level is None else format(level[index], "f")


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class _Checker:
    """Feeds decoded records to one ``_SymbolCheck`` per symbol, in file order."""

    def __init__(self) -> None:
        self.symbols: dict[str, _SymbolCheck] = {}

    def _symbol(self, symbol: str) -> _SymbolCheck:
        check = self.symbols.get(symbol)
        if check is None:
            check = self.symbols[symbol] = _SymbolCheck(BookSync(symbol))
        return check

    def feed(self, record: dict[str, Any], event: MarketEvent | None) -> None:
        if isinstance(event, BookSnapshot | BookDelta):
            check = self._symbol(event.instrument_id)
            check.stamp(Decimal(record["recv_ts"]))
            check.book_event(event)
            return
        ticker = _book_ticker(record)
        if ticker is not None:
            symbol, update_id, quote = ticker
            check = self._symbol(symbol)
            check.stamp(Decimal(record["recv_ts"]))
            check.ticker(update_id, quote)


def _book_ticker(record: dict[str, Any]) -> tuple[str, int, _Quote] | None:
    # QuoteTick drops the update id, so the ticker is read from the raw payload.
    message = record.get("data")
    if record.get("kind") != "ws" or not isinstance(message, dict):
        return None
    payload = message.get("data")
    if not isinstance(payload, dict) or "e" in payload:
        return None
    try:
        update_id, symbol = payload["u"], payload["s"]
        quote = tuple(Decimal(payload[k]) for k in ("b", "B", "a", "A"))
    except (KeyError, TypeError, ArithmeticError):
        return None  # not a bookTicker, or one the event parser already judged
    if type(update_id) is not int or not isinstance(symbol, str):
        return None
    return symbol, update_id, (quote[0], quote[1], quote[2], quote[3])


def _open_text(path: Path) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


@dataclass(slots=True)
class _Reading:
    lines: int = 0
    truncated: str | None = None


def _read_lines(path: Path, reading: _Reading) -> Iterator[tuple[int, str]]:
    try:
        with _open_text(path) as stream:
            for lineno, line in enumerate(stream, 1):
                reading.lines = lineno
                yield lineno, line
    except EOFError as exc:  # gzip without its end marker: the recorder died
        reading.truncated = f"{path}:{reading.lines + 1}: truncated gzip stream ({exc})"
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}:{reading.lines + 1}: unreadable ({exc})") from exc


def check_capture(path: str | Path) -> CaptureReport:
    """Replay a plain or gzipped capture through the §10 book procedure, symbol by symbol.

    Raises:
        DataError: the file cannot be opened or decompressed (file:line in the message).
    """
    path = Path(path)
    checker = _Checker()
    reading = _Reading()
    errors: list[str] = []
    for lineno, line in _read_lines(path, reading):
        if not line.strip():
            continue
        try:
            record, event = decode_capture_line(line)
        except CaptureLineError as exc:
            if not line.endswith("\n"):  # last line, cut short by a crash
                reading.truncated = f"{path}:{lineno}: truncated final line ({exc})"
            else:
                errors.append(f"{path}:{lineno}: {exc}")
            continue
        checker.feed(record, event)
    if not checker.symbols and not errors:
        errors.append(f"{path}:{reading.lines}: no depth snapshot, diff or bookTicker found")
    return CaptureReport(
        symbols=tuple(check.report(symbol) for symbol, check in checker.symbols.items()),
        errors=tuple(errors),
        truncated=reading.truncated,
        lines=reading.lines,
    )
