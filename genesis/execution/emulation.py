"""Order types a venue lacks, emulated by the kernel from the market it sees (EX-1, EX-3).

Theory of operation
-------------------
Each venue declares what it does natively in a typed table (``CAPABILITIES``:
``VenueCapabilities`` per venue kind). An order whose type (or iceberg display)
its venue lacks never reaches the venue as such: the kernel's risk check passes
it as usual, then the ``Emulator`` holds it, acknowledges it locally
(``OrderAccepted`` with an empty venue order id) and watches the prices the
kernel sees. No venue has trailing stops, if-touched orders or icebergs in the
table (Binance has native trailing and iceberg orders with other semantics), so
these run on the same emulator in backtest, paper and live: one behaviour.

* **Triggers** (stop-market and stop-limit where the venue lacks stops; trailing
  stop; market- and limit-if-touched). A buy is judged on the prices a buyer
  pays (the trade price, the ask of a quote or book, every point of a bar's
  OHLC path), a sell on the prices a seller gets (trade, bid, path). A stop
  triggers when the price reaches its trigger from below (buy) or above (sell);
  an if-touched order the other way round (a buy when the price falls to it).
  The boundary counts: a price equal to the trigger triggers.
* **Trailing stop.** The watermark is the best price seen since the order was
  accepted (the highest for a sell, the lowest for a buy; it starts at the last
  price). The trigger is the watermark less (sell) or plus (buy) the offset, in
  price or in bps of the watermark, rounded to the tick; it only ever ratchets
  toward the market.
* **Release.** A triggered order is sent to its venue *under its own client
  order id*, as the order the venue can carry: a market order (stop-market,
  trailing stop, market-if-touched) or a limit at its price (stop-limit,
  limit-if-touched). The local order goes ACCEPTED -> TRIGGERED and then lives
  as any order does (the venue's acknowledgement of a released limit keeps it
  TRIGGERED). Triggers on bars are decided at the bar's close (when the kernel
  sees the bar), so the released order fills from the next bar.
* **Parking.** Before a release the emulator asks ``hold(order, now)``: True
  parks the touched order, still ACCEPTED, until the kernel calls ``release``.
  A parked order keeps watching: each later touch asks ``hold`` again. The stop
  leg of an OCO list the kernel keeps itself waits so for its target's cancel
  (``genesis.execution.oco``). A parked order is journaled as untriggered: a
  restart watches it again.
* **Iceberg** (a limit with ``display_qty``): slices of the display quantity are
  sent one at a time as plain limits, each under the client id ``<parent>-s<n>``
  (Binance allows only ``[A-Za-z0-9_-]``); when one is completely filled the next
  is released for ``min(display, what is left)``. The slices' events are translated to the
  parent's (a slice fill is the parent's fill, same trade id), so the OMS,
  portfolio and strategy only ever see the parent. Cancelling the parent
  cancels its working slice; a slice the venue cancels, expires or rejects ends
  the parent (cancelled or expired).

What the emulator holds of an order (the watermark, the trigger, the slice
number and what the slice has left) is ``EmulatedState``, a frozen snapshot the
shell journals and a restart hands back through ``restore``.

* **Journaling.** With ``track_changes`` on (the daemon's shell), every change is
  remembered: a watermark ratchet, a trigger moved, a release, a slice sent,
  filled or ended, and the status of each held order and of each slice (a slice
  is kept as its own ``Order``: the venue's view of it, for the journal's row).
  ``take_changes`` hands them out once each, as they are now, and only what
  differs from what it handed out last; the shell journals them before it sends
  the commands of the same round, so nothing a change caused reaches a venue
  before the change is durable.
* **Restart.** ``restore`` holds an adopted order again as its state says: a
  trailing stop keeps its watermark and trigger; an iceberg's working slice
  (``slice_leaves > 0``) is the parent's again, its events translated as before;
  an iceberg with no working slice (the last one completed while the process was
  down) sends its next through ``resume``, asked by the shell once the kill switch
  and breakers are restored (the gate applies, as to any next slice). An adopted
  slice the venue answers with a rejection before anything else (proven absent:
  the crash came between its intent's commit and its send) is replaced by the
  next slice; the parent still works.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import msgspec

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import OrderStatus, OrderType, Side, TimeInForce
from genesis.core.events import (
    Bar,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderRejected,
    OrderTriggered,
    QuoteTick,
    TradeTick,
)
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.money import ROUND_HALF_EVEN, ZERO
from genesis.core.orders import Order
from genesis.errors import IllegalTransition
from genesis.exchange.fills import bar_path
from genesis.execution.emulated_state import EmulatedState
from genesis.execution.restore import order_from_intent
from genesis.kernel.support import event_ids

__all__ = [
    "CAPABILITIES",
    "EmulatedState",
    "Emulator",
    "VenueCapabilities",
    "touch_prices",
]

_BPS: Final = Decimal(10_000)
_CORE: Final = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET, OrderType.STOP_LIMIT}
)
# what a triggered order is released as
_RELEASE: Final[Mapping[OrderType, OrderType]] = {
    OrderType.STOP_MARKET: OrderType.MARKET,
    OrderType.STOP_LIMIT: OrderType.LIMIT,
    OrderType.TRAILING_STOP_MARKET: OrderType.MARKET,
    OrderType.MARKET_IF_TOUCHED: OrderType.MARKET,
    OrderType.LIMIT_IF_TOUCHED: OrderType.LIMIT,
}
_IF_TOUCHED: Final = frozenset({OrderType.MARKET_IF_TOUCHED, OrderType.LIMIT_IF_TOUCHED})


@dataclass(frozen=True, slots=True)
class VenueCapabilities:
    """What a venue does natively; the kernel emulates the rest.

    Attributes:
        order_types: the order types the venue accepts as such.
        oco: one-cancels-the-other lists (attached stop loss and take profit).
        iceberg: a limit order with a visible display quantity.
        modify: an in-place amend (else the venue port cancels and replaces).
    """

    order_types: frozenset[OrderType]
    oco: bool
    iceberg: bool
    modify: bool


CAPABILITIES: Final[Mapping[str, VenueCapabilities]] = {
    # the matching engine: amends in place (see SimulatedVenue on queue priority)
    "simulated": VenueCapabilities(_CORE, oco=True, iceberg=False, modify=True),
    # Binance spot: STOP_LOSS(_LIMIT), OCO lists; modify is cancelReplace
    "binance": VenueCapabilities(_CORE, oco=True, iceberg=False, modify=False),
    # the ccxt adapter sends market and limit orders only (stops held, OCO kept by the
    # kernel: execution.oco); modify is the exchange's editOrder, else cancel-replace
    "ccxt": VenueCapabilities(
        frozenset({OrderType.MARKET, OrderType.LIMIT}), oco=False, iceberg=False, modify=False
    ),
    # OANDA v20: MARKET, LIMIT and STOP entries (a stop-limit is held here); a trade's
    # stop and target are kept by the kernel (execution.oco); modify is an order replace
    "oanda": VenueCapabilities(
        frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET}),
        oco=False,
        iceberg=False,
        modify=False,
    ),
}


class _Held:
    """The emulator's mutable record of one order."""

    __slots__ = (
        "order", "parked", "resumed", "slice", "slice_leaves", "slice_no", "trigger",
        "triggered", "watermark",
    )  # fmt: skip

    def __init__(self, order: Order) -> None:
        self.order = order
        self.watermark: Decimal | None = None
        self.trigger = order.trigger_price
        self.triggered = False
        self.parked = False  # touched, held back by ``hold`` until ``release``
        self.slice_no = 0
        self.slice_leaves = ZERO
        self.slice: Order | None = None  # the last slice sent, as the venue holds it
        self.resumed = False  # that slice was adopted after a restart, nothing filled yet

    @property
    def working(self) -> bool:
        """An iceberg's slice is at the venue with something left to fill."""
        return self.slice_no > 0 and self.slice_leaves > 0

    def state(self) -> EmulatedState:
        return EmulatedState(
            client_order_id=self.order.client_order_id, watermark=self.watermark,
            trigger=self.trigger, triggered=self.triggered, slice_no=self.slice_no,
            slice_leaves=self.slice_leaves,
        )  # fmt: skip


