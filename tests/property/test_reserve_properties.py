"""The reserve index answers exactly what a walk over the open orders answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderPendingCancel,
    OrderSubmitted,
    OrderUpdated,
)
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO
from genesis.core.orders import Order
from genesis.execution.oms import OrderManager
from genesis.kernel.reserve import ReserveIndex
from genesis.kernel.support import event_ids
from genesis.testing.builders import fill, order
from genesis.testing.instruments import lookup

FEE = Decimal("0.001")
MARKET = {"BTCUSDT": Decimal("46319.00"), "ETHBTC": Decimal("0.07321")}


def _walk(
    open_orders: list[Order], inst: Instrument, exclude: str, groups: dict[str, str]
) -> tuple[Decimal, Decimal]:
    """The definition: what pre-trade computed by walking every open order."""
    quote = base = ZERO
    legs: dict[str, Decimal] = {}
    own = groups.get(exclude)
    for o in open_orders:
        if o.client_order_id == exclude or o.status is OrderStatus.PENDING_CANCEL:
            continue
        if own is not None and groups.get(o.client_order_id) == own:
            continue
        o_inst = lookup(o.instrument_id)
        if o.side is Side.BUY and o_inst.quote == inst.quote:
            price = o.price or o.trigger_price or MARKET[o.instrument_id]
            quote += o.leaves_qty * price * (1 + FEE)
        elif o.side is Side.SELL and o_inst.base == inst.base:
            group = groups.get(o.client_order_id)
            if group is None:
                base += o.leaves_qty
            else:
                legs[group] = max(legs.get(group, ZERO), o.leaves_qty)
    return quote, base + sum(legs.values(), ZERO)


_ORDER = st.tuples(
    st.sampled_from(["BTCUSDT", "ETHBTC"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["0.001", "0.01", "0.5"]),
    st.sampled_from([None, "1000.00", "0.05000"]),  # None: a market order
    st.sampled_from(["", "", "g1", "g2"]),  # OCO group
)
_STEP = st.tuples(
    st.sampled_from(["accept", "fill", "pending_cancel", "cancel", "update"]),
    st.integers(0, 30),
)


def _event(kind: str, o: Order, n: int) -> Any:
    ids = event_ids(o, 1)
    if kind == "accept":
        return OrderAccepted(**ids, venue_order_id=f"v{n}")
    if kind == "fill":
        qty = min(o.leaves_qty, Decimal("0.001"))
        px = o.price or MARKET[o.instrument_id]
        return fill(o.side, qty, px, trade_id=f"t{n}", client_order_id=o.client_order_id,
                    instrument_id=o.instrument_id)  # fmt: skip
    if kind == "pending_cancel":
        return OrderPendingCancel(**ids)
    if kind == "cancel":
        return OrderCanceled(**ids)
    return OrderUpdated(**ids, quantity=o.quantity + Decimal("0.001"), price=o.price)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ORDER, min_size=1, max_size=25), st.lists(_STEP, max_size=80))
def test_index_equals_the_walk_after_any_lifecycle(
    orders: list[tuple[str, Side, str, str | None, str]], steps: list[tuple[str, int]]
) -> None:
    """Whatever orders open, fill, update and end, every question gets the walk's answer."""
    oms, groups = OrderManager(), {}
    index = ReserveIndex(
        instruments=lookup, market_price=MARKET.get, fee_rate=FEE, per_venue=False,
        reduce_only=set(), oco_group=groups,
    )  # fmt: skip
    oms.listener = index.update
    made = []
    for n, (iid, side, qty, price, group) in enumerate(orders):
        kind = OrderType.MARKET if price is None else OrderType.LIMIT
        o = order(side, qty, kind, client_order_id=f"o{n}", price=price, instrument_id=iid)
        if group:
            groups[o.client_order_id] = group
        oms.register(o)
        o.apply(OrderSubmitted(**event_ids(o, 1)))
        made.append(o)
    for n, (kind, pick) in enumerate(steps):
        target = made[pick % len(made)]
        try:
            oms.apply(_event(kind, target, n))
        except Exception:  # an illegal edge for its state: refused, nothing changed
            continue

    for o in made:
        for symbol in ("BTCUSDT", "ETHBTC"):
            inst = lookup(symbol)
            expected = _walk(oms.open_orders(), inst, o.client_order_id, groups)
            assert index.reserved(inst, o.client_order_id, None) == expected
