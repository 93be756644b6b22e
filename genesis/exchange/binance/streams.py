"""The combined market stream feed: sockets, reconnects and snapshot fetches around ``FeedCore``.

One socket carries every stream of the feed (``/stream?streams=a/b/...``).

* Reconnect after a break with capped, jittered backoff (``FeedConfig``,
  1 s..60 s by default); every book then restarts at §10 step 1.
* Ping/pong: the websockets library answers the server's pings and sends its
  own every ``ping_interval_s``; a missing pong closes the socket (-> reconnect).
* Rotation, make-before-break: before the venue's 24 h cut and on
  ``serverShutdown`` a second socket is opened; the old one is closed once
  the new one delivers. Overlapping frames are harmless: ``FeedCore`` drops
  trades and bars already seen, and ``BookSync`` ignores stale diffs.
* Snapshots are fetched by one worker, one at a time, spaced by
  ``snapshot_spacing_s`` and held back while the weight budget is short (P7,
  P8); a 429 waits Retry-After.

The feed is an async iterator of ``core.events`` in arrival order, the same
shapes a recording gives (``genesis.data.capture``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from genesis.core.events import BookDelta, MarketEvent
from genesis.data.book import BookSyncStats
from genesis.errors import RateLimited, VenueError
from genesis.exchange.binance.feedcore import FeedCore
from genesis.exchange.binance.ratelimit import depth_weight
from genesis.exchange.binance.rest import BinanceRest
from genesis.retry import Backoff, BackoffPolicy

__all__ = ["BinanceMarketFeed", "FeedConfig", "FeedStats"]

log = structlog.get_logger(__name__)

DEFAULT_KINDS: Final = ("trade", "bookTicker", "depth@100ms", "kline_1m")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedConfig:
    """Settings of one market feed; every delay is configurable so tests run fast."""

    symbols: tuple[str, ...]
    kinds: tuple[str, ...] = DEFAULT_KINDS
    depth_limit: int = 1000
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    ping_interval_s: float = 20.0
    open_timeout_s: float = 10.0
    max_connection_age_s: float = 23.5 * 3600  # rotate before Binance's 24 h cut
    handover_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    stale_after_s: float = 10.0
    snapshot_spacing_s: float = 0.25
    snapshot_retry_s: float = 1.0
    max_message_bytes: int = 1 << 20
    queue_size: int = 100_000
    seed: int = 0

    def backoff_policy(self) -> BackoffPolicy:
        """Reconnect delays: full jitter over [initial, min(max, initial * 2**n)]."""
        return BackoffPolicy(initial_s=self.backoff_initial_s, cap_s=self.backoff_max_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedStats:
    """Data-quality figures of one feed (R19 ``statistics()``)."""

    messages: int
    malformed: int
    duplicates: int
    dropped: int
    connects: int
    connect_attempts: int
    reconnects: int
    rotations: int
    snapshots_fetched: int
    gaps: int
    resyncs: int
    last_message_age_s: float | None
    stale: bool
    latency_ms_last: float
    latency_ms_mean: float
    latency_ms_max: float
    books: Mapping[str, BookSyncStats] = field(default_factory=dict)


@dataclass(slots=True, eq=False)  # identity-hashed: kept in a set
class _Socket:
    ws: ClientConnection
    opened: float
    first_message: asyncio.Event
    reader: asyncio.Task[None] | None = None


class BinanceMarketFeed:
    """Live Binance spot market data as an async iterator of Genesis market events.

    Args:
        ws_url: stream host, e.g. ``wss://stream.binance.com:9443``.
        rest: REST client for depth snapshots (its clock corrects latency).
        config: symbols, stream kinds and timings.
        monotonic: monotonic seconds, injected for tests.
        sleep: the coroutine every wait goes through (backoff, snapshot spacing,
            budget, Retry-After), injected with ``monotonic`` to compress time.
    """

    def __init__(
        self,
        ws_url: str,
        rest: BinanceRest,
        config: FeedConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = f"{ws_url.rstrip('/')}/stream?streams="
        self._rest = rest
        self.config = config
        self._core = FeedCore(config.symbols, config.kinds, config.max_message_bytes)
        self._url += "/".join(self._core.subscribed)
        self._mono = monotonic
        self._sleep = sleep
        self._backoff = Backoff(config.backoff_policy(), seed=config.seed)
        self._queue: asyncio.Queue[MarketEvent | None] = asyncio.Queue(config.queue_size)
        self._rotate = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: set[_Socket] = set()
        self._last_message: float | None = None
        self._connects = self._reconnects = self._rotations = self._fetched = self._dropped = 0
        self._attempts = 0

    def __repr__(self) -> str:
        return f"BinanceMarketFeed(symbols={list(self.config.symbols)})"

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the socket and snapshot tasks (idempotent)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._run(), name="binance-feed"),
            asyncio.create_task(self._snapshot_worker(), name="binance-snapshots"),
        ]
        for task in self._tasks:
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A feed task must never die silently: end the iteration so the owner restarts us.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("binance_feed_task_failed", task=task.get_name(), error=type(exc).__name__)
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    async def close(self) -> None:
        """Stop every task, close the sockets and end the iteration."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sock in list(self._sockets):
            await self._close_socket(sock)
        self._tasks = []
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[MarketEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MarketEvent]:
        await self.start()
        while (event := await self._queue.get()) is not None:
            yield event

    def statistics(self) -> FeedStats:
        """A frozen copy of the feed's figures; staleness is judged on the socket, not a book."""
        c, books = self._core.counters, self._core.book_stats()
        age = None if self._last_message is None else self._mono() - self._last_message
        return FeedStats(
            messages=c.messages, malformed=c.malformed, duplicates=c.duplicates,
            dropped=self._dropped, connects=self._connects, connect_attempts=self._attempts,
            reconnects=self._reconnects,
            rotations=self._rotations, snapshots_fetched=self._fetched,
            gaps=sum(b.gaps for b in books.values()),
            resyncs=sum(b.resyncs for b in books.values()),
            last_message_age_s=age, stale=age is None or age > self.config.stale_after_s,
            latency_ms_last=c.latency_last_ms,
            latency_ms_mean=c.latency_sum_ms / c.latency_n if c.latency_n else 0.0,
            latency_ms_max=c.latency_max_ms, books=books,
        )  # fmt: skip

    def book(self, symbol: str) -> object:
        """The feed's own ``BookSync`` for ``symbol`` (read-only use; for checks and tests)."""
        return self._core.books[symbol]

    # --- sockets ---------------------------------------------------------------------

    async def _run(self) -> None:
        current = await self._open()
        self._on_new_books()
        while True:
            age_left = self.config.max_connection_age_s - (self._mono() - current.opened)
            rotate = asyncio.ensure_future(self._rotate.wait())
            assert current.reader is not None
            await asyncio.wait({current.reader, rotate}, timeout=max(0.0, age_left),
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            rotate.cancel()
            if current.reader.done():
                self._reconnects += 1
                log.warning("binance_feed_reconnecting", reconnects=self._reconnects)
                await self._close_socket(current)
                current = await self._open()
                self._on_new_books()
            else:
                current = await self._handover(current)

    async def _handover(self, old: _Socket) -> _Socket:
        self._rotate.clear()
        new = await self._open()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(new.first_message.wait(), self.config.handover_timeout_s)
        await self._close_socket(old)
        self._rotations += 1
        log.info("binance_feed_rotated", rotations=self._rotations)
        return new

    async def _open(self) -> _Socket:
        while True:
            cfg = self.config
            self._attempts += 1
            try:
                ws = await connect(self._url, ping_interval=cfg.ping_interval_s,
                                   ping_timeout=cfg.ping_interval_s,
                                   open_timeout=cfg.open_timeout_s,
                                   close_timeout=cfg.close_timeout_s,
                                   max_size=max(cfg.max_message_bytes * 16, 1 << 24))  # fmt: skip
            except (OSError, TimeoutError, WebSocketException) as exc:
                delay = self._backoff.next_delay()
                log.warning("binance_feed_connect_failed", error=type(exc).__name__,
                            retry_in_s=round(delay, 3))  # fmt: skip
                await self._sleep(delay)
                continue
            self._connects += 1
            sock = _Socket(ws=ws, opened=self._mono(), first_message=asyncio.Event())
            sock.reader = asyncio.create_task(self._read(sock), name="binance-feed-reader")
            self._sockets.add(sock)
            return sock

    async def _close_socket(self, sock: _Socket) -> None:
        self._sockets.discard(sock)
        if sock.reader is not None and not sock.reader.done():
            sock.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sock.reader
        with contextlib.suppress(Exception):
            await sock.ws.close()

    async def _read(self, sock: _Socket) -> None:
        core = self._core
        try:
            async for frame in sock.ws:
                recv_ns = time.time_ns()
                self._last_message = self._mono()
                if not sock.first_message.is_set():
                    sock.first_message.set()
                    self._backoff.reset()
                event = core.on_text(frame, recv_ns)
                if core.shutdown_requested:
                    core.shutdown_requested = False
                    log.info("binance_feed_server_shutdown")
                    self._rotate.set()
                if event is not None:
                    self._emit(event)
                if self._core.has_snapshot_work:
                    self._wake.set()
        except WebSocketException as exc:
            log.warning("binance_feed_socket_closed", error=type(exc).__name__)

    # --- books -------------------------------------------------------------------------

    def _on_new_books(self) -> None:
        self._core.set_clock_offset_ms(self._rest.clock.offset_ms)
        self._core.on_connected()
        self._wake.set()

    def _emit(self, event: MarketEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped += 1
            if isinstance(event, BookDelta):
                self._core.force_resync(event.instrument_id)

    async def _snapshot_worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for symbol in self._core.take_snapshot_requests():
                await self._fetch_snapshot(symbol)

    async def _fetch_snapshot(self, symbol: str) -> None:
        cfg = self.config
        while True:
            delay = self._rest.limiter.delay_for(depth_weight(cfg.depth_limit), self._mono())
            await self._sleep(delay + cfg.snapshot_spacing_s)
            try:
                data = await self._rest.depth(symbol, cfg.depth_limit)
            except RateLimited as exc:  # nothing more is sent before Retry-After (P8)
                log.warning("binance_snapshot_rate_limited", symbol=symbol,
                            retry_after_s=exc.retry_after_s)  # fmt: skip
                await self._sleep(exc.retry_after_s)
                continue
            except VenueError as exc:
                log.warning("binance_snapshot_failed", symbol=symbol, error=type(exc).__name__)
                await self._sleep(cfg.snapshot_retry_s)
                continue
            self._fetched += 1
            event = self._core.on_snapshot(symbol, data, time.time_ns())
            if event is not None:
                self._emit(event)
            if self._core.has_snapshot_work:
                self._wake.set()
            return
