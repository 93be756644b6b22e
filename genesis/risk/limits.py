"""Risk limits per capital tier: data, not code (SPEC RK-1)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["TIER_LIMITS", "Tier", "TierLimits", "tier_for_equity"]


class Tier(enum.Enum):
    SNIPER = "sniper"
    HUNTER = "hunter"
    STRATEGIST = "strategist"


@dataclass(frozen=True, slots=True)
class TierLimits:
    max_position_pct: Decimal  # largest position notional as a fraction of equity
    max_daily_loss_pct: Decimal
    min_confidence: float
    max_open_positions: int


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
