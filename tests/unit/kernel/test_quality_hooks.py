"""The kernel feeds execution quality and edges from its order path (EX-6, PF-4)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from genesis.core.enums import Side
from genesis.core.events import Bar
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, real_bars
from genesis.testing.instruments import BTCUSDT

BARS = real_bars(0, 6)


class _BuyThenRestingSell(Strategy[StrategyParams]):
    """A market buy at the first close; at the second, a limit sell 14 above it, resting."""

    def on_bar(self, bar: Bar) -> None:
        if bar.ts_event == BARS[0].ts_event:
            self.ctx.submit(self.ctx.orders.market(BTCUSDT, Side.BUY, D("0.1"), confidence=1.0))
        elif bar.ts_event == BARS[1].ts_event:
            order = self.ctx.orders.limit(BTCUSDT, Side.SELL, D("0.1"), bar.close + 14)
            self.ctx.submit(order)


def test_kernel_feeds_latency_and_slippage_from_its_events() -> None:
    """The market buy has no acknowledgement; the resting sell is accepted on arrival and
    filled 40 s later where the bar's path reaches it, 14 above its decision price."""
    harness = Harness.build(_BuyThenRestingSell, StrategyParams(), taker_bps=D(10))

    harness.run(BARS)

    buy, sell = harness.kernel.quality.records()
    assert (buy.decision_price, buy.price) == (BARS[0].close, BARS[1].open)
    assert buy.latency_ns["submit_to_accept"] is None
    assert sell.decision_price == BARS[1].close
    assert sell.price == BARS[1].close + 14
    assert sell.latency_ns["submit_to_accept"] == 0
    assert sell.latency_ns["accept_to_fill"] == 40_000_000_000  # the high: 2/3 into the bar
    assert sell.slippage_decision_bps == pytest.approx(-14 / float(BARS[1].close) * 10_000)
    assert sell.slippage_cost == D("-1.4")  # a sell receiving more: a gain
    overall = harness.kernel.quality.summary()["overall"]
    assert (overall["fills"], overall["orders_finished"], overall["mean_fill_ratio"]) == (2, 2, 1.0)


def test_kernel_counts_each_closed_lot_in_the_edge_book() -> None:
    """The round trip's closed lot is one trade of the strategy, its gross return in bps."""
    harness = Harness.build(_BuyThenRestingSell, StrategyParams())

    harness.run(BARS)

    edge = harness.kernel.edges.of("s1", BTCUSDT)
    assert edge is not None
    assert edge.trades == 1
    assert edge.gross_pnl == D("4.8")  # (46425 - 46377) x 0.1
    assert edge.mean_return_bps == pytest.approx(48 / 46377 * 10_000)
