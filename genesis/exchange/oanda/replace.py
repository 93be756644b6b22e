"""Modify on OANDA v20 (EX-2): ``PUT /v3/accounts/{id}/orders/{spec}``, an order replace.

OANDA cannot amend a pending order in place: a replace cancels it and creates
the new order in one transaction batch (``orderCancelTransaction`` with reason
``CLIENT_REQUEST_REPLACED`` and ``replacedByOrderID``, ``orderCreateTransaction``
with reason ``REPLACEMENT`` and ``replacesOrderID``); a refused replace changes
nothing. So a ``ModifyOrder`` is one replace request.

Identity, as on Binance (``genesis.exchange.binance.replace``): the kernel's
order keeps its client id; the n-th replacement of order ``X`` carries the
client extension id ``X-rN`` (a pure function of the two, so a restart can
tell whose it is), and every transaction of ``X-rN`` is an event of ``X``. The
replacement asks what is left (the new total less what ``X`` has filled; a
pending OANDA order fills whole, so that is the new total). The cancel half
(``CLIENT_REQUEST_REPLACED``) is not ``X``'s end. While the request is out, the
transaction stream's news of ``X`` waits for the answer, so the kernel sees
``OrderUpdated`` before a fill of the new order.

Outcomes, as ``OrderUpdated`` / ``OrderModifyRejected`` / ``OrderExpired`` of ``X``:

* 201: ``OrderUpdated`` with the new terms, then what the new order did at once
  (its fill; ``replacingOrderCancelTransaction``: ``OrderExpired``);
* 400 (a reject transaction: the new terms are refused) or 404 (no such pending
  order: it filled or ended meanwhile, which the stream reports):
  ``OrderModifyRejected`` with OANDA's errorCode; the order is as it was;
* unknown (timeout, 5xx, lost answer): ``X-rN`` is queried; found, it is the
  success; absent on every check, the replaced order is read (``chain.follow``):
  still PENDING and not replaced, the replace did not happen (it is atomic):
  ``OrderModifyRejected`` code ``NOT_REPLACED``; replaced late (CANCELLED with
  ``replacedByOrderID``), its replacement is adopted (``OrderUpdated``); unreadable,
  ``REPLACE_UNKNOWN`` and the order is left unresolved (``X-rN`` stays mapped to
  ``X``). A replace is never sent twice. A refused replace gives its id back.

Restart: a ``ModifyOrder`` is not journaled; recovering ``X`` reads the venue's own
replace chain (``GET /orders/@X``, then each ``replacedByOrderID``: ``chain``) and
``adopt_replacement`` makes its live end ``X`` (``OrderAccepted``, then
``OrderPendingUpdate`` + ``OrderUpdated`` with its terms, then its state); the
original is never resent.
"""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal
from typing import Any, Protocol

import msgspec
import structlog

from genesis.core.commands import Command, ModifyOrder, SubmitOrder
from genesis.core.enums import OrderType
from genesis.core.events import (
    OrderAccepted,
    OrderEvent,
    OrderModifyRejected,
    OrderPendingUpdate,
    OrderUpdated,
)
from genesis.errors import InvalidOrder, OrderRejectedByVenue, VenueError
from genesis.exchange.oanda.chain import ChainUnknown, follow
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda.rest import OandaClient
from genesis.exchange.oanda.tracked import Tracked as _Tracked


class OandaVenue(Protocol):
    """What a replace uses of ``venue.OandaVenue`` (which imports this module)."""

    client: OandaClient
    absent_checks: int
    absent_delay_s: float
    query_tries: int
    _orders: dict[str, _Tracked]
    _wire: dict[str, str]

    def ids(self, cmd: Command) -> dict[str, Any]: ...
    def body_of(self, cmd: SubmitOrder) -> dict[str, Any]: ...
    def _emit(self, event: OrderEvent) -> None: ...
    def _replay_early(self, t: _Tracked) -> None: ...
    async def _apply_state(self, t: _Tracked, order: dict[str, Any]) -> None: ...
    def _end(self, t: _Tracked, cancel: dict[str, Any]) -> None: ...
    def _deliver_fill(self, t: _Tracked, tx: dict[str, Any]) -> None: ...
    def _unresolved_order(self, t: _Tracked, reason: str) -> None: ...


__all__ = ["adopt_replacement", "local_id", "replace", "replacement_id"]

