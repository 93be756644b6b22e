"""Streaming readers for recorded Binance market data, yielding ``genesis.core.events``.

Three formats, each read lazily line by line (plain text or gzip, detected
from the file's magic bytes):

* the spot capture JSONL (``{"recv_ts": <s>, "kind": "rest"|"ws", ...}``):
  ``read_spot_capture``;
* raw stream recordings (``<recv ns> <json>`` per line, the JSON being a
  combined-stream message, a raw stream payload or a bare REST depth
  snapshot): ``read_binance_streams``;
* Binance USD-M futures depth CSV (``symbol,timestamp,first_update_id,
  last_update_id,side,update_type,price,qty,pu``): ``read_futures_depth_csv``.

Mapping. ``depthUpdate`` -> ``BookDelta`` (``U``, ``u``, ``pu`` when sent);
REST depth -> ``BookSnapshot``; ``bookTicker`` -> ``QuoteTick``; ``aggTrade``
and ``trade`` -> ``TradeTick`` (``m`` true means the buyer was the maker, so
the aggressor SOLD); a *closed* ``kline`` (``x`` true) -> ``Bar``, whose
``ts_event`` is its close time (``k.T`` + 1 ms); open klines are skipped.
Messages of other streams are skipped; malformed ones raise ``DataError``
with ``file:line`` and the reason.

Time. ``ts_event`` is the exchange's event time ``E`` (ms -> ns) when the
message has one, else the receive time; ``ts_init`` is the receive time.
Capture receive times are JSON floats in seconds: they are decoded straight
to Decimal from their text, so no binary float ever rounds them.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import parse_qs, urlsplit

import msgspec

from genesis.core.enums import Side
from genesis.core.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    MarketEvent,
    PriceLevels,
    QuoteTick,
    TradeTick,
)
from genesis.errors import DataError

__all__ = ["read_binance_streams", "read_futures_depth_csv", "read_spot_capture"]

_MS: Final = 1_000_000
_S: Final = Decimal(1_000_000_000)
_GZIP_MAGIC: Final = b"\x1f\x8b"
_FUTURES_COLUMNS: Final = (
    "symbol",
    "timestamp",
    "first_update_id",
    "last_update_id",
    "side",
    "update_type",
    "price",
    "qty",
    "pu",
)
_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)


class _Malformed(Exception):
    """A record is malformed; the reader adds file:line and raises DataError."""


# --- public readers ------------------------------------------------------------


def read_spot_capture(path: str | Path) -> Iterator[MarketEvent]:
    """Yield the events of a spot capture JSONL file in file order.

    Args:
        path: a ``.jsonl`` or gzipped capture (``genesis.resources.SPOT_CAPTURE``).

    Yields:
        BookSnapshot, BookDelta, QuoteTick, TradeTick and closed-kline Bar events.

    Raises:
        DataError: a line is not JSON or a known record lacks or mistypes a field.
    """
    for lineno, line in _lines(path):
        try:
            event = _capture_record(_decode(line))
        except _Malformed as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        if event is not None:
            yield event


def read_binance_streams(
    path: str | Path, instrument_id: str | None = None
) -> Iterator[MarketEvent]:
    """Yield the events of a ``<recv ns> <json>`` stream recording in file order.

    A bare ``{lastUpdateId, bids, asks}`` line is a REST depth snapshot; it has
    no symbol, so it takes ``instrument_id`` or, when that is None, the symbol
    of the file's stream messages (a snapshot before the first stream message
    is held back until that message names the symbol).

    Args:
        path: a plain or gzipped recording.
        instrument_id: the instrument of bare snapshots; None to infer it.

    Raises:
        DataError: a malformed line, or a snapshot whose instrument cannot be
            inferred (no stream message, or several symbols in the file).
    """
    inference = _SnapshotSymbol(path, instrument_id)
    for lineno, line in _lines(path):
        try:
            event = _stream_line(line)
        except _Malformed as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        if event is None:
            continue
        if isinstance(event, BookSnapshot):  # a bare REST snapshot: no symbol of its own
            yield from inference.snapshot(lineno, event)
        else:
            yield from inference.resolve(lineno, event.instrument_id)
            yield event
    inference.finish()


def read_futures_depth_csv(path: str | Path) -> Iterator[BookSnapshot | BookDelta]:
    """Yield book events from a Binance futures depth CSV, one per group of rows.

    Consecutive rows with the same symbol, ``first_update_id``,
    ``last_update_id`` and kind form one event: ``update_type`` ``snap`` rows a
    ``BookSnapshot`` (levels sorted best first), other rows a ``BookDelta``
    (levels in file order, ``prev_update_id`` from ``pu``). ``timestamp`` is in
    ms and gives both ``ts_event`` and ``ts_init``.

    Raises:
        DataError: the header is not the expected one or a row is malformed.
    """
    group: list[_FuturesRow] = []
    for row in _futures_rows(path):
        if group and row.key != group[0].key:
            yield _futures_event(group)
            group = []
        group.append(row)
    if group:
        yield _futures_event(group)


# --- file access ---------------------------------------------------------------


def _open_text(path: str | Path) -> IO[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _lines(path: str | Path) -> Iterator[tuple[int, str]]:
    lineno = 0
    try:
        with _open_text(path) as stream:
            for lineno, line in enumerate(stream, 1):
                if line.strip():
                    yield lineno, line
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}:{lineno + 1}: unreadable ({exc})") from exc


def _decode(text: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise _Malformed(f"invalid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _Malformed(f"JSON {type(value).__name__}; expected an object")
    return value


# --- spot capture and stream messages ------------------------------------------


def _capture_record(record: dict[str, Any]) -> MarketEvent | None:
    recv_ts = _get(record, "recv_ts")
    if not isinstance(recv_ts, Decimal | int) or isinstance(recv_ts, bool):
        raise _Malformed(f"`recv_ts` {recv_ts!r}; expected a number of seconds")
    recv_ns = int(recv_ts * _S)
    kind = record.get("kind")
    if kind == "ws":
        return _stream_message(_object(record, "data"), recv_ns)
    if kind == "rest":
        return _rest_record(record, recv_ns)
    raise _Malformed(f"`kind` {kind!r}; expected 'ws' or 'rest'")


def _rest_record(record: dict[str, Any], recv_ns: int) -> BookSnapshot | None:
    url = urlsplit(_str(record, "path"))
    if url.path != "/api/v3/depth":
        return None  # other REST responses carry no market events
    symbols = parse_qs(url.query).get("symbol")
    if not symbols:
        raise _Malformed(f"depth path {url.geturl()!r} has no `symbol` query parameter")
    return _snapshot(_object(record, "data"), symbols[0], recv_ns)


def _stream_line(line: str) -> MarketEvent | None:
    head, sep, body = line.partition(" ")
    if not sep or not (head.isascii() and head.isdigit()):
        raise _Malformed(f"line starts {line[:40]!r}; expected '<recv ns> <json>'")
    recv_ns, message = int(head), _decode(body)
    if "lastUpdateId" in message and "stream" not in message:
        return _snapshot(message, "", recv_ns)
    return _stream_message(message, recv_ns)


def _stream_message(message: dict[str, Any], recv_ns: int) -> MarketEvent | None:
    payload = _object(message, "data") if "stream" in message else message
    event_type = payload.get("e")
    if event_type is None:
        # bookTicker is the one stream without an event type field.
        return _book_ticker(payload, recv_ns) if "B" in payload and "A" in payload else None
    parser = _PARSERS.get(event_type)
    return None if parser is None else parser(payload, recv_ns)


def _snapshot(data: dict[str, Any], symbol: str, recv_ns: int) -> BookSnapshot:
    return BookSnapshot(
        instrument_id=symbol,
        ts_event=_event_ns(data, recv_ns),
        ts_init=recv_ns,
        last_update_id=_int(data, "lastUpdateId"),
        bids=_levels(data, "bids"),
        asks=_levels(data, "asks"),
    )


def _depth_update(payload: dict[str, Any], recv_ns: int) -> BookDelta:
    first, last = _int(payload, "U"), _int(payload, "u")
    if first > last:
        raise _Malformed(f"depthUpdate U {first} > u {last}; expected U <= u")
    return BookDelta(
        instrument_id=_str(payload, "s"),
        ts_event=_event_ns(payload, recv_ns),
        ts_init=recv_ns,
        first_update_id=first,
        last_update_id=last,
        prev_update_id=_int(payload, "pu") if "pu" in payload else -1,
        bids=_levels(payload, "b"),
        asks=_levels(payload, "a"),
    )


def _book_ticker(payload: dict[str, Any], recv_ns: int) -> QuoteTick:
    return QuoteTick(
        instrument_id=_str(payload, "s"),
        ts_event=_event_ns(payload, recv_ns),
        ts_init=recv_ns,
        bid=_dec(payload, "b"),
        ask=_dec(payload, "a"),
        bid_size=_dec(payload, "B"),
        ask_size=_dec(payload, "A"),
    )


def _trade(payload: dict[str, Any], recv_ns: int, id_field: str) -> TradeTick:
    # m: "is the buyer the market maker?" True means the seller took liquidity.
    return TradeTick(
        instrument_id=_str(payload, "s"),
        ts_event=_event_ns(payload, recv_ns),
        ts_init=recv_ns,
        price=_dec(payload, "p"),
        size=_dec(payload, "q"),
        aggressor_side=Side.SELL if _bool(payload, "m") else Side.BUY,
        trade_id=str(_int(payload, id_field)),
    )


def _kline(payload: dict[str, Any], recv_ns: int) -> Bar | None:
    kline = _object(payload, "k")
    if not _bool(kline, "x"):
        return None  # still forming: its values will change
    return Bar(
        instrument_id=_str(kline, "s"),
        ts_event=(_int(kline, "T") + 1) * _MS,  # T is the bar's last millisecond
        ts_init=recv_ns,
        ts_open=_int(kline, "t") * _MS,
        open=_dec(kline, "o"),
        high=_dec(kline, "h"),
        low=_dec(kline, "l"),
        close=_dec(kline, "c"),
        volume=_dec(kline, "v"),
    )


_Parser = Callable[[dict[str, Any], int], MarketEvent | None]
_PARSERS: Final[dict[str, _Parser]] = {
    "depthUpdate": _depth_update,
    "aggTrade": lambda payload, recv_ns: _trade(payload, recv_ns, "a"),
    "trade": lambda payload, recv_ns: _trade(payload, recv_ns, "t"),
    "kline": _kline,
}


class _SnapshotSymbol:
    """Gives bare REST snapshots of a stream recording their instrument."""

    def __init__(self, path: str | Path, instrument_id: str | None) -> None:
        self._path = path
        self._fixed = instrument_id is not None
        self._symbol = instrument_id
        self._pending: list[tuple[int, BookSnapshot]] = []
        self._inferred_line: int | None = None
        self._mixed = False

    def snapshot(self, lineno: int, snapshot: BookSnapshot) -> list[BookSnapshot]:
        if self._symbol is None:
            self._pending.append((lineno, snapshot))
            return []
        if self._mixed:
            raise DataError(
                f"{self._path}:{lineno}: bare depth snapshot in a file with several symbols; "
                "expected an explicit instrument_id"
            )
        if not self._fixed:
            self._inferred_line = lineno
        return [msgspec.structs.replace(snapshot, instrument_id=self._symbol)]

    def resolve(self, lineno: int, symbol: str) -> list[BookSnapshot]:
        if self._fixed:
            return []
        if self._symbol is None:
            self._symbol = symbol
            held = [msgspec.structs.replace(s, instrument_id=symbol) for _, s in self._pending]
            self._inferred_line = self._pending[0][0] if self._pending else None
            self._pending.clear()
            return held
        if symbol != self._symbol:
            if self._inferred_line is not None:
                raise DataError(
                    f"{self._path}:{lineno}: symbol {symbol} differs from {self._symbol}, "
                    f"given to the bare snapshot at line {self._inferred_line}; "
                    "expected an explicit instrument_id"
                )
            self._mixed = True
        return []

    def finish(self) -> None:
        if self._pending:
            raise DataError(
                f"{self._path}:{self._pending[0][0]}: bare depth snapshot but no stream "
                "message names its symbol; expected an explicit instrument_id"
            )


# --- futures CSV -----------------------------------------------------------------


class _FuturesRow(msgspec.Struct, frozen=True, gc=False):
    key: tuple[str, int, int, bool]  # symbol, first id, last id, is snapshot
    ts_ns: int
    side: Side
    price: Decimal
    qty: Decimal
    prev_update_id: int


_FUTURES_SIDES: Final = {"b": Side.BUY, "bid": Side.BUY, "a": Side.SELL, "ask": Side.SELL}


def _futures_rows(path: str | Path) -> Iterator[_FuturesRow]:
    lines = _lines(path)
    first = next(lines, None)
    header = tuple(first[1].strip().split(",")) if first else ()
    if header != _FUTURES_COLUMNS:
        raise DataError(f"{path}:1: header {header!r}; expected {_FUTURES_COLUMNS!r}")
    for lineno, line in lines:
        try:
            row = _futures_row(line.rstrip("\r\n").split(","))
        except _Malformed as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        yield row


def _futures_row(fields: list[str]) -> _FuturesRow:
    if len(fields) != len(_FUTURES_COLUMNS):
        raise _Malformed(f"{len(fields)} fields; expected {len(_FUTURES_COLUMNS)}")
    symbol, ts_ms, first, last, side, kind, price, qty, pu = fields
    if side not in _FUTURES_SIDES:
        raise _Malformed(f"`side` {side!r}; expected 'b' or 'a'")
    if kind not in ("snap", "set"):
        raise _Malformed(f"`update_type` {kind!r}; expected 'snap' or 'set'")
    return _FuturesRow(
        key=(
            symbol,
            _int_text(first, "first_update_id"),
            _int_text(last, "last_update_id"),
            kind == "snap",
        ),
        ts_ns=_int_text(ts_ms, "timestamp") * _MS,
        side=_FUTURES_SIDES[side],
        price=_decimal(price, "price", positive=True),
        qty=_decimal(qty, "qty"),
        prev_update_id=_int_text(pu, "pu"),
    )


def _futures_event(group: list[_FuturesRow]) -> BookSnapshot | BookDelta:
    head = group[0]
    symbol, first, last, is_snapshot = head.key
    bids = tuple((row.price, row.qty) for row in group if row.side is Side.BUY)
    asks = tuple((row.price, row.qty) for row in group if row.side is Side.SELL)
    if is_snapshot:
        return BookSnapshot(
            instrument_id=symbol,
            ts_event=head.ts_ns,
            ts_init=head.ts_ns,
            last_update_id=last,
            bids=tuple(sorted(bids, reverse=True)),
            asks=tuple(sorted(asks)),
        )
    return BookDelta(
        instrument_id=symbol,
        ts_event=head.ts_ns,
        ts_init=head.ts_ns,
        first_update_id=first,
        last_update_id=last,
        prev_update_id=head.prev_update_id,
        bids=bids,
        asks=asks,
    )


# --- field access ----------------------------------------------------------------


def _get(obj: dict[str, Any], key: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise _Malformed(f"missing field `{key}`") from None


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = _get(obj, key)
    if not isinstance(value, dict):
        raise _Malformed(f"field `{key}` {value!r:.60}; expected an object")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = _get(obj, key)
    if not isinstance(value, str):
        raise _Malformed(f"field `{key}` {value!r:.60}; expected a string")
    return value


def _int(obj: dict[str, Any], key: str) -> int:
    value = _get(obj, key)
    if type(value) is not int:
        raise _Malformed(f"field `{key}` {value!r:.60}; expected an integer")
    return value


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = _get(obj, key)
    if type(value) is not bool:
        raise _Malformed(f"field `{key}` {value!r:.60}; expected true or false")
    return value


def _dec(obj: dict[str, Any], key: str) -> Decimal:
    return _decimal(_get(obj, key), key)


def _int_text(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Malformed(f"`{name}` {text!r:.60}; expected an integer") from None


def _decimal(value: object, name: str, *, positive: bool = False) -> Decimal:
    # Venue strings go straight to Decimal (never through float); NaN, infinities
    # and negative numbers are malformed; ``positive`` also refuses zero.
    if not isinstance(value, str):
        raise _Malformed(f"`{name}` {value!r:.60}; expected a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _Malformed(f"`{name}` {value!r:.60}; expected a decimal string") from None
    if not number.is_finite() or number < 0 or (positive and not number):
        kind = "> 0" if positive else ">= 0"
        raise _Malformed(f"`{name}` {value!r:.60}; expected a finite decimal {kind}")
    return number


# Level texts already parsed, and their Decimals (as the live feed's parser memoises
# them: exchange/binance/parse.py). A depth stream repeats its prices and sizes (the six
# minutes of BTCUSDT: 124,000 levels, 31,000 distinct price texts): one shared Decimal
# per text is parsed once and, as a Decimal caches its hash, hashed once by every book
# (a Decimal's first hash, 0.57 us, costs twice its parse). A Decimal is immutable, so
# a shared one is as good as new. Cleared when full: bounded memory on a long recording.
_LEVEL_CACHE_MAX: Final = 1 << 16
_prices: dict[str, Decimal] = {}
_sizes: dict[str, Decimal] = {}


def _levels(obj: dict[str, Any], key: str) -> PriceLevels:
    raw = _get(obj, key)
    if not isinstance(raw, list):
        raise _Malformed(f"field `{key}` {raw!r:.60}; expected a list of [price, qty]")
    levels = []
    prices, sizes = _prices, _sizes
    for item in raw:
        if not isinstance(item, list) or len(item) < 2:
            raise _Malformed(f"`{key}` level {item!r:.60}; expected [price, qty]")
        price_text, size_text = item[0], item[1]
        price = prices.get(price_text) if type(price_text) is str else None
        if price is None:
            price = _decimal(price_text, f"{key} price", positive=True)
            if len(prices) >= _LEVEL_CACHE_MAX:
                prices.clear()
            prices[price_text] = price
        size = sizes.get(size_text) if type(size_text) is str else None
        if size is None:
            size = _decimal(size_text, f"{key} qty")
            if len(sizes) >= _LEVEL_CACHE_MAX:
                sizes.clear()
            sizes[size_text] = size
        levels.append((price, size))
    return tuple(levels)


def _event_ns(payload: dict[str, Any], recv_ns: int) -> int:
    return _int(payload, "E") * _MS if "E" in payload else recv_ns
