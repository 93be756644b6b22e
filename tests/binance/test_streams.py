"""BinanceMarketFeed over a loopback websocket replaying the real capture (P7, R9, R10)."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

from aiohttp import WSMsgType, web

from genesis.core.events import BookDelta, BookSnapshot
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.streams import BinanceMarketFeed, FeedConfig
from genesis.resources import SPOT_CAPTURE

SYMBOLS = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")
KINDS = ("depth@100ms", "bookTicker", "aggTrade", "kline_1m")


def records() -> list[dict[str, Any]]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


class Replay:
    """Serves the capture: the stream in file order; each depth snapshot once the stream reaches it."""

    def __init__(
        self, loopback: Any, *, cut_after: int | None = None, shutdown_after: int | None = None
    ) -> None:
        self.records = records()
        self.reached = {s: asyncio.Event() for s in SYMBOLS}
        self.snapshots: dict[str, Any] = {}
        self.connections = 0
        self.cut_after = cut_after
        self.shutdown_after = shutdown_after
        loopback.route("GET", "/stream", self.stream)
        loopback.route("GET", "/api/v3/depth", self.depth)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        first = self.connections == 1
        for n, rec in enumerate(self.records):
            if rec["kind"] == "ws":
                await ws.send_str(json.dumps(rec["data"]))
            else:
                symbol = rec["path"].split("symbol=")[1].split("&")[0]
                self.snapshots[symbol] = rec["data"]
                self.reached[symbol].set()
            await asyncio.sleep(0)
            if first and self.cut_after == n:
                await ws.close()
                return ws
            if first and self.shutdown_after == n:
                await ws.send_str(
                    json.dumps(
                        {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1}}
                    )
                )
                break
        async for msg in ws:
            if msg.type == WSMsgType.CLOSE:
                break
        return ws

    async def depth(self, request: web.Request) -> web.Response:
        symbol = request.query["symbol"]
        await self.reached[symbol].wait()
        return web.json_response(self.snapshots[symbol], headers={"X-MBX-USED-WEIGHT-1M": "50"})


async def run_feed(
    loopback: Any, replay: Replay, until: Any
) -> tuple[BinanceMarketFeed, list[Any]]:
    url = await loopback.start()
    rest = BinanceRest(url, timeout_s=5)
    config = FeedConfig(
        symbols=SYMBOLS,
        kinds=KINDS,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        snapshot_spacing_s=0.0,
        snapshot_retry_s=0.01,
        handover_timeout_s=1.0,
        close_timeout_s=0.2,
    )
    feed = BinanceMarketFeed(url.replace("http", "ws"), rest, config)
    events: list[Any] = []

    async def consume() -> None:
        async for event in feed:
            events.append(event)
            if until(feed, events):
                return

    try:
        await asyncio.wait_for(consume(), 15)
    finally:
        await feed.close()
        await rest.close()
    return feed, events


def all_valid(feed: BinanceMarketFeed) -> bool:
    return all(b.valid for b in feed.statistics().books.values())


async def test_live_feed_on_capture_has_no_gaps(loopback: Any) -> None:
    """All 177 diffs arrive, 4 snapshots sync the books, 0 gaps, 0 rejects, latency measured."""
    replay = Replay(loopback)
    feed, events = await run_feed(
        loopback,
        replay,
        lambda f, ev: sum(isinstance(e, BookDelta) for e in ev) == 177 and all_valid(f),
    )
    stats = feed.statistics()
    assert stats.gaps == 0
    assert stats.malformed == 0
    assert stats.snapshots_fetched == 4
    assert sum(isinstance(e, BookSnapshot) for e in events) == 4
    assert stats.latency_ms_max != 0.0
    assert stats.connects == 1
    assert stats.stale is False


async def test_reconnect_after_a_cut_resyncs_every_book(loopback: Any) -> None:
    """The socket is cut mid-stream; the feed reconnects, re-snapshots every book, ends valid."""
    replay = Replay(loopback, cut_after=120)
    feed, _ = await run_feed(
        loopback,
        replay,
        lambda f, ev: (
            f.statistics().snapshots_fetched >= 8
            and all_valid(f)
            and f.statistics().messages >= 265 + 100
        ),
    )
    stats = feed.statistics()
    assert stats.reconnects == 1
    assert stats.connects == 2
    assert stats.malformed == 0
    assert stats.gaps == 0


async def test_server_shutdown_rotates_make_before_break(loopback: Any) -> None:
    """On `serverShutdown` a second socket opens before the first closes; no reconnect counted."""
    replay = Replay(loopback, shutdown_after=100)
    feed, _ = await run_feed(
        loopback,
        replay,
        lambda f, ev: (
            f.statistics().rotations == 1 and all_valid(f) and f.statistics().messages >= 265
        ),
    )
    stats = feed.statistics()
    assert stats.rotations == 1
    assert stats.connects == 2
    assert stats.reconnects == 0
