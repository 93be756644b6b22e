"""Enumerations shared by the whole domain."""

from __future__ import annotations

import enum
from typing import Final

# Enum members are singletons, so identity is a correct hash; Enum's own __hash__ is
# a Python-level function (hash of the name) that showed up in order-path profiles.
# Identity hashes differ between runs, so never iterate a set of enum members where
# order matters (dicts keep insertion order and are unaffected).
_IDENTITY_HASH = object.__hash__

__all__ = [
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
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

    # set once below, on each member: attributes, not properties (read on every order
    # by compiled code, where a property is a Python call)
    sign: int  # +1 for a buy, -1 for a sell

    @property
    def opposite(self) -> Side:
        """The other side (a property, not a member attribute as ``sign``: this module is
        compiled, and mypyc crashes on an enum attribute typed as the enum itself)."""
        return Side.SELL if self is Side.BUY else Side.BUY


# setattr, not ``Side.BUY.sign = 1``: this module is compiled (``genesis.native``), and a
# compiled store to an attribute declared in the class body is a native slot write,
# which an enum member does not have
for _side, _sign in ((Side.BUY, 1), (Side.SELL, -1)):
    setattr(_side, "sign", _sign)  # noqa: B010


class OrderType(enum.Enum):
    __hash__ = _IDENTITY_HASH

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"
    # emulated by the kernel (genesis.execution.emulation) where a venue lacks them, which
    # is every venue today: the same emulator runs in backtest, paper and live
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"  # a stop that ratchets behind the best price
    MARKET_IF_TOUCHED = "MARKET_IF_TOUCHED"  # a market order once the price touches a level
    LIMIT_IF_TOUCHED = "LIMIT_IF_TOUCHED"  # a limit order once the price touches a level


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

    # set once below, on each member (as Side's): the order can trade no more; it still can
    is_terminal: bool
    is_open: bool


# The same two facts as sets: compiled code tests ``status in TERMINAL_STATUSES`` (a
# C static and an identity hash) faster than it reads a member attribute
TERMINAL_STATUSES: Final = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)
OPEN_STATUSES: Final = frozenset(
    s for s in OrderStatus if s not in TERMINAL_STATUSES and s is not OrderStatus.NEW
)
for _status in OrderStatus:
    setattr(_status, "is_terminal", _status in TERMINAL_STATUSES)  # noqa: B010 (as Side's)
    setattr(_status, "is_open", _status in OPEN_STATUSES)  # noqa: B010


class LiquiditySide(enum.Enum):
    __hash__ = _IDENTITY_HASH

    MAKER = "MAKER"
    TAKER = "TAKER"


class AccountingMethod(enum.Enum):
    __hash__ = _IDENTITY_HASH

    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"
