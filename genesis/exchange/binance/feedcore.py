"""The market feed's logic without I/O: text frames in, market events out (h11 style).

``FeedCore`` validates each frame (``parse``), keeps one ``BookSync`` per
symbol to decide when a REST snapshot is needed (§10), drops duplicate trades
and klines seen twice across a make-before-break overlap, and keeps the data
quality figures. It never awaits: ``BinanceMarketFeed`` owns the sockets and
the snapshot fetches and calls ``on_text`` / ``on_snapshot`` in arrival order.

Every book event that passed validation is emitted, whether or not it applied
here, because the consumer (the kernel's ``MarketView``) runs the same
``BookSync`` rules over the same sequence and so reaches the same verdicts; a
rejected frame is never emitted, and on a depth stream it forces a resync,
which the consumer then sees as a gap followed by a snapshot (P7).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import structlog

from genesis.core.events import Bar, BookDelta, MarketEvent, TradeTick
from genesis.data.book import BookSync, BookSyncStats
from genesis.exchange.binance.parse import (
    Malformed,
    decode_object,
    parse_depth_snapshot,
    parse_stream_message,
    stream_kind,
)

__all__ = ["FeedCore", "FeedCounters", "stream_names"]

log = structlog.get_logger(__name__)

_MS: Final = 1_000_000
SHUTDOWN_STREAM: Final = "!serverShutdown"


def stream_names(symbols: tuple[str, ...], kinds: tuple[str, ...]) -> dict[str, str]:
    """Combined-stream names (lower case) mapped to their upper-case symbol."""
    return {f"{s.lower()}@{k}": s.upper() for s in symbols for k in kinds}


@dataclass(slots=True)
class FeedCounters:
    """Mutable counters of one feed (copied into ``FeedStats`` by the shell)."""

    messages: int = 0
    malformed: int = 0
    duplicates: int = 0
    control: int = 0
    latency_n: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    latency_last_ms: float = 0.0


class FeedCore:
    """Validation, book sync decisions, de-duplication and figures for one feed.

    Args:
        symbols: upper-case symbols.
        kinds: stream kinds, e.g. ``("trade", "bookTicker", "depth@100ms", "kline_1m")``.
        max_message_bytes: larger frames are rejected unparsed (R18's 10 MB frame).
    """

    def __init__(
        self, symbols: tuple[str, ...], kinds: tuple[str, ...], max_message_bytes: int = 1 << 20
    ) -> None:
        self.subscribed = stream_names(symbols, kinds)
        self.has_depth = any(k.startswith("depth") for k in kinds)
        self.books = {s.upper(): BookSync(s.upper()) for s in symbols} if self.has_depth else {}
        self.counters = FeedCounters()
        self.shutdown_requested = False
        self._max_bytes = max_message_bytes
        self._needs_snapshot: dict[str, None] = {}  # insertion-ordered set
        self._last_trade: dict[str, int] = {}
        self._last_bar: dict[str, int] = {}
        self._offset_ns = 0

    def set_clock_offset_ms(self, offset_ms: float) -> None:
        """Server minus local clock, used to correct the latency figure."""
        self._offset_ns = int(offset_ms * _MS)

    # --- inputs ------------------------------------------------------------------

    def on_connected(self) -> None:
        """A new socket replaced a broken one: every book restarts at §10 step 1."""
        for symbol, sync in self.books.items():
            sync.reset()
            self._needs_snapshot[symbol] = None

    def on_text(self, text: str | bytes, recv_ns: int) -> MarketEvent | None:
        """Process one frame received at local time ``recv_ns``; return its event if any.

        Never raises for bad input: a rejected frame is counted (and logged) and
        changes nothing but the counters and, for a depth stream, the resync queue.
        """
        self.counters.messages += 1
        if len(text) > self._max_bytes:
            self._reject(None, f"frame of {len(text)} bytes exceeds {self._max_bytes}")
            return None
        try:
            message = decode_object(text)
        except Malformed as exc:
            self._reject(None, str(exc))
            return None
        if self._is_control(message):
            return None
        try:
            event = parse_stream_message(message, self.subscribed, recv_ns)
        except Malformed as exc:
            self._reject(message.get("stream"), str(exc))
            return None
        return None if event is None else self._accept(event, recv_ns, message["stream"])

    def on_snapshot(self, symbol: str, data: Any, recv_ns: int) -> MarketEvent | None:
        """Apply a fetched REST depth snapshot; return the ``BookSnapshot`` to emit.

        A malformed snapshot is counted and the symbol stays queued for another fetch.
        """
        try:
            snapshot = parse_depth_snapshot(data, symbol, recv_ns)
        except Malformed as exc:
            self._reject(None, f"depth snapshot: {exc}")
            self._needs_snapshot[symbol] = None
            return None
        outcome = self.books[symbol].apply_snapshot(snapshot)
        if outcome.needs_snapshot:  # too old for the buffer, or crossed: fetch again
            self._needs_snapshot[symbol] = None
        return snapshot

    def force_resync(self, symbol: str) -> None:
        """Invalidate ``symbol``'s book and queue a snapshot (e.g. an event was dropped)."""
        if symbol in self.books:
            self.books[symbol].reset()
            self._needs_snapshot[symbol] = None

    # --- outputs -------------------------------------------------------------------

    @property
    def has_snapshot_work(self) -> bool:
        """True when some book waits for a REST snapshot."""
        return bool(self._needs_snapshot)

    def take_snapshot_requests(self) -> list[str]:
        """Symbols whose book needs a REST snapshot now, oldest request first (then cleared)."""
        pending = list(self._needs_snapshot)
        self._needs_snapshot.clear()
        return pending

    def book_stats(self) -> Mapping[str, BookSyncStats]:
        return {symbol: sync.statistics() for symbol, sync in self.books.items()}

    # --- internals -------------------------------------------------------------------

    def _is_control(self, message: Mapping[str, Any]) -> bool:
        data = message.get("data")
        if message.get("stream") == SHUTDOWN_STREAM or (
            isinstance(data, dict) and data.get("e") == "serverShutdown"
        ):
            self.shutdown_requested = True
            self.counters.control += 1
            return True
        if "id" in message and ("result" in message or "error" in message):
            self.counters.control += 1  # a reply to SUBSCRIBE and friends
            return True
        return False

    def _reject(self, stream: object, reason: str) -> None:
        self.counters.malformed += 1
        log.warning("binance_stream_message_rejected", stream=str(stream)[:60], reason=reason)
        if isinstance(stream, str) and stream in self.subscribed:
            symbol = self.subscribed[stream]
            if stream_kind(stream).startswith("depth"):
                self.force_resync(symbol)  # the consumer will see a gap; both resync

    def _accept(self, event: MarketEvent, recv_ns: int, stream: str) -> MarketEvent | None:
        if event.ts_event != recv_ns:
            self._latency((recv_ns + self._offset_ns - event.ts_event) / _MS)
        if isinstance(event, BookDelta):
            outcome = self.books[event.instrument_id].apply_delta(event)
            if outcome.needs_snapshot:
                self._needs_snapshot[event.instrument_id] = None
            return event
        if isinstance(event, TradeTick):
            return self._dedupe(self._last_trade, stream, int(event.trade_id), event)
        if isinstance(event, Bar):
            return self._dedupe(self._last_bar, stream, event.ts_open, event)
        return event

    def _dedupe(
        self, seen: dict[str, int], key: str, key_id: int, event: MarketEvent
    ) -> MarketEvent | None:
        # ids increase per stream: anything not newer was already delivered
        if key_id <= seen.get(key, -1):
            self.counters.duplicates += 1
            return None
        seen[key] = key_id
        return event

    def _latency(self, latency_ms: float) -> None:
        c = self.counters
        c.latency_n += 1
        c.latency_sum_ms += latency_ms
        c.latency_max_ms = max(c.latency_max_ms, latency_ms)
        c.latency_last_ms = latency_ms
