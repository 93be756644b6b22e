"""Incremental indicators: O(1) per update, no history arrays.

``SMA`` keeps an exact running sum of whatever numbers it is fed: Decimals in
give exact Decimal averages (the reference strategy relies on this so that
ties between two averages are real ties, as in the peers' exact sums), floats
in give float averages.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Generic, TypeVar

__all__ = ["SMA", "RollingMax", "RollingMin", "RollingSum"]

N = TypeVar("N", Decimal, float)


class SMA(Generic[N]):
    """Simple moving average over the last ``period`` values."""

    __slots__ = ("_count", "_sum", "_window", "period", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"SMA period must be >= 1, was {period}")
        self.period = period
        self._window: deque[N] = deque()
        self._sum: N | int = 0
        self._count = 0
        self.value: N | None = None

    def update(self, x: N) -> N | None:
        """Add ``x``; return the average once ``period`` values were seen, else None."""
        window = self._window
        window.append(x)
        if self._count < self.period:
            self._count += 1
            self._sum += x
            if self._count < self.period:
                return None
        else:
            self._sum += x - window.popleft()
        value = self.value = self._sum / self.period
        return value

    @property
    def ready(self) -> bool:
        return self.value is not None


class RollingSum(Generic[N]):
    """Exact sum of the last ``period`` values (no division: compare sums cross-multiplied)."""

    __slots__ = ("_count", "_window", "period", "total")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"window period must be >= 1, was {period}")
        self.period = period
        self._window: deque[N] = deque()
        self._count = 0
        self.total: N | int = 0

    def update(self, x: N) -> N | int | None:
        """Add ``x``; return the sum of the last ``period`` values once that many were seen."""
        window = self._window
        window.append(x)
        if self._count < self.period:
            self._count += 1
            self.total += x
            return self.total if self._count == self.period else None
        total = self.total = self.total + x - window.popleft()
        return total

    def values(self) -> list[N]:
        """The values in the window, oldest first."""
        return list(self._window)


class _RollingExtreme(Generic[N]):
    """Max (or min) of the last ``period`` values with a monotonic deque: O(1) amortised."""

    __slots__ = ("_count", "_deque", "_sign", "period")

    def __init__(self, period: int, sign: int) -> None:
        if period < 1:
            raise ValueError(f"window period must be >= 1, was {period}")
        self.period = period
        self._deque: deque[tuple[int, N]] = deque()
        self._count = 0
        self._sign = sign

    def update(self, x: N) -> N | None:
        """Add ``x``; return the extreme of the window once full, else None."""
        dq, i = self._deque, self._count
        while dq and (dq[-1][1] <= x if self._sign > 0 else dq[-1][1] >= x):
            dq.pop()
        dq.append((i, x))
        if dq[0][0] <= i - self.period:
            dq.popleft()
        self._count = i + 1
        return self.value

    @property
    def value(self) -> N | None:
        return self._deque[0][1] if self._count >= self.period else None


class RollingMax(_RollingExtreme[N]):
    def __init__(self, period: int) -> None:
        super().__init__(period, +1)


class RollingMin(_RollingExtreme[N]):
    def __init__(self, period: int) -> None:
        super().__init__(period, -1)
