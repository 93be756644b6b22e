"""Enumerations shared by the whole domain."""

from __future__ import annotations

import enum

# Enum members are singletons, so identity is a correct hash; Enum's own __hash__ is
# a Python-level function (hash of the name) that showed up in order-path profiles.
# Identity hashes differ between runs, so never iterate a set of enum members where
# order matters (dicts keep insertion order and are unaffected).
_IDENTITY_HASH = object.__hash__

__all__ = [
    "AccountingMethod",
    "LiquiditySide",
    "OrderStatus",
    "OrderType",
    "Side",
    "TimeInForce",
]


class Side(enum.Enum):
    __hash__ = _IDENTITY_HASH

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
    __hash__ = _IDENTITY_HASH

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(enum.Enum):
    __hash__ = _IDENTITY_HASH

    GTC = "GTC"  # good till cancelled
    IOC = "IOC"  # fill what is possible at once, cancel the rest
    FOK = "FOK"  # fill everything at once or nothing


class OrderStatus(enum.Enum):
    __hash__ = _IDENTITY_HASH

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
    __hash__ = _IDENTITY_HASH

    MAKER = "MAKER"
    TAKER = "TAKER"


class AccountingMethod(enum.Enum):
    __hash__ = _IDENTITY_HASH

    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"
