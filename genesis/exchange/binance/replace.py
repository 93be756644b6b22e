"""Modify on Binance spot (EX-2): ``POST /api/v3/order/cancelReplace``, STOP_ON_FAILURE.

Binance spot cannot amend price or quantity in place, so a ``ModifyOrder`` is one
cancel-replace request: cancel the working order and place its replacement in the
same call; under ``STOP_ON_FAILURE`` nothing is placed when the cancel fails.

Identity. The replacement is a new venue order and needs a new client id; the
kernel's order keeps its own. The n-th replacement of order ``X`` is sent as
``X-rN`` (a pure function of the two, so a restart can tell whose it is), and
the tracker maps it back (``OrderTracker.local_id``): every event of the
replacement is an event of ``X``. The replacement's quantity is what is left
(the new total less what ``X`` has filled), as the filled part stays on the old
venue order. The cancel half's ``CANCELED`` report is not ``X``'s end.

Outcomes, as ``OrderUpdated`` / ``OrderModifyRejected`` / ``OrderCanceled`` of ``X``:

* success: ``OrderUpdated`` with the new terms, then the fills the new order's
  answer carries;
* the cancel failed (400, -2022: the order filled or ended meanwhile) or the
  request was refused before anything happened (a filter, a bad parameter):
  ``OrderModifyRejected`` with the venue's code; the order is as it was;
* the cancel succeeded but the new order failed (409, -2021): the order is gone
  at the venue: ``OrderCanceled``;
* unknown (timeout, 5xx): the new id is queried; found, it is the success;
  absent, the old order is queried and says which of the two others it was.
  A cancel-replace is never sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

import msgspec
import structlog

from genesis.core.commands import ModifyOrder, SubmitOrder
from genesis.core.events import (
    OrderEvent,
    OrderModifyRejected,
    OrderPendingUpdate,
    OrderUpdated,
)
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO
from genesis.errors import InvalidOrder, OrderRejectedByVenue, VenueError
from genesis.exchange.binance.errors import OrderNotFound
from genesis.exchange.binance.orderparams import order_params
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.tracker import OrderTracker, Tracked

__all__ = ["cancel_replace", "find_replacement", "replacement_id", "wire_id"]

log = structlog.get_logger(__name__)

_PARTLY = -2021  # cancel succeeded, the new order failed
_MAX_REPLACES = 50  # replacement ids probed after a restart


class BinanceVenue(Protocol):
    """What a cancel-replace uses of ``venue.BinanceVenue`` (which imports this module)."""

    tracker: OrderTracker
    rest: BinanceRest
    _instruments: dict[str, Instrument]
    _status: dict[str, str]

    def _emit(self, events: Sequence[OrderEvent]) -> None: ...

    async def _apply_order(self, data: Mapping[str, Any]) -> None: ...


def replacement_id(client_order_id: str, n: int) -> str:
    """The venue client id of the ``n``-th replacement of ``client_order_id``."""
    return f"{client_order_id}-r{n}"


def wire_id(t: Tracked) -> str:
    """The client id the venue knows the order by now."""
    return t.venue_cid or t.cmd.client_order_id


async def cancel_replace(venue: BinanceVenue, cmd: ModifyOrder) -> None:
    """Carry one ``ModifyOrder`` to Binance and emit what became of it."""
    t = venue.tracker.orders.get(cmd.client_order_id)
    refusal = _refusal(t, cmd)
    if t is None or refusal:
        _emit_refusal(venue, cmd, refusal or "unknown or finished order", "-2011")
        return
    after = msgspec.structs.replace(
        t.cmd, quantity=cmd.quantity,
        price=cmd.price if cmd.price is not None else t.cmd.price,
        trigger_price=cmd.trigger_price if cmd.trigger_price is not None else t.cmd.trigger_price,
    )  # fmt: skip
    new_cid = replacement_id(cmd.client_order_id, t.replaces + 1)
    wire = msgspec.structs.replace(after, client_order_id=new_cid, quantity=cmd.quantity - t.filled)
    try:
        params = order_params(wire, venue._instruments.get(cmd.instrument_id),
                              venue._status.get(cmd.instrument_id, "UNKNOWN"))  # fmt: skip
    except InvalidOrder as exc:
        _emit_refusal(venue, cmd, f"INVALID_ORDER: {exc}", "LOCAL")
        return
    params += [("cancelReplaceMode", "STOP_ON_FAILURE"), ("cancelOrigClientOrderId", wire_id(t))]
    t.replaces += 1
    venue.tracker.expect_replacement(t, new_cid)
    try:
        answer = await venue.rest.cancel_replace(params, venue.rest.clock.now_ms())
    except OrderRejectedByVenue as exc:
        _refused(venue, t, cmd, new_cid, exc)
        return
    except VenueError as exc:
        log.warning("binance_replace_outcome_unknown", client_order_id=cmd.client_order_id,
                    error=type(exc).__name__)  # fmt: skip
        await _resolve(venue, t, cmd, after, new_cid)
        return
    new = answer.get("newOrderResponse") if isinstance(answer, dict) else None
    await _succeeded(venue, t, cmd, after, new_cid, new if isinstance(new, dict) else {})


async def find_replacement(venue: BinanceVenue, t: Tracked) -> bool:
    """After a restart: whether ``t`` was replaced (``X-r1``, ``X-r2``... exist at the
    venue); if so the last replacement becomes ``t`` at the venue, its terms are
    announced (``OrderAccepted``, then ``OrderPendingUpdate`` and ``OrderUpdated`` with
    the filled part of the original plus the replacement's quantity) and the original
    venue order's cancel is not ``t``'s end. Refused replacements give their ids back, so
    the ids have no gaps; one whose outcome stayed unknown may leave one, so the probe
    looks one id past a missing one before it stops. A query that keeps failing stops the
    probe (the original is then resolved as before, and the failure logged)."""
    cid, symbol = t.cmd.client_order_id, t.cmd.instrument_id
    latest: Mapping[str, Any] | None = None
    n = probe = 0
    while probe < _MAX_REPLACES and probe - n <= 1:
        probe += 1
        try:
            data = await _query_with_retries(venue, symbol, replacement_id(cid, probe))
        except OrderNotFound:
            continue
        except VenueError as exc:
            log.warning("binance_replacement_probe_failed", client_order_id=cid,
                        error=type(exc).__name__)  # fmt: skip
            break
        if not isinstance(data, dict):
            break
        latest, n = data, probe
    if latest is None:
        return False
    return await _adopt_replacement(venue, t, n, latest)


async def _query_with_retries(
    venue: BinanceVenue, symbol: str, client_order_id: str, tries: int = 3
) -> Any:
    """``query_order``, retried on a transient failure (not on "no such order")."""
    for attempt in range(tries - 1):
        try:
            return await venue.rest.query_order(symbol, client_order_id)
        except OrderNotFound:
            raise
        except VenueError:
            await asyncio.sleep(0.2 * (attempt + 1))
    return await venue.rest.query_order(symbol, client_order_id)


async def _adopt_replacement(
    venue: BinanceVenue, t: Tracked, n: int, data: Mapping[str, Any]
) -> bool:
    cid, symbol = t.cmd.client_order_id, t.cmd.instrument_id
    try:
        old = await venue.rest.query_order(symbol, cid)
        before = Decimal(str(old.get("executedQty", "0"))) if isinstance(old, dict) else ZERO
        after = msgspec.structs.replace(
            t.cmd, quantity=before + Decimal(str(data["origQty"])),
            price=Decimal(str(data["price"])) if t.cmd.price is not None else None,
        )  # fmt: skip
    except (VenueError, KeyError, ArithmeticError) as exc:
        log.warning("binance_replacement_unreadable", client_order_id=cid, error=str(exc))
        return False
    if isinstance(old, dict) and type(old.get("orderId")) is int:
        venue.tracker.retire(symbol, str(old["orderId"]))
    venue_cid = replacement_id(cid, n)
    t.replaces = n
    venue.tracker.expect_replacement(t, venue_cid)
    venue._emit(venue.tracker.on_order_json(data, terminal=False))  # accepted, bound
    venue.tracker.replaced(t, venue_cid, after, str(data.get("orderId", "")))
    ids = {"client_order_id": cid, "strategy_id": t.cmd.strategy_id, "instrument_id": symbol}
    now = venue.tracker._now_ns()
    venue._emit([
        OrderPendingUpdate(ts_event=now, ts_init=now, **ids),
        OrderUpdated(quantity=after.quantity, price=after.price,
                     trigger_price=after.trigger_price, ts_event=now, ts_init=now, **ids),
    ])  # fmt: skip
    log.warning("binance_replacement_adopted", client_order_id=cid, venue_client_id=venue_cid)
    return True


def _refusal(t: Tracked | None, cmd: ModifyOrder) -> str:
    if t is None or t.done:
        return "unknown or finished order"
    if t.placing or not t.accepted:
        return "the order's placement is not confirmed yet; modify once it is accepted"
    if t.cmd.oco_group:
        return "an order of an OCO list cannot be replaced"
    if cmd.quantity <= t.filled:
        return f"quantity {cmd.quantity} is not above the filled quantity {t.filled}"
    return ""


async def _succeeded(
    venue: BinanceVenue, t: Tracked, cmd: ModifyOrder, after: SubmitOrder, new_cid: str,
    new: dict[str, Any],
) -> None:  # fmt: skip
    order_id = new.get("orderId")
    venue.tracker.replaced(t, new_cid, after, str(order_id) if type(order_id) is int else "")
    now = venue.tracker._now_ns()
    venue._emit([OrderUpdated(
        quantity=after.quantity, price=after.price, trigger_price=after.trigger_price,
        client_order_id=cmd.client_order_id, strategy_id=cmd.strategy_id,
        instrument_id=cmd.instrument_id, ts_event=now, ts_init=now,
    )])  # fmt: skip
    if new:
        await venue._apply_order(new)  # the fills the new order made at once


def _refused(
    venue: BinanceVenue, t: Tracked, cmd: ModifyOrder, new_cid: str, exc: OrderRejectedByVenue
) -> None:
    _give_back(t, new_cid)
    if exc.code == _PARTLY:  # the old order is cancelled and nothing replaced it
        log.warning("binance_replace_left_order_canceled", client_order_id=cmd.client_order_id)
        venue.tracker.abandon_replacement(t, new_cid)
        venue._emit(venue.tracker.canceled(t))
        return
    venue.tracker.abandon_replacement(t, new_cid)
    _emit_refusal(venue, cmd, f"REPLACE_REJECTED: {exc}", str(exc.code))


def _give_back(t: Tracked, new_cid: str) -> None:
    """A replacement the venue never created gives its id back: the next one is sent
    under it, so the ids at the venue stay ``X-r1``, ``X-r2``... without a gap (a restart
    probes them in order and stops at the first one missing)."""
    if new_cid == replacement_id(t.cmd.client_order_id, t.replaces):
        t.replaces -= 1


async def _resolve(
    venue: BinanceVenue, t: Tracked, cmd: ModifyOrder, after: SubmitOrder, new_cid: str
) -> None:
    """An unknown outcome: the replacement's own query says whether it stands. Only a
    definite "no such order" gives its id back (one still unknown may yet appear)."""
    try:
        new = await venue.rest.query_order(cmd.instrument_id, new_cid)
    except OrderNotFound:
        new = None
        _give_back(t, new_cid)
    except VenueError:
        new = None
    if isinstance(new, dict):
        await _succeeded(venue, t, cmd, after, new_cid, new)
        return
    venue.tracker.abandon_replacement(t, new_cid)
    try:
        old = await venue.rest.query_order(cmd.instrument_id, wire_id(t))
    except VenueError:
        old = None
    if isinstance(old, dict) and old.get("status") == "CANCELED":
        venue._emit(venue.tracker.canceled(t))
        return
    _emit_refusal(venue, cmd, "REPLACE_UNKNOWN: the venue has no replacement", "UNKNOWN")


def _emit_refusal(venue: BinanceVenue, cmd: ModifyOrder, reason: str, code: str) -> None:
    now = venue.tracker._now_ns()
    events: list[OrderEvent] = [OrderModifyRejected(
        reason=reason, code=code, client_order_id=cmd.client_order_id,
        strategy_id=cmd.strategy_id, instrument_id=cmd.instrument_id, ts_event=now, ts_init=now,
    )]  # fmt: skip
    venue._emit(events)
