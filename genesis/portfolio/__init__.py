"""Positions, balances and lot accounting (FIFO / LIFO / average cost) in exact Decimal."""

from genesis.portfolio.accounting import ClosedLot, Direction, LotBook
from genesis.portfolio.positions import InstrumentSource, Portfolio, PositionView

__all__ = [
    "ClosedLot",
    "Direction",
    "InstrumentSource",
    "LotBook",
    "Portfolio",
    "PositionView",
]
