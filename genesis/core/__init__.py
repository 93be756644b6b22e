"""Pure domain vocabulary: instruments, money, events, commands, orders, clock, ids."""

from genesis.core.clock import Clock, SimClock
from genesis.core.enums import (
    AccountingMethod,
    LiquiditySide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from genesis.core.instruments import Instrument, InstrumentTable, load_exchange_info
from genesis.core.orders import TRANSITIONS, Order

__all__ = [
    "TRANSITIONS",
    "AccountingMethod",
    "Clock",
    "Instrument",
    "InstrumentTable",
    "LiquiditySide",
    "Order",
    "OrderStatus",
    "OrderType",
    "Side",
    "SimClock",
    "TimeInForce",
    "load_exchange_info",
]
