"""``CcxtMarketSource``: a ccxt venue's market data as Genesis events, streamed where it can be.

Per kind, chosen once at construction from ``exchange.has`` and logged as
``ccxt_market_source_modes``:

* ``book``: a ``BookSnapshot`` of the best ``book_depth`` levels after each
  update of ccxt.pro's local book (``watch_order_book``); ``last_update_id``
  is the book's nonce (Binance: the ``u`` of the last diff applied);
* ``quote_book``: a ``QuoteTick`` from the top of that book, when it changed;
* ``trades``: a ``TradeTick`` per public trade (``watch_trades``), each id once;
* ``quote`` and ``bars``, and any kind whose watch method the exchange lacks,
  are polled every ``interval_s`` by ``CcxtMarketFeed``.

Instrument ids are ``genesis.core.instruments.instrument_id(venue, market id)``:
the bare market id on ``binance``, ``venue:ID`` elsewhere.

Each watched (symbol, method) runs in its own ``WatchLoop``: a dropped socket
is retried with the seeded backoff, and ccxt.pro rebuilds the book from a
fresh snapshot on resubscription, so the next ``BookSnapshot`` is whole
again. Public trades printed while a socket was down are not recovered. A
watch method ccxt refuses at run time (``NotSupported``) falls back to polling
that symbol.

Events go through one bounded queue; when the consumer falls behind and it is
full, the newest event is dropped and counted (market data only; R19).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import structlog

from genesis.core.events import MarketEvent
from genesis.core.instruments import instrument_id
from genesis.errors import ConfigError
from genesis.exchange.ccxt.feed import CcxtMarketFeed, FeedKind
from genesis.exchange.ccxt.mapping import book_from_ccxt, quote_from_book, trade_tick_from_ccxt
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.watch import STREAM_BACKOFF, WatchLoop, WatchStats
from genesis.retry import Backoff, BackoffPolicy

__all__ = ["CcxtMarketSource", "MarketSourceStats"]

log = structlog.get_logger(__name__)

# kind -> (the ``has`` feature, the ccxt.pro method) of the kinds that can be streamed
_WATCHED: Final[dict[str, tuple[str, str]]] = {
    "book": ("watchOrderBook", "watch_order_book"),
    "quote_book": ("watchOrderBook", "watch_order_book"),
    "trades": ("watchTrades", "watch_trades"),
}
_BOOK_KINDS: Final[tuple[FeedKind, ...]] = ("book", "quote_book")
_SEEN_TRADES: Final = 10_000  # trade ids remembered per instrument
_MALFORMED: Final = (ValueError, TypeError, KeyError, IndexError, ArithmeticError)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSourceStats:
    """Figures of one market source (R19 ``statistics()``)."""

    venue: str
    modes: Mapping[str, str]  # kind -> ccxt.pro method, or "poll"
    events: int  # queued for the consumer
    dropped: int  # not queued: the queue was full
    queued: int  # waiting in the queue now
    malformed: int  # streamed updates that could not be mapped
    watches: tuple[WatchStats, ...]
    polled: Mapping[str, int]  # the polling feed's counters


@dataclass(slots=True, eq=False)
class _Market:
    instrument_id: str
    symbol: str  # ccxt unified symbol
    last_book: Any = None  # the nonce of the last book event
    last_quote: Any = None
    seen: OrderedDict[str, None] | None = None  # trade ids, oldest first (a bounded set)


class CcxtMarketSource:
    """An async iterator of market events for ``symbols`` (see the module docstring).

    Args:
        session: the guarded ccxt session (shared with a ``CcxtVenue``, or its own).
        venue: the lower-case venue name of the instrument ids, e.g. ``binance``.
        symbols: venue market ids (``BTCUSDT``), ``venue:ID`` ids or ccxt unified symbols.
        kinds: what to deliver (``FeedKind``).
        market_types: the ccxt market types the symbols are looked up in.
        book_depth: levels per side in a ``BookSnapshot``.
        interval_s / timeframe: the polled kinds' interval and bar timeframe.
        queue_size: the bound of the event queue.
        backoff / seed: each watch loop's reconnect delays and jitter seed.
        clock: wall clock in ns for ``ts_init``.
        sleep: every wait of the watch loops goes through it.
        owns_session: ``close`` also closes the session (and its exchange).

    Raises:
        ConfigError: no symbols, or an unknown kind.
    """

    def __init__(
        self,
        session: CcxtSession,
        venue: str,
        symbols: Sequence[str],
        kinds: tuple[FeedKind, ...] = ("book", "trades"),
        *,
        market_types: tuple[str, ...] = ("spot",),
        book_depth: int = 20,
        interval_s: float = 1.0,
        timeframe: str = "1m",
        queue_size: int = 10_000,
        backoff: BackoffPolicy = STREAM_BACKOFF,
        seed: int = 0,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owns_session: bool = False,
    ) -> None:
        _check(symbols, kinds)
        self._session = session
        self.venue = venue.strip().lower()
        self._symbols = list(symbols)
        self._kinds = kinds
        self._types = market_types
        self._depth = book_depth
        self._interval_s, self._timeframe = interval_s, timeframe
        self._backoff, self._seed = backoff, seed
        self._clock = clock
        self._sleep = sleep
        self._owns = owns_session
        self.modes: dict[str, str] = {kind: self._mode(kind) for kind in kinds}
        self._queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue(queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._loops: list[WatchLoop] = []
        self._polls: list[CcxtMarketFeed] = []
        self.stats: Counter[str] = Counter()
        log.info("ccxt_market_source_modes", venue=self.venue, **self.modes)

    @classmethod
    def from_exchange(
        cls,
        exchange: Any,
        venue: str,
        symbols: Sequence[str],
        kinds: tuple[FeedKind, ...] = ("book", "trades"),
        **options: Any,
    ) -> CcxtMarketSource:
        """A source owning its own session over ``exchange`` (public data needs no keys)."""
        session = CcxtSession(exchange, venue.upper())
        return cls(session, venue, symbols, kinds, owns_session=True, **options)

    def __repr__(self) -> str:
        return f"CcxtMarketSource(venue={self.venue!r}, symbols={self._symbols}, {self.modes})"

    def _mode(self, kind: str) -> str:
        feature, method = _WATCHED.get(kind, ("", "poll"))
        return method if feature and self._session.has(feature) else "poll"

    # --- lifecycle -------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[MarketEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MarketEvent]:
        await self.start()
        while (event := await self._queue.get()) is not None:
            yield event

    async def start(self) -> None:
        """Load markets if needed, then start the watch loops and the polling (idempotent).

        Raises:
            ConfigError: a symbol is not one of the venue's markets.
            VenueError: markets could not be loaded (mapped, scrubbed).
        """
        if self._tasks:
            return
        if not self._session.exchange.markets:
            await self._session.call("load_markets")
        markets = [self._resolve(symbol) for symbol in self._symbols]
        for market in markets:
            self._watch(market)
        polled = tuple(k for k in self._kinds if self.modes[k] == "poll")
        if polled:
            self._spawn(self._poll([m.instrument_id for m in markets], polled))

    async def close(self) -> None:
        """Stop every loop, end the iteration; close the session if this source owns it."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._end()
        if self._owns:
            await self._session.close()

    def statistics(self) -> MarketSourceStats:
        polled: Counter[str] = Counter()
        for feed in self._polls:
            polled.update(feed.stats)
        return MarketSourceStats(
            venue=self.venue,
            modes=dict(self.modes),
            events=self.stats["events"],
            dropped=self.stats["dropped"],
            queued=self._queue.qsize(),
            malformed=self.stats["malformed"],
            watches=tuple(loop.statistics() for loop in self._loops),
            polled=dict(polled),
        )

    def _resolve(self, symbol: str) -> _Market:
        unified = self._session.unified(symbol, self._types)
        market = (self._session.exchange.markets or {}).get(unified or symbol)
        if market is None or market.get("type") not in self._types:
            raise ConfigError(f"{self.venue}: {symbol} is not a {'/'.join(self._types)} market")
        return _Market(
            instrument_id=instrument_id(self.venue, str(market["id"])),
            symbol=str(market["symbol"]),
            seen=OrderedDict(),
        )

    # --- streams -----------------------------------------------------------------------

    def _watch(self, m: _Market) -> None:
        book = tuple(k for k in _BOOK_KINDS if self.modes.get(k) == "watch_order_book")
        if book:
            self._start_loop(m, "watch_order_book", book, lambda ob, _: self._on_book(m, ob))
        if self.modes.get("trades") == "watch_trades":
            self._start_loop(m, "watch_trades", ("trades",), partial(self._on_trades, m))

    def _start_loop(
        self,
        m: _Market,
        method: str,
        kinds: tuple[FeedKind, ...],
        handle: Callable[[Any, bool], None],
    ) -> None:
        async def on_items(items: Any, cached: bool = False) -> None:
            try:
                handle(items, cached)
            except _MALFORMED as exc:
                self.stats["malformed"] += 1
                log.warning(
                    "ccxt_market_malformed", method=method, symbol=m.symbol,
                    error=self._session.scrub(str(exc)),
                )  # fmt: skip

        loop = WatchLoop(
            self._session,
            method,
            (m.symbol,),
            on_items=on_items,
            catch_up=lambda: on_items(self._session.cached(method, m.symbol), True),
            backoff=Backoff(self._backoff, seed=self._seed + len(self._loops)),
            sleep=self._sleep,
        )
        self._loops.append(loop)
        self._spawn(self._run_or_poll(loop, m, kinds))

    async def _run_or_poll(self, loop: WatchLoop, m: _Market, kinds: tuple[FeedKind, ...]) -> None:
        await loop.run()  # returns only when ccxt refuses the method: poll this symbol instead
        await self._poll([m.instrument_id], kinds)

    def _on_book(self, m: _Market, book: Any) -> None:
        if book is None:
            return
        nonce = book.get("nonce")
        if nonce is not None and nonce == m.last_book:
            return
        m.last_book, now = nonce, self._clock()
        if self.modes.get("book") == "watch_order_book":
            self._put(book_from_ccxt(book, m.instrument_id, now, self._depth))
        if self.modes.get("quote_book") == "watch_order_book":
            quote = quote_from_book(book, m.instrument_id, now)
            key = (quote.bid, quote.ask, quote.bid_size, quote.ask_size)
            if key != m.last_quote:
                m.last_quote = key
                self._put(quote)

    def _on_trades(self, m: _Market, trades: Any, cached: bool) -> None:
        """New trades as ticks; ``cached``: ccxt's cache, re-read after each result."""
        assert m.seen is not None
        now = self._clock()
        for trade in trades or ():
            trade_id = str(trade.get("id") or "")
            if trade_id and trade_id in m.seen:
                if not cached:  # the cache is re-read after each result: copies expected
                    self.stats["duplicate_trades"] += 1
                continue
            self._put(trade_tick_from_ccxt(trade, m.instrument_id, now))
            m.seen[trade_id] = None
            if len(m.seen) > _SEEN_TRADES:
                m.seen.popitem(last=False)

    # --- polling and plumbing ----------------------------------------------------------

    async def _poll(self, instrument_ids: list[str], kinds: tuple[FeedKind, ...]) -> None:
        feed = CcxtMarketFeed(
            self._session,
            instrument_ids,
            kinds,
            interval_s=self._interval_s,
            timeframe=self._timeframe,
            market_types=self._types,
            clock=self._clock,
            book_depth=self._depth,
        )
        self._polls.append(feed)
        async for event in feed:
            self._put(event)

    def _put(self, event: MarketEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats["dropped"] += 1
            return
        self.stats["events"] += 1

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"ccxt-market-{self.venue}")
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A loop must never die silently: end the iteration so the owner restarts the source.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("ccxt_market_task_failed", venue=self.venue, error=type(exc).__name__)
            self._end()

    def _end(self) -> None:
        # The end marker must get in even when the consumer is behind: it displaces the oldest.
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.stats["dropped"] += 1


def _check(symbols: Sequence[str], kinds: tuple[str, ...]) -> None:
    unknown = sorted(set(kinds) - {"quote", "quote_book", "book", "trades", "bars"})
    if not symbols or unknown:
        raise ConfigError(
            f"ccxt market source: need symbols and known kinds, was {list(symbols)}, "
            f"unknown kinds {unknown}"
        )
