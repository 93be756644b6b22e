"""Bounded queues, health aggregation and the restart supervisor, without real waiting."""

from __future__ import annotations

import asyncio
import random

import pytest

from genesis.daemon.health import Health, HealthMonitor, Level, queue_health
from genesis.daemon.queues import BoundedQueue, QueuePolicy
from genesis.daemon.supervision import supervise
from genesis.retry import BackoffPolicy


def test_drop_oldest_keeps_the_freshest_and_counts_drops() -> None:
    """Market data: a full queue drops its oldest item, never blocks."""
    queue: BoundedQueue[int] = BoundedQueue("market", 2, QueuePolicy.DROP_OLDEST)
    for tick in range(5):
        queue.put_nowait(tick)
    stats = queue.statistics()
    assert [queue.get_nowait(), queue.get_nowait()] == [3, 4]
    assert (stats.depth, stats.put, stats.dropped, stats.max_depth) == (2, 5, 3, 2)


def test_never_drop_refuses_instead_of_losing() -> None:
    """Orders: a full queue raises rather than drop an order."""
    queue: BoundedQueue[str] = BoundedQueue("orders", 1, QueuePolicy.NEVER_DROP)
    queue.put_nowait("a")
    with pytest.raises(asyncio.QueueFull):
        queue.put_nowait("b")
    assert queue.statistics().dropped == 0


async def test_block_waits_for_room() -> None:
    """BLOCK: put waits until a consumer makes room."""
    queue: BoundedQueue[int] = BoundedQueue("commands", 1, QueuePolicy.BLOCK)
    await queue.put(1)
    waiter = asyncio.ensure_future(queue.put(2))
    await asyncio.sleep(0)
    assert not waiter.done()
    assert await queue.get() == 1
    await waiter
    assert queue.statistics().put == 2


def test_health_is_the_worst_component_with_reasons() -> None:
    """Overall level is the worst report; reasons list every unhealthy component."""
    monitor = HealthMonitor()
    assert monitor.report(Health("feed:BTCUSDT", Level.DEGRADED, "stale 12 s")) is True
    monitor.report(Health("venue", Level.HEALTHY))
    monitor.report(queue_health("inbound", 1000, 1000))
    snapshot = monitor.snapshot()
    assert snapshot.status == "CRITICAL"
    assert snapshot.reasons == ("inbound: queue full (1000/1000)", "feed:BTCUSDT: stale 12 s")


def test_queue_health_thresholds() -> None:
    """Below 80% healthy, from 80% degraded, full critical."""
    assert [queue_health("q", d, 100).level for d in (79, 80, 100)] == [
        Level.HEALTHY,
        Level.DEGRADED,
        Level.CRITICAL,
    ]


async def test_supervisor_restarts_with_capped_jittered_backoff() -> None:
    """Three crashes, then success: waits grow, stay under the cap, and are reported."""
    crashes = iter([RuntimeError("ws closed")] * 3)
    waits: list[float] = []
    failures: list[tuple[str, int]] = []

    async def feed() -> None:
        error = next(crashes, None)
        if error is not None:
            raise error

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    await supervise(
        "feed", feed, on_failure=lambda n, e, a, d: failures.append((str(e), a)),
        policy=BackoffPolicy(initial_s=1.0, cap_s=3.0, floor_s=0.5, jitter=0.5),
        rng=random.Random(7), sleep=fake_sleep,
        monotonic=lambda: 0.0,
    )  # fmt: skip
    assert failures == [("ws closed", 0), ("ws closed", 1), ("ws closed", 2)]
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert 1.5 <= waits[2] <= 3.0


async def test_supervisor_gives_up_after_max_restarts() -> None:
    """A task that always fails is re-raised once the restart budget is spent."""

    async def broken() -> None:
        raise ValueError("bad frame")

    async def no_wait(_: float) -> None:
        return None

    with pytest.raises(ValueError, match="bad frame"):
        await supervise("feed", broken, on_failure=lambda *a: None, sleep=no_wait, max_restarts=2)


async def test_supervisor_does_not_retry_fatal_errors() -> None:
    """Bad input is not transient: a fatal exception type is re-raised without a restart."""
    failures: list[object] = []

    async def bad_file() -> None:
        raise KeyError("column")

    with pytest.raises(KeyError):
        await supervise(
            "feed", bad_file, on_failure=lambda *a: failures.append(a), fatal=(KeyError,)
        )
    assert failures == []


def test_sd_notify_datagrams_reach_the_socket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Under systemd (NOTIFY_SOCKET set) READY and STATUS arrive as one datagram; the watchdog is half of WATCHDOG_USEC."""
    import socket

    from genesis.daemon.systemd import Notifier

    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})
        assert notifier.notify("READY=1", "STATUS=trading") is True
        assert server.recv(1024) == b"READY=1\nSTATUS=trading"
    assert notifier.watchdog_interval_s() == 5.0


def test_sd_notify_is_a_no_op_outside_systemd() -> None:
    """Without NOTIFY_SOCKET nothing is sent and nothing fails."""
    from genesis.daemon.systemd import Notifier

    notifier = Notifier({})
    assert (notifier.enabled, notifier.notify("READY=1"), notifier.watchdog_interval_s()) == (
        False,
        False,
        None,
    )
