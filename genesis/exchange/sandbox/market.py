"""Public market data: per-symbol books with Binance update ids, trades, klines, replay.

Theory of operation
===================

Each symbol has one authoritative ``OrderBook`` and ``update_id``, the last
book update id. A book can change in two ways:

* ``set_book`` (a test replaces the levels): every changed level takes the
  next update id (Binance advances the id once per change, §8.2); the
  changes wait in a per-symbol batch that ``flush`` publishes as one
  ``depthUpdate`` with ``U`` = first id of the batch and ``u`` = the last,
  every ``depth_interval_s`` (100 ms like ``@depth@100ms``). ``bookTicker``
  is published at once, with ``u`` = the id of the change, when the top
  changes (so it runs ahead of the diffs, as on Binance);
* the replayed capture: its snapshot is the symbol's initial book, its diffs
  are published verbatim (they already are 100 ms batches with real ids) and
  applied when ``u`` is past the snapshot. A symbol that a test took over with
  ``set_book`` stops following the capture (ids would collide).

Every book change is also handed to the ``MarketListener`` (the engine) as a
``BookSnapshot`` (first time) or ``BookDelta`` so the matching engine sees the
book the clients see. ``history`` keeps the snapshots of recent flushes for
the stale-snapshot fault.
"""

from __future__ import annotations

import gzip
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import structlog

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, TradeTick
from genesis.data.book import OrderBook
from genesis.exchange.sandbox.symbols import fmt

__all__ = ["MarketData", "MarketListener", "SymbolMarket"]

log = structlog.get_logger(__name__)

Levels = list[tuple[Decimal, Decimal]]
Publish = Callable[[str, dict[str, Any]], None]
_MINUTE = 60_000
_HISTORY = 50


class MarketListener(Protocol):
    def book_event(self, event: BookSnapshot | BookDelta) -> None: ...

    def trade_event(self, event: TradeTick) -> None: ...


@dataclass(slots=True)
class SymbolMarket:
    symbol: str
    book: OrderBook
    update_id: int = 0
    seeded: bool = False  # the listener has had a snapshot of this book
    overridden: bool = False  # a test replaced the book: the capture no longer drives it
    pending_first: int | None = None
    pending: dict[tuple[Side, Decimal], Decimal] = field(default_factory=dict)
    history: deque[tuple[int, Levels, Levels]] = field(default_factory=lambda: deque(maxlen=50))
    last_price: Decimal | None = None
    trade_id: int = 0
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))
    klines: dict[int, list[Any]] = field(default_factory=dict)
    top: tuple[Any, ...] = ()


