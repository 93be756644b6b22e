"""SimClock: timers fire in (time, creation) order, never from the wall clock."""

from __future__ import annotations

import pytest

from genesis.core.clock import SimClock
from genesis.core.ids import IdGenerator


def test_timers_fire_in_order_with_repeats() -> None:
    """A repeating and a one-shot timer interleave by time."""
    clock = SimClock(0)
    clock.set_timer("every5", 10, 5)
    clock.set_timer("once", 12)
    fired = clock.advance_to(21)
    assert [(t.name, t.ts_event) for t in fired] == [
        ("every5", 10),
        ("once", 12),
        ("every5", 15),
        ("every5", 20),
    ]
    assert clock.now_ns() == 21


def test_cancelled_and_replaced_timers() -> None:
    """A cancelled timer never fires; setting a name again replaces it."""
    clock = SimClock(0)
    clock.set_timer("a", 10)
    clock.set_timer("b", 10)
    clock.cancel_timer("a")
    clock.set_timer("b", 30)
    assert [t.ts_event for t in clock.advance_to(40)] == [30]


def test_clock_refuses_to_go_back() -> None:
    """Time only moves forward."""
    clock = SimClock(100)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(99)


def test_ids_are_a_function_of_clock_and_counter() -> None:
    """Two generators fed the same times produce the same ids."""
    a, b = IdGenerator("sma"), IdGenerator("sma")
    assert [a.next(5), a.next(5)] == [b.next(5), b.next(5)] == ["sma-5-1", "sma-5-2"]
