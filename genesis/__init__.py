"""Genesis: one deterministic trading kernel for backtest, paper and live.

The names a strategy author needs are importable from here.
"""

from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.instruments import Instrument
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams

__version__ = "0.1.0"

__all__ = [
    "Instrument",
    "OrderType",
    "Side",
    "Strategy",
    "StrategyParams",
    "TimeInForce",
    "__version__",
]
