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

    A count of 0 (or a fraction of 0) switches that breaker off.

    A losing streak is judged against the strategy's own record: it trips when it
    is at least ``loss_streak`` long *and* a streak that long had less than
    ``loss_streak_odds`` of happening at the strategy's loss rate before the streak
    began (blended with a 50% prior worth 20 trades). A trend follower losing 66% of
    its trades runs 14 losses in a row in a normal month; a fixed count low enough
    to catch a broken mean-reverter (which loses 45%) would pause it every week.

    The order-rate default is Binance spot's own limit (100 orders per 10 s): past
    it the venue refuses orders and repeated breaches get the key banned, so a
    strategy sending that fast is runaway, not busy (a market maker re-quoting on
    every book update sends about 76 in its busiest 10 s of the bundled capture).
    """

    loss_streak: int = 5  # at least this many losing round trips in a row ...
    loss_streak_odds: float = 0.001  # ... and this unlikely at its record -> pause it
    loss_streak_cooldown_s: int = 3600
    drawdown_velocity_pct: Decimal = Decimal("0.03")  # equity falls this much ...
    drawdown_window_s: int = 900  # ... within this window -> pause the engine
    drawdown_cooldown_s: int = 1800
    max_orders: int = 100  # orders of one strategy approved within the window -> pause it
    order_window_s: int = 10
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
