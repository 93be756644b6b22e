"""The order state machine: table edges, fill checks, settling after refused requests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderPendingCancel,
    OrderSubmitted,
)
from genesis.core.orders import TRANSITIONS, Order, transition_diagram
from genesis.errors import IllegalTransition

IDS = {"client_order_id": "s-1-1", "strategy_id": "s", "instrument_id": "BTCUSDT"}


def _accepted(qty: str = "0.00300") -> Order:
    order = Order(
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal(qty),
        price=Decimal("46319.00"),
        ts_init=1,
        **IDS,
    )
    order.apply(OrderSubmitted(ts_event=2, ts_init=2, **IDS))
    order.apply(OrderAccepted(ts_event=3, ts_init=3, venue_order_id="V7", **IDS))
    return order


def _fill(trade_id: str, qty: str, px: str = "46319.00") -> OrderFilled:
    return OrderFilled(
        ts_event=4,
        ts_init=4,
        venue="SIM",
        trade_id=trade_id,
        side=Side.BUY,
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        fee=Decimal("0.01"),
        fee_currency="USDT",
        liquidity=LiquiditySide.MAKER,
        **IDS,
    )


def test_partial_then_full_fill_updates_quantities_and_average() -> None:
    """Two fills move PARTIALLY_FILLED → FILLED with an exact volume-weighted average."""
    order = _accepted()
    order.apply(_fill("T1", "0.00100", "46319.00"))
    order.apply(_fill("T2", "0.00200", "46377.00"))
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal("0.00300")
    assert order.avg_px == (Decimal("46.31900") + Decimal("92.75400")) / Decimal("0.00300")
    assert order.fees == (("USDT", Decimal("0.02")),)


def test_duplicate_trade_id_is_refused() -> None:
    """The same trade id twice is an illegal event, not a second fill."""
    order = _accepted()
    order.apply(_fill("T1", "0.00100"))
    with pytest.raises(IllegalTransition, match="duplicate trade id T1"):
        order.apply(_fill("T1", "0.00100"))
    assert order.filled_qty == Decimal("0.00100")


def test_overfill_is_refused_with_the_quantities() -> None:
    """A fill above the leaves quantity names both numbers."""
    order = _accepted("0.00100")
    with pytest.raises(IllegalTransition, match="0.00200 exceeds leaves quantity 0.00100"):
        order.apply(_fill("T1", "0.00200"))


def test_cancel_rejected_returns_to_partially_filled() -> None:
    """A refused cancel settles by fills: PARTIALLY_FILLED when something filled."""
    order = _accepted()
    order.apply(_fill("T1", "0.00100"))
    order.apply(OrderPendingCancel(ts_event=5, ts_init=5, **IDS))
    order.apply(OrderCancelRejected(ts_event=6, ts_init=6, reason="too late", **IDS))
    assert order.status is OrderStatus.PARTIALLY_FILLED


def test_event_after_terminal_state_raises() -> None:
    """A cancelled order accepts nothing more."""
    order = _accepted()
    order.apply(OrderCanceled(ts_event=5, ts_init=5, **IDS))
    with pytest.raises(IllegalTransition, match="OrderFilled is illegal in state CANCELED"):
        order.apply(_fill("T1", "0.00100"))


def test_diagram_lists_every_edge() -> None:
    """The generated Mermaid diagram has one line per table edge."""
    assert len(transition_diagram().splitlines()) == len(TRANSITIONS) + 1
