"""Genesis: one deterministic trading kernel for backtest, paper and live.

The names a strategy author needs are importable from here.
"""

from genesis import native

native.activate()  # first: the compiled hot modules, or their sources (genesis/native.py)

from genesis.core.enums import OrderType, Side, TimeInForce  # noqa: E402 (after activate)
from genesis.core.instruments import Instrument  # noqa: E402 (after activate)
from genesis.strategies.base import Strategy  # noqa: E402 (after activate)
from genesis.strategies.params import StrategyParams  # noqa: E402 (after activate)

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
