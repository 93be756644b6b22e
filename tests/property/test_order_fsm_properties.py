"""Hypothesis properties of the order state machine (STYLE R8, R25)."""

from __future__ import annotations

import pickle
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
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
from genesis.core.orders import TRANSITIONS, Order
from genesis.errors import IllegalTransition

IDS = {"client_order_id": "s-1-1", "strategy_id": "s", "instrument_id": "BTCUSDT"}
QTY = Decimal("0.00300")  # a real-sized BTCUSDT order: three 0.001 lots


def _order() -> Order:
    return Order(
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=QTY,
        price=Decimal("46319.00"),
        ts_init=1,
        **IDS,
    )


def _fill(n: int, qty: str) -> OrderFilled:
    return OrderFilled(
        ts_event=n,
        ts_init=n,
        venue="SIM",
        trade_id=f"T{n % 7}",
        side=Side.BUY,
        last_qty=Decimal(qty),
        last_px=Decimal("46319.00"),
        fee=Decimal("0.046319"),
        fee_currency="USDT",
        liquidity=LiquiditySide.MAKER,
        **IDS,
    )


def _event(kind: int, n: int):  # type: ignore[no-untyped-def]
    simple = [
        OrderSubmitted,
        OrderTriggered,
        OrderPendingCancel,
        OrderPendingUpdate,
        OrderCanceled,
        OrderExpired,
    ]
    if kind < len(simple):
        return simple[kind](ts_event=n, ts_init=n, **IDS)
    kind -= len(simple)
    others = [
        lambda: OrderAccepted(ts_event=n, ts_init=n, venue_order_id="V1", **IDS),
        lambda: OrderRejected(ts_event=n, ts_init=n, reason="r", **IDS),
        lambda: OrderDenied(ts_event=n, ts_init=n, code="C", reason="r", **IDS),
        lambda: OrderCancelRejected(ts_event=n, ts_init=n, reason="r", **IDS),
        lambda: OrderModifyRejected(ts_event=n, ts_init=n, reason="r", **IDS),
        lambda: OrderUpdated(ts_event=n, ts_init=n, quantity=Decimal("0.00200"), **IDS),
        lambda: _fill(n, "0.00100"),
        lambda: _fill(n, "0.00200"),
        lambda: _fill(n, "0.00400"),  # more than the order: always refused
    ]
    return others[kind % len(others)]()


events = st.lists(st.integers(min_value=0, max_value=14), max_size=40)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(events)
def test_random_sequences_never_reach_an_illegal_state(kinds: list[int]) -> None:
    """Whatever events arrive, the order only moves along table edges and never overfills."""
    order = _order()
    reachable = {OrderStatus.NEW} | set(TRANSITIONS.values()) | {OrderStatus.FILLED}
    for n, kind in enumerate(kinds, start=2):
        before = order.status
        try:
            order.apply(_event(kind, n))
        except IllegalTransition:
            continue
        assert order.status in reachable
        assert (before, type(_event(kind, n))) in TRANSITIONS
        assert Decimal(0) <= order.filled_qty <= order.quantity
        assert (order.status is OrderStatus.FILLED) == (order.filled_qty == order.quantity > 0)
        assert not before.is_terminal


@settings(max_examples=400, deadline=None, derandomize=True)
@given(events)
def test_refused_event_leaves_order_byte_identical(kinds: list[int]) -> None:
    """An event the machine refuses changes nothing, byte for byte."""
    order = _order()
    for n, kind in enumerate(kinds, start=2):
        snapshot = pickle.dumps(order.state())
        try:
            order.apply(_event(kind, n))
        except IllegalTransition:
            assert pickle.dumps(order.state()) == snapshot


@settings(max_examples=200, deadline=None, derandomize=True)
@given(events)
def test_terminal_states_absorb_nothing(kinds: list[int]) -> None:
    """Once terminal, every further event is refused."""
    order = _order()
    for n, kind in enumerate(kinds, start=2):
        if order.status.is_terminal:
            try:
                order.apply(_event(kind, n))
            except IllegalTransition:
                continue
            raise AssertionError(f"terminal {order.status} accepted an event")
        try:
            order.apply(_event(kind, n))
        except IllegalTransition:
            pass
