"""WatchLoop without I/O: a stub session answers watch calls from a script."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from genesis.errors import OrderRejectedByVenue, VenueUnavailable
from genesis.exchange.ccxt.watch import WatchLoop
from genesis.retry import Backoff, BackoffPolicy

from .conftest import eventually

POLICY = BackoffPolicy(initial_s=0.5, cap_s=8.0)


class ScriptedSession:
    """Each watch call takes the next script entry: a result, or an exception to raise.

    With the script used up, a call waits until cancelled (a quiet stream).
    """

    def __init__(self, *script: Any) -> None:
        self.script = deque(script)
        self.ws_closes = 0

    async def call(self, method: str, *args: Any) -> Any:
        if not self.script:
            await asyncio.Future()
        item = self.script.popleft()
        if isinstance(item, BaseException):
            raise item
        return item


class Owner:
    """Records what the loop hands over, and the backoff sleeps (which return at once)."""

    def __init__(self, session: ScriptedSession, ready: bool | None = None) -> None:
        self.items: list[Any] = []
        self.lives = 0
        self.catch_ups = 0
        self.sleeps: list[float] = []

        async def on_items(items: Any) -> None:
            self.items.append(items)

        async def on_live() -> None:
            self.lives += 1

        async def catch_up() -> None:
            self.catch_ups += 1

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        async def is_ready() -> bool:
            return bool(ready)

        self.loop = WatchLoop(
            session,  # type: ignore[arg-type]
            "watch_my_trades",
            on_items=on_items,
            on_live=on_live,
            ready=is_ready if ready is not None else None,
            catch_up=catch_up,
            backoff=Backoff(POLICY, seed=7),
            sleep=sleep,
        )

    async def run_until(self, done: Any) -> None:
        task = asyncio.create_task(self.loop.run())
        try:
            await eventually(lambda: done() or task.done())
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def first_delays(n: int) -> list[float]:
    backoff = Backoff(POLICY, seed=7)
    return [backoff.next_delay() for _ in range(n)]


async def test_failure_is_a_gap_then_resumes_live_with_a_backfill():
    """A failed call backs off (seeded delay), resumes, and runs on_live again before results."""
    owner = Owner(ScriptedSession(["a"], VenueUnavailable("dropped"), ["b"]))
    await owner.run_until(lambda: len(owner.items) == 2)
    stats = owner.loop.statistics()
    assert owner.items == [["a"], ["b"]]
    assert (owner.lives, stats.gaps, stats.failures, stats.recoveries) == (2, 1, 1, 2)
    assert owner.sleeps == first_delays(1)


async def test_backoff_starts_over_after_the_stream_proved_itself():
    """Failures in a row grow the delay; after a delivery the next failure waits the first
    delay again (``initial_s``: the first failure's delay has no jitter)."""
    err = VenueUnavailable("down")
    owner = Owner(ScriptedSession(err, err, ["a"], err, ["b"]))
    await owner.run_until(lambda: len(owner.items) == 2)
    assert owner.sleeps == [*first_delays(2), POLICY.initial_s]
    assert owner.sleeps[1] > owner.sleeps[0] == POLICY.initial_s


async def test_acknowledged_subscription_goes_live_before_any_result():
    """ready() True: on_live (the backfill) runs at once, with no result yet."""
    owner = Owner(ScriptedSession(), ready=True)
    await owner.run_until(lambda: owner.lives == 1)
    assert (owner.items, owner.loop.live) == ([], True)


async def test_unacknowledged_stream_is_unproven_until_it_delivers():
    """ready() False: not live (the owner polls) until the first result."""
    owner = Owner(ScriptedSession(), ready=False)
    task = asyncio.create_task(owner.loop.run())
    await asyncio.sleep(0)
    live_before = owner.loop.live
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert (live_before, owner.lives) == (False, 0)


async def test_socket_closed_between_results_is_a_gap():
    """A close counted while a result was handled makes the loop resubscribe and backfill."""
    session = ScriptedSession(["a"], ["b"], ["c"])
    owner = Owner(session)

    async def closing(items: Any) -> None:
        owner.items.append(items)
        if items == ["a"]:
            session.ws_closes += 1

    owner.loop._on_items = closing
    await owner.run_until(lambda: owner.lives == 2)
    assert owner.loop.statistics().gaps == 1
    assert owner.loop.statistics().failures == 0


async def test_catch_up_runs_after_each_result():
    """The owner reads ccxt's cache after every result."""
    owner = Owner(ScriptedSession(["a"], ["b"], ["c"]))
    await owner.run_until(lambda: owner.catch_ups == 3)
    assert owner.items == [["a"], ["b"], ["c"]]


async def test_not_supported_ends_the_loop():
    """A method the venue's ccxt class refuses ends the loop for good (owner keeps polling)."""
    owner = Owner(ScriptedSession(OrderRejectedByVenue("no", "NotSupported")))
    await asyncio.wait_for(owner.loop.run(), 5)
    stats = owner.loop.statistics()
    assert (stats.unsupported, stats.live, owner.sleeps) == (True, False, [])