_Row = tuple[OrderStatus, Decimal, Decimal, Decimal | None, str]


def _row(order: Order) -> _Row:
    """What an order's journal row shows (a change of any of these is a new row)."""
    return order.status, order.filled_qty, order.quantity, order.price, order.venue_order_id


class _Changes:
    """What changed since the shell last took it (``Emulator.take_changes``)."""

    __slots__ = ("rows", "states", "touched")

    def __init__(self) -> None:
        self.touched: dict[str, Order] = {}  # client id -> order (held or slice), in order
        self.rows: dict[str, _Row] = {}  # the row last handed out, per open order
        self.states: dict[str, EmulatedState] = {}  # the state last handed out, per held order

    def take(self, held: Mapping[str, _Held]) -> tuple[list[Order], list[EmulatedState]]:
        orders: list[Order] = []
        states: list[EmulatedState] = []
        for cid, order in self.touched.items():
            row = _row(order)
            if self.rows.get(cid) != row:
                orders.append(order)
                self.rows[cid] = row
            if order.status.is_terminal:
                self.rows.pop(cid, None)
            h = held.get(cid)
            if h is None:
                self.states.pop(cid, None)
                continue
            state = h.state()
            if self.states.get(cid) != state:
                states.append(state)
                self.states[cid] = state
        self.touched = {}
        return orders, states

    def forget(self, cid: str) -> None:
        """A finished order: what was last handed out of it is no longer needed."""
        self.rows.pop(cid, None)
        self.states.pop(cid, None)


