"""Restart a failing long-running task with capped, jittered exponential backoff (R17, R18).

``supervise`` runs ``factory()`` (an awaitable, e.g. a feed's ``run()``) until it
returns normally or the surrounding task is cancelled. A crash is reported and
retried after ``min(cap, base * 2**attempt)`` scaled by a jitter in [0.5, 1.0]
drawn from an injected ``random.Random``; a run that lasted longer than
``reset_after_s`` resets the attempt counter. ``sleep`` and ``monotonic`` are
injected, so tests run without real waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Backoff", "supervise"]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 30.0
    reset_after_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        raw: float = min(self.cap_s, self.base_s * 2.0**attempt)
        return raw * (0.5 + 0.5 * rng.random())


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[None]],
    *,
    on_failure: Callable[[str, BaseException, int, float], None],
    backoff: Backoff | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    max_restarts: int | None = None,
    fatal: tuple[type[BaseException], ...] = (),
) -> None:
    """Run ``factory()`` again and again until it returns; cancellation propagates.

    Args:
        on_failure: called with (name, exception, attempt, delay_s) before each wait.
        max_restarts: give up (re-raise the last error) after this many restarts.
        fatal: exception types that are not transient (bad input): re-raised at once.

    Raises:
        Exception: the last failure once ``max_restarts`` is exhausted.
    """
    backoff = backoff or Backoff()
    rng = rng or random.Random(0)  # noqa: S311 - jitter, not cryptography
    attempt = restarts = 0
    while True:
        started = monotonic()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except fatal:
            raise
        except Exception as exc:
            if monotonic() - started >= backoff.reset_after_s:
                attempt = 0
            if max_restarts is not None and restarts >= max_restarts:
                raise
            delay = backoff.delay(attempt, rng)
            on_failure(name, exc, attempt, delay)
            attempt += 1
            restarts += 1
            await sleep(delay)
