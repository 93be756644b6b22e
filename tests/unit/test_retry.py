"""genesis.retry: the backoff policy (bounds, determinism, no overflow) and the retry loop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.retry import Backoff, BackoffPolicy, retry


class FakeSleep:
    """Records every wait instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def failing(times: int, exc: Exception, result: str = "ok") -> Callable[[], Awaitable[str]]:
    calls = [0]

    async def attempt() -> str:
        calls[0] += 1
        if calls[0] <= times:
            raise exc
        return result

    return attempt


@st.composite
def policies(draw: st.DrawFn) -> BackoffPolicy:
    initial = draw(st.floats(min_value=1e-6, max_value=1e3))
    cap = draw(st.floats(min_value=initial, max_value=1e7))
    floor = draw(st.one_of(st.none(), st.floats(min_value=0.0, max_value=initial)))
    jitter = draw(st.floats(min_value=0.0, max_value=1.0))
    return BackoffPolicy(initial_s=initial, cap_s=cap, floor_s=floor, jitter=jitter)


@settings(max_examples=60, deadline=None)
@given(policy=policies(), seed=st.integers(min_value=0, max_value=2**32))
def test_delays_stay_within_floor_and_cap_and_repeat_per_seed(
    policy: BackoffPolicy, seed: int
) -> None:
    """Every delay of 10,000 failures lies in [floor, cap]; the same seed gives the same delays."""
    first, second = Backoff(policy, seed=seed), Backoff(policy, seed=seed)

    delays = [first.next_delay() for _ in range(10_000)]

    assert all(policy.floor <= d <= policy.cap_s for d in delays)
    assert delays == [second.next_delay() for _ in range(10_000)]


def test_no_float_overflow_after_ten_thousand_failures() -> None:
    """The ceiling stays the cap however many failures came before (the writer's old bug)."""
    policy = BackoffPolicy(initial_s=1e-9, cap_s=3600.0, jitter=0.0)

    assert policy.ceiling(10_000) == policy.ceiling(10**9) == 3600.0


def test_ceiling_doubles_from_initial_up_to_the_cap() -> None:
    """min(cap, initial * 2**n) for n = 0, 1, 2, ...; jitter 0 gives the exact ceiling."""
    backoff = Backoff(BackoffPolicy(initial_s=0.5, cap_s=3.0, jitter=0.0))

    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_reset_starts_the_sequence_again() -> None:
    """After a success the next delay is the first delay again."""
    backoff = Backoff(BackoffPolicy(initial_s=1.0, cap_s=8.0, jitter=0.0))
    for _ in range(3):
        backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() == 1.0


def test_full_jitter_spreads_between_floor_and_ceiling() -> None:
    """jitter=1 draws over [floor, ceiling]: the delays differ, none above the ceiling."""
    policy = BackoffPolicy(initial_s=1.0, cap_s=60.0, floor_s=0.5, jitter=1.0)

    delays = {policy.delay(6, random.Random(i)) for i in range(50)}

    assert len(delays) == 50
    assert all(0.5 <= d <= 60.0 for d in delays)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_s": 0.0}, {"initial_s": 2.0, "cap_s": 1.0}, {"floor_s": 2.0}, {"jitter": 1.5},
     {"cap_s": float("inf")}],
)  # fmt: skip
def test_invalid_policy_is_refused(kwargs: dict[str, float]) -> None:
    """Bounds are validated at construction."""
    with pytest.raises(ValueError, match="backoff"):
        BackoffPolicy(**kwargs)


async def test_retry_waits_the_backoff_delays_then_returns() -> None:
    """Two failures: two waits of the policy's delays, on_retry told each, then the result."""
    sleep, seen = FakeSleep(), []
    backoff = Backoff(BackoffPolicy(initial_s=1.0, cap_s=10.0, jitter=0.0))

    result = await retry(
        failing(2, ConnectionError("down")), retry_on=lambda e: isinstance(e, ConnectionError),
        backoff=backoff, on_retry=lambda n, e, d: seen.append((n, type(e).__name__, d)),
        sleep=sleep,
    )  # fmt: skip

    assert result == "ok"
    assert sleep.delays == [1.0, 2.0]
    assert seen == [(1, "ConnectionError", 1.0), (2, "ConnectionError", 2.0)]
    assert backoff.failures == 0  # reset by the success


async def test_retry_reraises_an_error_it_does_not_retry() -> None:
    """An exception the predicate refuses propagates at once, without a wait."""
    sleep = FakeSleep()

    with pytest.raises(KeyError):
        await retry(failing(1, KeyError("bug")), retry_on=lambda e: isinstance(e, OSError),
                    backoff=Backoff(), sleep=sleep)  # fmt: skip
    assert sleep.delays == []


async def test_retry_gives_up_after_max_attempts() -> None:
    """max_attempts=3: three calls, two waits, then the last error."""
    sleep = FakeSleep()

    with pytest.raises(OSError, match="again"):
        await retry(failing(5, OSError("again")), retry_on=lambda e: True, backoff=Backoff(),
                    max_attempts=3, sleep=sleep)  # fmt: skip
    assert len(sleep.delays) == 2


async def test_retry_waits_at_least_the_hint() -> None:
    """A wait named by the error (Retry-After) wins over a shorter backoff delay."""
    sleep = FakeSleep()

    class Busy(Exception):
        retry_after_s = 30.0

    await retry(failing(1, Busy()), retry_on=lambda e: True, backoff=Backoff(),
                wait_hint=lambda e: getattr(e, "retry_after_s", None), sleep=sleep)  # fmt: skip

    assert sleep.delays == [30.0]


async def test_retry_lets_cancellation_through() -> None:
    """Cancellation is never retried."""

    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await retry(cancelled, retry_on=lambda e: True, backoff=Backoff(), sleep=FakeSleep())


async def test_supervisor_shape_restarts_and_resets_after_a_long_run() -> None:
    """A coroutine factory restarted with capped delays, each failure reported, and the
    backoff reset by a run that lasted reset_after_s (measured by the caller's clock)."""
    now = [0.0]
    lasted = iter([0.0, 0.0, 100.0, 0.0])
    policy = BackoffPolicy(initial_s=1.0, cap_s=4.0, jitter=0.0, reset_after_s=60.0)
    backoff, reports = Backoff(policy), []

    async def run_feed() -> None:
        started = now[0]
        now[0] += next(lasted, 0.0)
        if len(reports) < 4:
            if now[0] - started >= policy.reset_after_s:
                backoff.reset()
            raise ConnectionError("feed dropped")

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    await retry(run_feed, retry_on=lambda e: isinstance(e, ConnectionError), backoff=backoff,
                on_retry=lambda n, e, d: reports.append(d), sleep=sleep)  # fmt: skip

    assert reports == [1.0, 2.0, 1.0, 2.0]  # the third run lasted 100 s: back to 1 s