def touch_prices(
    event: Event, best: Callable[[str, Side], Decimal | None]
) -> tuple[Sequence[Decimal], Sequence[Decimal]] | None:
    """The prices a buy and a sell are judged on for one market event, in time order.

    ``best(instrument, side)`` is the best price of an in-sync book's side (asks for
    ``Side.SELL``); None when the event carries no price.
    """
    if type(event) is TradeTick:
        return (event.price,), (event.price,)
    if type(event) is Bar:
        path = bar_path(event)
        return path, path
    if type(event) is QuoteTick:
        return (event.ask,), (event.bid,)
    instrument_id = getattr(event, "instrument_id", "")
    ask, bid = best(instrument_id, Side.SELL), best(instrument_id, Side.BUY)
    if ask is None or bid is None:
        return None
    return (ask,), (bid,)


class Emulator:
    """Holds the orders their venue cannot carry and releases them at their trigger.

    Effects go out through the two callables given at construction: ``emit`` for
    the order events the kernel then applies (after the current one, as its own
    events), ``send`` for the commands to venues.
    """

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        emit: Callable[[OrderEvent], None],
        send: Callable[[Command], None],
        reduce_only: set[str],
    ) -> None:
        self._instruments = instruments
        self._emit = emit
        self._send = send
        self._reduce_only = reduce_only
        self._capabilities: dict[str, VenueCapabilities] = {}  # venue name -> its table
        self._default = CAPABILITIES["simulated"]
        self._held: dict[str, _Held] = {}
        self._watching: dict[str, dict[str, _Held]] = {}  # instrument -> untriggered
        self.children: dict[str, str] = {}  # iceberg slice id -> parent id
        self.watching = 0  # untriggered orders: the kernel asks for prices only when > 0
        # asked before an entry is released or sliced: the kill switches and breakers as
        # they stand *now* (the order was approved when placed); a refusal cancels it here
        self.gate: Callable[[Order], tuple[str, str] | None] | None = None
        # asked as an order touches its trigger: True parks it until ``release``
        self.hold: Callable[[Order, int], bool] | None = None
        self._changes: _Changes | None = None  # None: nobody journals (a backtest)

    # --- journaling ---------------------------------------------------------

    def track_changes(self) -> None:
        """Remember every change for ``take_changes`` (the shell that journals them)."""
        if self._changes is None:
            self._changes = _Changes()

    def take_changes(self) -> tuple[list[Order], list[EmulatedState]]:
        """What changed since the last call, each once and as it is now: the held orders
        and slices whose journal row changed (status, fills, terms), and the held states
        that changed (a watermark, a trigger, a release, a slice). Empty when not tracking.
        """
        if self._changes is None or not self._changes.touched:
            return [], []
        return self._changes.take(self._held)

    def _touch(self, order: Order) -> None:
        changes = self._changes
        if changes is not None:
            changes.touched[order.client_order_id] = order

    # --- capabilities -------------------------------------------------------

    def set_capabilities(self, venue: str, capabilities: VenueCapabilities) -> None:
        """Declare what ``venue`` (the prefix of its instrument ids, "" for bare symbols)
        does natively; every venue not declared is taken as the simulated one."""
        self._capabilities[venue] = capabilities

    def capabilities(self, instrument_id: str) -> VenueCapabilities:
        venue = split_instrument_id(instrument_id)[0] if self._capabilities else ""
        return self._capabilities.get(venue, self._default)

    def emulates(self, order: Order) -> bool:
        """Whether ``order`` must be held here rather than sent as it is."""
        caps = self.capabilities(order.instrument_id)
        if order.display_qty is not None and not caps.iceberg:
            return True
        return order.order_type not in caps.order_types

    # --- lifecycle ----------------------------------------------------------

    def accept(self, order: Order, now: int, last: Decimal | None, intent: SubmitOrder) -> None:
        """Hold a SUBMITTED ``order``: its ``intent`` goes out marked ``emulated`` (journaled,
        never sent to a venue), it is acknowledged, and an iceberg's first slice goes."""
        held = self._held[order.client_order_id] = _Held(order)
        self._touch(order)
        self._send(msgspec.structs.replace(intent, emulated=True))
        self._emit(OrderAccepted(venue_order_id="", **event_ids(order, now)))
        if _iceberg(order):
            self._next_slice(held, order.quantity, now)
            return
        if order.order_type is OrderType.TRAILING_STOP_MARKET and last is not None:
            self._trail(held, last)
        self._watch(held)

    def restore(self, order: Order, state: EmulatedState, working: Order | None = None) -> None:
        """Hold again an order adopted after a restart, as ``state`` left it (no events).

        ``working``: an iceberg's working slice as the journal knows it (its intent and
        fills), kept for the journal's row; with ``state.slice_leaves > 0`` the slice's
        events are the parent's again. Nothing is sent (see ``resume``).
        """
        held = self._held[order.client_order_id] = _Held(order)
        # a state journaled without its trigger (what a live adoption rebuilds from the
        # intent) keeps the order's own: a held stop must still fire after a restart
        held.watermark = state.watermark
        if state.trigger is not None:
            held.trigger = state.trigger
        held.triggered, held.slice_no = state.triggered, state.slice_no
        held.slice_leaves = state.slice_leaves
        held.slice = working
        # an adopted slice nothing has filled may never have reached the venue
        held.resumed = working is not None and working.filled_qty == 0
        self._touch(order)  # the journal's rows take the adopted state (as rebuilt)
        if working is not None:
            self._touch(working)
        if held.working:
            self.children[_slice_id(order.client_order_id, held.slice_no)] = order.client_order_id
        elif not held.triggered and not _iceberg(order):
            self._watch(held)

    def resume(self, order: Order, now: int) -> bool:
        """An adopted iceberg whose last slice completed (or none went) sends its next one,
        if the gate lets it (else it is cancelled here); False when there is nothing to do.
        """
        held = self._held.get(order.client_order_id)
        if held is None or not _iceberg(order) or held.working or not order.is_open:
            return False
        if order.status is OrderStatus.PENDING_CANCEL:
            return False
        self._next_slice(held, order.leaves_qty, now, gated=True)
        return True

    def state(self, client_order_id: str) -> EmulatedState | None:
        """What the emulator holds of an order (None: not held)."""
        held = self._held.get(client_order_id)
        return None if held is None else held.state()

    def held(self) -> list[EmulatedState]:
        """Every held order's state, oldest first (a snapshot; the journal is fed by
        ``take_changes``)."""
        return [h.state() for h in self._held.values()]

    def forget(self, client_order_id: str) -> None:
        """The order is finished: drop what is held of it."""
        held = self._held.pop(client_order_id, None)
        if held is None:
            return
        self._unwatch(held)
        if held.slice_no:
            self.children.pop(_slice_id(client_order_id, held.slice_no), None)
        if self._changes is not None:  # nothing more to journal of it (a released order's
            self._changes.forget(client_order_id)  # end is the venue's, journaled as such)

    def cancel(self, order: Order, now: int) -> bool:
        """Cancel a held order (already PENDING_CANCEL); False when the venue has it as
        itself (released on trigger: cancelled at the venue like any order)."""
        held = self._held.get(order.client_order_id)
        if held is None or (held.triggered and not held.slice_no):
            return False
        self._touch(order)
        if held.working:
            self._send(_cancel(order, _slice_id(order.client_order_id, held.slice_no), now))
            if held.slice is not None:
                _apply(held.slice, OrderPendingCancel(**event_ids(held.slice, now)))
                self._touch(held.slice)
        else:  # held here, or an iceberg between two slices (adopted): nothing at a venue
            self._unwatch(held)
            self._emit(OrderCanceled(**event_ids(order, now)))
        return True

    def amend(self, order: Order, trigger: Decimal | None) -> bool:
        """A modify of a held, untriggered order applies here at once; False when the
        order is at the venue (released, or an iceberg's slice is working)."""
        held = self._held.get(order.client_order_id)
        if held is None or held.triggered or held.slice_no:
            return False
        if trigger is not None and order.order_type is not OrderType.TRAILING_STOP_MARKET:
            held.trigger = trigger
        self._touch(order)
        return True

    # --- prices -------------------------------------------------------------

    def on_prices(
        self, instrument_id: str, buys: Sequence[Decimal], sells: Sequence[Decimal], now: int
    ) -> None:
        """Judge the untriggered orders of ``instrument_id`` on the event's prices."""
        watching = self._watching.get(instrument_id)
        if not watching:
            return
        for held in list(watching.values()):
            prices = buys if held.order.side is Side.BUY else sells
            for price in prices:
                if self._touched(held, price):
                    self._release(held, now)
                    break

    def _touched(self, held: _Held, price: Decimal) -> bool:
        order = held.order
        if order.order_type is OrderType.TRAILING_STOP_MARKET:
            self._trail(held, price)
        trigger = held.trigger
        if trigger is None:
            return False
        up = order.side is Side.BUY
        if order.order_type in _IF_TOUCHED:
            up = not up  # a buy if touched waits for the price to fall to it
        return price >= trigger if up else price <= trigger

    def _trail(self, held: _Held, price: Decimal) -> None:
        order = held.order
        mark = held.watermark
        if mark is not None and (price >= mark if order.side is Side.BUY else price <= mark):
            return  # not a better price: the stop stays where it is
        held.watermark = price
        if order.trailing_offset is not None:
            offset = order.trailing_offset
        else:
            assert order.trailing_bps is not None  # the factory requires one of the two
            offset = price * order.trailing_bps / _BPS
        level = price + offset if order.side is Side.BUY else price - offset
        held.trigger = self._instruments(order.instrument_id).price(level, ROUND_HALF_EVEN)
        self._touch(order)

    def _blocked(self, held: _Held, now: int) -> bool:
        """The gate refuses ``held``'s next release: it is cancelled here instead."""
        gate, order = self.gate, held.order
        if gate is None or order.client_order_id in self._reduce_only or gate(order) is None:
            return False
        self._unwatch(held)
        self._touch(order)
        self._emit(OrderCanceled(**event_ids(order, now)))
        return True

    def _release(self, held: _Held, now: int) -> None:
        order = held.order
        if self._blocked(held, now):
            return
        if self.hold is not None and self.hold(order, now):
            held.parked = True  # still watching: the next touch asks again
            return
        self._unwatch(held)
        self._send_triggered(held, now)

    def release(self, client_order_id: str, now: int) -> None:
        """Send a parked order to its venue now, for what it has left (nothing when it is
        not parked, or no longer open)."""
        held = self._held.get(client_order_id)
        if held is None or not held.parked:
            return
        held.parked = False
        self._unwatch(held)
        if held.order.is_open and held.order.leaves_qty > 0:
            self._send_triggered(held, now)

    def _send_triggered(self, held: _Held, now: int) -> None:
        order = held.order
        held.triggered = True
        self._touch(order)
        self._emit(OrderTriggered(**event_ids(order, now)))
        self._send(self._command(order, order.client_order_id, order.leaves_qty, now))

    def _command(self, order: Order, client_id: str, qty: Decimal, now: int) -> SubmitOrder:
        kind = _RELEASE.get(order.order_type, order.order_type)
        return SubmitOrder(
            ts_init=now, strategy_id=order.strategy_id, instrument_id=order.instrument_id,
            correlation_id=order.correlation_id, client_order_id=client_id, side=order.side,
            order_type=kind, quantity=qty,
            price=order.price if kind is OrderType.LIMIT else None,
            time_in_force=order.time_in_force if kind is OrderType.LIMIT else TimeInForce.GTC,
            post_only=order.post_only and kind is OrderType.LIMIT,
            reduce_only=order.client_order_id in self._reduce_only,
            confidence=order.confidence, decision_price=order.decision_price,
        )  # fmt: skip

    def _watch(self, held: _Held) -> None:
        order = held.order
        self._watching.setdefault(order.instrument_id, {})[order.client_order_id] = held
        self.watching += 1

    def _unwatch(self, held: _Held) -> None:
        watching = self._watching.get(held.order.instrument_id)
        if watching is not None and watching.pop(held.order.client_order_id, None) is not None:
            self.watching -= 1

    # --- iceberg slices -----------------------------------------------------

    def _next_slice(self, held: _Held, leaves: Decimal, now: int, gated: bool = False) -> None:
        """Send slice ``slice_no + 1``; any slice but an accepted order's first is gated."""
        order = held.order
        assert order.display_qty is not None
        if held.slice_no:
            self.children.pop(_slice_id(order.client_order_id, held.slice_no), None)
        if (held.slice_no or gated) and self._blocked(held, now):
            return
        held.slice_no += 1
        held.slice_leaves = min(order.display_qty, leaves)
        held.resumed = False
        child = _slice_id(order.client_order_id, held.slice_no)
        self.children[child] = order.client_order_id
        command = self._command(order, child, held.slice_leaves, now)
        held.slice = order_from_intent(command)
        self._touch(order)
        self._touch(held.slice)
        self._send(command)

    def on_child_event(self, event: OrderEvent) -> list[OrderEvent]:
        """A slice's event, as the parent's events (to apply now, in order)."""
        parent_id = self.children.get(event.client_order_id)
        held = None if parent_id is None else self._held.get(parent_id)
        if held is None:
            return []
        order = held.order
        ids = event_ids(order, event.ts_event) | {"ts_init": event.ts_init}
        slice_ = held.slice
        if slice_ is not None and slice_.client_order_id == event.client_order_id:
            _apply(slice_, event)
            self._touch(slice_)
        self._touch(order)
        # the venue's first word on an adopted slice: anything but a rejection means it had it
        unplaced, held.resumed = type(event) is OrderRejected and held.resumed, False
        if type(event) is OrderFilled:
            return self._slice_filled(held, event)
        if type(event) is OrderCancelRejected:
            if order.status is OrderStatus.PENDING_CANCEL:
                return [OrderCancelRejected(reason=event.reason, **ids)]
            return []
        if type(event) is OrderAccepted or type(event) is OrderTriggered:
            return []  # the parent was acknowledged locally
        self.children.pop(event.client_order_id, None)
        if unplaced and order.is_open and order.status is not OrderStatus.PENDING_CANCEL:
            # an adopted slice the venue never had (its intent was durable, the crash came
            # before the send): the parent is still working, so its next slice goes
            self._next_slice(held, order.leaves_qty, event.ts_event, gated=True)
            return []
        # cancelled, expired or rejected: the slice is gone, and so is the parent
        held.slice_no = 0
        if type(event) is OrderExpired:
            return [OrderExpired(**ids)]
        return [OrderCanceled(**ids)]

    def _slice_filled(self, held: _Held, fill: OrderFilled) -> list[OrderEvent]:
        order = held.order
        parent_fill = msgspec.structs.replace(fill, client_order_id=order.client_order_id)
        held.slice_leaves -= fill.last_qty
        left = order.leaves_qty - fill.last_qty
        if held.slice_leaves > 0 or left <= 0:
            return [parent_fill]
        if order.status is OrderStatus.PENDING_CANCEL:
            # the slice filled as the cancel went: nothing works any more, the rest ends
            self.children.pop(fill.client_order_id, None)
            held.slice_no = 0
            return [parent_fill, OrderCanceled(**event_ids(order, fill.ts_event))]
        self._next_slice(held, left, fill.ts_event)
        return [parent_fill]


def _slice_id(parent_id: str, n: int) -> str:
    return f"{parent_id}-s{n}"


def _iceberg(order: Order) -> bool:
    return order.display_qty is not None and order.order_type is OrderType.LIMIT


def _apply(slice_: Order, event: OrderEvent) -> None:
    """A venue event on a slice's own record (the journal's row of it). The parent is
    the order that counts: an edge the slice's record refuses (a late ack after its
    fills) leaves the record as it was and changes nothing else."""
    with contextlib.suppress(IllegalTransition):
        slice_.apply(event)


def _cancel(order: Order, client_id: str, now: int) -> CancelOrder:
    return CancelOrder(
        ts_init=now, strategy_id=order.strategy_id, instrument_id=order.instrument_id,
        correlation_id=order.correlation_id, client_order_id=client_id,
    )  # fmt: skip
