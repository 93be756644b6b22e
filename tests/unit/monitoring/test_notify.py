"""Delivery: a failing or hanging notifier is counted and logged, never waited for."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from genesis.errors import ConfigError
from genesis.monitoring.notify import AppriseNotifier, Delivery


@dataclass(frozen=True)
class _Notice:
    title: str = "Genesis WARNING: feed_stale"
    body: str = "feed stale"
    severity_name: str = "warning"


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Failing:
    def send(self, title: str, body: str, severity: str) -> None:
        raise ConnectionError("http://127.0.0.1:9/hook/tok3n-secret refused")


class _HangsOnce:
    """The first send blocks until released; later ones are recorded."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []
        self._first = True

    def send(self, title: str, body: str, severity: str) -> None:
        if self._first:
            self._first = False
            self.release.wait(30)
            return
        self.sent.append(body)


async def test_failures_are_logged_once_per_interval_with_their_count() -> None:
    """Three failures in the interval: one line; after it, the next line counts the two held."""
    clock, log = _Clock(), _Log()
    delivery = Delivery(_Failing(), log, log_interval_s=300.0, clock=clock)

    results = [await delivery.deliver(_Notice()) for _ in range(3)]
    clock.now = 301.0
    results.append(await delivery.deliver(_Notice()))

    failed = [f for _, e, f in log.lines if e == "alert_delivery_failed"]
    assert results == [False] * 4
    assert [f["failures"] for f in failed] == [1, 3]
    assert failed[0]["reason"] == "ConnectionError"
    assert "tok3n-secret" not in str(log.lines)
    assert delivery.failed == 4


async def test_a_hung_notifier_is_left_behind_and_the_next_alert_goes_out() -> None:
    """The first send hangs past the timeout: reported as a timeout; the second is sent."""
    notifier, log = _HangsOnce(), _Log()
    delivery = Delivery(notifier, log, timeout_s=0.05)
    try:
        first = await delivery.deliver(_Notice(body="one"))
        second = await delivery.deliver(_Notice(body="two"))
    finally:
        notifier.release.set()

    assert (first, second) == (False, True)
    assert notifier.sent == ["two"]
    assert [f["reason"] for _, e, f in log.lines if e == "alert_delivery_failed"] == ["timeout"]


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    """offer never waits: with room for 2, a third alert pushes the first out."""
    delivery = Delivery(_Failing(), _Log(), queue_size=2)

    for body in ("a", "b", "c"):
        delivery.offer(_Notice(body=body))

    assert [n.body for n in delivery._queue] == ["b", "c"]
    assert delivery.dropped == 1


async def test_the_task_delivers_what_is_queued_then_stops() -> None:
    """run() sends queued notices; once stopping, it flushes the rest and returns."""
    notifier = _HangsOnce()
    notifier._first = False
    delivery = Delivery(notifier, _Log())
    stopping = asyncio.Event()
    task = asyncio.create_task(delivery.run(stopping))
    delivery.offer(_Notice(body="a"))
    delivery.offer(_Notice(body="b"))

    stopping.set()
    await asyncio.wait_for(task, 10)

    assert notifier.sent == ["a", "b"]
    assert delivery.sent == 2


def test_an_unknown_url_is_refused_without_showing_it() -> None:
    """A URL apprise does not know: ConfigError naming its position and scheme only."""
    with pytest.raises(ConfigError, match=r"entry 1 \(scheme nosuch://\)") as info:
        AppriseNotifier(["nosuch://tok3n-secret@host"])

    assert "tok3n-secret" not in str(info.value)
