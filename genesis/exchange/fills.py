"""Fill models for the simulated venue: fees, slippage, latency and the bar price path.

Bar model (documented, deterministic): inside one bar the price is assumed to
travel open → low → high → close when the bar closes at or above its open, and
open → high → low → close when it closes below its open (the nearer extreme
first is unknowable from OHLC alone; this is the common convention). An order
that reaches the venue before the bar opens sees the whole path; an order that
arrives during a bar waits for the next bar (intra-bar prices are unknown).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from genesis.core.commands import Command
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import Bar
from genesis.core.instruments import Instrument
from genesis.core.money import ROUND_CEILING, ROUND_FLOOR, ZERO

__all__ = [
    "FeeModel",
    "InFlight",
    "LatencyModel",
    "SlippageModel",
    "bar_path",
    "first_at_or_above",
    "first_at_or_below",
    "parse_venue_fee",
]

_BPS: Final = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FeeModel:
    """Maker and taker fees in basis points of the fill notional, charged in quote."""

    maker_bps: Decimal = ZERO
    taker_bps: Decimal = ZERO

    def fee(self, notional: Decimal, liquidity: LiquiditySide) -> Decimal:
        bps = self.maker_bps if liquidity is LiquiditySide.MAKER else self.taker_bps
        return notional * bps / _BPS

    @property
    def worst_rate(self) -> Decimal:
        return max(self.maker_bps, self.taker_bps) / _BPS


def parse_venue_fee(text: str) -> tuple[str, Decimal]:
    """``VENUE=BPS`` (a command line's per-venue fee) as (venue in lower case, bps).

    Raises:
        ValueError: not ``VENUE=BPS`` with a finite ``BPS >= 0``; the message quotes it.
    """
    venue, sep, value = text.partition("=")
    try:
        bps = Decimal(value)
    except ArithmeticError:
        bps = Decimal("NaN")
    if not sep or not venue.strip() or not bps.is_finite() or bps < 0:
        raise ValueError(f"expected VENUE=BPS with BPS >= 0, was {text!r}")
    return venue.strip().lower(), bps


@dataclass(frozen=True, slots=True)
class SlippageModel:
    """Adverse slippage on taker fills that have no book to walk (bars, last trade).

    The price moves against the order by ``bps`` of the price plus ``ticks``
    ticks, then is rounded to the tick away from the order's favour.
    """

    bps: Decimal = ZERO
    ticks: int = 0

    @property
    def is_zero(self) -> bool:
        return self.bps == 0 and self.ticks == 0

    def apply(self, price: Decimal, side: Side, inst: Instrument) -> Decimal:
        if self.is_zero:
            return price
        move = price * self.bps / _BPS + inst.tick_size * self.ticks
        if side is Side.BUY:
            return inst.price(price + move, ROUND_CEILING)
        return max(inst.tick_size, inst.price(price - move, ROUND_FLOOR))


class LatencyModel:
    """Time from a command leaving the kernel to its arrival at the venue.

    ``base_ns`` plus, when ``jitter_ns`` > 0, a uniform draw in [0, jitter_ns]
    from a ``random.Random(seed)`` of its own, so runs stay reproducible.
    """

    __slots__ = ("_rng", "base_ns", "jitter_ns")

    def __init__(self, base_ns: int = 0, jitter_ns: int = 0, seed: int = 0) -> None:
        if base_ns < 0 or jitter_ns < 0:
            raise ValueError(f"latency must be >= 0, was base {base_ns} jitter {jitter_ns}")
        self.base_ns = base_ns
        self.jitter_ns = jitter_ns
        self._rng = random.Random(seed)  # noqa: S311 - simulation, seeded for reproducibility

    def delay_ns(self) -> int:
        if self.jitter_ns == 0:
            return self.base_ns
        return self.base_ns + self._rng.randint(0, self.jitter_ns)


_NEVER: Final = 1 << 62  # next_ns of an empty line


class InFlight:
    """Commands on their way to a simulated venue: each arrives its latency after it was
    sent, in (arrival time, order sent). ``next_ns`` is the earliest arrival (a large
    number when nothing is in flight), read on every event without a call."""

    __slots__ = ("_heap", "_latency", "_seq", "next_ns")

    def __init__(self, latency: LatencyModel | None = None) -> None:
        self._latency = latency or LatencyModel()
        self._heap: list[tuple[int, int, Command]] = []
        self._seq = 0
        self.next_ns = _NEVER

    def __bool__(self) -> bool:
        return bool(self._heap)

    def send(self, command: Command, now_ns: int) -> None:
        self._seq += 1
        arrival = now_ns + self._latency.delay_ns()
        heapq.heappush(self._heap, (arrival, self._seq, command))
        self.next_ns = min(self.next_ns, arrival)

    def next_arrival_ns(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def due(self, ts_ns: int) -> Iterator[tuple[int, Command]]:
        """(arrival time, command) of each command due by ``ts_ns``, in order, removed."""
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            arrival, _, command = heapq.heappop(heap)
            self.next_ns = heap[0][0] if heap else _NEVER
            yield arrival, command


def bar_path(bar: Bar) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The four path points of ``bar`` in the order the model assumes they traded."""
    if bar.close >= bar.open:
        return (bar.open, bar.low, bar.high, bar.close)
    return (bar.open, bar.high, bar.low, bar.close)


def first_at_or_below(
    path: Sequence[Decimal], level: Decimal, start: int = 0
) -> tuple[int, Decimal] | None:
    """First point on ``path[start:]`` where the price is <= ``level``.

    Returns:
        (segment index, price): the starting point itself when it is already at
        or below ``level`` (a gap: the price is that point), else ``level`` on
        the first segment that crosses it; None when the path never gets there.
    """
    if path[start] <= level:
        return start, path[start]
    for i in range(start + 1, len(path)):
        if path[i] <= level:
            return i, level
    return None


def first_at_or_above(
    path: Sequence[Decimal], level: Decimal, start: int = 0
) -> tuple[int, Decimal] | None:
    """Mirror of ``first_at_or_below`` for prices >= ``level``."""
    if path[start] >= level:
        return start, path[start]
    for i in range(start + 1, len(path)):
        if path[i] >= level:
            return i, level
    return None
