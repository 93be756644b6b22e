"""The one retry policy of Genesis: capped exponential backoff with seeded jitter (R3, R17, R18).

``BackoffPolicy`` is the frozen description (``initial_s``, ``cap_s``,
``floor_s``, ``jitter``, ``reset_after_s``) and its pure ``delay(failures,
rng)``. ``Backoff`` is the stateful counter a loop holds: ``next_delay()``
after each failure, ``reset()`` after a success. ``retry`` runs an
awaitable-producing function until it succeeds, sleeping ``next_delay()``
(or longer, when the error names a wait such as Retry-After) between
attempts through an injected ``sleep``.

The delay after the n-th consecutive failure (n = 0 for the first) is drawn
uniformly from ``[max(floor, ceiling * (1 - jitter)), ceiling]`` where
``ceiling = min(cap, initial * 2**n)``. So ``jitter = 1`` spreads a crowd of
clients over ``[floor, ceiling]``, ``jitter = 0`` gives the exact ceiling,
and every delay lies in ``[floor, cap]``. The exponent stops growing once the
ceiling reaches the cap, so ten thousand failures never overflow a float.

Nothing here reads a clock or the module-level ``random``: the jitter comes
from a ``random.Random`` passed in (or seeded from an explicit ``seed``), the
waiting from the injected ``sleep``. A caller that wants "reset after a run
that lasted ``reset_after_s``" (a supervisor, a reconnect loop) measures the
run with its own clock and calls ``Backoff.reset()``.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

__all__ = ["Backoff", "BackoffPolicy", "retry"]

T = TypeVar("T")

_MAX_CAP_S: Final = sys.float_info.max / 4  # initial * 2**n stays finite up to twice the cap


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """Capped exponential backoff with jitter; see the module docstring for the formula.

    Args:
        initial_s: the ceiling after the first failure (seconds, > 0).
        cap_s: the largest delay (seconds, >= ``initial_s``, finite).
        floor_s: the smallest delay (0 <= floor <= initial); None: ``initial_s``.
        jitter: the fraction of the ceiling that is randomised, in [0, 1].
        reset_after_s: for callers that supervise long runs: a run that lasted
            this long counts as a success (they call ``Backoff.reset()``).

    Raises:
        ValueError: a bound outside the ranges above.
    """

    initial_s: float = 1.0
    cap_s: float = 60.0
    floor_s: float | None = None
    jitter: float = 1.0
    reset_after_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.cap_s <= _MAX_CAP_S:
            raise ValueError(
                f"backoff needs 0 < initial_s <= cap_s (finite), was {self.initial_s}, {self.cap_s}"
            )
        if not 0 <= self.floor <= self.initial_s:
            raise ValueError(f"backoff floor_s must be in [0, initial_s], was {self.floor_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must be in [0, 1], was {self.jitter}")

    @property
    def floor(self) -> float:
        """The smallest delay this policy returns, in seconds."""
        return self.initial_s if self.floor_s is None else self.floor_s

    def ceiling(self, failures: int) -> float:
        """``min(cap, initial * 2**failures)`` in seconds, for any ``failures`` >= 0."""
        doublings = max(0, math.ceil(math.log2(self.cap_s) - math.log2(self.initial_s)))
        return min(self.cap_s, math.ldexp(self.initial_s, min(max(failures, 0), doublings)))

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` earlier consecutive failures (0-based), jittered."""
        high = self.ceiling(failures)
        low = min(high, max(self.floor, high * (1.0 - self.jitter)))
        return low if low == high else rng.uniform(low, high)


class Backoff:
    """A ``BackoffPolicy`` plus the count of consecutive failures and a seeded RNG.

    Args:
        policy: the delays; None for ``BackoffPolicy()`` (1 s doubling to 60 s, full jitter).
        rng: the jitter source (shared with the caller if it has one).
        seed: seeds a private ``random.Random`` when ``rng`` is None.
    """

    # no __slots__: reliability tests wrap ``next_delay`` on one instance to record delays

    def __init__(
        self, policy: BackoffPolicy | None = None, *, rng: random.Random | None = None,
        seed: int = 0,
    ) -> None:  # fmt: skip
        self.policy = policy if policy is not None else BackoffPolicy()
        self._rng = rng if rng is not None else random.Random(seed)  # noqa: S311 - jitter only
        self.failures = 0

    def __repr__(self) -> str:
        return f"Backoff({self.policy!r}, failures={self.failures})"

    def next_delay(self) -> float:
        """The delay before the next attempt; counts one more consecutive failure."""
        delay = self.policy.delay(self.failures, self._rng)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Forget the failures after a success (the next delay is the first one again)."""
        self.failures = 0


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: Callable[[Exception], bool],
    backoff: Backoff,
    on_retry: Callable[[int, Exception, float], None] | None = None,
    max_attempts: int | None = None,
    wait_hint: Callable[[Exception], float | None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await ``attempt()`` until it returns, waiting after each failure the larger of
    ``backoff.next_delay()`` and the error's ``wait_hint``.

    Args:
        attempt: makes a fresh awaitable for every try.
        retry_on: True for an exception worth another try; others (and cancellation)
            propagate at once.
        backoff: counts the failures; reset when an attempt succeeds.
        on_retry: called with (failed attempts so far, exception, delay_s) before each wait.
        max_attempts: attempts in total before the last error is re-raised; None: no limit.
        wait_hint: the least wait an exception asks for (Retry-After), or None.
        sleep: the wait, injected so tests do not wait.

    Returns the successful attempt's result; raises ``ValueError`` if ``max_attempts`` < 1.
    """
    if max_attempts is not None and max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1 or None, was {max_attempts}")
    failed = 0
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            failed += 1
            if not retry_on(exc) or failed == max_attempts:
                raise
            delay = _delay(backoff, wait_hint, exc)
            if on_retry is not None:
                on_retry(failed, exc, delay)
            await sleep(delay)
            continue
        backoff.reset()
        return result


def _delay(
    backoff: Backoff, wait_hint: Callable[[Exception], float | None] | None, exc: Exception
) -> float:
    delay = backoff.next_delay()
    hint = wait_hint(exc) if wait_hint is not None else None
    return delay if hint is None else max(delay, hint)
