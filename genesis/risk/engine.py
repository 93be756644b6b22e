"""The pre-trade risk engine: runs a fixed list of checks chosen at construction.

Without a tier only the instrument filters and the cash check run (a research
backtest is unconstrained); with a tier the tier's size limit and the
mandatory-stop-loss rule are added, with the signal-confidence floor and the
number of open positions (an entry without a confidence is refused: a tier
trades signals it can weigh). What happens when cash is short: a buy
whose cost at the reference price plus the worst-case fee exceeds the free
quote balance is refused with ``INSUFFICIENT_CASH`` before it is sent; it is
never resized. The simulated venue checks again at the actual fill price and
rejects an order it cannot settle, so a gap between the last price and the
fill can still refuse an order; both count as rejected orders in the results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.errors import RiskRejected
from genesis.risk.checks import (
    Check,
    RiskInput,
    check_cash,
    check_confidence,
    check_instrument_filters,
    check_open_positions,
    check_position_size,
    check_reduces,
    check_stop_loss,
)
from genesis.risk.limits import TIER_LIMITS, Tier
from genesis.risk.monitor import DailyLossMonitor, KillSwitch

__all__ = ["RiskEngine"]


class RiskEngine:
    """Approves or refuses orders; counts refusals by code."""

    def __init__(
        self, tier: Tier | None = None, *, daily_loss_limit: Decimal | None = None
    ) -> None:
        """``daily_loss_limit`` (a fraction) arms the daily-loss kill switch; by default a
        tier's limit, and none without a tier (a research backtest is unconstrained)."""
        self.tier = tier
        self.limits = TIER_LIMITS[tier] if tier is not None else None
        checks: list[Check] = [check_instrument_filters, check_cash]
        if tier is not None:
            checks += [
                check_confidence,
                check_stop_loss,
                check_position_size,
                check_open_positions,
            ]
        self._checks = tuple(checks)
        self.rejections: Counter[str] = Counter()
        if daily_loss_limit is None and self.limits is not None:
            daily_loss_limit = self.limits.max_daily_loss_pct
        monitor = None if daily_loss_limit is None else DailyLossMonitor(daily_loss_limit, ZERO)
        self.switch = KillSwitch(monitor)

    @property
    def kill_switch(self) -> str | None:
        """The reason, while the kill switch blocks new exposure; else None."""
        return self.switch.reason

    def check(self, order: Order, build_input: Callable[[], RiskInput]) -> RiskRejected | None:
        """Run every check; the first refusal wins.

        ``build_input`` is called once, lazily, so the snapshot costs nothing
        when there are no checks.
        """
        risk = build_input()
        # with the kill switch engaged only exits pass: closing a position is always allowed
        if self.kill_switch is not None and not risk.reduce_only and not check_reduces(order, risk):
            self.rejections["KILL_SWITCH"] += 1
            return RiskRejected("KILL_SWITCH", f"new orders are blocked: {self.kill_switch}")
        for check in self._checks:
            refusal = check(order, risk)
            if refusal is not None:
                self.rejections[refusal.code] += 1
                return refusal
        return None

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def limits_for(self, equity: Decimal) -> str:
        """A sentence describing the active limits, for logs."""
        if self.limits is None:
            return "no tier: instrument filters and cash only"
        cap = equity * self.limits.max_position_pct
        return f"tier {self.tier.value if self.tier else '-'}: max position {cap:.2f}"
