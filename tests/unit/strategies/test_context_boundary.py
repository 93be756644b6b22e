"""What a strategy's Python hands the kernel is taken as Python takes it, compiled or not.

The kernel may run compiled (``genesis native build``), where declared argument types are
enforced; the strategy-facing calls convert instead (numpy and float timestamps, truthy
flags, ``None`` for an optional text, a list of instruments).
"""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np

from genesis.core.enums import Side
from genesis.core.orders import Order
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel

BTC = "BTCUSDT"


class _Loose(Strategy[StrategyParams]):
    Params = StrategyParams

    def on_start(self) -> None:
        now = self.ctx.clock.now_ns()
        self.ctx.set_timer("float", float(now + 1_000_000_000))
        self.ctx.set_timer("numpy", np.int64(now + 2_000_000_000), np.int64(0))
        self.order: Order = self.ctx.orders.limit(
            BTC, Side.BUY, 0.001, 30_000.0, post_only=1, correlation_id=None, confidence=1
        )


def test_loose_python_values_reach_the_kernel_converted() -> None:
    kernel = make_kernel(balances={"USDT": D(100_000)})
    strategy = kernel.add_strategy(_Loose, "loose", StrategyParams(), [BTC])
    kernel.start()
    assert kernel.errors == []
    assert isinstance(strategy, _Loose)
    order = strategy.order
    assert (order.post_only, order.correlation_id) == (True, order.client_order_id)
    assert (order.quantity, order.price) == (D("0.00100"), D("30000.00"))
    assert kernel.clock.next_due_ns() == kernel.clock.now_ns() + 1_000_000_000
