"""Modify on a ccxt venue (EX-2): the exchange's own edit, else cancel then replace.

Theory of operation
-------------------
The kernel sends ``ModifyOrder`` (the new *total* quantity, a new limit price) with
its order PENDING_UPDATE, and expects ``OrderUpdated``, ``OrderModifyRejected`` or,
when the order is gone, ``OrderCanceled``, with fills as they happen. The order
keeps its Genesis client id throughout; the kernel never sees a second order.

* **Native edit** (``has['editOrder']`` is ``True``): ccxt's ``edit_order``, sent
  for what is left (the new total less filled). When the exchange replaced the
  order (a new venue id, as Binance's cancelReplace does), the old id's cancel is
  not our order's end (``Reconciler.retired``) and the new id is ours.
* **Cancel-replace** (no ``editOrder``, or ccxt's ``"emulated"`` one, which cancels
  and creates without reading the cancel's answer): cancel, and place the
  replacement only once the venue answers that the order *is* cancelled and how
  much it had filled. Never two live orders; never a replacement for an order
  that filled meanwhile.

  - The cancel fails, or its answer is not "cancelled" (the order filled or
    closed first): ``OrderModifyRejected``, then the venue's state of the order
    (queried if the answer gave none) is applied: its fills stand. When the
    kernel already has every fill the rejection is left out (its order is FILLED).
  - Cancelled with fills reaching the new quantity: nothing to replace:
    rejected, then ``OrderCanceled`` once those fills are out.
  - The replacement is refused (or the venue answers it with the cancelled order,
    a client id it will not reuse): the order is gone: ``OrderModifyRejected``
    with the venue's reason, then ``OrderCanceled``.
  - Its outcome is unknown (timeout, 5xx): queried by client id until found, or
    until absence is proven (``settle_s``, as for a placement): then refused.
  - Placed: ``OrderUpdated``, then the replacement's own state (it may fill at once).

  The replacement carries the order's client id (as ccxt's edit does; exchanges
  allow a client id again once its order is closed, Binance among them), so a
  restart finds it by that id. Its amount is the new total less what the venue
  orders so far filled (the cancel's answer plus ``Tracked.carried``); fills of the
  cancelled venue order still arrive, by its venue id. While it is under way the
  order is ``replacing``: the poller leaves it alone and a cancel waits for it.

Where no cancel-replace is possible at all (an unknown or closed order, a stop's
trigger, a quantity not above the fill) the modify is refused with ``UNSUPPORTED``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from genesis.core.commands import Command, ModifyOrder
from genesis.core.enums import OrderType, TimeInForce
from genesis.core.events import OrderEvent, OrderModifyRejected, OrderUpdated
from genesis.core.money import ZERO
from genesis.errors import OrderRejectedByVenue, OrderStatusUnknown, RateLimited, VenueError
from genesis.exchange.ccxt.errors import AuthError, OrderNotFound
from genesis.exchange.ccxt.mapping import opt_dec
from genesis.exchange.ccxt.reconcile import Reconciler
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.tracking import Tracked

__all__ = ["code_of", "modify", "order_params"]

_CANCELLED = frozenset({"canceled", "cancelled"})
_KNOWN = frozenset({"open", "closed", "canceled", "cancelled", "expired", "rejected"})


class CcxtPort(Protocol):
    """What a modify uses of ``venue.CcxtVenue`` (which imports this module)."""

    _orders: dict[str, Tracked]
    _session: CcxtSession
    _rec: Reconciler
    _resolve_s: float
    _settle_s: float
    _sleep: Callable[[float], Awaitable[None]]
    _clock: Callable[[], int]
    stats: Counter[str]

    def _emit(self, event: OrderEvent) -> None: ...

    def _ids(self, cmd: Command, client_order_id: str) -> dict[str, Any]: ...


def order_params(t: Tracked) -> dict[str, Any]:
    """ccxt ``params`` of a placement: the client id, post-only or the time in force."""
    cmd = t.cmd
    params: dict[str, Any] = {"clientOrderId": cmd.client_order_id}
    if cmd.order_type is OrderType.LIMIT:
        if cmd.post_only:
            params["postOnly"] = True
        elif cmd.time_in_force is not TimeInForce.GTC:
            params["timeInForce"] = cmd.time_in_force.value
    return params


def code_of(exc: VenueError) -> str:
    """The machine code of a venue failure, as events carry it."""
    if isinstance(exc, OrderRejectedByVenue):
        return str(exc.code)
    if isinstance(exc, RateLimited):
        return "RATE_LIMITED"
    if isinstance(exc, AuthError):
        return "AUTH"
    if isinstance(exc, OrderNotFound):
        return "ORDER_NOT_FOUND"  # a cancel of an order that has closed (filled) meanwhile
    return "VENUE_UNAVAILABLE"


async def modify(venue: CcxtPort, cmd: ModifyOrder) -> None:
    """Carry out one ``ModifyOrder`` (see the module docstring); never raises for the venue."""
    t = venue._orders.get(cmd.client_order_id)
    if t is not None:
        await t.settled.wait()  # an order in flight is resolved before it can be modified
    problem = _problem(t, cmd)
    if t is None or problem:
        _refuse(venue, cmd, "UNSUPPORTED", problem)
        return
    price = cmd.price if cmd.price is not None else t.cmd.price
    if venue._session.native("editOrder"):
        await _edit(venue, t, cmd, price)
        return
    venue.stats["modify_cancel_replace"] += 1
    old_id = t.venue_order_id
    if old_id:
        venue._rec.retired.add(old_id)
    t.state = "replacing"
    t.settled.clear()  # a cancel of ours waits for the outcome
    try:
        await _cancel_replace(venue, t, cmd, price, old_id)
    finally:
        if t.state == "replacing":
            t.state = "open"
        t.settled.set()


def _problem(t: Tracked | None, cmd: ModifyOrder) -> str:
    """Why a modify cannot go ("" when it can)."""
    if t is None or t.state != "open":
        return "unknown or closed order"
    if cmd.trigger_price is not None:
        return "the ccxt venue carries no stop orders to move"
    if cmd.quantity <= t.filled:
        return f"quantity {cmd.quantity} is not above the filled quantity {t.filled}"
    return ""


def _refuse(venue: CcxtPort, cmd: ModifyOrder, code: str, reason: str) -> None:
    venue.stats[f"modify_rejected_{code}"] += 1
    venue._emit(OrderModifyRejected(**venue._ids(cmd, cmd.client_order_id), code=code,
                                    reason=reason))  # fmt: skip


def _updated(venue: CcxtPort, t: Tracked, cmd: ModifyOrder, price: Decimal | None) -> None:
    t.cmd = msgspec.structs.replace(t.cmd, quantity=cmd.quantity, price=price)
    venue._emit(OrderUpdated(**venue._ids(cmd, cmd.client_order_id), quantity=cmd.quantity,
                             price=price))  # fmt: skip


# --- native edit -----------------------------------------------------------------------------


async def _edit(venue: CcxtPort, t: Tracked, cmd: ModifyOrder, price: Decimal | None) -> None:
    old_id = t.venue_order_id
    venue._rec.retired.add(old_id)
    try:
        order = await venue._session.call(
            "edit_order", old_id or None, t.symbol, t.cmd.order_type.value.lower(),
            t.cmd.side.value.lower(), format(cmd.quantity - t.filled, "f"),
            None if price is None else format(price, "f"),
            {"clientOrderId": cmd.client_order_id}, is_order=True,
        )  # fmt: skip
    except VenueError as exc:
        venue._rec.retired.discard(old_id)
        _refuse(venue, cmd, code_of(exc), str(exc))
        return
    new_id = str(order.get("id") or "") if isinstance(order, dict) else ""
    _updated(venue, t, cmd, price)
    if not new_id or new_id == old_id:
        venue._rec.retired.discard(old_id)  # amended in place
    else:
        t.carried = t.filled  # what the replaced venue order filled (as far as delivered)
        venue._rec.rebind(t, new_id)


# --- cancel, then replace ------------------------------------------------------------------------


async def _cancel_replace(
    venue: CcxtPort, t: Tracked, cmd: ModifyOrder, price: Decimal | None, old_id: str
) -> None:
    try:
        answer = await venue._session.call(
            "cancel_order", old_id or None, t.symbol, {"clientOrderId": cmd.client_order_id},
            is_order=True,
        )  # fmt: skip
    except VenueError as exc:
        await _kept(venue, t, cmd, old_id, code_of(exc), str(exc), None)
        return
    gone = await _cancelled_state(venue, t, answer, old_id)
    status = "" if gone is None else str(gone.get("status") or "")
    if gone is None or status not in _CANCELLED:
        why = f"the order was {status or 'in an unknown state'} when its cancel arrived"
        await _kept(venue, t, cmd, old_id, "ORDER_CLOSED", why, gone)
        return
    filled = t.carried + (opt_dec(gone.get("filled"), ZERO) or ZERO)
    if cmd.quantity <= filled:
        why = f"the order had filled {filled} when cancelled, not below the new {cmd.quantity}"
        await _ended(venue, t, cmd, old_id, gone, "FILLED_MEANWHILE", why)
        return
    await _replace(venue, t, cmd, price, old_id, gone, filled)


async def _cancelled_state(venue: CcxtPort, t: Tracked, answer: Any, old_id: str) -> Any:
    """The cancelled venue order as the venue shows it (status and filled): the cancel's
    answer when it says, else a query by venue id; None when neither says."""
    if isinstance(answer, dict) and str(answer.get("status") or "") in _KNOWN:
        return answer
    try:
        found = await venue._session.call("fetch_order", old_id, t.symbol, is_order=True)
    except VenueError:
        return None
    return found if isinstance(found, dict) and str(found.get("status") or "") in _KNOWN else None


async def _replace(
    venue: CcxtPort, t: Tracked, cmd: ModifyOrder, price: Decimal | None, old_id: str,
    gone: Any, filled: Decimal,
) -> None:  # fmt: skip
    sent_mono, sent_ms = time.monotonic(), venue._clock() // 1_000_000
    try:
        order = await venue._session.call(
            "create_order", t.symbol, t.cmd.order_type.value.lower(), t.cmd.side.value.lower(),
            format(cmd.quantity - filled, "f"), None if price is None else format(price, "f"),
            order_params(t), is_order=True,
        )  # fmt: skip
    except OrderStatusUnknown:
        order = await _find_replacement(venue, t, old_id, sent_mono, sent_ms)
        if order is None:
            why = f"cancelled, but its replacement was absent {venue._settle_s:g} s after its send"
            await _ended(venue, t, cmd, old_id, gone, "ABSENT", why)
            return
    except VenueError as exc:
        why = f"cancelled, but its replacement was refused: {exc}"
        await _ended(venue, t, cmd, old_id, gone, code_of(exc), why)
        return
    new_id = str(order.get("id") or "") if isinstance(order, dict) else ""
    if not new_id or new_id == old_id:
        why = "cancelled, but the venue answered the replacement with the cancelled order"
        await _ended(venue, t, cmd, old_id, gone, "REPLACE_REFUSED", why)
        return
    t.carried = filled
    t.state = "open"
    _updated(venue, t, cmd, price)  # before any fill of the replacement reaches the kernel
    venue._rec.rebind(t, new_id)
    await venue._rec.apply(t, order)


async def _find_replacement(
    venue: CcxtPort, t: Tracked, old_id: str, sent_mono: float, sent_ms: int
) -> Any:
    """Query by client id until a venue order other than ``old_id`` shows, or until absence
    is proven ``settle_s`` after the send (None)."""
    while time.monotonic() - sent_mono < venue._settle_s:
        await venue._sleep(venue._resolve_s)
        try:
            found = await venue._session.find_order(
                t.symbol, t.cmd.client_order_id, sent_ms - 60_000
            )
        except OrderNotFound:
            continue
        except VenueError:
            venue.stats["resolve_query_failed"] += 1
            continue
        if isinstance(found, dict) and str(found.get("id") or "") not in ("", old_id):
            return found
    return None


async def _kept(
    venue: CcxtPort, t: Tracked, cmd: ModifyOrder, old_id: str, code: str, reason: str,
    state: Any,
) -> None:  # fmt: skip
    """Not cancelled: the order stands as it is at the venue (its fills with it)."""
    venue._rec.retired.discard(old_id)
    t.state = "open"
    if t.filled < t.cmd.quantity:  # else the kernel has every fill: its order is FILLED
        _refuse(venue, cmd, code, reason)
    if state is None:
        try:
            state = await venue._session.find_order(
                t.symbol, cmd.client_order_id, t.sent_ms - 60_000
            )
        except VenueError:
            return  # the poller will see where it stands
    await venue._rec.apply(t, state)


async def _ended(
    venue: CcxtPort, t: Tracked, cmd: ModifyOrder, old_id: str, gone: Any, code: str,
    reason: str,
) -> None:  # fmt: skip
    """Cancelled and not replaced: refused, then the order's end once its fills are out."""
    venue._rec.retired.discard(old_id)
    t.state = "open"
    if t.filled < t.cmd.quantity:
        _refuse(venue, cmd, code, reason)
    await venue._rec.apply(t, gone)
