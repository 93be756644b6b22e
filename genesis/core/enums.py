"""Enumerations shared by the whole domain."""

from __future__ import annotations

import enum

__all__ = [
    "AccountingMethod",
    "LiquiditySide",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
]


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(enum.Enum):
    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # fill what is possible at once, cancel the rest
    FOK = "FOK"  # fill everything at once or nothing


class OrderStatus(enum.Enum):
    NEW = "NEW"  # created locally, not yet sent
    DENIED = "DENIED"  # refused by local risk checks; never sent
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    TRIGGERED = "TRIGGERED"  # a stop order whose trigger price was reached
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_UPDATE = "PENDING_UPDATE"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order can still trade at the venue."""
        return self not in _TERMINAL and self is not OrderStatus.NEW


_TERMINAL = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)


class LiquiditySide(enum.Enum):
    MAKER = "MAKER"
    TAKER = "TAKER"


class AccountingMethod(enum.Enum):
    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"
