"""OCO exit lists the kernel keeps itself, for venues that have none (EX-1).

Theory of operation
-------------------
A filled entry with a stop loss and a take profit is protected by two exits
that must never both execute. Where the venue has one-cancels-the-other lists
(``VenueCapabilities.oco``: the simulated venue, Binance) the kernel sends both
legs as one list and the venue cancels the other leg when one executes. Where
it has none (the ccxt venues), the kernel keeps the list here, from the same
events in backtest, paper and live:

* **Placement.** The take-profit limit goes to the venue alone (no
  ``oco_group``); the stop leg is always held by the kernel's emulator, even on
  a venue that has stops. So at most one leg is ever live at the venue: the
  position's base is never locked twice and the two legs can never both fill.
  Pre-trade files the legs as one list (``oco_group``), as for a native list:
  a sell list holds back the base once, its larger leg, which is what the
  venue locks at any one time (the target's base while it works, the stop's
  once released); buy legs reserve their quote each, as a native list's do.
* **The stop triggers.** It is *parked*, not released: the target is
  cancelled first, and the stop goes to the venue (a market order for what the
  target left) only once the venue confirms that cancel. Until then a spot
  venue still locks the target's base, and a sell sent at once would be
  refused for the balance. If the target filled instead, the stop is
  cancelled here. The parked stop keeps watching: a touch while the target
  works with no cancel in flight (the venue refused it, or a fill raced it and
  the OMS let it go) cancels the target again; a refused cancel also returns
  the list to LIVE.
* **The target fills.** A partial fill shrinks the held stop to what the
  target has left (an ``OrderUpdated`` of the stop), so the position stays
  covered exactly, never twice. The last fill cancels the stop.
* **Cancels.** Cancelling either leg (a strategy, the operator, a kill switch
  or a flatten) cancels both. A leg the venue ends on its own (cancelled in its
  UI, expired, rejected) breaks the list: the other leg works on alone, so the
  position keeps what protection is left. The break is logged.

A restart pairs the legs again from their journaled intents, which name the
list in ``SubmitOrder.oco_emulated`` (no venue reads it): ``adopt`` each leg,
and once both are back the stop is shrunk to what the target has left.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.enums import OrderStatus, OrderType
from genesis.core.events import (
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderPendingUpdate,
    OrderUpdated,
)
from genesis.core.orders import Order
from genesis.kernel.support import event_ids

__all__ = ["EmulatedLists"]


class _State(enum.Enum):
    LIVE = "live"  # the target works at the venue, the stop is held here
    FIRING = "firing"  # the stop touched: the target's cancel is in flight, the stop parked
    CANCELLING = "cancelling"  # both legs are being cancelled on request
    DONE = "done"  # one leg executed (or was released): the other is gone or going
    BROKEN = "broken"  # the venue ended a leg on its own: the other works alone


class _List:
    """The two legs of one emulated list and where the list stands."""

    __slots__ = ("group", "state", "stop", "take")

    def __init__(self, group: str, stop: Order, take: Order) -> None:
        self.group = group
        self.stop = stop
        self.take = take
        self.state = _State.LIVE


class EmulatedLists:
    """The emulated OCO lists of a kernel; see the module docstring.

    Effects go out through the callables given at construction: ``cancel`` cancels
    one order (the kernel's single-order cancel, never the list rule again),
    ``emit`` queues an order event for the kernel to apply after the current one,
    ``release`` sends a parked stop to its venue (the emulator's).
    """

    def __init__(
        self,
        *,
        cancel: Callable[[Order], None],
        emit: Callable[[OrderEvent], None],
        release: Callable[[str, int], None],
        log: Any,
    ) -> None:
        self._cancel = cancel
        self._emit = emit
        self._release = release
        self._log = log
        self.legs: dict[str, _List] = {}  # leg client id -> its list, until the leg ends
        self._adopting: dict[str, list[Order]] = {}  # group -> legs adopted so far

    # --- forming a list ---------------------------------------------------------------

    def pair(self, group: str, stop: Order, take: Order) -> None:
        """Keep ``stop`` and ``take`` (both new, not yet submitted) as one list."""
        pair = _List(group, stop, take)
        self.legs[stop.client_order_id] = self.legs[take.client_order_id] = pair

    def holds(self, client_order_id: str) -> bool:
        """Whether the order is an emulated list's stop leg (held by the emulator)."""
        pair = self.legs.get(client_order_id)
        return pair is not None and pair.stop.client_order_id == client_order_id

    def group(self, client_order_id: str) -> str:
        """The list of an emulated leg ("" when the order is none)."""
        pair = self.legs.get(client_order_id)
        return "" if pair is None else pair.group

    def adopt(self, order: Order, group: str, now: int) -> None:
        """A leg rebuilt after a restart: paired again once its partner is back too.

        Legs finished, or a stop already released, are not paired; a pair whose target
        has fills gets its stop shrunk to what the target has left (the shrink was an
        event of the old process, not part of the stop's journaled intent).
        """
        legs = self._adopting.setdefault(group, [])
        legs.append(order)
        if len(legs) < 2:
            return
        del self._adopting[group]
        stops = [o for o in legs if o.order_type is not OrderType.LIMIT]
        takes = [o for o in legs if o.order_type is OrderType.LIMIT]
        if len(stops) != 1 or len(takes) != 1:
            return
        stop, take = stops[0], takes[0]
        if stop.status is not OrderStatus.ACCEPTED or not take.is_open:
            return  # a stop released (the list executed) or a leg finished: nothing to keep
        self.pair(group, stop, take)
        covered = stop.filled_qty + take.leaves_qty
        if covered < stop.quantity:
            stop.apply(OrderPendingUpdate(**event_ids(stop, now)))
            stop.apply(OrderUpdated(**event_ids(stop, now), quantity=covered))

    # --- the emulator asks --------------------------------------------------------------

    def fire(self, order: Order, now: int) -> bool:
        """The emulator's ``hold``: ``order`` touched its trigger. True parks it while its
        list's target is cancelled; False releases it now (no list, or the target is gone)."""
        pair = self.legs.get(order.client_order_id)
        if pair is None or pair.stop is not order:
            return False
        if pair.state not in (_State.LIVE, _State.FIRING):
            return False
        take = pair.take
        if not take.is_open:
            pair.state = _State.DONE
            return False
        if take.status is not OrderStatus.PENDING_CANCEL:  # no cancel of it in flight
            if pair.state is _State.LIVE:
                self._log.info(
                    "oco_stop_fired", client_order_id=order.client_order_id,
                    target=take.client_order_id, strategy_id=order.strategy_id,
                )  # fmt: skip
            self._cancel(take)
        pair.state = _State.FIRING
        return True

    # --- the kernel tells ---------------------------------------------------------------

    def cancelled(self, order: Order) -> Order | None:
        """A leg is being cancelled on request: the partner to cancel with it, if any."""
        pair = self.legs.get(order.client_order_id)
        if pair is None or pair.state not in (_State.LIVE, _State.FIRING):
            return None
        pair.state = _State.CANCELLING
        other = pair.take if order is pair.stop else pair.stop
        return other if other.is_open else None

    def on_event(self, event: OrderEvent, order: Order) -> None:
        """An event applied to a leg (after the OMS, the portfolio and the strategy)."""
        pair = self.legs.get(order.client_order_id)
        if pair is None:
            return
        if type(event) is OrderFilled:
            if order is pair.take:
                self._target_filled(pair, event.ts_event)
            return
        if type(event) is OrderCancelRejected:
            if order is pair.take and pair.state is _State.FIRING and order.is_open:
                pair.state = _State.LIVE  # the target still works: the stop's next touch
            return
        if not order.status.is_terminal:
            return
        if pair.state is _State.FIRING and order is pair.take:
            pair.state = _State.DONE  # the venue confirmed the cancel: the stop may go
            stop = pair.stop
            if stop.is_open and stop.leaves_qty > 0:
                self._release(stop.client_order_id, event.ts_event)
        elif pair.state is _State.LIVE:
            pair.state = _State.BROKEN
            self._log.warning(
                "oco_list_broken", client_order_id=order.client_order_id,
                status=order.status.value, strategy_id=order.strategy_id,
                working=(pair.take if order is pair.stop else pair.stop).client_order_id,
            )  # fmt: skip

    def forget(self, client_order_id: str) -> None:
        """The leg is finished: drop it (its list goes with its last leg)."""
        self.legs.pop(client_order_id, None)

    def _target_filled(self, pair: _List, now: int) -> None:
        if pair.state not in (_State.LIVE, _State.FIRING):
            return
        take, stop = pair.take, pair.stop
        if take.leaves_qty <= 0:
            pair.state = _State.DONE
            if stop.is_open:
                self._cancel(stop)  # held here (parked or watching): cancelled at once
            return
        covered = stop.filled_qty + take.leaves_qty
        if stop.status is OrderStatus.ACCEPTED and covered < stop.quantity:
            self._shrink(stop, covered, now)

    def _shrink(self, stop: Order, quantity: Decimal, now: int) -> None:
        self._emit(OrderPendingUpdate(**event_ids(stop, now)))
        self._emit(OrderUpdated(**event_ids(stop, now), quantity=quantity))
