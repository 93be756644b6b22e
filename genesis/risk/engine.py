"""The pre-trade risk engine: runs a fixed list of checks chosen at construction.

Without a tier only the instrument filters and the cash check run (a research
backtest is unconstrained, and behaves byte for byte as it always has); with a
tier the tier's limits are added (``TIER_LIMITS``, or the risk config's): the
signal-confidence floor, the mandatory stop loss, position size, the number of
open positions, leverage, expected slippage and correlation with the positions
held (an entry without a confidence is refused: a tier trades signals it can
weigh), and the circuit breakers (``breakers.py``) gate every entry first.
The checks of an entry read figures the pre-trade gate computes only for
entries (``RiskInput``); exits never fail sizing, breakers or the kill switch.

What happens when cash is short: a buy whose cost at the reference price plus
the worst-case fee exceeds the free quote balance is refused with
``INSUFFICIENT_CASH`` before it is sent; it is never resized. The simulated
venue checks again at the actual fill price and rejects an order it cannot
settle, so a gap between the last price and the fill can still refuse an
order; both count as rejected orders in the results.

A compliance rule set (RK-6, ``compliance.py``) adds one check, last, only when
one is configured: without it the list is exactly the above. The live daemon
adds its allocation cap after it (``add_check``, ``allocation.py``). A running
daemon swaps the rule set between two events (``set_compliance``): the check is
added, replaced in place (its order-rate window kept) or removed, and the list
is rebuilt in the same order.

Every refusal is counted by code in ``rejections`` (RK-5); with a tier the
breakers also count them, per strategy, for the rejection-rate breaker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.instruments import Instrument
from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.errors import RiskRejected
from genesis.risk.breakers import CircuitBreakers
from genesis.risk.checks import (
    Check,
    RiskInput,
    check_cash,
    check_confidence,
    check_correlation,
    check_instrument_filters,
    check_leverage,
    check_open_positions,
    check_position_size,
    check_reduces,
    check_slippage,
    check_stop_loss,
)
from genesis.risk.compliance import ComplianceCheck, ComplianceRules
from genesis.risk.limits import TIER_LIMITS, MeasureSettings, Tier, TierLimits
from genesis.risk.monitor import DailyLossMonitor, KillSwitch
from genesis.risk.sampler import EventSampler

__all__ = ["RiskEngine"]


class RiskEngine:
    """Approves or refuses orders; counts refusals by code."""

    def __init__(
        self,
        tier: Tier | None = None,
        *,
        daily_loss_limit: Decimal | None = None,
        limits: TierLimits | None = None,
        measures: MeasureSettings | None = None,
        currency: str = "",
        compliance: ComplianceRules | None = None,
    ) -> None:
        """``daily_loss_limit`` (a fraction) arms the daily-loss kill switch; by default a
        tier's limit, and none without a tier (a research backtest is unconstrained).
        ``limits`` replaces the tier's defaults (the risk config's); ``measures`` sets
        the event-time sampling (tier only: without a tier nothing is sampled);
        ``currency`` is what equity is measured in (for the risk report); ``compliance``
        the rule set in force, run last (``genesis.risk.compliance``): none adds no check."""
        self.tier = tier
        self.currency = currency
        self.limits = (limits or TIER_LIMITS[tier]) if tier is not None else None
        checks: list[Check] = [check_instrument_filters, check_cash]
        self.breakers: CircuitBreakers | None = None
        self.sampler: EventSampler | None = None
        self.measures = measures or MeasureSettings()
        if self.limits is not None:
            checks += [
                check_confidence,
                check_stop_loss,
                check_position_size,
                check_open_positions,
                check_leverage,
                check_slippage,
                check_correlation,
            ]
            self.breakers = CircuitBreakers(self.limits.breakers)
            self.sampler = EventSampler(self.measures.sample_interval_s, self.measures.max_samples)
        self._base_checks = tuple(checks)
        self._added: tuple[Check, ...] = ()  # add_check's, after the compliance check
        self._wiring: tuple[Any, Callable[[str], Instrument], Callable[[], int]] | None = None
        self.compliance: ComplianceCheck | None = None
        self._checks = self._base_checks
        self.rejections: Counter[str] = Counter()
        self.dry_run = False  # see ``check``: set by the kernel around a what-if
        self.set_compliance(compliance)
        if daily_loss_limit is None and self.limits is not None:
            daily_loss_limit = self.limits.max_daily_loss_pct
        monitor = None if daily_loss_limit is None else DailyLossMonitor(daily_loss_limit, ZERO)
        self.switch = KillSwitch(monitor)

    @property
    def kill_switch(self) -> str | None:
        """The reason, while the kill switch blocks new exposure; else None."""
        return self.switch.reason

    def check(
        self, order: Order, build_input: Callable[[], RiskInput], now_ns: int = 0
    ) -> RiskRejected | None:
        """Run every check; the first refusal wins.

        ``build_input`` is called once, lazily, so the snapshot costs nothing
        when there are no checks. ``now_ns`` (event time) is what the breakers read.
        While ``dry_run`` is set (a what-if: the API's validate, a modify's preview,
        the exits' pairing test) nothing is counted and no breaker moves: the verdict
        is that of the checks and of the pauses running now.
        """
        risk = build_input()
        breakers = self.breakers
        dry = self.dry_run
        gated = self.kill_switch is not None or breakers is not None
        if gated and not risk.reduce_only and not check_reduces(order, risk):
            refusal = self.gate(order.strategy_id, now_ns)
            if refusal is not None:  # only exits pass: closing a position is always allowed
                if not dry:
                    self.rejections[refusal.code] += 1
                return refusal
        for check in self._checks:
            refusal = check(order, risk)
            if refusal is not None:
                if not dry:
                    self.rejections[refusal.code] += 1
                    if breakers is not None:
                        breakers.on_rejected(order.strategy_id, refusal.code, now_ns)
                return refusal
        if breakers is not None and not dry:
            paused = breakers.on_approved(order.strategy_id, now_ns)
            if paused is not None and not risk.reduce_only and not check_reduces(order, risk):
                self.rejections[paused[0]] += 1
                return RiskRejected(*paused)
        return None

    def gate(self, strategy_id: str, now_ns: int) -> RiskRejected | None:
        """The kill switch, then the breakers, for an order that is not purely an exit."""
        if self.kill_switch is not None:
            return RiskRejected("KILL_SWITCH", f"new orders are blocked: {self.kill_switch}")
        if self.breakers is not None:
            paused = self.breakers.refusal(strategy_id, now_ns, expire=not self.dry_run)
            if paused is not None:
                return RiskRejected(*paused)
        return None

    def add_check(self, check: Check) -> None:
        """Run ``check`` after every other (the live daemon's allocation cap,
        ``genesis.risk.allocation``): set before trading starts."""
        self._added = (*self._added, check)
        self._rebuild()

    def attach_compliance(
        self, portfolio: Any, instruments: Callable[[str], Instrument], now: Callable[[], int]
    ) -> None:
        """The kernel's portfolio, instrument lookup and clock, for the rule set in force
        and any later one (by the pre-trade gate, once)."""
        self._wiring = (portfolio, instruments, now)
        if self.compliance is not None:
            self.compliance.attach(portfolio, instruments, now)

    def set_compliance(self, rules: ComplianceRules | None) -> None:
        """Put ``rules`` in force (None or an empty set: no compliance check at all).
        Between two events only; the check of a set already in force is kept, with its
        order-rate window (``ComplianceCheck.replace``)."""
        if rules is None or rules.empty:
            self.compliance = None
        elif self.compliance is not None:
            self.compliance.replace(rules)
        else:
            self.compliance = ComplianceCheck(rules, counting=lambda: not self.dry_run)
            if self._wiring is not None:
                self.compliance.attach(*self._wiring)
        self._rebuild()

    def _rebuild(self) -> None:
        compliance: tuple[Check, ...] = ()
        if self.compliance is not None:
            compliance = (self.compliance.check,)
        self._checks = self._base_checks + compliance + self._added

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def limits_for(self, equity: Decimal) -> str:
        """A sentence describing the active limits, for logs."""
        if self.limits is None:
            return "no tier: instrument filters and cash only"
        cap = equity * self.limits.max_position_pct
        return f"tier {self.tier.value if self.tier else '-'}: max position {cap:.2f}"
