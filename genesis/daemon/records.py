"""The journal rows of the order flow: intents (with the whole command), orders, events,
fills, and the state of the orders the kernel emulates."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderStatus
from genesis.core.events import OrderEvent, OrderFilled
from genesis.core.orders import Order
from genesis.execution.emulation import EmulatedState
from genesis.storage.repository import (
    EmulatedStateRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
)

__all__ = [
    "INTENT",
    "emulated_from",
    "emulated_record",
    "event_record",
    "fill_record",
    "intent_detail",
    "intent_from",
    "intent_record",
    "order_record",
]

_ID_FIELDS = frozenset({"client_order_id", "ts_event", "ts_init"})


def intent_record(cmd: SubmitOrder, venue: str) -> OrderRecord:
    return OrderRecord(
        client_order_id=cmd.client_order_id, strategy_id=cmd.strategy_id, venue=venue,
        symbol=cmd.instrument_id, side=cmd.side, order_type=cmd.order_type,
        quantity=cmd.quantity, price=cmd.price, status=OrderStatus.SUBMITTED,
        filled_qty=Decimal(0), venue_order_id="", ts_init=cmd.ts_init, ts_last=cmd.ts_init,
    )  # fmt: skip


INTENT = "SubmitOrder"  # the order event row holding an intent's whole command


def intent_detail(cmd: SubmitOrder) -> OrderEventRecord:
    """The whole command, so a restart can rebuild the order exactly (``intent_from``)."""
    return OrderEventRecord(
        client_order_id=cmd.client_order_id, ts_ns=cmd.ts_init, kind=INTENT,
        detail_json=msgspec.json.encode(cmd).decode(),
    )  # fmt: skip


def intent_from(record: OrderEventRecord) -> SubmitOrder:
    """The command journaled by ``intent_detail``.

    Raises:
        msgspec.ValidationError / DecodeError: the row is not an intent.
    """
    return msgspec.json.decode(record.detail_json, type=SubmitOrder)


def order_record(order: Order, venue: str) -> OrderRecord:
    return OrderRecord(
        client_order_id=order.client_order_id, strategy_id=order.strategy_id, venue=venue,
        symbol=order.instrument_id, side=order.side, order_type=order.order_type,
        quantity=order.quantity, price=order.price, status=order.status,
        filled_qty=order.filled_qty, venue_order_id=order.venue_order_id,
        ts_init=order.ts_init, ts_last=order.ts_last,
    )  # fmt: skip


# event type -> its detail fields (every field but the ids), sorted: the detail's keys in
# the order ``msgspec.json.encode(..., order="sorted")`` wrote them, found once per type
_DETAIL_FIELDS: dict[type, tuple[str, ...]] = {}


def _detail_fields(kind: type) -> tuple[str, ...]:
    names = _DETAIL_FIELDS.get(kind)
    if names is None:
        fields = msgspec.structs.fields(kind)
        names = tuple(sorted(f.name for f in fields if f.name not in _ID_FIELDS))
        _DETAIL_FIELDS[kind] = names
    return names


def event_record(event: OrderEvent) -> OrderEventRecord:
    """The event as its journal row: every field but the ids as text, keys sorted
    (``json.loads`` reads it; the hash chain covers these exact bytes)."""
    kind = type(event)
    detail = {k: str(getattr(event, k)) for k in _detail_fields(kind)}
    return OrderEventRecord(
        client_order_id=event.client_order_id, ts_ns=event.ts_event, kind=kind.__name__,
        detail_json=msgspec.json.encode(detail).decode(),
    )  # fmt: skip


def fill_record(fill: OrderFilled) -> FillRecord:
    return FillRecord(
        venue=fill.venue, symbol=fill.instrument_id, trade_id=fill.trade_id,
        client_order_id=fill.client_order_id, venue_order_id=fill.venue_order_id,
        side=fill.side, price=fill.last_px, quantity=fill.last_qty, fee=fill.fee,
        fee_currency=fill.fee_currency, ts_ns=fill.ts_event,
    )  # fmt: skip


def emulated_record(state: EmulatedState, ts_ns: int) -> EmulatedStateRecord:
    """An emulated order's state as its journal row (upserted: the latest wins)."""
    return EmulatedStateRecord(
        client_order_id=state.client_order_id, watermark=state.watermark, trigger=state.trigger,
        triggered=state.triggered, slice_no=state.slice_no, slice_leaves=state.slice_leaves,
        ts_ns=ts_ns,
    )  # fmt: skip


def emulated_from(record: EmulatedStateRecord) -> EmulatedState:
    """The state ``emulated_record`` journaled, exactly (Decimals unchanged)."""
    return EmulatedState(
        client_order_id=record.client_order_id, watermark=record.watermark,
        trigger=record.trigger, triggered=record.triggered, slice_no=record.slice_no,
        slice_leaves=record.slice_leaves,
    )  # fmt: skip
