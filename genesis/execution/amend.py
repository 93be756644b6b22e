"""Modify (EX-2): the new terms of an order, validated at the door, and what risk judges.

A modify names the order and any of a new limit ``price``, a new ``quantity``
(the order's *total* quantity, filled part included, as Binance and the
``OrderUpdated`` event count it) and a new ``trigger_price``. The terms pass
the instrument's gate as the factory's do (quantities round toward zero, limit
prices in the direction that never worsens them, triggers to the nearest
tick). Only a working order may be modified: ACCEPTED, TRIGGERED or
PARTIALLY_FILLED, with no cancel or other modify in flight. A market order and
an OCO leg cannot be (a venue amends neither; cancel the list and place a new
one). Every refusal is an ``InvalidOrder`` that says what, which order, the
value and the limit.

Risk: a modify that grows exposure (more quantity, or a higher buy price, which
reserves more quote) is checked like an entry, on a copy of the order with the
new terms; any other modify only has to pass the instrument's filters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.instruments import Instrument
from genesis.core.money import ROUND_HALF_EVEN
from genesis.core.orders import Order
from genesis.errors import InvalidOrder

__all__ = ["MODIFIABLE", "Terms", "amended", "grows_exposure", "new_terms"]

MODIFIABLE: Final = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED}
)
_LIMIT_PRICED: Final = frozenset(
    {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED}
)
_TRIGGERED_BY: Final = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    }
)

Terms = tuple[Decimal, Decimal | None, Decimal | None]  # (quantity, price, trigger price)


def new_terms(
    order: Order,
    inst: Instrument,
    *,
    price: object = None,
    quantity: object = None,
    trigger_price: object = None,
    in_oco: bool = False,
) -> Terms:
    """The order's terms after the modify, each through the instrument's gate.

    Raises:
        InvalidOrder: the order cannot be modified now, a value is not a positive
            number on the instrument's increments, or nothing would change.
    """
    cid = order.client_order_id
    _check_modifiable(order, in_oco)
    if price is not None and order.order_type not in _LIMIT_PRICED:
        raise InvalidOrder(
            f"{cid}: a {order.order_type.value} order has no limit price to modify, was given"
            f" price={price!r}"
        )
    if trigger_price is not None and order.order_type not in _TRIGGERED_BY:
        raise InvalidOrder(
            f"{cid}: a {order.order_type.value} order has no trigger price to modify, was given"
            f" trigger_price={trigger_price!r}"
        )
    qty = order.quantity if quantity is None else inst.quantity(quantity)
    limit = order.price if price is None else inst.price_for(order.side, price)
    trigger = (
        order.trigger_price if trigger_price is None else inst.price(trigger_price, ROUND_HALF_EVEN)
    )
    for name, value in (("price", limit), ("trigger_price", trigger)):
        if value is not None and value <= 0:
            raise InvalidOrder(f"{cid}: {name} must be > 0 after rounding to the tick, was {value}")
    if qty <= order.filled_qty:
        raise InvalidOrder(
            f"{cid}: new quantity {qty} must exceed the filled quantity {order.filled_qty}"
        )
    if (qty, limit, trigger) == (order.quantity, order.price, order.trigger_price):
        raise InvalidOrder(f"{cid}: the modify changes nothing (after rounding to the instrument)")
    return qty, limit, trigger


def _check_modifiable(order: Order, in_oco: bool) -> None:
    cid = order.client_order_id
    if order.status not in MODIFIABLE:
        raise InvalidOrder(
            f"{cid}: cannot modify an order in status {order.status.value};"
            " only ACCEPTED, TRIGGERED or PARTIALLY_FILLED orders can be"
        )
    if order.order_type is OrderType.MARKET:
        raise InvalidOrder(f"{cid}: a MARKET order cannot be modified")
    if in_oco:
        raise InvalidOrder(
            f"{cid}: is a leg of an OCO list, which venues do not amend; cancel the list"
            " and submit new exits"
        )
    if order.display_qty is not None:
        raise InvalidOrder(f"{cid}: an iceberg order cannot be modified; cancel and resubmit")


def grows_exposure(order: Order, terms: Terms) -> bool:
    """Whether the new terms can take more than the old: more quantity, or a buy at a
    higher limit (more quote reserved)."""
    qty, limit = terms[0], terms[1]
    if qty > order.quantity:
        return True
    old = order.price
    return order.side is Side.BUY and limit is not None and old is not None and limit > old


def amended(order: Order, terms: Terms) -> Order:
    """A NEW copy of ``order`` with the new terms (same ids): what risk judges."""
    qty, limit, trigger = terms
    copy = Order(
        client_order_id=order.client_order_id, strategy_id=order.strategy_id,
        instrument_id=order.instrument_id, side=order.side, order_type=order.order_type,
        quantity=qty - order.filled_qty, ts_init=order.ts_init, price=limit,
        trigger_price=trigger, time_in_force=order.time_in_force, post_only=order.post_only,
        correlation_id=order.correlation_id, stop_loss=order.stop_loss,
        take_profit=order.take_profit, confidence=order.confidence,
        decision_price=order.decision_price, trailing_offset=order.trailing_offset,
        trailing_bps=order.trailing_bps,
    )  # fmt: skip
    return copy
