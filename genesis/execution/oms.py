"""Order management: the registry of orders, event application, fill de-duplication."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from genesis.core.enums import OPEN_STATUSES, TERMINAL_STATUSES
from genesis.core.events import OrderCancelRejected, OrderEvent, OrderFilled, OrderModifyRejected
from genesis.core.orders import Order
from genesis.errors import IllegalTransition

__all__ = ["OmsStats", "OrderManager"]


@dataclass(frozen=True, slots=True)
class OmsStats:
    orders: int
    open_orders: int
    fills: int
    duplicate_fills: int
    illegal_events: int
    unknown_order_events: int
    late_refusals: int


class OrderManager:
    """Owns every ``Order`` of one kernel.

    Fills are de-duplicated by (venue, instrument, trade id) before they reach an
    order, so a venue that repeats a fill (a replayed user stream, a REST
    backfill after a reconnect) changes nothing.
    """

    def __init__(self, *, forget_closed: bool = False) -> None:
        """``forget_closed`` drops finished orders (and their trade keys): flat memory for
        long backtests; a late event for a forgotten order counts as unknown."""
        self._forget = forget_closed
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._trades: set[tuple[str, str, str]] = set()
        self._fills = 0
        self._keys: dict[str, list[tuple[str, str, str]]] = {}  # order -> its trade keys
        self._duplicates = 0
        self._illegal = 0
        self._unknown = 0
        self._late_refusals = 0
        # told of every order's registration and each change after it (pre-trade's index)
        self.listener: Callable[[Order], None] | None = None

    def register(self, order: Order) -> None:
        """Start tracking ``order``.

        Raises:
            ValueError: an order with the same client order id exists.
        """
        if order.client_order_id in self._orders:
            raise ValueError(f"duplicate client order id {order.client_order_id}")
        self._orders[order.client_order_id] = order
        if order.status not in TERMINAL_STATUSES:
            self._open[order.client_order_id] = order
        listener = self.listener
        if listener is not None:
            order.watch = listener
            listener(order)

    def restore(self, order: Order, fills: Sequence[OrderFilled]) -> None:
        """Track an order rebuilt after a restart with the fills it already had: the same
        fills delivered again by the venue are duplicates.

        Raises:
            ValueError: an order with the same client order id exists.
        """
        self.register(order)
        for fill in fills:
            self._trades.add((fill.venue, fill.instrument_id, fill.trade_id))

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def is_duplicate(self, fill: OrderFilled) -> bool:
        """Whether ``fill``'s trade is already booked (counted as a duplicate if so): asked
        before an iceberg slice's fill moves its parent's slice bookkeeping."""
        if (fill.venue, fill.instrument_id, fill.trade_id) not in self._trades:
            return False
        self._duplicates += 1
        return True

    def apply(self, event: OrderEvent) -> Order | None:
        """Apply a lifecycle event to its order.

        Returns:
            The order, or None when the event was dropped: unknown order,
            duplicate fill, or an illegal transition (each counted in ``statistics``).
        """
        order = self._orders.get(event.client_order_id)
        if order is None:
            self._unknown += 1
            return None
        filled = False
        if type(event) is OrderFilled:  # exact: no event type subclasses another
            filled = True
            key = (event.venue, event.instrument_id, event.trade_id)
            if key in self._trades:
                self._duplicates += 1
                return None
        elif (
            type(event) is OrderCancelRejected or type(event) is OrderModifyRejected
        ) and order.status in TERMINAL_STATUSES:
            # our request lost a race with the order's end (filled, or cancelled with its
            # OCO list): the venue's refusal is expected and changes nothing
            self._late_refusals += 1
            return None
        try:
            order.apply(event)
        except IllegalTransition:
            self._illegal += 1
            raise
        if filled:
            self._trades.add(key)
            if self._forget:
                self._keys.setdefault(order.client_order_id, []).append(key)
            self._fills += 1
        if order.status in TERMINAL_STATUSES:
            self._finished(order.client_order_id)
        return order

    def _finished(self, cid: str) -> None:
        if cid in self._open:  # in and del, not pop: C calls when compiled
            del self._open[cid]
        if self._forget:
            del self._orders[cid]
            self._trades.difference_update(self._keys.pop(cid, ()))

    def open_orders(
        self, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[Order]:
        """Open orders (NEW excluded), oldest first, optionally filtered."""
        return [
            o
            for o in self._open.values()
            if o.status in OPEN_STATUSES  # Order.is_open, without a property call per order
            and (strategy_id is None or o.strategy_id == strategy_id)
            and (instrument_id is None or o.instrument_id == instrument_id)
        ]

    def has_open_orders(self, strategy_id: str, instrument_id: str) -> bool:
        return any(
            o.strategy_id == strategy_id and o.instrument_id == instrument_id
            for o in self._open.values()
        )

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def statistics(self) -> OmsStats:
        return OmsStats(
            orders=len(self._orders),
            open_orders=len(self._open),
            fills=self._fills,
            duplicate_fills=self._duplicates,
            illegal_events=self._illegal,
            unknown_order_events=self._unknown,
            late_refusals=self._late_refusals,
        )
