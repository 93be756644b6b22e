"""OrderManager: registry of orders, event application, fill de-duplication, statistics.

Fill prices are real BTCUSDT perpetual 1-minute opens (23:02 UTC on
2021-12-31 opened at 46377.0).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from genesis.core.enums import OrderStatus, Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderCancelRejected, OrderSubmitted
from genesis.core.orders import Order
from genesis.errors import IllegalTransition
from genesis.execution.oms import OmsStats, OrderManager
from genesis.testing.builders import T0, fill, order

D = Decimal
OPEN_2302 = D("46377.0")


def _ids(cid: str = "s1-1", strategy_id: str = "s1") -> dict[str, Any]:
    return {
        "ts_event": T0,
        "ts_init": T0,
        "client_order_id": cid,
        "strategy_id": strategy_id,
        "instrument_id": "BTCUSDT",
    }


def _working(
    oms: OrderManager, cid: str = "s1-1", qty: str = "0.02", strategy_id: str = "s1"
) -> Order:
    """Register a buy and bring it to ACCEPTED."""
    o = order(Side.BUY, qty, client_order_id=cid, strategy_id=strategy_id)
    oms.register(o)
    oms.apply(OrderSubmitted(**_ids(cid, strategy_id)))
    oms.apply(OrderAccepted(venue_order_id="SIM-O1", **_ids(cid, strategy_id)))
    return o


def test_registering_the_same_id_twice_raises() -> None:
    """A second order with an existing client order id is refused with ValueError."""
    oms = OrderManager()
    oms.register(order(client_order_id="s1-1"))

    with pytest.raises(ValueError, match="s1-1"):
        oms.register(order(client_order_id="s1-1"))


def test_apply_moves_the_order_and_returns_it() -> None:
    """Submitted then accepted: the order is ACCEPTED with the venue's id."""
    oms = OrderManager()

    o = _working(oms)

    assert (o.status, o.venue_order_id) == (OrderStatus.ACCEPTED, "SIM-O1")


def test_event_for_an_unknown_order_is_dropped_and_counted() -> None:
    """An event naming no known order returns None and counts as unknown."""
    oms = OrderManager()

    result = oms.apply(OrderCanceled(**_ids("s1-404")))

    assert (result, oms.statistics().unknown_order_events) == (None, 1)


def test_duplicate_fill_is_ignored() -> None:
    """The same trade id from the same venue applied twice fills the order once."""
    oms = OrderManager()
    o = _working(oms)
    first = fill(Side.BUY, "0.01", OPEN_2302, trade_id="SIM-T9")
    oms.apply(first)

    again = oms.apply(first)

    assert (again, o.filled_qty, o.status) == (None, D("0.01"), OrderStatus.PARTIALLY_FILLED)
    assert (oms.statistics().fills, oms.statistics().duplicate_fills) == (1, 1)


def test_same_trade_id_at_another_venue_is_a_new_fill() -> None:
    """De-duplication is by (venue, instrument, trade id): T9 at two venues is two fills."""
    oms = OrderManager()
    a, b = _working(oms, "s1-1"), _working(oms, "s1-2")
    oms.apply(fill(Side.BUY, "0.02", OPEN_2302, trade_id="T9", venue="SIM", client_order_id="s1-1"))

    oms.apply(
        fill(Side.BUY, "0.02", OPEN_2302, trade_id="T9", venue="OTHER", client_order_id="s1-2")
    )

    assert (a.status, b.status) == (OrderStatus.FILLED, OrderStatus.FILLED)


def test_illegal_event_raises_counts_and_leaves_the_order_unchanged() -> None:
    """A fill on a cancelled order raises IllegalTransition; the order is unchanged."""
    oms = OrderManager()
    o = _working(oms)
    oms.apply(OrderCanceled(**_ids()))
    before = o.state()

    with pytest.raises(IllegalTransition):
        oms.apply(fill(Side.BUY, "0.01", OPEN_2302))

    assert (o.state(), oms.statistics().illegal_events) == (before, 1)


def test_refused_fill_is_not_remembered_as_applied() -> None:
    """An overfill is refused, so the same trade id still applies when it is correct."""
    oms = OrderManager()
    o = _working(oms, qty="0.01")
    with pytest.raises(IllegalTransition):
        oms.apply(fill(Side.BUY, "0.02", OPEN_2302, trade_id="T1"))

    oms.apply(fill(Side.BUY, "0.01", OPEN_2302, trade_id="T1"))

    assert o.status is OrderStatus.FILLED


def test_open_orders_exclude_new_and_finished_orders() -> None:
    """Only orders at the venue and not finished are open, oldest first."""
    oms = OrderManager()
    oms.register(order(client_order_id="s1-0"))  # NEW: not yet sent
    for cid in ("s1-1", "s1-2", "s1-3"):
        _working(oms, cid)
    oms.apply(OrderCanceled(**_ids("s1-2")))

    assert [o.client_order_id for o in oms.open_orders()] == ["s1-1", "s1-3"]


def test_open_orders_filter_by_strategy_and_instrument() -> None:
    """open_orders(strategy_id, instrument_id) returns that strategy's orders only."""
    oms = OrderManager()
    _working(oms, "a-1", strategy_id="a")
    _working(oms, "b-1", strategy_id="b")

    assert [o.client_order_id for o in oms.open_orders("b", "BTCUSDT")] == ["b-1"]
    assert oms.open_orders("b", "ETHUSDT") == []


def test_statistics_count_orders_and_fills() -> None:
    """Two orders, one filled by two executions: the statistics say so."""
    oms = OrderManager()
    _working(oms, "s1-1")
    _working(oms, "s1-2")
    oms.apply(fill(Side.BUY, "0.01", OPEN_2302, trade_id="T1"))
    oms.apply(fill(Side.BUY, "0.01", OPEN_2302, trade_id="T2"))

    assert oms.statistics() == OmsStats(
        orders=2,
        open_orders=1,
        fills=2,
        duplicate_fills=0,
        illegal_events=0,
        unknown_order_events=0,
        late_refusals=0,
    )


def test_iteration_yields_every_order_in_registration_order() -> None:
    """Iterating the OMS lists every order ever registered, oldest first."""
    oms = OrderManager()
    for cid in ("s1-1", "s1-2", "s1-3"):
        oms.register(order(client_order_id=cid))

    assert [o.client_order_id for o in oms] == ["s1-1", "s1-2", "s1-3"]


def test_cancel_refused_after_the_order_ended_is_not_illegal() -> None:
    """A cancel that lost the race with a fill is refused by the venue; nothing changes."""
    oms = OrderManager()
    order = _working(oms, "s1-1")
    oms.apply(fill(Side.BUY, "0.02", OPEN_2302, trade_id="T1"))
    refused = OrderCancelRejected(
        ts_event=9,
        ts_init=9,
        client_order_id=order.client_order_id,
        strategy_id=order.strategy_id,
        instrument_id=order.instrument_id,
        reason="unknown order",
    )

    assert oms.apply(refused) is None
    assert oms.statistics().late_refusals == 1
    assert oms.statistics().illegal_events == 0
