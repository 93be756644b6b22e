"""OCO order lists on top of the engine: placement, the one-cancels-the-other rule, cancel.

The limit leg (LIMIT_MAKER) rests in the venue; conditional legs are held by
the engine. Both legs trade the same quantity, so the list locks what its
most expensive leg needs once: the venue leg locks its own part and the list
holds the rest (``OrderList.held``). When one leg trades or triggers, the list
lock is released, the other leg EXPIRES with ``OCO_TRIGGER`` and the list is
ALL_DONE (``listStatus``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from genesis.exchange.account import SimAccount
from genesis.exchange.sandbox.errors import ApiError
from genesis.exchange.sandbox.orders import BinanceOrder, OrderList
from genesis.exchange.sandbox.validate import Placement

__all__ = ["ListEngine", "cancel_list", "leg_executed", "leg_triggered", "place_oco"]

_BAD_PRICES = "The relationship of the prices for the orders is not correct."
_LIMIT_LIKE = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_STOP_LIKE = ("STOP_LOSS", "STOP_LOSS_LIMIT")


class ListEngine(Protocol):
    """What the list functions use of the engine (``engine.Engine`` is one).

    A protocol, so this module need not import the engine, which calls into it.
    """

    @property
    def account(self) -> SimAccount: ...
    @property
    def lists(self) -> dict[int, OrderList]: ...
    @property
    def open_by_client(self) -> dict[str, BinanceOrder]: ...
    @property
    def now_ms(self) -> Callable[[], int]: ...
    def need(self, p: Placement, qty: Decimal) -> tuple[str, Decimal | None]: ...
    def last_price(self, symbol: str) -> Decimal | None: ...
    def next_list_id(self) -> int: ...
    def place(
        self, p: Placement, client_id: str, qty: Decimal, *, list_id: int = -1
    ) -> BinanceOrder: ...
    def emit(self, event: dict[str, Any]) -> None: ...
    def positions_changed(self, now: int) -> None: ...
    def expire_leg(self, o: BinanceOrder, now: int) -> None: ...
    def finish_canceled(self, o: BinanceOrder, now: int, cid: str) -> None: ...
    def cancel_body(self, o: BinanceOrder, cid: str, now: int) -> dict[str, Any]: ...


def _level(p: Placement) -> Decimal:
    return p.price if p.type == "LIMIT_MAKER" else p.stop_price


def check_oco(
    engine: ListEngine, above: Placement, below: Placement, ids: list[str], list_id: str
) -> None:
    """§8.3 steps 11-13 for a list: duplicate ids, balance, price relationship."""
    kinds = {above.type, below.type}
    if not (kinds & set(_LIMIT_LIKE) and kinds & set(_STOP_LIKE)):
        raise ApiError(-1116, "Invalid orderType.")
    open_lists = {lst.list_client_id for lst in engine.lists.values() if lst.status == "EXECUTING"}
    if any(i in engine.open_by_client for i in ids) or list_id in open_lists:
        raise ApiError(-2010, "Duplicate order sent.")
    needs = [engine.need(p, p.quantity) for p in (above, below)]
    ccy = needs[0][0]
    most = max(n for _, n in needs if n is not None)
    if most > engine.account.free(ccy):
        raise ApiError(-2010, "Account has insufficient balance for requested action.")
    last = engine.last_price(above.spec.symbol)
    hi, lo = _level(above), _level(below)
    ok = hi > last > lo if last is not None else hi > lo
    if not ok:
        raise ApiError(-2010, _BAD_PRICES)


def place_oco(
    engine: ListEngine,
    above: Placement,
    below: Placement,
    above_id: str,
    below_id: str,
    list_client_id: str,
) -> tuple[OrderList, list[BinanceOrder]]:
    now = engine.now_ms()
    lst = OrderList(
        order_list_id=engine.next_list_id(),
        symbol=above.spec.symbol,
        list_client_id=list_client_id,
        legs=[],
        time=now,
    )
    engine.lists[lst.order_list_id] = lst
    # Binance lists the lower leg first
    legs = [(below, below_id), (above, above_id)]
    needs = [engine.need(p, p.quantity) for p, _ in legs]
    venue_need = sum(
        (n or Decimal(0) for (p, _), (_, n) in zip(legs, needs, strict=True) if not p.conditional),
        Decimal(0),
    )
    for p, cid in legs:
        lst.legs.append(engine.place(p, cid, p.quantity, list_id=lst.order_list_id))
    lst.held_ccy = needs[0][0]
    lst.held = max(n or Decimal(0) for _, n in needs) - venue_need
    engine.account.lock(lst.held_ccy, lst.held)
    engine.emit(lst.status_event(now))
    engine.positions_changed(now)
    return lst, lst.legs


def _done(engine: ListEngine, lst: OrderList, now: int) -> None:
    engine.account.release(lst.held_ccy, lst.held)
    lst.held = Decimal(0)
    lst.status = lst.list_status_type = "ALL_DONE"
    engine.emit(lst.status_event(now))


def leg_executed(engine: ListEngine, o: BinanceOrder, now: int) -> None:
    lst = engine.lists[o.order_list_id]
    if lst.status != "EXECUTING":
        return
    engine.account.release(lst.held_ccy, lst.held)
    lst.held = Decimal(0)
    for other in lst.legs:
        if other is not o and other.is_open:
            engine.expire_leg(other, now)
    _done(engine, lst, now)


def leg_triggered(engine: ListEngine, o: BinanceOrder, now: int) -> None:
    leg_executed(engine, o, now)


def cancel_list(engine: ListEngine, lst: OrderList, cancel_id: str) -> dict[str, Any]:
    """Cancel every open leg; the DELETE /api/v3/orderList answer."""
    now = engine.now_ms()
    if lst.status != "EXECUTING":
        raise ApiError(-2011, "Unknown order sent.")
    engine.account.release(lst.held_ccy, lst.held)
    lst.held = Decimal(0)
    for leg in lst.legs:
        if leg.is_open:
            engine.finish_canceled(leg, now, cancel_id)
    _done(engine, lst, now)
    engine.positions_changed(now)
    return lst.body(now, [engine.cancel_body(leg, cancel_id, now) for leg in lst.legs])