class MarketData:
    """Books, trades and klines of every symbol; publishes stream payloads through ``publish``."""

    def __init__(self, publish: Publish, listener: MarketListener, ns: Callable[[], int]) -> None:
        self._publish = publish
        self._listener = listener
        self._ns = ns
        self.symbols: dict[str, SymbolMarket] = {}
        self._replay: list[dict[str, Any]] = []
        self.cursor = 0
        self.skipped = 0

    def market(self, symbol: str) -> SymbolMarket:
        m = self.symbols.get(symbol)
        if m is None:
            m = self.symbols[symbol] = SymbolMarket(symbol, OrderBook(symbol))
        return m

    # --- test-driven books -------------------------------------------------

    def set_book(
        self,
        symbol: str,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
        now_ms: int,
    ) -> None:
        """Replace the book of ``symbol``; each changed level is one update id."""
        m = self.market(symbol)
        m.overridden = True
        target = {Side.BUY: dict(bids), Side.SELL: dict(asks)}
        changes: list[tuple[Side, Decimal, Decimal]] = []
        for side, wanted in target.items():
            current = dict(m.book.levels(side))
            changes += [(side, p, Decimal(0)) for p in sorted(current) if p not in wanted]
            changes += [(side, p, q) for p, q in sorted(wanted.items()) if current.get(p) != q]
        self.apply_changes(m, changes, now_ms)

    def apply_changes(
        self, m: SymbolMarket, changes: list[tuple[Side, Decimal, Decimal]], now_ms: int
    ) -> None:
        if not changes:
            return
        first = m.update_id + 1
        for side, price, qty in changes:
            m.update_id += 1
            m.book.update(side, price, qty)
            if m.pending_first is None:
                m.pending_first = m.update_id
            m.pending[(side, price)] = qty
        bids = tuple((p, q) for s, p, q in changes if s is Side.BUY)
        asks = tuple((p, q) for s, p, q in changes if s is Side.SELL)
        self._feed(m, first, bids, asks)
        self._publish_top(m)

    def _feed(
        self,
        m: SymbolMarket,
        first: int,
        bids: tuple[tuple[Decimal, Decimal], ...],
        asks: tuple[tuple[Decimal, Decimal], ...],
    ) -> None:
        ns = self._ns()
        if not m.seeded:
            m.seeded = True
            self._listener.book_event(
                BookSnapshot(
                    instrument_id=m.symbol,
                    ts_event=ns,
                    ts_init=ns,
                    last_update_id=m.update_id,
                    bids=tuple(m.book.levels(Side.BUY)),
                    asks=tuple(m.book.levels(Side.SELL)),
                )
            )
            return
        self._listener.book_event(
            BookDelta(
                instrument_id=m.symbol,
                ts_event=ns,
                ts_init=ns,
                first_update_id=first,
                last_update_id=m.update_id,
                bids=bids,
                asks=asks,
            )
        )

    def _publish_top(self, m: SymbolMarket) -> None:
        bid, ask = m.book.best_bid(), m.book.best_ask()
        top = (bid, ask)
        if top == m.top:
            return
        m.top = top
        zero = (Decimal(0), Decimal(0))
        b, a = bid or zero, ask or zero
        self._publish(
            f"{m.symbol.lower()}@bookTicker",
            {
                "u": m.update_id,
                "s": m.symbol,
                "b": fmt(b[0]),
                "B": fmt(b[1]),
                "a": fmt(a[0]),
                "A": fmt(a[1]),
            },
        )

    def flush(self, now_ms: int) -> None:
        """Publish each symbol's pending changes as one depthUpdate (the 100 ms batch)."""
        for m in self.symbols.values():
            self.flush_symbol(m, now_ms)

    def flush_symbol(self, m: SymbolMarket, now_ms: int) -> None:
        if m.pending_first is None:
            return
        changes = sorted(m.pending.items(), key=lambda kv: kv[0][1])
        payload = {
            "e": "depthUpdate",
            "E": now_ms,
            "s": m.symbol,
            "U": m.pending_first,
            "u": m.update_id,
            "b": [[fmt(p), fmt(q)] for (s, p), q in reversed(changes) if s is Side.BUY],
            "a": [[fmt(p), fmt(q)] for (s, p), q in changes if s is Side.SELL],
        }
        m.pending_first = None
        m.pending.clear()
        m.history.append((m.update_id, m.book.levels(Side.BUY), m.book.levels(Side.SELL)))
        self._publish(f"{m.symbol.lower()}@depth", payload)

    def snapshot(self, symbol: str, limit: int, back: int = 0) -> dict[str, Any]:
        """The REST depth answer; ``back`` > 0 answers with an older flushed snapshot."""
        m = self.market(symbol)
        if back and m.history:
            uid, bids, asks = m.history[max(0, len(m.history) - 1 - back)]
        else:
            uid, bids, asks = m.update_id, m.book.levels(Side.BUY), m.book.levels(Side.SELL)
        return {
            "lastUpdateId": uid,
            "bids": [[fmt(p), fmt(q)] for p, q in bids[:limit]],
            "asks": [[fmt(p), fmt(q)] for p, q in asks[:limit]],
        }

    # --- trades and klines -------------------------------------------------

    def print_trade(
        self,
        symbol: str,
        price: Decimal,
        qty: Decimal,
        buyer_maker: bool,
        now_ms: int,
        *,
        feed: bool = True,
    ) -> int:
        """A public trade: new trade id, trade/aggTrade/kline streams, last price."""
        m = self.market(symbol)
        m.trade_id += 1
        self._record_trade(m, m.trade_id, price, qty, buyer_maker, now_ms)
        low = symbol.lower()
        common = {
            "E": now_ms,
            "s": symbol,
            "p": fmt(price),
            "q": fmt(qty),
            "T": now_ms,
            "m": buyer_maker,
            "M": True,
        }
        self._publish(f"{low}@trade", {"e": "trade", **common, "t": m.trade_id})
        self._publish(
            f"{low}@aggTrade",
            {"e": "aggTrade", **common, "a": m.trade_id, "f": m.trade_id, "l": m.trade_id},
        )
        self._kline(m, price, qty, buyer_maker, now_ms)
        if feed:
            ns = self._ns()
            self._listener.trade_event(
                TradeTick(
                    instrument_id=symbol,
                    ts_event=ns,
                    ts_init=ns,
                    price=price,
                    size=qty,
                    aggressor_side=Side.SELL if buyer_maker else Side.BUY,
                    trade_id=str(m.trade_id),
                )
            )
        return m.trade_id

    def _record_trade(
        self,
        m: SymbolMarket,
        tid: int,
        price: Decimal,
        qty: Decimal,
        buyer_maker: bool,
        now_ms: int,
    ) -> None:
        m.last_price = price
        m.trades.append(
            {
                "id": tid,
                "price": fmt(price),
                "qty": fmt(qty),
                "quoteQty": fmt(price * qty),
                "time": now_ms,
                "isBuyerMaker": buyer_maker,
                "isBestMatch": True,
            }
        )

    def _kline(
        self, m: SymbolMarket, price: Decimal, qty: Decimal, buyer_maker: bool, now_ms: int
    ) -> None:
        start = now_ms - now_ms % _MINUTE
        row = m.klines.get(start)
        if row is None:
            prev = max(m.klines) if m.klines else None
            if prev is not None:
                self._publish_kline(m, m.klines[prev], closed=True, now_ms=now_ms)
            row = m.klines[start] = [
                start,
                price,
                price,
                price,
                price,
                Decimal(0),
                start + _MINUTE - 1,
                Decimal(0),
                0,
                Decimal(0),
                Decimal(0),
                m.trade_id,
            ]
        row[2], row[3], row[4] = max(row[2], price), min(row[3], price), price
        row[5] += qty
        row[7] += price * qty
        row[8] += 1
        if not buyer_maker:
            row[9] += qty
            row[10] += price * qty
        self._publish_kline(m, row, closed=False, now_ms=now_ms)

    def _publish_kline(self, m: SymbolMarket, row: list[Any], *, closed: bool, now_ms: int) -> None:
        k = {
            "t": row[0],
            "T": row[6],
            "s": m.symbol,
            "i": "1m",
            "f": row[11],
            "L": m.trade_id,
            "o": fmt(row[1]),
            "c": fmt(row[4]),
            "h": fmt(row[2]),
            "l": fmt(row[3]),
            "v": fmt(row[5]),
            "n": row[8],
            "x": closed,
            "q": fmt(row[7]),
            "V": fmt(row[9]),
            "Q": fmt(row[10]),
            "B": "0",
        }
        self._publish(
            f"{m.symbol.lower()}@kline_1m", {"e": "kline", "E": now_ms, "s": m.symbol, "k": k}
        )

    def kline_rows(self, symbol: str) -> list[list[Any]]:
        """REST kline rows (1m), oldest first, decimals as strings."""
        m = self.market(symbol)
        return [
            [
                r[0],
                fmt(r[1]),
                fmt(r[2]),
                fmt(r[3]),
                fmt(r[4]),
                fmt(r[5]),
                r[6],
                fmt(r[7]),
                r[8],
                fmt(r[9]),
                fmt(r[10]),
                "0",
            ]
            for _, r in sorted(m.klines.items())
        ]

    # --- replay --------------------------------------------------------------

    def load_capture(self, path: Path) -> None:
        """Read a spot capture; each symbol starts from its recorded REST snapshot."""
        opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            records = [json.loads(line, parse_float=Decimal) for line in fh if line.strip()]
        for rec in records:
            if rec.get("kind") == "rest" and "/api/v3/depth" in rec.get("path", ""):
                symbol = rec["path"].split("symbol=")[1].split("&")[0]
                self._seed(symbol, rec["data"])
        self._replay = [r for r in records if r.get("kind") == "ws"]

    def _seed(self, symbol: str, data: dict[str, Any]) -> None:
        m = self.market(symbol)
        m.book.apply_snapshot(_levels(data["bids"]), _levels(data["asks"]))
        m.update_id = int(data["lastUpdateId"])
        m.seeded = True
        m.history.append((m.update_id, m.book.levels(Side.BUY), m.book.levels(Side.SELL)))
        ns = self._ns()
        self._listener.book_event(
            BookSnapshot(
                instrument_id=symbol,
                ts_event=ns,
                ts_init=ns,
                last_update_id=m.update_id,
                bids=tuple(m.book.levels(Side.BUY)),
                asks=tuple(m.book.levels(Side.SELL)),
            )
        )

    @property
    def replay_remaining(self) -> int:
        return len(self._replay) - self.cursor

    def next_replay_ms(self) -> int | None:
        if self.cursor >= len(self._replay):
            return None
        return int(Decimal(self._replay[self.cursor]["recv_ts"]) * 1000)

    def first_replay_ms(self) -> int | None:
        return int(Decimal(self._replay[0]["recv_ts"]) * 1000) if self._replay else None

    def advance(self, n: int, now_ms: int) -> int:
        """Replay the next ``n`` capture messages; return how many were replayed."""
        done = 0
        while done < n and self.cursor < len(self._replay):
            message = self._replay[self.cursor]["data"]
            self.cursor += 1
            done += 1
            self._replay_one(message["stream"], message["data"], now_ms)
        return done

    def _replay_one(self, stream: str, data: dict[str, Any], now_ms: int) -> None:
        symbol = str(data.get("s") or data.get("k", {}).get("s", ""))
        m = self.market(symbol)
        kind = stream.split("@", 1)[1]
        if kind.startswith(("depth", "bookTicker")) and m.overridden:
            self.skipped += 1
            return
        if kind.startswith("depth"):
            self.flush_symbol(m, now_ms)
            if int(data["u"]) > m.update_id:
                self._apply_replayed_diff(m, data)
            self._publish(f"{symbol.lower()}@depth", data)
        elif kind == "bookTicker":
            self._publish(stream, data)
        elif kind == "aggTrade":
            self._replay_trade(m, data, now_ms)
        elif kind.startswith("kline"):
            k = data["k"]
            m.klines[int(k["t"])] = [
                int(k["t"]),
                Decimal(k["o"]),
                Decimal(k["h"]),
                Decimal(k["l"]),
                Decimal(k["c"]),
                Decimal(k["v"]),
                int(k["T"]),
                Decimal(k["q"]),
                int(k["n"]),
                Decimal(k["V"]),
                Decimal(k["Q"]),
                int(k["f"]),
            ]
            self._publish(stream, data)

    def _apply_replayed_diff(self, m: SymbolMarket, data: dict[str, Any]) -> None:
        first, last = int(data["U"]), int(data["u"])
        bids, asks = _levels(data["b"]), _levels(data["a"])
        m.book.apply_delta(bids, asks)
        m.update_id = last
        m.history.append((m.update_id, m.book.levels(Side.BUY), m.book.levels(Side.SELL)))
        ns = self._ns()
        self._listener.book_event(
            BookDelta(
                instrument_id=m.symbol,
                ts_event=ns,
                ts_init=ns,
                first_update_id=max(first, 0),
                last_update_id=last,
                bids=tuple(bids),
                asks=tuple(asks),
            )
        )

    def _replay_trade(self, m: SymbolMarket, data: dict[str, Any], now_ms: int) -> None:
        price, qty = Decimal(data["p"]), Decimal(data["q"])
        m.trade_id = max(m.trade_id, int(data["l"]))
        self._record_trade(m, m.trade_id, price, qty, bool(data["m"]), int(data["T"]))
        self._publish(f"{m.symbol.lower()}@aggTrade", data)
        ns = self._ns()
        self._listener.trade_event(
            TradeTick(
                instrument_id=m.symbol,
                ts_event=ns,
                ts_init=ns,
                price=price,
                size=qty,
                aggressor_side=Side.SELL if data["m"] else Side.BUY,
                trade_id=str(data["a"]),
            )
        )


def _levels(raw: list[list[str]]) -> Levels:
    return [(Decimal(p), Decimal(q)) for p, q in raw]
