"""R10: order book sequence gaps, injected by the exchange's depth fault hooks (P7).

Figures: 1,000 of 1,000 gaps (500 dropped, 500 swapped depthUpdates) detected
on the next message; 0 false positives on 1,000 duplicated or replayed old
events; after each resync the book equals the exchange's book at the same
update id on every level; the real capture replayed by the exchange gives 0
gaps and 26 of 26 bookTicker matches. The 1,000 + 1,000 cases run in process
(the exchange's fan-out into a capture connection, the feed's ``FeedCore``);
a 40-case sample runs the whole ``BinanceMarketFeed`` over the socket.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

from genesis.core.events import BookDelta
from genesis.exchange.binance.feedcore import FeedCore
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.streams_fixtures import (
    D,
    attach_capture,
    exchange_book,
    feed_books_match,
    local_book,
    market_feed,
    random_book,
    running,
    until,
)

SYMBOL = "BTCUSDT"
STREAM = "btcusdt@depth@100ms"


def change(server: SandboxServer, rng: random.Random) -> None:
    """One book change published as one depthUpdate (a fresh random book)."""
    bids, asks = random_book(rng, D("40000"), D("0.01"))
    server.set_book(SYMBOL, bids, asks)
    server.flush()


def deliver(core: FeedCore, frames: list[str]) -> None:
    for frame in frames:
        core.on_text(frame, 0)


def resync(core: FeedCore, server: SandboxServer) -> None:
    for symbol in core.take_snapshot_requests():
        core.on_snapshot(symbol, server.engine.market.snapshot(symbol, 1000), 0)


async def test_thousand_gaps_detected_and_no_false_positives() -> None:
    """500 drops + 500 swaps: 1,000 gaps, each healed to the exchange's exact book; 0 FPs."""
    rng = random.Random(10)
    async with running(depth_interval_s=3600) as server:
        capture = attach_capture(server, {STREAM})
        core = FeedCore((SYMBOL,), ("depth@100ms",))
        change(server, rng)
        resync_needed = core.books[SYMBOL]
        core.on_snapshot(SYMBOL, server.engine.market.snapshot(SYMBOL, 1000), 0)
        capture.take()
        kinds = ["drop"] * 500 + ["swap"] * 500 + ["duplicate"] * 500 + ["old"] * 500
        rng.shuffle(kinds)
        detected = false_positives = exact_after_resync = seen_patched = 0
        delivered: list[str] = []
        for kind in kinds:
            gaps_before = resync_needed.statistics().gaps
            if kind == "old":
                change(server, rng)
                frames = capture.take()
                frames.append(rng.choice(delivered[-20:] or frames))  # an old event again
            else:
                server.faults.arm(f"depth.{kind}")
                change(server, rng)
                if kind != "duplicate":
                    change(server, rng)  # the next message reveals the drop or swap
                frames = capture.take()
            delivered += frames
            first_event_gap = False
            for i, frame in enumerate(frames):
                core.on_text(frame, 0)
                if i == 0:
                    first_event_gap = resync_needed.statistics().gaps > gaps_before
            gaps = resync_needed.statistics().gaps - gaps_before
            if kind in ("drop", "swap"):
                detected += int(first_event_gap and gaps == 1)
                seen_patched += int(resync_needed.valid)  # a gapped book must stay invalid
                resync(core, server)
                exact_after_resync += int(
                    resync_needed.valid
                    and local_book(resync_needed) == exchange_book(server, SYMBOL)
                )
            else:
                false_positives += int(gaps != 0 or core.has_snapshot_work)
        stats = dict(server.faults.stats)
    assert stats["depth.drop"] == stats["depth.swap"] == stats["depth.duplicate"] == 500
    assert detected == 1000
    assert seen_patched == 0
    assert exact_after_resync == 1000
    assert false_positives == 0
    assert local_book(resync_needed) == exchange_book(server, SYMBOL)


async def test_gaps_over_the_socket_resync_to_the_exchange_book() -> None:
    """40 drop/swap faults through the real feed: 40 gaps, 40 resyncs, exact books after each."""
    rng = random.Random(11)
    async with running(depth_interval_s=3600) as server:
        change(server, rng)
        async with market_feed(server, (SYMBOL,)) as feed:
            await until(lambda: feed_books_match(feed, server))
            exact = 0
            for case in range(40):
                server.faults.arm("depth.drop" if case % 2 else "depth.swap")
                change(server, rng)
                change(server, rng)
                await until(lambda n=case: feed.statistics().gaps == n + 1)
                await until(lambda: feed_books_match(feed, server))
                exact += 1
            stats = feed.statistics()
            await until(lambda: feed._queue.empty())
            deltas = [e for e in feed.events if isinstance(e, BookDelta)]
    assert stats.gaps == 40
    assert stats.books[SYMBOL].resyncs == 40
    assert stats.malformed == 0
    assert exact == 40
    assert len(deltas) == 60  # 20 drops deliver 1 diff each, 20 swaps deliver 2


async def test_real_capture_replayed_by_the_exchange_has_no_gaps() -> None:
    """The 2021 capture served by the exchange: 0 gaps; bookTicker equals the book at 26/26 ids."""
    symbols = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")
    names = {f"{s.lower()}@{k}" for s in symbols for k in ("depth@100ms", "bookTicker")}
    async with running(replay=True, depth_interval_s=3600) as server:
        capture = attach_capture(server, names)
        core = FeedCore(symbols, ("depth@100ms", "bookTicker"))
        for symbol in symbols:
            core.on_snapshot(symbol, server.engine.market.snapshot(symbol, 1000), 0)
        server.advance(10_000)
        frames = capture.take()
    tickers: dict[tuple[str, int], tuple[Decimal, ...]] = {}
    for frame in frames:
        data: dict[str, Any] = json.loads(frame)["data"]
        if "e" not in data:
            tickers[(data["s"], data["u"])] = tuple(D(data[k]) for k in ("b", "B", "a", "A"))
    compared: list[bool] = []
    for frame in frames:
        event = core.on_text(frame, 0)
        if isinstance(event, BookDelta):
            sync = core.books[event.instrument_id]
            quote = tickers.get((event.instrument_id, event.last_update_id))
            if quote is not None and sync.valid:
                bid, ask = sync.book.best_bid(), sync.book.best_ask()
                compared.append((bid, ask) == ((quote[0], quote[1]), (quote[2], quote[3])))
    stats = core.book_stats()
    assert sum(s.gaps for s in stats.values()) == 0
    assert all(s.valid for s in stats.values())
    assert core.counters.malformed == 0
    assert len(compared) == 26
    assert sum(compared) == 26
