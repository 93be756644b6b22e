"""Risk limits per capital tier: data, not code (SPEC RK-1, RK-3).

``TIER_LIMITS`` are the defaults; ``config/risk.yaml`` (``genesis.risk.config``)
may replace them per tier. The pre-trade limits of a tier are a ``TierLimits``,
the circuit breakers' a ``BreakerLimits``, the real-time measures' sampling a
``MeasureSettings``. Fractions are Decimals where they meet money (position
size, daily loss, leverage, slippage) and floats where they meet statistics
(confidence, correlation).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "TIER_LIMITS",
    "BreakerLimits",
    "MeasureSettings",
    "Tier",
    "TierLimits",
    "tier_for_equity",
]


class Tier(enum.Enum):
    SNIPER = "sniper"
    HUNTER = "hunter"
    STRATEGIST = "strategist"


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    """The circuit breakers (RK-3); every duration in seconds of event time.

    A count of 0 (or a fraction of 0) switches that breaker off. Eight losses in a
    row: a strategy that wins 45% of its round trips loses eight in a row about once
    in 600 trades, so a streak that long says its edge is gone more than bad luck (at
    five, the same strategy would pause every 55 trades or so: noise, not tilt).
    """

    loss_streak: int = 8  # losing round trips in a row of one strategy -> pause it
    loss_streak_cooldown_s: int = 3600
    drawdown_velocity_pct: Decimal = Decimal("0.03")  # equity falls this much ...
    drawdown_window_s: int = 900  # ... within this window -> pause the engine
    drawdown_cooldown_s: int = 1800
    max_orders: int = 120  # order submissions of one strategy within the window -> pause it
    order_window_s: int = 60
    order_cooldown_s: int = 600
    max_rejections: int = 20  # refusals (risk and venue) of one strategy in the window
    rejection_window_s: int = 300
    rejection_cooldown_s: int = 600


@dataclass(frozen=True, slots=True)
class MeasureSettings:
    """How the real-time measures (RK-4) sample the session, in event time."""

    sample_interval_s: int = 60  # one equity and price sample per minute of event time
    max_samples: int = 1440  # a day of minutes: VaR, beta and correlation look this far back
    benchmark: str = ""  # the beta benchmark instrument; "" = BTCUSDT on the first venue


@dataclass(frozen=True, slots=True)
class TierLimits:
    """The pre-trade limits of one tier (RK-1)."""

    max_position_pct: Decimal  # largest position notional as a fraction of equity
    max_daily_loss_pct: Decimal
    min_confidence: float
    max_open_positions: int
    max_leverage: Decimal = Decimal(1)  # gross exposure after the order / equity
    max_slippage_pct: Decimal = Decimal("0.001")  # expected slippage from the book/quote
    max_correlation: float = 0.7  # with any instrument held, returns' correlation
    min_correlation_samples: int = 30  # fewer aligned returns: the check does not apply
    breakers: BreakerLimits = BreakerLimits()


TIER_LIMITS: dict[Tier, TierLimits] = {
    # two at Sniper: an arbitrage holds one leg on each venue
    Tier.SNIPER: TierLimits(Decimal("0.02"), Decimal("0.05"), 0.6, 2),
    Tier.HUNTER: TierLimits(Decimal("0.05"), Decimal("0.05"), 0.6, 5),
    Tier.STRATEGIST: TierLimits(Decimal("0.10"), Decimal("0.05"), 0.6, 20),
}

_HUNTER_FROM = Decimal(2000)
_STRATEGIST_FROM = Decimal(10000)


def tier_for_equity(equity: Decimal) -> Tier:
    """The tier capital decides: Sniper below $2k, Hunter $2k-$10k, Strategist $10k+."""
    if equity >= _STRATEGIST_FROM:
        return Tier.STRATEGIST
    return Tier.HUNTER if equity >= _HUNTER_FROM else Tier.SNIPER
