"""The clock seam: every component reads time through a ``Clock``.

``SimClock`` is driven by the data (backtest) or by the shell (paper/live): it
never reads the wall clock. Timers fire strictly in (time, creation order).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Final, Protocol

from genesis.core.events import TimerFired

__all__ = ["Clock", "SimClock"]

_NONE_FIRED: Final[tuple[TimerFired, ...]] = ()


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def set_timer(self, name: str, at_ns: int, interval_ns: int = 0) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


class SimClock:
    """A clock that moves only when told to, firing due timers in order."""

    __slots__ = ("_current", "_heap", "_intervals", "_now", "_seq")

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._heap: list[tuple[int, int, str]] = []
        self._intervals: dict[str, int] = {}
        self._current: dict[str, int] = {}  # name -> seq of its live heap entry
        self._seq = 0

    def now_ns(self) -> int:
        return self._now

    def set_timer(self, name: str, at_ns: int, interval_ns: int = 0) -> None:
        """Fire ``name`` at ``at_ns`` and then every ``interval_ns`` (0 = once).

        Setting a timer that exists replaces it.

        Raises:
            ValueError: ``at_ns`` is in the past or ``interval_ns`` is negative.
        """
        if at_ns < self._now:
            raise ValueError(f"timer {name!r}: at_ns {at_ns} is before now {self._now}")
        if interval_ns < 0:
            raise ValueError(f"timer {name!r}: interval_ns must be >= 0, was {interval_ns}")
        self._intervals[name] = interval_ns
        self._push(name, at_ns)

    def cancel_timer(self, name: str) -> None:
        self._intervals.pop(name, None)
        self._current.pop(name, None)

    def _push(self, name: str, at_ns: int) -> None:
        self._seq += 1
        self._current[name] = self._seq
        heapq.heappush(self._heap, (at_ns, self._seq, name))

    def next_due_ns(self) -> int | None:
        """Time of the earliest live timer, or None."""
        while self._heap and self._current.get(self._heap[0][2]) != self._heap[0][1]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def catch_up(self, ts_ns: int) -> Sequence[TimerFired]:
        """``advance_to(ts_ns)`` unless the clock is already later (then only the timers
        due by now, set since the last move): the driver's step, before and after a venue."""
        target = ts_ns if ts_ns > self._now else self._now
        heap = self._heap
        if not heap or heap[0][0] > target:  # the usual case: nothing due
            self._now = target
            return _NONE_FIRED
        return self.advance_to(target)

    def advance_to(self, ts_ns: int) -> Sequence[TimerFired]:
        """Move time forward to ``ts_ns`` and return the timers due on the way, in order.

        Raises:
            ValueError: ``ts_ns`` is earlier than the current time.
        """
        if ts_ns < self._now:
            raise ValueError(f"clock cannot go back: {ts_ns} < now {self._now}")
        heap = self._heap
        if not heap or heap[0][0] > ts_ns:
            self._now = ts_ns
            return _NONE_FIRED
        fired: list[TimerFired] = []
        while heap and heap[0][0] <= ts_ns:
            at_ns, seq, name = heapq.heappop(heap)
            if self._current.get(name) != seq:
                continue  # cancelled or replaced
            self._now = at_ns
            fired.append(TimerFired(name=name, ts_event=at_ns, ts_init=at_ns))
            interval = self._intervals[name]
            if interval > 0:
                self._push(name, at_ns + interval)
            else:
                self.cancel_timer(name)
        self._now = ts_ns
        return fired
