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

    # set once below, on each member: attributes, not properties (read on every order
    # by compiled code, where a property is a Python call)
    sign: int  # +1 for a buy, -1 for a sell
    opposite: Side


Side.BUY.sign, Side.SELL.sign = 1, -1
Side.BUY.opposite, Side.SELL.opposite = Side.SELL, Side.BUY


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


_TERMINAL = frozenset(
    {
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)
for _status in OrderStatus:
    _status.is_terminal = _status in _TERMINAL
    _status.is_open = _status not in _TERMINAL and _status is not OrderStatus.NEW


class LiquiditySide(enum.Enum):
    __hash__ = _IDENTITY_HASH

    MAKER = "MAKER"
    TAKER = "TAKER"


class AccountingMethod(enum.Enum):
    __hash__ = _IDENTITY_HASH

    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"
