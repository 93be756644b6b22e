"""Readers for other venues' raw L2 recordings: Bybit v5 order book, Gemini v2 market data.

Both yield the same ``BookSnapshot`` / ``BookDelta`` events as the Binance
readers, so one ``BookSync`` keeps every book:

* Bybit ``orderbook.N.SYMBOL``: a ``snapshot`` then ``delta`` messages, each
  with update id ``u`` that grows by one; a delta is the range ``u..u``, so the
  sync's contiguity rule (next first id = previous last id + 1) detects a lost
  message. A second ``snapshot`` (Bybit re-sends one after a service restart)
  replaces the book.
* Gemini v2 ``l2_updates``: the first message per symbol is the full book;
  later ones are changes. Gemini v2 carries no per-update sequence number, so
  the reader numbers the updates of each symbol itself (1, 2, 3...): a gap
  cannot be detected from the data, only from the connection (heartbeats).
  ``trade`` messages become ``TradeTick`` (``side`` is the taker's side).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, PriceLevels, TradeTick
from genesis.data.capture import _decimal, _decode, _int, _levels, _lines, _Malformed, _object, _str
from genesis.errors import DataError

__all__ = ["read_bybit_orderbook", "read_gemini_l2"]

_MS = 1_000_000
_S = 1_000_000_000


def read_bybit_orderbook(path: str | Path) -> Iterator[BookSnapshot | BookDelta]:
    """Yield the book events of a raw Bybit order-book recording (JSONL, plain or gzipped).

    Raises:
        DataError: ``<file>:<line>: <reason>`` for a malformed message.
    """
    for lineno, line in _lines(path):
        try:
            event = _bybit_message(_decode(line))
        except _Malformed as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        if event is not None:
            yield event


def _bybit_message(message: dict[str, Any]) -> BookSnapshot | BookDelta | None:
    if not _str(message, "topic").startswith("orderbook."):
        return None
    data = _object(message, "data")
    symbol, update_id = _str(data, "s"), _int(data, "u")
    ts = _int(message, "ts") * _MS
    kind = _str(message, "type")
    if kind == "snapshot":
        return BookSnapshot(
            ts_event=ts, ts_init=ts, instrument_id=symbol, last_update_id=update_id,
            bids=_levels(data, "b"), asks=_levels(data, "a"),
        )  # fmt: skip
    if kind == "delta":
        return BookDelta(
            ts_event=ts, ts_init=ts, instrument_id=symbol, first_update_id=update_id,
            last_update_id=update_id, bids=_levels(data, "b"), asks=_levels(data, "a"),
        )  # fmt: skip
    raise _Malformed(f"`type` {kind!r}; expected 'snapshot' or 'delta'")


def read_gemini_l2(path: str | Path) -> Iterator[BookSnapshot | BookDelta | TradeTick]:
    """Yield book and trade events of a raw Gemini v2 recording (``<time>: <json>`` lines).

    Header lines (the connection and subscription lines) and other message
    types (heartbeats, auctions) are skipped.

    Raises:
        DataError: ``<file>:<line>: <reason>`` for a malformed message.
    """
    counters: dict[str, int] = {}
    for lineno, line in _lines(path):
        stamp, sep, body = line.partition(": ")
        if not sep or not body.startswith("{") or stamp.startswith("wss://"):
            continue
        try:
            recv_ns = int(Decimal(stamp) * _S)
            event = _gemini_message(_decode(body), recv_ns, counters)
        except _Malformed as exc:
            raise DataError(f"{path}:{lineno}: {exc}") from None
        except ArithmeticError:
            raise DataError(f"{path}:{lineno}: receive time {stamp!r} is not a number") from None
        if event is not None:
            yield event


def _gemini_message(
    message: dict[str, Any], recv_ns: int, counters: dict[str, int]
) -> BookSnapshot | BookDelta | TradeTick | None:
    kind = message.get("type")
    if kind == "trade":
        return _gemini_trade(message, recv_ns)
    if kind != "l2_updates":
        return None
    symbol = _str(message, "symbol")
    bids, asks = _gemini_changes(message)
    seq = counters.get(symbol, 0) + 1
    counters[symbol] = seq
    if seq == 1:
        return BookSnapshot(
            ts_event=recv_ns, ts_init=recv_ns, instrument_id=symbol, last_update_id=seq,
            bids=bids, asks=asks,
        )  # fmt: skip
    return BookDelta(
        ts_event=recv_ns, ts_init=recv_ns, instrument_id=symbol, first_update_id=seq,
        last_update_id=seq, bids=bids, asks=asks,
    )  # fmt: skip


def _gemini_changes(message: dict[str, Any]) -> tuple[PriceLevels, PriceLevels]:
    raw = message.get("changes")
    if not isinstance(raw, list):
        raise _Malformed(f"`changes` {raw!r:.60}; expected a list")
    bids: list[tuple[Decimal, Decimal]] = []
    asks: list[tuple[Decimal, Decimal]] = []
    for change in raw:
        if not isinstance(change, list) or len(change) != 3 or change[0] not in ("buy", "sell"):
            raise _Malformed(f"change {change!r:.60}; expected [buy|sell, price, qty]")
        level = (_decimal(change[1], "price", positive=True), _decimal(change[2], "qty"))
        (bids if change[0] == "buy" else asks).append(level)
    return tuple(bids), tuple(asks)


def _gemini_trade(message: dict[str, Any], recv_ns: int) -> TradeTick:
    side = message.get("side")
    if side not in ("buy", "sell"):
        raise _Malformed(f"trade `side` {side!r}; expected 'buy' or 'sell'")
    return TradeTick(
        ts_event=_int(message, "timestamp") * _MS,
        ts_init=recv_ns,
        instrument_id=_str(message, "symbol"),
        price=_decimal(message.get("price"), "price", positive=True),
        size=_decimal(message.get("quantity"), "quantity", positive=True),
        aggressor_side=Side.BUY if side == "buy" else Side.SELL,
        trade_id=str(_int(message, "event_id")),
    )
