"""Hypothesis: modify requests racing real prints through the kernel and the simulated venue.

A strategy rests a 0.01 BTC buy at 39400.00 on the first of the real Binance BTCUSDT prints
of 2021-01-08 (tests/data); random modifies (prices and quantities around the prints),
cancels and stretches of prints follow, with 1 ms of venue latency so requests race fills.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import OrderStatus, Side
from genesis.core.events import TradeTick
from genesis.core.orders import Order
from genesis.data.loaders import read_trades
from genesis.errors import InvalidOrder
from genesis.kernel.driver import Driver
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel, make_venue

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
TRADES = list(read_trades(DATA / "binance-btcusdt-trades-2021-01-08.csv.gz", "BTCUSDT"))[:400]
PRICES = sorted({t.price for t in TRADES})


class _Rest(Strategy[StrategyParams]):
    """Rests one buy of 0.01 BTC at 39400.00 on the first print."""

    def on_start(self) -> None:
        self.order: Order | None = None

    def on_trade(self, trade: TradeTick) -> None:
        if self.order is None:
            self.order = self.ctx.orders.limit(trade.instrument_id, Side.BUY, "0.01", "39400")
            self.ctx.submit(self.order)


actions = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=30),  # prints before the request
        st.sampled_from(["price", "quantity", "both", "cancel"]),
        st.sampled_from([p - 2 for p in PRICES[:: max(1, len(PRICES) // 12)]]),
        st.sampled_from(["0.004", "0.01", "0.02", "0.05"]),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(actions)
def test_modifies_racing_fills_keep_kernel_and_venue_in_agreement(
    plan: list[tuple[int, str, Decimal, str]],
) -> None:
    """No illegal event, no stuck PENDING_UPDATE, and the venue works what the kernel thinks."""
    balances = {"USDT": D(100_000)}
    kernel = make_kernel(balances=balances, start_ns=TRADES[0].ts_init)
    strategy = kernel.add_strategy(_Rest, "s1", StrategyParams(), ["BTCUSDT"])
    venue = make_venue(balances=balances, latency_ns=1_000_000)
    driver = Driver(kernel, venue)
    assert isinstance(strategy, _Rest)
    at = 0
    for prints, kind, price, qty in plan:
        driver.run(TRADES[at : at + prints])
        at += prints
        order = strategy.order
        assert order is not None
        terms = {"price": price, "quantity": qty, "both": None}.get(kind)
        try:
            if kind == "cancel":
                driver.send(kernel.cancel_all("s1"))
            elif kind == "both":
                driver.send(kernel.modify(order.client_order_id, price=price, quantity=qty))
            else:
                driver.send(kernel.modify(order.client_order_id, **{kind: terms}))
        except InvalidOrder:
            pass  # a request the order cannot take now: refused at the door, nothing sent
    driver.run(TRADES[at : at + 40])  # every request answered
    order = strategy.order
    assert order is not None
    assert kernel.oms.statistics().illegal_events == 0
    assert order.status not in (OrderStatus.PENDING_UPDATE, OrderStatus.PENDING_CANCEL)
    assert kernel.portfolio.position_qty("BTCUSDT", "s1") == order.filled_qty
    assert (order.client_order_id in venue.open_order_ids()) == order.status.is_open
