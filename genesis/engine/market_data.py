"""Where a paper session's market data comes from: live Binance streams, or a recording.

The default is live public Binance market data (no keys): the native feed
(``genesis.exchange.binance.BinanceMarketFeed``) on ``data-stream.binance.
vision``. Every event it delivers is first written to the session log in the
data directory, so a restart rebuilds the session from exactly what it saw,
the way a recording session rebuilds from its file. When the live endpoints
cannot be reached at the start of a new session, the daemon says so once and
falls back to the recording (the bundled month of BTCUSDT bars by default).

The choice is journaled with the session (``session_started``); a restart
keeps it: a live session whose venue is unreachable after a restart waits
for it (the feed's supervisor retries) rather than switching data halfway.

REST: the feed's client is built once and kept across feed restarts, and
like every ``BinanceRest`` it shares the host's rate-limit state and server
clock with the process's other clients (in live trading, the session's):
a 429 or 418 drawn by either stops both until Retry-After, the feed needs
no clock sync of its own, and the state outlives a crash-looping feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesis.core.events import MarketEvent
from genesis.data.session_log import SessionLog, read_session_log
from genesis.data.sources import open_events
from genesis.errors import GenesisError, RateLimited

if TYPE_CHECKING:
    from genesis.engine.daemon import DaemonConfig
    from genesis.exchange.binance import BinanceRest

__all__ = ["LIVE", "RECORDING", "LiveMarket", "MarketData"]

LIVE, RECORDING = "live", "recording"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveMarket:
    """Public market-data endpoints and streams for live paper trading."""

    rest_url: str = "https://data-api.binance.vision"
    ws_url: str = "wss://data-stream.binance.vision"
    kinds: tuple[str, ...] = ("kline_1m",)
    probe_timeout_s: float = 5.0


class MarketData:
    """Chooses the source, replays what a session already consumed, feeds what is new."""

    def __init__(self, config: DaemonConfig, log: Any) -> None:
        self.config = config
        self.log = log
        self.mode = LIVE if config.live_market is not None else RECORDING
        base = config.data_dir or Path("data")
        self.session_path = base / f"session-{config.symbol}.jsonl"
        self._session: SessionLog | None = None
        self._rest: BinanceRest | None = None  # the feed's, kept across restarts (see above)

    def describe(self) -> dict[str, str]:
        if self.mode == LIVE and self.config.live_market is not None:
            live = self.config.live_market
            return {"market_data": LIVE, "data": live.ws_url, "streams": ",".join(live.kinds)}
        return {"market_data": RECORDING, "data": str(self.config.data)}

    async def choose(self, journaled: dict[str, Any] | None) -> None:
        """Keep a restarted session's source; probe the live venue for a new session."""
        if journaled is not None and journaled.get("market_data") in (LIVE, RECORDING):
            self.mode = journaled["market_data"]
            return
        if self.mode == LIVE and (reason := await self._unreachable()) is not None:
            live = self.config.live_market
            self.log.warning(
                "market_data_unreachable", url=live.rest_url if live else "", reason=reason,
                fallback=str(self.config.data),
            )  # fmt: skip
            self.mode = RECORDING

    async def _unreachable(self) -> str | None:
        from genesis.exchange.binance import BinanceRest

        live = self.config.live_market
        assert live is not None
        self._feed_rest()  # first: the probe's clock sync then serves the feed too
        rest = BinanceRest(live.rest_url, timeout_s=live.probe_timeout_s)
        try:
            async with asyncio.timeout(live.probe_timeout_s * 4):
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
            return read_session_log(self.session_path)
        return open_events(self.config.data, self.config.symbol)

    async def live_events(self, skip: int) -> AsyncGenerator[MarketEvent, None]:
        """Logged events after the first ``skip``, then new ones from the venue (logged first)."""
        for index, event in enumerate(read_session_log(self.session_path)):
            if index >= skip:
                yield event
        async for event in self.from_venue():
            yield event

    async def from_venue(self) -> AsyncGenerator[MarketEvent, None]:
        """New events from the live feed, each written to the session log before it is yielded."""
        from genesis.exchange.binance import BinanceMarketFeed, FeedConfig

        live = self.config.live_market
        assert live is not None
        if self._session is None:
            self._session = SessionLog(self.session_path)
        rest = self._feed_rest()
        feed = BinanceMarketFeed(
            live.ws_url, rest, FeedConfig(symbols=(self.config.symbol,), kinds=live.kinds)
        )
        try:
            async for event in feed:
                if isinstance(event, MarketEvent):
                    self._session.append(event)
                    yield event
        finally:
            await feed.close()
            await rest.close()  # its HTTP session only: the next call opens a new one

    def _feed_rest(self) -> BinanceRest:
        from genesis.exchange.binance import BinanceRest

        live = self.config.live_market
        assert live is not None
        if self._rest is None:
            self._rest = BinanceRest(live.rest_url)  # public market data: never signed
        return self._rest

    def sync(self) -> None:
        """Make the logged events durable (at each checkpoint)."""
        if self._session is not None:
            self._session.sync()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
