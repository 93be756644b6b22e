"""Alert delivery off the trading loop: a bounded queue, one owned task, a blocking notifier
in a thread of its own.

The trading loop only ever calls ``Delivery.offer`` (never waits, never raises): a full
queue drops its oldest alert and counts it. ``Delivery.run`` is a task in the daemon's
``TaskGroup``; it takes one alert at a time and hands it to the ``Notifier`` in a daemon
thread, waiting at most ``timeout_s``. A notifier that hangs is left behind (its thread
cannot be cancelled; being a daemon thread it never holds up the exit) and the next alert
goes on; with ``MAX_STUCK`` deliveries hung the task waits for one of them to end, while
new alerts wait (or are dropped) in the bounded queue; still hung after ``timeout_s``, the
alert is given up (``notifier stuck``). Failures are logged once per
``log_interval_s`` with how many there were, by exception type only: a notifier's error
text may carry its URL, and the URL carries a token.

At a stop the task delivers what is queued within one ``timeout_s`` and says what it had
to leave (``alerts_undelivered``); the daemon's close calls ``flush`` once more for the
alerts its stop raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from genesis.errors import ConfigError

__all__ = ["MAX_STUCK", "AppriseNotifier", "Delivery", "Notice", "Notifier"]

MAX_STUCK = 2


class Notice(Protocol):
    """What a notifier sends: a title, a body, and a severity name."""

    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def severity_name(self) -> str: ...


class Notifier(Protocol):
    """Sends one notice, blocking; raises on failure (any exception)."""

    def send(self, title: str, body: str, severity: str) -> None: ...


_APPRISE_TYPE = {"info": "INFO", "warning": "WARNING", "critical": "FAILURE"}  # NotifyType.*


class AppriseNotifier:
    """Every URL of ``GENESIS_ALERT_URLS`` through apprise (json://, mailto://, tgram://...).

    apprise's own log is silenced: it names the URLs it posts to, and they carry tokens.
    apprise is imported here, not at module level: it costs a few hundred ms at start and
    only a daemon with URLs needs it.
    """

    def __init__(self, urls: Sequence[str]) -> None:
        """Raises:
        ConfigError: a URL apprise does not understand (named by its position and
            scheme only, never by its text)."""
        import apprise

        quiet = logging.getLogger("apprise")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        self._types = {k: getattr(apprise.NotifyType, v) for k, v in _APPRISE_TYPE.items()}
        self._apprise = apprise.Apprise()
        for n, url in enumerate(urls, 1):
            if not self._apprise.add(url):
                scheme = urlsplit(url).scheme or "(none)"
                raise ConfigError(
                    f"GENESIS_ALERT_URLS: entry {n} (scheme {scheme}://) is not a notification"
                    " URL apprise supports; see https://github.com/caronc/apprise/wiki"
                )

    def send(self, title: str, body: str, severity: str) -> None:
        """Raises:
        RuntimeError: apprise reported that a service did not take the notice."""
        notify_type = self._types.get(severity, self._types["info"])
        if not self._apprise.notify(body=body, title=title, notify_type=notify_type):
            raise RuntimeError("a notification service refused or could not be reached")


class Delivery:
    """The bounded queue of alerts to notify and the task that drains it."""

    def __init__(
        self,
        notifier: Notifier | None,
        log: Any,
        *,
        queue_size: int = 100,
        timeout_s: float = 10.0,
        log_interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1 or timeout_s <= 0:
            raise ConfigError(
                f"alert delivery: queue_size must be >= 1 and timeout_s > 0, were {queue_size}"
                f" and {timeout_s}"
            )
        self.notifier = notifier
        self._log = log
        self._queue: deque[Notice] = deque(maxlen=queue_size)
        self._ready = asyncio.Event()
        self._timeout_s = timeout_s
        self._log_interval_s = log_interval_s
        self._clock = clock
        self._stuck: list[asyncio.Future[None]] = []
        self._failed_since_log = 0
        self._last_fail_log: float | None = None
        self.sent = self.failed = self.dropped = 0

    def offer(self, notice: Notice) -> None:
        """Queue ``notice`` for the task, never waiting; a full queue drops its oldest."""
        if self.notifier is None:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(notice)
        self._ready.set()

    def pending(self) -> int:
        return len(self._queue)

    async def run(self, stopping: asyncio.Event) -> None:
        """Deliver queued notices until ``stopping``; then what is left, within one timeout."""
        if self.notifier is None:
            return
        while not stopping.is_set():
            if not self._queue:
                self._ready.clear()
                await _first(self._ready.wait(), stopping.wait())
                continue
            await self.deliver(self._queue.popleft())
        await self._flush()

    async def flush(self) -> None:
        """Deliver what is queued within one timeout (the daemon's close: alerts raised
        while it stopped); what is left is logged as ``alerts_undelivered``."""
        if self.notifier is not None:
            await self._flush()

    async def _flush(self) -> None:
        deadline = self._clock() + self._timeout_s
        while self._queue and self._clock() < deadline:
            await self.deliver(self._queue.popleft(), deadline - self._clock())
        if self._queue:
            self._log.warning("alerts_undelivered", count=len(self._queue), reason="stopping")
            self._queue.clear()

    async def deliver(self, notice: Notice, timeout_s: float | None = None) -> bool:
        """Send one notice now (in a thread), waiting at most the timeout; True when sent."""
        assert self.notifier is not None
        timeout = timeout_s or self._timeout_s
        self._stuck = [f for f in self._stuck if not f.done()]
        if len(self._stuck) >= MAX_STUCK:  # do not pile up threads behind a hung service
            await asyncio.wait(self._stuck, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            self._stuck = [f for f in self._stuck if not f.done()]
            if len(self._stuck) >= MAX_STUCK:
                self._failure("notifier stuck")
                return False
        sending = _in_thread(self.notifier.send, notice.title, notice.body, notice.severity_name)
        try:
            await asyncio.wait_for(asyncio.shield(sending), timeout)
        except TimeoutError:
            sending.add_done_callback(_retrieve)  # its late outcome is nobody's business
            self._stuck.append(sending)
            self._failure("timeout")
            return False
        except Exception as exc:
            self._failure(type(exc).__name__)
            return False
        self.sent += 1
        return True

    def _failure(self, reason: str) -> None:
        """Counted; logged at most once per interval, with the count since the last line."""
        self.failed += 1
        self._failed_since_log += 1
        now = self._clock()
        if self._last_fail_log is not None and now - self._last_fail_log < self._log_interval_s:
            return
        self._log.error(
            "alert_delivery_failed",
            reason=reason,
            failures=self._failed_since_log,
            next_report_in_s=self._log_interval_s,
        )
        self._last_fail_log = now
        self._failed_since_log = 0


def _in_thread(fn: Callable[..., None], *args: Any) -> asyncio.Future[None]:
    """Run ``fn(*args)`` in a new daemon thread; its outcome lands in the returned future."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)

    def work() -> None:
        try:
            fn(*args)
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, None)

    threading.Thread(target=work, name="alert-notify", daemon=True).start()
    return future


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
