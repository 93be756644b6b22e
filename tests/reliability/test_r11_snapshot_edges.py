"""R11: depth snapshot edge cases (§10 steps 2-5): 0 wrong books in 500 seeded cases.

In process (the exchange's fan-out into a capture connection, the feed's
``FeedCore``), after a reconnect with 1-5 diffs buffered:

* ``old``: the snapshot predates the first buffered ``U`` (1-5 updates the
  socket never carried sit in between): it must not make the book valid; a
  refetch is queued and the fresh snapshot heals the book;
* ``newer``: the snapshot is 1-20 updates ahead of everything buffered (those
  diffs arrive late): the buffer is dropped, the late diffs are ignored as
  old, the next live diff applies.

A wrong book is a book marked valid that differs from the exchange's at the
same update id, or a case that does not end valid and equal. Over the
socket, with virtual time: a depth request answered 429 is retried only
after its Retry-After, and a book quiet for 30 s on a busy socket is neither
stale nor resynced, while a silent socket is stale without touching the book.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.feedcore import FeedCore
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.fake_time import FakeTime
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
CASES = 500


def change(server: SandboxServer, rng: random.Random) -> None:
    server.set_book(SYMBOL, *random_book(rng, D("40000"), D("0.01")))
    server.flush()


class Checker:
    """Counts wrong books: valid but unequal to the exchange at the same id."""

    def __init__(self, core: FeedCore, server: SandboxServer) -> None:
        self.core, self.server, self.wrong = core, server, 0
        self.sync = core.books[SYMBOL]

    def deliver(self, frames: list[str]) -> None:
        for frame in frames:
            self.core.on_text(frame, 0)
            self.check()

    def snapshot(self, data: dict[str, Any]) -> None:
        self.core.take_snapshot_requests()
        self.core.on_snapshot(SYMBOL, data, 0)
        self.check()

    def check(self) -> None:
        truth = exchange_book(self.server, SYMBOL)
        if self.sync.valid and self.sync.last_update_id == truth[0]:
            self.wrong += local_book(self.sync) != truth

    def final(self) -> bool:
        return self.sync.valid and local_book(self.sync) == exchange_book(self.server, SYMBOL)


async def test_500_old_and_far_newer_snapshots_give_no_wrong_book() -> None:
    """250 too-old snapshots refetched, 250 far-newer ones adopted: 0 wrong, 500 exact."""
    rng = random.Random(11)
    async with running(depth_interval_s=3600) as server:
        capture = attach_capture(server, {STREAM})
        core = FeedCore((SYMBOL,), ("depth@100ms",))
        check = Checker(core, server)
        kinds = ["old", "newer"] * (CASES // 2)
        rng.shuffle(kinds)
        exact = refetched = ignored_late = 0
        for kind in kinds:
            core.on_connected()  # a reconnect: §10 step 1 for the book
            if kind == "old":
                stale = server.engine.market.snapshot(SYMBOL, 1000)
                for _ in range(rng.randint(1, 5)):
                    change(server, rng)  # before the socket was up: never buffered
                capture.take()
                for _ in range(rng.randint(1, 5)):
                    change(server, rng)
                check.deliver(capture.take())
                check.snapshot(stale)
                refetched += core.has_snapshot_work and not check.sync.valid
                check.snapshot(server.engine.market.snapshot(SYMBOL, 1000))
            else:
                for _ in range(rng.randint(1, 5)):
                    change(server, rng)
                check.deliver(capture.take())
                for _ in range(rng.randint(1, 20)):
                    change(server, rng)
                late = capture.take()
                check.snapshot(server.engine.market.snapshot(SYMBOL, 1000))
                stale_before = check.sync.statistics().stale_dropped
                check.deliver(late)
                ignored_late += check.sync.statistics().stale_dropped - stale_before == len(late)
                change(server, rng)
                check.deliver(capture.take())
            exact += check.final()
        gaps = check.sync.statistics().gaps
    assert check.wrong == 0
    assert exact == CASES
    assert refetched == CASES // 2
    assert ignored_late == CASES // 2
    assert gaps == CASES // 2  # each too-old snapshot counted once as a gap, never a patch


def virtual_rest(server: SandboxServer, ft: FakeTime) -> BinanceRest:
    clock = ServerClock(ft.wall_ns)
    return BinanceRest(server.rest_url, clock=clock, monotonic=ft.mono,
                       limiter=RateLimiter(server_ms=clock.now_ms, guard_s=0.0))  # fmt: skip


async def test_depth_429_waits_retry_after_then_syncs() -> None:
    """Three 429s on the depth request: each retry comes >= Retry-After (1 s) later."""
    ft = FakeTime(6_000.0)
    rng = random.Random(111)
    async with running(clock=ft.wall_ms) as server:
        change(server, rng)
        server.faults.arm("depth.429", times=3)
        rest = virtual_rest(server, ft)
        async with market_feed(server, (SYMBOL,), rest=rest,
                               feed_kwargs={"monotonic": ft.mono, "sleep": ft.sleep}) as feed:  # fmt: skip
            await until(lambda: feed_books_match(feed, server))
            stats = feed.statistics()
        await rest.close()
        depth = [r for r in server.requests.records if r.path == "/api/v3/depth"]
    assert [r.status for r in depth] == [429, 429, 429, 200]
    assert [b.received_ms - a.received_ms for a, b in itertools.pairwise(depth)] == [
        1000, 1000, 1000]  # fmt: skip
    assert stats.snapshots_fetched == 1
    assert rest.limiter.statistics(ft.mono()).http_429 == 3


async def test_quiet_book_is_not_stale_and_silence_is_judged_on_the_socket() -> None:
    """30 s without a BTCUSDT diff while ETHUSDT trades: not stale, no resync; then silence."""
    ft = FakeTime(6_000.0)
    rng = random.Random(112)
    async with running(clock=ft.wall_ms) as server:
        change(server, rng)
        rest = virtual_rest(server, ft)
        async with market_feed(server, (SYMBOL, "ETHUSDT"), ("depth@100ms", "trade"), rest=rest,
                               stale_after_s=10.0, feed_kwargs={"monotonic": ft.mono}) as feed:  # fmt: skip
            server.set_book("ETHUSDT", *random_book(rng, D("3000"), D("0.01")))
            server.flush()
            await until(lambda: feed_books_match(feed, server))
            before = feed.statistics()
            for second in range(30):  # a trade every virtual second, no BTCUSDT change
                ft.now += 1.0
                server.trade("ETHUSDT", D("3000"), D("0.1"))
                await until(lambda n=second: feed.statistics().messages >= before.messages + n + 1)
                assert not feed.statistics().stale
            busy = feed.statistics()
            ft.now += 30.0  # now the whole socket is silent
            silent = feed.statistics()
            book_valid = feed.book(SYMBOL).valid
        await rest.close()
    assert (busy.gaps, busy.resyncs, busy.snapshots_fetched) == (0, 0, before.snapshots_fetched)
    assert busy.books[SYMBOL].valid
    assert silent.stale
    assert book_valid
