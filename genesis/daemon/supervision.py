"""Restart a failing long-running task with capped, jittered exponential backoff (R17, R18).

``supervise`` runs ``factory()`` (an awaitable, e.g. a feed's ``run()``) until it
returns normally or the surrounding task is cancelled. A crash is reported and
retried after ``min(cap, initial * 2**attempt)`` scaled by a jitter in [0.5, 1.0]
drawn from an injected ``random.Random``; a run that lasted longer than
``reset_after_s`` resets the attempt counter. The delays and the retry loop are
``genesis.retry``'s (the one backoff in the code base); ``sleep`` and
``monotonic`` are injected, so tests run without real waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from genesis.retry import Backoff, BackoffPolicy, retry

__all__ = ["SUPERVISOR_POLICY", "supervise"]

# restarts after 0.25-0.5 s, doubling to 15-30 s; a run of a minute forgets the failures
SUPERVISOR_POLICY = BackoffPolicy(initial_s=0.5, cap_s=30.0, floor_s=0.25, jitter=0.5)


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[None]],
    *,
    on_failure: Callable[[str, BaseException, int, float], None],
    policy: BackoffPolicy = SUPERVISOR_POLICY,
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
        Exception: a fatal one at once, the last failure once ``max_restarts`` is spent.
    """
    backoff = Backoff(policy, rng=rng or random.Random(0))  # noqa: S311 - jitter only

    async def run() -> None:
        started = monotonic()
        try:
            await factory()
        except Exception:
            if monotonic() - started >= policy.reset_after_s:
                backoff.reset()  # it ran long enough: a new failure starts over
            raise

    await retry(
        run,
        retry_on=lambda exc: not isinstance(exc, fatal),
        backoff=backoff,
        sleep=sleep,
        on_retry=lambda _n, exc, delay: on_failure(name, exc, backoff.failures - 1, delay),
        max_attempts=None if max_restarts is None else max_restarts + 1,
    )
