"""Regressions from the review: partial entries get exits, OCO lists lock once in risk."""

from __future__ import annotations

from decimal import Decimal as D

from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side
from genesis.core.events import Bar, OrderAccepted, OrderExpired, OrderFilled
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel, real_bars

BARS = real_bars(0, 3)


class _Entry(Strategy[StrategyParams]):
    """On its first bar buys 0.01 BTC at market with a stop 1% below and a target 2% above."""

    def on_bar(self, bar: Bar) -> None:
        if not hasattr(self, "entry"):
            self.entry = self.ctx.orders.market(
                bar.instrument_id, Side.BUY, "0.01",
                stop_loss=bar.close * D("0.99"), take_profit=bar.close * D("1.02"),
            )  # fmt: skip
            self.ctx.submit(self.entry)


def _ids(order_id: str, ts: int) -> dict[str, object]:
    return {
        "ts_event": ts,
        "ts_init": ts,
        "client_order_id": order_id,
        "strategy_id": "s1",
        "instrument_id": "BTCUSDT",
    }


def test_partly_filled_entry_that_expires_is_protected_for_what_filled() -> None:
    """0.004 of 0.01 fills, the rest expires: a stop and a target for 0.004 are sent."""
    kernel = make_kernel(balances={"USDT": D(100_000)}, start_ns=0)
    strategy = kernel.add_strategy(_Entry, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    (entry,) = kernel.handle(BARS[0])
    ts = BARS[1].ts_open
    kernel.handle(OrderAccepted(venue_order_id="V1", **_ids(entry.client_order_id, ts)))  # type: ignore[attr-defined,arg-type]
    kernel.handle(OrderFilled(
        venue="SIM", trade_id="T1", side=Side.BUY, last_qty=D("0.00400"), last_px=BARS[1].open,
        fee=D(0), fee_currency="USDT", liquidity=LiquiditySide.TAKER, **_ids(entry.client_order_id, ts),  # type: ignore[attr-defined,arg-type]
    ))  # fmt: skip

    exits = kernel.handle(OrderExpired(**_ids(entry.client_order_id, ts)))  # type: ignore[attr-defined,arg-type]

    assert strategy.entry.filled_qty == D("0.00400")
    assert [(c.order_type, c.side, c.quantity) for c in exits if isinstance(c, SubmitOrder)] == [
        (OrderType.STOP_MARKET, Side.SELL, D("0.00400")),
        (OrderType.LIMIT, Side.SELL, D("0.00400")),
    ]


def test_a_sell_beside_an_oco_exit_pair_counts_the_pair_once() -> None:
    """Holding 0.01 BTC under an OCO exit pair, a further sell of 0.005 has nothing free to sell."""
    kernel = make_kernel(balances={"USDT": D(100_000)}, start_ns=0)
    strategy = kernel.add_strategy(_Entry, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    (entry,) = kernel.handle(BARS[0])
    ts = BARS[1].ts_open
    kernel.handle(OrderAccepted(venue_order_id="V1", **_ids(entry.client_order_id, ts)))  # type: ignore[attr-defined,arg-type]
    exits = kernel.handle(OrderFilled(
        venue="SIM", trade_id="T1", side=Side.BUY, last_qty=D("0.01000"), last_px=BARS[1].open,
        fee=D(0), fee_currency="USDT", liquidity=LiquiditySide.TAKER, **_ids(entry.client_order_id, ts),  # type: ignore[attr-defined,arg-type]
    ))  # fmt: skip
    assert len(exits) == 2  # the pair shares one lock of the 0.01 held

    strategy.ctx.submit(strategy.ctx.orders.limit("BTCUSDT", Side.SELL, "0.005", BARS[1].close * 2))

    assert kernel.denied == 1
    assert kernel.risk.rejections["INSUFFICIENT_BALANCE"] == 1
