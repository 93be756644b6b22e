"""Modify (EX-2) through the kernel and the simulated venue, on real Binance BTCUSDT trades.

The trades are the 2,001 Binance spot BTCUSDT prints of 2021-01-08 00:00 UTC in
tests/data: the first is 39432.48; the price never goes below 39430.30 and rises to
39550.00 around print 1500.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis.core.commands import ModifyOrder
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import (
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderUpdated,
    TradeTick,
)
from genesis.core.orders import Order
from genesis.data.loaders import read_trades
from genesis.errors import InvalidOrder
from genesis.kernel.driver import Driver
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel, make_venue

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
TRADES = list(read_trades(DATA / "binance-btcusdt-trades-2021-01-08.csv.gz", "BTCUSDT"))


class _Resting(Strategy[StrategyParams]):
    """Rests one buy limit of 0.01 BTC at ``limit`` on the first print; records its events;
    applies ``todo`` (modify terms) through its context on the next print."""

    limit = "39400"

    def on_start(self) -> None:
        self.order: Order | None = None
        self.events: list[OrderEvent] = []
        self.todo: dict[str, Any] | None = None

    def on_trade(self, trade: TradeTick) -> None:
        if self.order is None:
            self.order = self.ctx.orders.limit(trade.instrument_id, Side.BUY, "0.01", self.limit)
            self.ctx.submit(self.order)
        elif self.todo is not None:
            todo, self.todo = self.todo, None
            self.ctx.modify(self.order, **todo)

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_fill(self, fill: OrderFilled) -> None:
        self.events.append(fill)


class _Near(_Resting):
    """Rests its buy at 39431.00, which print 11 (39430.63, 395 ms in) reaches."""

    limit = "39431"


def _session(
    cash: str = "100000", latency_ns: int = 0, cls: type[_Resting] = _Resting
) -> tuple[Driver, _Resting]:
    balances = {"USDT": D(cash)}
    kernel = make_kernel(balances=balances, start_ns=TRADES[0].ts_init)
    strategy = kernel.add_strategy(cls, "s1", StrategyParams(), ["BTCUSDT"])
    driver = Driver(kernel, make_venue(balances=balances, latency_ns=latency_ns))
    driver.run(TRADES[:2])
    assert isinstance(strategy, _Resting)
    assert strategy.order is not None
    return driver, strategy


def _order(strategy: _Resting) -> Order:
    assert strategy.order is not None
    return strategy.order


def test_a_price_modify_is_amended_and_fills_at_the_new_price() -> None:
    """Moving a resting buy up to 39432.00 amends it; the next print at or below fills it there."""
    driver, strategy = _session()
    commands = driver.kernel.modify(_order(strategy).client_order_id, price="39432")
    driver.send(commands)
    driver.run(TRADES[2:200])
    order = _order(strategy)
    updated = [e for e in strategy.events if isinstance(e, OrderUpdated)]
    fills = [e for e in strategy.events if isinstance(e, OrderFilled)]
    first_reach = next(t for t in TRADES[2:200] if t.price <= D("39432"))
    assert [type(c) for c in commands] == [ModifyOrder]
    assert (updated[0].price, order.price, order.status) == (
        D("39432.00"),
        D("39432.00"),
        OrderStatus.FILLED,
    )
    assert (fills[0].last_px, fills[0].ts_event) == (D("39432.00"), first_reach.ts_init)


def test_a_quantity_cut_keeps_the_price() -> None:
    """A smaller total quantity is amended in place; the price stays 39400.00."""
    driver, strategy = _session()
    driver.send(driver.kernel.modify(_order(strategy).client_order_id, quantity="0.004"))
    order = _order(strategy)
    assert (order.quantity, order.price, order.status) == (
        D("0.004"),
        D("39400.00"),
        OrderStatus.ACCEPTED,
    )


def test_a_modify_that_grows_beyond_the_cash_is_refused_by_risk() -> None:
    """With 1,000 USDT, growing 0.01 BTC to 0.1 BTC at 39400 (3,940 USDT) is INSUFFICIENT_CASH."""
    driver, strategy = _session(cash="1000")
    commands = driver.kernel.modify(_order(strategy).client_order_id, quantity="0.1")
    order = _order(strategy)
    refused = [e for e in strategy.events if isinstance(e, OrderModifyRejected)]
    assert list(commands) == []
    assert (refused[0].code, order.quantity, order.status) == (
        "INSUFFICIENT_CASH", D("0.01"), OrderStatus.ACCEPTED,
    )  # fmt: skip


def test_the_strategy_modifies_through_its_context() -> None:
    """ctx.modify takes loose Python values: a float price becomes 39410.00 on the tick."""
    driver, strategy = _session()
    strategy.todo = {"price": 39410.004}
    driver.run(TRADES[2:3])
    assert (_order(strategy).price, strategy.events[-1]) == (D("39410.00"), strategy.events[-1])
    assert isinstance(strategy.events[-1], OrderUpdated)


def test_the_context_refuses_another_strategys_order() -> None:
    """ctx.modify of something that is not one of its orders is an InvalidOrder."""
    _, strategy = _session()
    with pytest.raises(InvalidOrder, match="one of this strategy's orders"):
        strategy.ctx.modify("s1-1", price="1")


@pytest.mark.parametrize(
    ("terms", "fragment"),
    [
        ({"price": "39400"}, "changes nothing"),
        ({"quantity": "0"}, "must exceed the filled quantity 0"),
        ({"price": "abc"}, "price"),
        ({"trigger_price": "39000"}, "has no trigger price"),
    ],
)
def test_bad_modify_terms_are_invalid_order_and_change_nothing(
    terms: dict[str, Any], fragment: str
) -> None:
    """Each bad modify raises InvalidOrder naming the problem; the order is untouched."""
    driver, strategy = _session()
    before = _order(strategy).state()
    with pytest.raises(InvalidOrder, match=fragment):
        driver.kernel.modify(_order(strategy).client_order_id, **terms)
    assert _order(strategy).state() == before


def test_modify_of_an_unknown_order_is_invalid() -> None:
    """A client order id the kernel never saw is an InvalidOrder, not a crash."""
    driver, _ = _session()
    with pytest.raises(InvalidOrder, match="no such order"):
        driver.kernel.modify("nope-1", price="1")


def test_a_second_modify_while_one_is_in_flight_is_invalid() -> None:
    """With 1 ms of latency the first modify is PENDING_UPDATE: a second is refused."""
    driver, strategy = _session(latency_ns=1_000_000)
    driver.run(TRADES[2:40])  # the order is acknowledged by now
    driver.send(driver.kernel.modify(_order(strategy).client_order_id, price="39401"))
    with pytest.raises(InvalidOrder, match="status PENDING_UPDATE"):
        driver.kernel.modify(_order(strategy).client_order_id, price="39402")


def test_a_modify_racing_a_fill_leaves_the_fill_and_a_late_refusal() -> None:
    """With 100 ms of latency, a modify sent at 332 ms arrives after print 11 (395 ms) filled the
    buy at 39431.00: the order is FILLED at its old price and the venue's refusal is late."""
    driver, strategy = _session(latency_ns=100_000_000, cls=_Near)
    driver.run(TRADES[2:8])
    driver.send(driver.kernel.modify(_order(strategy).client_order_id, price="39420"))
    driver.run(TRADES[8:40])
    order = _order(strategy)
    assert (order.status, order.avg_px, order.price) == (
        OrderStatus.FILLED,
        D("39431.00"),
        D("39431.00"),
    )
    assert driver.kernel.oms.statistics().late_refusals == 1


def test_a_cancel_sent_behind_a_modify_ends_the_order_cleanly() -> None:
    """Modify then cancel within the venue's 1 ms: the modify's answer lands in PENDING_CANCEL
    (no illegal event), and the cancel ends the order."""
    driver, strategy = _session(latency_ns=1_000_000)
    driver.run(TRADES[2:40])
    cid = _order(strategy).client_order_id
    driver.send(driver.kernel.modify(cid, price="39401"))
    driver.send(driver.kernel.cancel_all("s1"))
    driver.run(TRADES[40:80])
    order = _order(strategy)
    assert (order.status, order.price) == (OrderStatus.CANCELED, D("39401.00"))
    assert driver.kernel.oms.statistics().illegal_events == 0
