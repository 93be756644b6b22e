"""Strategies: the base class, params, context, registry and the built-in tiers."""

from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams

__all__ = ["Strategy", "StrategyParams"]