log = structlog.get_logger(__name__)

_SUFFIX = re.compile(r"^(.+)-r([0-9]+)$")
_TRIGGERED = (OrderType.STOP_MARKET, OrderType.MARKET_IF_TOUCHED)


def replacement_id(client_order_id: str, n: int) -> str:
    """The client extension id of the ``n``-th replacement of ``client_order_id``."""
    return f"{client_order_id}-r{n}"


def local_id(wire_id: str) -> str:
    """The kernel's client id of a venue client id: ``X-rN`` -> ``X``, else itself.
    (The kernel's own ids end in a sequence number, never in ``-rN``.)"""
    match = _SUFFIX.match(wire_id)
    return match.group(1) if match else wire_id


async def replace(venue: OandaVenue, cmd: ModifyOrder) -> None:
    """Carry one ``ModifyOrder`` to OANDA and emit what became of it."""
    t = venue._orders.get(cmd.client_order_id)
    refusal = _refusal(t, cmd)
    if t is None or refusal:
        _reject(venue, cmd, refusal or "unknown or finished order", "LOCAL")
        return
    after = _terms(t.cmd, cmd.quantity, cmd.price, cmd.trigger_price)
    new_cid = replacement_id(cmd.client_order_id, t.replaces + 1)
    wire = msgspec.structs.replace(after, client_order_id=new_cid, quantity=cmd.quantity - t.filled)
    try:
        body = venue.body_of(wire)
    except InvalidOrder as exc:
        _reject(venue, cmd, f"INVALID_ORDER: {exc}", "INVALID_ORDER")
        return
    old_wire = t.wire or t.cmd.client_order_id
    t.replaces += 1
    t.replacing, t.settled = True, asyncio.Event()
    venue._wire[new_cid] = cmd.client_order_id
    try:
        answer = await venue.client.replace_order(f"@{old_wire}", body)
    except (OrderRejectedByVenue, OandaNotFound) as exc:
        venue._wire.pop(new_cid, None)
        t.replaces -= 1  # refused, so never created: the next replace takes its id
        _reject(venue, cmd, f"REPLACE_REJECTED: {exc}", str(getattr(exc, "code", "REJECTED")))
    except VenueError as exc:  # OrderStatusUnknown among them: the new id says
        log.warning("oanda_replace_outcome_unknown", client_order_id=cmd.client_order_id,
                    error=type(exc).__name__)  # fmt: skip
        await _resolve(venue, t, cmd, after, new_cid, old_wire)
    else:
        created = answer.get("orderCreateTransaction") or {}
        _updated(venue, t, after, new_cid, str(created.get("id", "")))
        if answer.get("orderFillTransaction") is not None:
            venue._deliver_fill(t, answer["orderFillTransaction"])
        if answer.get("replacingOrderCancelTransaction") is not None and not t.done:
            venue._end(t, answer["replacingOrderCancelTransaction"])
    finally:
        t.replacing = False
        t.settled.set()
        venue._replay_early(t)


async def adopt_replacement(venue: OandaVenue, t: _Tracked, latest: dict[str, Any]) -> bool:
    """After a restart: ``latest``, the live end of ``t``'s replace chain (read from the
    venue by ``chain.follow``), becomes ``t`` (see the module docstring); False when the
    order is unreadable."""
    cid = t.cmd.client_order_id
    try:
        units = abs(Decimal(str(latest["units"])))
        price = Decimal(str(latest["price"])) if latest.get("price") is not None else None
    except (KeyError, ArithmeticError) as exc:
        log.warning("oanda_replacement_unreadable", client_order_id=cid, error=repr(exc))
        return False
    wire = str((latest.get("clientExtensions") or {}).get("id", ""))
    match = _SUFFIX.match(wire)
    if match and match.group(1) == cid:
        t.replaces = int(match.group(2))
    if wire:
        venue._wire[wire] = cid
    trigger = price if t.cmd.order_type in _TRIGGERED else None
    after = _terms(t.cmd, t.filled + units, None if trigger else price, trigger)
    t.wire, t.venue_order_id = wire, str(latest["id"])
    ids = venue.ids(t.cmd)
    venue._emit(OrderAccepted(**ids, venue_order_id=t.venue_order_id))
    venue._emit(OrderPendingUpdate(**ids))
    t.cmd = after
    venue._emit(OrderUpdated(**ids, quantity=after.quantity, price=after.price,
                             trigger_price=after.trigger_price))  # fmt: skip
    log.warning("oanda_replacement_adopted", client_order_id=cid, venue_client_id=wire,
                venue_order_id=t.venue_order_id)  # fmt: skip
    await venue._apply_state(t, latest)
    return True


