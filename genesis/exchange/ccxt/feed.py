"""Market data over ccxt by *polling* REST endpoints (ccxt without ccxt.pro has no streams).

Each ``interval_s`` the feed asks, per instrument, for what ``kinds`` names
and yields Genesis events: ``quote`` (``fetch_ticker`` best bid/ask),
``quote_book`` (top of ``fetch_order_book``, for venues whose ticker lacks
sizes), ``book`` (``BookSnapshot``; ``last_update_id`` is ccxt's ``nonce``
when the venue provides one, else -1), ``trades`` (``TradeTick``, each trade id
once) and ``bars`` (closed OHLCV bars only, each once). Latency is the poll
interval plus a round trip, and anything between two polls (intermediate
book states, trades beyond the page size) is not seen: use a streaming
connector where that matters.

A failed poll (mapped ``VenueError``) or a malformed answer is counted and
skipped; the iterator keeps running until the consumer stops iterating.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, Literal

import structlog

from genesis.core.events import MarketEvent
from genesis.errors import ConfigError, VenueError
from genesis.exchange.ccxt.mapping import (
    bar_from_ohlcv,
    book_from_ccxt,
    quote_from_book,
    quote_from_ticker,
    trade_tick_from_ccxt,
)
from genesis.exchange.ccxt.session import CcxtSession

__all__ = ["CcxtMarketFeed", "FeedKind"]

log = structlog.get_logger(__name__)

FeedKind = Literal["quote", "quote_book", "book", "trades", "bars"]
_SEEN_TRADES: Final = 10_000  # trade ids remembered per instrument


class CcxtMarketFeed:
    """An async iterator of market events polled through a ``CcxtSession``."""

    def __init__(
        self,
        session: CcxtSession,
        instrument_ids: list[str],
        kinds: tuple[FeedKind, ...],
        *,
        interval_s: float,
        timeframe: str,
        market_types: tuple[str, ...],
        clock: Callable[[], int],
        book_depth: int = 20,
    ) -> None:
        self._session = session
        self._ids = list(instrument_ids)
        self._kinds = kinds
        self._interval_s = interval_s
        self._timeframe = timeframe
        self._types = market_types
        self._clock = clock
        self._depth = book_depth
        self._trades: dict[str, deque[str]] = {}
        self._last_bar: dict[str, int] = {}
        self._last: dict[tuple[str, str], Any] = {}
        self.stats: Counter[str] = Counter()

    def __aiter__(self) -> AsyncIterator[MarketEvent]:
        return self._run()

    async def _run(self) -> AsyncIterator[MarketEvent]:
        pairs = []
        for instrument_id in self._ids:
            symbol = self._session.unified(instrument_id, self._types)
            if symbol is None:
                raise ConfigError(f"{self._session.venue}: {instrument_id} is not a market")
            pairs.append((instrument_id, symbol))
        while True:
            for instrument_id, symbol in pairs:
                for kind in self._kinds:
                    for event in await self._poll(kind, instrument_id, symbol):
                        yield event
            await asyncio.sleep(self._interval_s)

    async def _poll(self, kind: FeedKind, instrument_id: str, symbol: str) -> list[MarketEvent]:
        try:
            events = await self._fetch(kind, instrument_id, symbol)
        except VenueError as exc:
            self.stats[f"{kind}_failed"] += 1
            log.warning("ccxt_feed_poll_failed", kind=kind, symbol=symbol, error=str(exc))
            return []
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            self.stats[f"{kind}_malformed"] += 1
            log.warning(
                "ccxt_feed_malformed", kind=kind, symbol=symbol, error=self._session.scrub(str(exc))
            )
            return []
        self.stats[kind] += len(events)
        return events

    async def _fetch(self, kind: FeedKind, instrument_id: str, symbol: str) -> list[MarketEvent]:
        now, call = self._clock(), self._session.call
        if kind == "quote":
            quote = quote_from_ticker(await call("fetch_ticker", symbol), instrument_id, now)
            return self._changed(
                kind, instrument_id, quote, (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
            )
        if kind in ("quote_book", "book"):
            raw = await call("fetch_order_book", symbol, self._depth)
            if kind == "book":
                book = book_from_ccxt(raw, instrument_id, now)
                return self._changed(
                    kind, instrument_id, book, (book.last_update_id, book.bids, book.asks)
                )
            quote = quote_from_book(raw, instrument_id, now)
            return self._changed(
                kind, instrument_id, quote, (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
            )
        if kind == "trades":
            return self._new_trades(instrument_id, await call("fetch_trades", symbol), now)
        return self._closed_bars(
            instrument_id, await call("fetch_ohlcv", symbol, self._timeframe), now
        )

    def _changed(
        self, kind: str, instrument_id: str, event: MarketEvent, key: Any
    ) -> list[MarketEvent]:
        if self._last.get((kind, instrument_id)) == key:
            return []
        self._last[(kind, instrument_id)] = key
        return [event]

    def _new_trades(self, instrument_id: str, trades: list[Any], now: int) -> list[MarketEvent]:
        seen = self._trades.setdefault(instrument_id, deque(maxlen=_SEEN_TRADES))
        out: list[MarketEvent] = []
        for trade in trades:
            tick = trade_tick_from_ccxt(trade, instrument_id, now)
            if tick.trade_id and tick.trade_id in seen:
                continue
            seen.append(tick.trade_id)
            out.append(tick)
        return out

    def _closed_bars(self, instrument_id: str, rows: list[Any], now: int) -> list[MarketEvent]:
        duration_ms = int(self._session.exchange.parse_timeframe(self._timeframe)) * 1000
        last = self._last_bar.get(instrument_id, -1)
        out: list[MarketEvent] = []
        for row in sorted(rows, key=lambda r: int(r[0])):
            bar = bar_from_ohlcv(row, instrument_id, duration_ms, now)
            if bar.ts_open // 1_000_000 > last and bar.ts_event <= now:
                out.append(bar)
                last = bar.ts_open // 1_000_000
        self._last_bar[instrument_id] = last
        return out
