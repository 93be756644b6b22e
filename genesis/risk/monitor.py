"""The daily-loss monitor (RK-1 max daily loss, RK-2 kill switch), driven by event time.

It measures the loss from the equity at the first event of each UTC day. Past
the limit it engages the risk engine's kill switch (new exposure blocked,
exits still allowed). The switch stays engaged, across days and restarts,
until an operator resets it (P10); ``rebase`` then measures the day's loss
from the equity at the reset. It reads only the clock and equity it is
given, so a replay rebuilds the same decisions. A live restart cannot
replay, so it ``restore``s the day's baseline from its journal: otherwise a
crash loop would re-measure the day from each restart's equity and the
limit would never trip.
"""

from __future__ import annotations

from decimal import Decimal

from genesis.risk.engine import RiskEngine

__all__ = ["DailyLossMonitor", "day_of"]

_DAY_NS = 86_400 * 1_000_000_000


def day_of(now_ns: int) -> int:
    """The UTC day number of a ns timestamp, as the monitor counts days."""
    return now_ns // _DAY_NS


class DailyLossMonitor:
    """Engages and resets the kill switch of ``risk`` on a daily loss limit."""

    def __init__(self, risk: RiskEngine, limit: Decimal, start_equity: Decimal) -> None:
        if not Decimal(0) < limit < Decimal(1):
            raise ValueError(f"daily loss limit must be a fraction in (0, 1), was {limit}")
        self.risk = risk
        self.limit = limit
        self.day: int | None = None
        self.day_start = start_equity

    def update(self, now_ns: int, equity: Decimal) -> str | None:
        """Check after an event; return "engaged" when it engages the switch, else None."""
        day = day_of(now_ns)
        if day != self.day:
            self.day, self.day_start = day, equity
            return None
        loss = (self.day_start - equity) / self.day_start
        if loss > self.limit and self.risk.kill_switch is None:
            self.risk.engage_kill_switch(f"daily loss {loss:.4%} exceeds {self.limit:.2%}")
            return "engaged"
        return None

    def rebase(self, equity: Decimal) -> None:
        """After an operator's reset: today's loss counts from ``equity``, not the day's start."""
        self.day_start = equity

    def restore(self, day: int, day_start: Decimal) -> None:
        """Continue a day measured before a restart: its loss counts from ``day_start``.

        Raises:
            ValueError: ``day_start`` is not a finite equity > 0 (it divides every check).
        """
        if not day_start.is_finite() or day_start <= 0:
            raise ValueError(f"day start equity must be a finite decimal > 0, was {day_start}")
        self.day, self.day_start = day, day_start
