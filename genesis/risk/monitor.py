"""The daily-loss monitor (RK-1 max daily loss, RK-2 kill switch), driven by event time.

It measures the loss from the equity at the first event of each UTC day. Past
the limit it engages the risk engine's kill switch (new exposure blocked,
exits still allowed). The switch stays engaged, across days and restarts,
until an operator resets it (P10); ``rebase`` then measures the day's loss
from the equity at the reset. It reads only the clock and equity it is
given, so a replay rebuilds the same decisions.
"""

from __future__ import annotations

from decimal import Decimal

from genesis.risk.engine import RiskEngine

__all__ = ["DailyLossMonitor"]

_DAY_NS = 86_400 * 1_000_000_000


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
        day = now_ns // _DAY_NS
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
