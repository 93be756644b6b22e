"""Margin of an instrument traded on margin (FX): what an order needs, netted, exact.

An instrument with a ``margin_rate`` (``Instrument.margin_rate``, e.g. 0.0333 = 30:1)
is traded the way OANDA trades a pair: one netted position per instrument, long or
short, and no currency has to be held to sell. What an account may open is limited
by its margin instead:

* the margin an instrument uses is ``rate x price x units``, where ``units`` is the
  worst case of its net position and its working orders: the larger of
  ``|position + working buys|`` and ``|position - working sells|`` (both sides'
  orders cannot all fill at once without the other side's netting them). With no
  working order it is ``rate x price x |position|``, OANDA's ``marginUsed``;
* an order needs what it adds to its instrument's margin: an order that only
  reduces (or flips to a smaller opposite) position needs nothing, so an exit is
  never refused for margin;
* the margin available is the account's NAV less every instrument's margin; an
  order is accepted while its need is at most that (``INSUFFICIENT_MARGIN``
  otherwise). There is no closeout: when losses eat the margin, new exposure is
  refused, open positions stay.

Amounts are in the instrument's quote currency; ``in_account`` states one in the
account currency (the quote itself, or the base: ``units x rate``, no price needed).
The kernel (``genesis.kernel.pretrade``) and the simulated venue
(``genesis.exchange.account``) both count margin with these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.money import ZERO

__all__ = ["exposure_units", "in_account", "order_margin", "pending_units"]


def exposure_units(position: Decimal, buys: Decimal, sells: Decimal) -> Decimal:
    """The units margin is counted on: ``max(|position + buys|, |position - sells|)``."""
    return max(abs(position + buys), abs(position - sells))


def pending_units(
    orders: Iterable[tuple[str, str, Side, Decimal]], exclude: str, group: str
) -> tuple[Decimal, Decimal]:
    """(buys, sells): the units working orders ``(id, OCO group, side, leaves)`` may still
    add, ``exclude`` and the legs of ``group`` aside; the legs of one OCO list on one side
    count once (their largest: only one of them can execute)."""
    buys = sells = ZERO
    legs: dict[tuple[str, Side], Decimal] = {}
    for cid, leg, side, leaves in orders:
        if cid == exclude or (group and leg == group):
            continue
        if leg:
            key = (leg, side)
            legs[key] = max(legs.get(key, ZERO), leaves)
        elif side is Side.BUY:
            buys += leaves
        else:
            sells += leaves
    for (_, side), leaves in legs.items():
        if side is Side.BUY:
            buys += leaves
        else:
            sells += leaves
    return buys, sells


def order_margin(
    rate: Decimal,
    price: Decimal,
    position: Decimal,
    buys: Decimal,
    sells: Decimal,
    side: Side,
    qty: Decimal,
) -> Decimal:
    """What an order of ``qty`` on ``side`` adds to its instrument's margin (>= 0), given
    the net ``position`` and the working ``buys``/``sells`` (units) besides it."""
    before = exposure_units(position, buys, sells)
    if side is Side.BUY:
        after = exposure_units(position, buys + qty, sells)
    else:
        after = exposure_units(position, buys, sells + qty)
    return rate * price * (after - before) if after > before else ZERO


def in_account(
    amount: Decimal, price: Decimal, quote: str, base: str, account: str
) -> Decimal | None:
    """``amount`` (quote currency, at ``price``) in ``account`` currency: itself when the
    account is the quote, ``amount / price`` when it is the base; None when ``account``
    is neither (a cross pair: that needs another pair's rate, not modelled)."""
    if account == quote:
        return amount
    if account == base and price > 0:
        return amount / price
    return None
