"""Orders and their lifecycle, kept as one transition table.

Theory of operation
-------------------
An ``Order`` is the local record of one order at one venue. It is created by
the ``OrderFactory`` in state NEW and then only changes by ``apply(event)``.
Everything that affects the state machine lives in this file: the table
``TRANSITIONS`` maps ``(current status, event type)`` to the next status, one
line per legal edge. A pair that is not in the table is illegal.

``apply`` works in two phases. First it *checks*: the edge must exist, and
the event must be consistent with the order (a fill must not exceed the
remaining quantity, must have a positive quantity, must be on the order's
side and must not repeat a trade id already applied; an update must not shrink
the quantity below what is already filled). Only when every check passes does
it *mutate*. A refused event therefore raises ``IllegalTransition`` and leaves
the order exactly as it was, byte for byte (the property tests check this).

Three kinds of edges need a word:

* Fills. The table sends every fill to PARTIALLY_FILLED; ``apply`` then
  promotes the order to FILLED when the filled quantity reaches the order
  quantity. A fill may arrive in SUBMITTED (a market order's first answer
  from a venue may already be its fill) and in PENDING_CANCEL or
  PENDING_UPDATE (the fill raced our request; the venue's word wins).
* Refused requests. A cancel or modify that the venue refuses returns the
  order to where it would be without the request: ACCEPTED when nothing has
  filled, PARTIALLY_FILLED otherwise (``_settle``), not to a stored "previous"
  state, because fills may have happened in between.
* A cancel may be sent before the venue acknowledged the order: PENDING_CANCEL
  then still accepts the late ``OrderAccepted`` (staying PENDING_CANCEL) or
  ``OrderRejected``.
* DENIED is local: risk refused the order before it was ever sent. It is
  terminal like REJECTED, but the venue never heard of the order.

Terminal states (DENIED, REJECTED, FILLED, CANCELED, EXPIRED) have no
outgoing edges at all: a late event for a finished order is a caller bug or a
venue anomaly and is reported, never absorbed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from genesis.core.enums import OPEN_STATUSES, OrderStatus, OrderType, Side, TimeInForce
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from genesis.core.money import ZERO
from genesis.errors import IllegalTransition

__all__ = ["TRANSITIONS", "Order", "transition_diagram"]

S = OrderStatus

TRANSITIONS: Final[Mapping[tuple[OrderStatus, type[OrderEvent]], OrderStatus]] = {
    (S.NEW, OrderDenied): S.DENIED,
    (S.NEW, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderFilled): S.PARTIALLY_FILLED,  # venue answered with the fill directly
    (S.SUBMITTED, OrderCanceled): S.CANCELED,  # e.g. IOC with nothing to match
    (S.SUBMITTED, OrderExpired): S.EXPIRED,
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,  # cancel sent before the ack arrived
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderAccepted): S.TRIGGERED,  # an emulated order's release acknowledged
    (S.TRIGGERED, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderFilled): S.PARTIALLY_FILLED,  # the fill raced the cancel
    (S.PENDING_CANCEL, OrderCancelRejected): S.ACCEPTED,  # settled by fills (_settle)
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderAccepted): S.PENDING_CANCEL,  # the ack overtaken by our cancel
    (S.PENDING_CANCEL, OrderRejected): S.REJECTED,  # the venue refused the order itself
    (S.PENDING_CANCEL, OrderTriggered): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, OrderUpdated): S.PENDING_CANCEL,  # a modify answered under our cancel
    (S.PENDING_CANCEL, OrderModifyRejected): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderUpdated): S.ACCEPTED,  # settled by fills (_settle)
    (S.PENDING_UPDATE, OrderModifyRejected): S.ACCEPTED,  # settled by fills (_settle)
    (S.PENDING_UPDATE, OrderFilled): S.PARTIALLY_FILLED,  # the fill raced the modify
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderCanceled): S.CANCELED,
    (S.PENDING_UPDATE, OrderExpired): S.EXPIRED,
}

_SETTLED: Final = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED})
# TRANSITIONS by event type, then status: Order.apply's lookup without a key tuple
_NEXT: Final[dict[type[OrderEvent], dict[OrderStatus, OrderStatus]]] = {}
for (_status, _event), _target in TRANSITIONS.items():
    _NEXT.setdefault(_event, {})[_status] = _target


# every attribute of an Order, in slot order (``Order.state``; a compiled Order has
# no ``__slots__`` to read back)
_FIELDS: Final = (
    "avg_px",
    "client_order_id",
    "confidence",
    "correlation_id",
    "decision_price",
    "display_qty",
    "fees",
    "filled_qty",
    "instrument_id",
    "order_type",
    "post_only",
    "price",
    "quantity",
    "side",
    "status",
    "stop_loss",
    "strategy_id",
    "take_profit",
    "time_in_force",
    "trade_ids",
    "trailing_bps",
    "trailing_offset",
    "trigger_price",
    "ts_init",
    "ts_last",
    "venue_order_id",
)


class Order:
    """The local record of one order; changed only through ``apply``."""

    # ``watch``: told after every applied event that can change what the order holds back
    # (the OMS's index of open orders): not after an acknowledgement or a trigger, which
    # move it from one open status to another with the same quantity and prices; not
    # part of the order's state
    __slots__ = (*_FIELDS, "watch")

    def __init__(
        self,
        *,
        client_order_id: str,
        strategy_id: str,
        instrument_id: str,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
        ts_init: int,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        correlation_id: str = "",
        stop_loss: Decimal | None = None,
        take_profit: Decimal | None = None,
        confidence: float | None = None,
        decision_price: Decimal | None = None,
        display_qty: Decimal | None = None,
        trailing_offset: Decimal | None = None,
        trailing_bps: Decimal | None = None,
    ) -> None:
        self.client_order_id = client_order_id
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.trigger_price = trigger_price
        self.time_in_force = time_in_force
        self.post_only = post_only
        self.correlation_id = correlation_id
        self.stop_loss = stop_loss
        self.take_profit = take_profit
        # the strategy's confidence in the signal, [0, 1] (None: not given; an entry under
        # a tier then fails the confidence check), and the market price when it was decided
        self.confidence = confidence
        self.decision_price = decision_price
        # an iceberg shows ``display_qty`` at a time; a trailing stop trails the best price
        # by ``trailing_offset`` (price units) or ``trailing_bps`` (basis points of it)
        self.display_qty = display_qty
        self.trailing_offset = trailing_offset
        self.trailing_bps = trailing_bps
        self.ts_init = ts_init
        self.ts_last = ts_init
        self.status = OrderStatus.NEW
        self.filled_qty = ZERO
        self.avg_px: Decimal | None = None
        self.fees: tuple[tuple[str, Decimal], ...] = ()
        self.trade_ids: tuple[str, ...] = ()
        self.venue_order_id = ""
        self.watch: Callable[[Order], None] | None = None

    @property
    def leaves_qty(self) -> Decimal:
        """Quantity still to be filled."""
        return self.quantity - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def state(self) -> tuple[Any, ...]:
        """Every attribute, in slot order: two orders with equal state are identical."""
        return tuple(getattr(self, name) for name in _FIELDS)

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id} {self.side.value} {self.quantity} "
            f"{self.instrument_id} {self.order_type.value} {self.status.value} "
            f"filled={self.filled_qty})"
        )

    def apply(self, event: OrderEvent) -> None:
        """Apply one lifecycle event.

        Raises:
            IllegalTransition: the edge is not in ``TRANSITIONS`` or the event is
                inconsistent with the order; the order is unchanged.
        """
        kind = type(event)
        by_status = _NEXT.get(kind)
        target = None if by_status is None else by_status.get(self.status)
        if target is None:
            raise IllegalTransition(self.client_order_id, self.status.value, kind.__name__)
        if type(event) is OrderFilled:  # exact types: no event subclasses another
            self._check_fill(event)
            self._apply_fill(event)
        elif type(event) is OrderUpdated:
            self._check_update(event)
            self.quantity = event.quantity
            self.price = event.price if event.price is not None else self.price
            if event.trigger_price is not None:
                self.trigger_price = event.trigger_price
        elif type(event) is OrderAccepted:
            self.venue_order_id = event.venue_order_id
        self.status = self._settle(target) if target in _SETTLED else target
        self.ts_last = event.ts_event
        watch = self.watch
        if watch is not None and kind is not OrderAccepted and kind is not OrderTriggered:
            watch(self)

    def _settle(self, target: OrderStatus) -> OrderStatus:
        if self.filled_qty >= self.quantity:
            return OrderStatus.FILLED
        return OrderStatus.PARTIALLY_FILLED if self.filled_qty > 0 else OrderStatus.ACCEPTED

    def _check_fill(self, fill: OrderFilled) -> None:
        reason = ""
        if fill.trade_id in self.trade_ids:
            reason = f"duplicate trade id {fill.trade_id}"
        elif fill.last_qty <= 0:
            reason = f"fill quantity must be > 0, was {fill.last_qty}"
        elif fill.last_qty > self.leaves_qty:
            reason = f"fill quantity {fill.last_qty} exceeds leaves quantity {self.leaves_qty}"
        elif fill.side is not self.side:
            reason = f"fill side {fill.side.value} differs from order side {self.side.value}"
        elif fill.last_px <= 0:
            reason = f"fill price must be > 0, was {fill.last_px}"
        if reason:
            raise IllegalTransition(self.client_order_id, self.status.value, "OrderFilled", reason)

    def _apply_fill(self, fill: OrderFilled) -> None:
        new_filled = self.filled_qty + fill.last_qty
        old_notional = self.avg_px * self.filled_qty if self.avg_px is not None else ZERO
        self.avg_px = (old_notional + fill.last_px * fill.last_qty) / new_filled
        self.filled_qty = new_filled
        self.trade_ids = (*self.trade_ids, fill.trade_id)
        self.fees = _add_fee(self.fees, fill.fee_currency, fill.fee)
        if fill.venue_order_id:
            self.venue_order_id = fill.venue_order_id

    def _check_update(self, event: OrderUpdated) -> None:
        if event.quantity < self.filled_qty or event.quantity <= 0:
            raise IllegalTransition(
                self.client_order_id,
                self.status.value,
                "OrderUpdated",
                f"new quantity {event.quantity} is below filled quantity {self.filled_qty}",
            )


def _add_fee(
    fees: tuple[tuple[str, Decimal], ...], currency: str, amount: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    totals = dict(fees)
    totals[currency] = totals.get(currency, ZERO) + amount
    return tuple(sorted(totals.items()))


def transition_diagram() -> str:
    """The state machine as a Mermaid ``stateDiagram``, generated from ``TRANSITIONS``."""
    lines = ["stateDiagram-v2"]
    for (status, event), target in TRANSITIONS.items():
        lines.append(f"    {status.value} --> {target.value}: {event.__name__}")
    return "\n".join(lines)
