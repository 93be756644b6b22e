"""Where a session's market data comes from: recordings, or live streams, one part per session.

A ``MarketSource`` gives the trading loop one ordered stream of market
events for every instrument of the session, whatever venues they are on:

* recordings (``--data`` repeated): every file's events merged by the time
  Genesis saw them (``genesis.data.sources.open_sources``), paced in wall
  time at ``speed`` events a second;
* live streams: one feed per venue (the native Binance feed; other venues
  through their adapter), their events interleaved in arrival order. Every
  live event is written to the session log before the strategies see it, so
  a paper restart rebuilds from exactly what was seen, the way a recording
  session rebuilds from its files. A paper session on recordings writes the
  session log too (a restart appends only the events not yet in it), so every
  paper session leaves the one file ``backtest --data SESSION_LOG`` replays.

Paper on live data falls back to the recording when the live endpoints
cannot be reached at the start of a new session; the choice is journaled
with the session and a restart keeps it. Live trading never falls back and
never replays the session log (the venue is the truth after a restart).

Resuming after ``skip`` events does not pace the skipped ones: a recovered
session carries on at once.

REST: the feed's client is built once and kept across feed restarts, and
like every ``BinanceRest`` it shares the host's rate-limit state and server
clock with the process's other clients (in live trading, the session's): a
429 or 418 drawn by either stops both until Retry-After, the feed needs no
clock sync of its own, and the state outlives a crash-looping feed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesis.core.events import MarketEvent
from genesis.data.session_log import SessionLog, read_session_log
from genesis.data.sources import DataSpec, open_sources
from genesis.errors import GenesisError, RateLimited

if TYPE_CHECKING:
    from genesis.exchange.binance import BinanceRest

__all__ = [
    "LIVE",
    "RECORDING",
    "LiveStreams",
    "MarketSource",
    "binance_events",
    "session_log_path",
]

LIVE, RECORDING = "live", "recording"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveStreams:
    """Public market-data endpoints and streams of the Binance venue."""

    rest_url: str = "https://data-api.binance.vision"
    ws_url: str = "wss://data-stream.binance.vision"
    kinds: tuple[str, ...] = ("kline_1m",)
    probe_timeout_s: float = 5.0


def session_log_path(data_dir: Path, instrument_ids: Sequence[str], live: bool) -> Path:
    """``session-BTCUSDT.jsonl`` (paper) / ``live-session-...`` (live trading)."""
    name = "_".join(sorted(i.replace(":", "-") for i in instrument_ids)) or "none"
    return data_dir / f"{'live-' if live else ''}session-{name}.jsonl"


class MarketSource:
    """Chooses the source, replays what a session already consumed, feeds what is new."""

    def __init__(
        self,
        *,
        recording: Sequence[DataSpec],
        instrument_ids: Sequence[str],
        session_path: Path,
        log: Any,
        live: LiveStreams | None = None,
        speed: float = 0.0,
        max_events: int | None = None,
        replay_session_log: bool = True,
        feeds: Callable[[], list[AsyncIterator[MarketEvent]]] | None = None,
        feeds_described: str = "",
    ) -> None:
        """``feeds``: live trading's venues' own market data (one iterator per venue, merged
        in arrival order), ``feeds_described`` what they are for the log; None: the public
        Binance streams of ``live``."""
        self.recording = tuple(recording)
        self.instrument_ids = tuple(instrument_ids)
        self.session_path = session_path
        self.log = log
        self.live = live
        self.speed = speed
        self.max_events = max_events
        self.replay_session_log = replay_session_log
        self._feeds = feeds
        self._feeds_described = feeds_described
        self.mode = LIVE if live is not None else RECORDING
        self._session: SessionLog | None = None
        self._rest: BinanceRest | None = None  # the feed's, kept across restarts (see above)

    def describe(self) -> dict[str, str]:
        if self.mode == LIVE and self._feeds is not None:  # each venue's own streams
            return {"market_data": LIVE, "data": self._feeds_described or "venue streams"}
        if self.mode == LIVE and self.live is not None:
            streams = ",".join(self.live.kinds)
            return {"market_data": LIVE, "data": self.live.ws_url, "streams": streams}
        return {"market_data": RECORDING, "data": self.describe_recording()}

    async def choose(self, journaled: dict[str, Any] | None) -> None:
        """Keep a restarted session's source; probe the live venue for a new session."""
        if journaled is not None and journaled.get("market_data") in (LIVE, RECORDING):
            self.mode = journaled["market_data"]
            return
        if (
            self.mode == LIVE and self.replay_session_log
        ):  # paper only: live trading never falls back
            reason = await self._unreachable()
            if reason is not None:
                self.log.warning(
                    "market_data_unreachable",
                    url=self.live.rest_url if self.live else "",
                    reason=reason,
                    fallback=self.describe_recording(),
                )
                self.mode = RECORDING

    def describe_recording(self) -> str:
        return ",".join(str(s.path) for s in self.recording)

    async def _unreachable(self) -> str | None:
        from genesis.exchange.binance import BinanceRest

        assert self.live is not None
        self._feed_rest()  # first: the probe's clock sync then serves the feed too
        rest = BinanceRest(self.live.rest_url, timeout_s=self.live.probe_timeout_s)
        try:
            async with asyncio.timeout(self.live.probe_timeout_s * 4):
                await rest.sync_clock()
        except RateLimited:
            return None  # the venue answered; the feed waits Retry-After
        except (GenesisError, OSError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await rest.close()
        return None

    def recorded(self) -> Iterator[MarketEvent]:
        """Everything the session has consumed so far, in order (for a recovery rebuild)."""
        if self.mode == LIVE:
            if not self.replay_session_log:
                return iter(())
            return read_session_log(self.session_path)
        return self._limited(open_sources(self.recording))

    def _limited(self, events: Iterator[MarketEvent]) -> Iterator[MarketEvent]:
        for n, event in enumerate(events):
            if self.max_events is not None and n >= self.max_events:
                return
            yield event

    async def events(self, skip: int) -> AsyncGenerator[MarketEvent, None]:
        """The events after the first ``skip`` (not paced), then paced or live ones."""
        if self.mode == RECORDING:
            async for event in self._paced(skip):
                yield event
            return
        fed = 0
        if self.replay_session_log:
            for event in read_session_log(self.session_path):
                fed += 1
                if fed > skip:
                    yield event
        async for event in self._from_venue(max(fed, skip)):
            yield event

    async def _paced(self, skip: int) -> AsyncGenerator[MarketEvent, None]:
        delay = 1.0 / self.speed if self.speed > 0 else 0.0
        logged = self._open_log()
        for n, event in enumerate(self._limited(open_sources(self.recording))):
            if n < skip:
                continue  # already processed before a restart: resume at once
            if self._session is not None and n >= logged:
                self._session.append(event)  # the session log, as on live data (see above)
            yield event
            await asyncio.sleep(delay)

    def _open_log(self) -> int:
        """Paper on a recording writes the session log too (the events it consumed, for
        ``backtest --data SESSION_LOG``); return how many events it already holds (a
        restart appends only what is new)."""
        if not self.replay_session_log:
            return 0
        if self._session is None:
            self._session = SessionLog(self.session_path)
        return self._session.lines

    async def _from_venue(self, fed: int) -> AsyncGenerator[MarketEvent, None]:
        limit = self.max_events
        if limit is not None and fed >= limit:
            return
        if self._session is None:
            self._session = SessionLog(self.session_path)
        source = _fan_in(self._feeds()) if self._feeds is not None else self._binance_feed()
        async with contextlib.aclosing(source) as feed:
            async for event in feed:
                self._session.append(event)  # durable before any strategy sees it
                yield event
                fed += 1
                if limit is not None and fed >= limit:
                    return

    async def _binance_feed(self) -> AsyncGenerator[MarketEvent, None]:
        assert self.live is not None
        rest = self._feed_rest()
        try:
            async for event in binance_events(
                rest, self.live.ws_url, self.instrument_ids, self.live.kinds
            ):
                yield event
        finally:
            await rest.close()  # its HTTP session only: the next call opens a new one

    def _feed_rest(self) -> BinanceRest:
        from genesis.exchange.binance import BinanceRest

        assert self.live is not None
        if self._rest is None:
            self._rest = BinanceRest(self.live.rest_url)  # public market data: never signed
        return self._rest

    def sync(self) -> None:
        """Make the logged events durable (at each checkpoint)."""
        if self._session is not None:
            self._session.sync()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


async def _fan_in(sources: list[AsyncIterator[MarketEvent]]) -> AsyncGenerator[MarketEvent, None]:
    """Every source's events in arrival order; a source's failure ends the whole (the feed's
    supervisor restarts it); closing cancels every reader."""
    if len(sources) == 1:
        async for event in sources[0]:
            yield event
        return
    queue: asyncio.Queue[MarketEvent | BaseException] = asyncio.Queue(maxsize=10_000)

    async def pump(source: AsyncIterator[MarketEvent]) -> None:
        try:
            async for event in source:
                await queue.put(event)
        except Exception as exc:
            await queue.put(exc)

    readers = [asyncio.create_task(pump(source)) for source in sources]
    try:
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def binance_events(
    rest: BinanceRest, ws_url: str, symbols: Sequence[str], kinds: tuple[str, ...]
) -> AsyncGenerator[MarketEvent, None]:
    """The native Binance feed's market events for ``symbols`` (its book synced through
    ``rest``, which shares the host's rate-limit state with every other client)."""
    from genesis.exchange.binance import BinanceMarketFeed, FeedConfig

    feed = BinanceMarketFeed(ws_url, rest, FeedConfig(symbols=tuple(symbols), kinds=kinds))
    try:
        async for event in feed:
            if isinstance(event, MarketEvent):
                yield event
    finally:
        await feed.close()