def _terms(
    cmd: SubmitOrder, quantity: Decimal, price: Decimal | None, trigger: Decimal | None
) -> SubmitOrder:
    return msgspec.structs.replace(
        cmd, quantity=quantity, price=price if price is not None else cmd.price,
        trigger_price=trigger if trigger is not None else cmd.trigger_price,
    )  # fmt: skip


def _refusal(t: _Tracked | None, cmd: ModifyOrder) -> str:
    if t is None or t.done:
        return "unknown or finished order"
    if not t.venue_order_id:
        return "the order's placement is not confirmed yet; modify once it is accepted"
    if t.replacing:
        return "a replace of this order is already in flight"
    if t.cmd.order_type is OrderType.MARKET:
        return "a market order cannot be replaced"
    if cmd.quantity <= t.filled:
        return f"quantity {cmd.quantity} is not above the filled quantity {t.filled}"
    return ""


def _updated(
    venue: OandaVenue, t: _Tracked, after: SubmitOrder, new_cid: str, venue_order_id: str
) -> None:
    t.cmd, t.wire = after, new_cid
    if venue_order_id:
        t.venue_order_id = venue_order_id
    venue._emit(OrderUpdated(**venue.ids(after), quantity=after.quantity, price=after.price,
                             trigger_price=after.trigger_price))  # fmt: skip


async def _resolve(
    venue: OandaVenue, t: _Tracked, cmd: ModifyOrder, after: SubmitOrder, new_cid: str,
    old_wire: str,
) -> None:  # fmt: skip
    """An unknown outcome: the replacement's own query says whether it stands; absent,
    the replaced order's chain must agree (OANDA may apply a PUT late): still PENDING and
    not replaced -> NOT_REPLACED; replaced -> its replacement is adopted; unreadable ->
    the order is left unresolved (``OandaVenue.unresolved``), never guessed."""
    for attempt in range(venue.absent_checks):
        await asyncio.sleep(venue.absent_delay_s * (attempt + 1))
        try:
            order = await venue.client.order(f"@{new_cid}")
        except OandaNotFound:
            continue
        except VenueError as exc:
            log.warning("oanda_replace_resolve_failed", error=type(exc).__name__)
            continue
        _updated(venue, t, after, new_cid, str(order.get("id", "")))
        await venue._apply_state(t, order)
        return
    old = t.venue_order_id or f"@{old_wire}"
    try:
        chain = await follow(venue.client, old, tries=venue.query_tries,
                             delay_s=venue.absent_delay_s)  # fmt: skip
    except ChainUnknown as exc:
        _reject(venue, cmd, f"the replace's outcome is unknown: {exc}", "REPLACE_UNKNOWN")
        venue._unresolved_order(t, f"replace to {new_cid}: {exc}")  # new_cid stays mapped
        return
    if chain is not None and len(chain) > 1:  # applied late: the live end is the order now
        latest = chain[-1]
        wire = str((latest.get("clientExtensions") or {}).get("id", "")) or new_cid
        venue._wire[wire] = cmd.client_order_id
        log.warning("oanda_replace_found_late", client_order_id=cmd.client_order_id,
                    venue_client_id=wire, venue_order_id=latest.get("id"))  # fmt: skip
        _updated(venue, t, after, wire, str(latest.get("id", "")))
        await venue._apply_state(t, latest)
        return
    venue._wire.pop(new_cid, None)
    t.replaces -= 1  # never placed: the next replace may take its id
    _reject(venue, cmd, "the replace's answer was lost and no replacement is on the venue",
            "NOT_REPLACED")  # fmt: skip


def _reject(venue: OandaVenue, cmd: ModifyOrder, reason: str, code: str) -> None:
    now = time.time_ns()
    venue._emit(OrderModifyRejected(
        reason=reason, code=code, client_order_id=cmd.client_order_id,
        strategy_id=cmd.strategy_id, instrument_id=cmd.instrument_id, ts_event=now, ts_init=now,
    ))  # fmt: skip
