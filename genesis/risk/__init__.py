"""Pre-trade risk: checks, tier limits, the engine."""

from genesis.risk.engine import RiskEngine
from genesis.risk.limits import TIER_LIMITS, Tier, TierLimits, tier_for_equity

__all__ = ["TIER_LIMITS", "RiskEngine", "Tier", "TierLimits", "tier_for_equity"]
