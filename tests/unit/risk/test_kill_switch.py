"""The daily-loss monitor and the kill switch: new exposure blocked, exits allowed, reset only by hand."""

from __future__ import annotations

from decimal import Decimal as D

from genesis.core.enums import Side
from genesis.risk.engine import RiskEngine
from genesis.risk.monitor import DailyLossMonitor
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, real_bars

DAY = 86_400 * 1_000_000_000
T0 = 1_640_995_200 * 1_000_000_000  # 2022-01-01 00:00 UTC


def test_monitor_engages_past_the_limit_and_stays_engaged_until_reset() -> None:
    """A 5% limit: 4.9% loss does nothing, 5.1% engages; a new day does not clear it (P10)."""
    risk = RiskEngine()
    monitor = DailyLossMonitor(risk, D("0.05"), D(1000))
    assert monitor.update(T0, D(1000)) is None
    assert monitor.update(T0 + 1, D("951")) is None
    assert monitor.update(T0 + 2, D("949")) == "engaged"
    assert risk.kill_switch == "daily loss 5.1000% exceeds 5.00%"
    assert monitor.update(T0 + DAY, D("949")) is None
    assert monitor.update(T0 + 3 * DAY, D("900")) is None
    assert risk.kill_switch == "daily loss 5.1000% exceeds 5.00%"


def test_reset_rebases_the_days_loss_on_the_equity_at_the_reset() -> None:
    """After a manual reset the same loss does not re-engage at once; a further 5% does."""
    risk = RiskEngine()
    monitor = DailyLossMonitor(risk, D("0.05"), D(1000))
    monitor.update(T0, D(1000))
    assert monitor.update(T0 + 1, D("940")) == "engaged"
    risk.reset_kill_switch()
    monitor.rebase(D("940"))
    assert monitor.update(T0 + 2, D("940")) is None
    assert monitor.update(T0 + 3, D("892")) == "engaged"  # 5.1% below 940


class _BuyThenSell(Strategy[StrategyParams]):
    """Buys 0.01 BTC on the first bar and sells it on the third."""

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar) -> None:  # type: ignore[no-untyped-def]
        self.n += 1
        if self.n == 1:
            self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.01"))
        elif self.n == 3:
            self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.SELL, "0.01"))
        elif self.n == 4:
            self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.01"))


def test_kill_switch_blocks_entries_but_lets_exits_through() -> None:
    """Engaged after the entry filled: the closing sell passes, the next buy is denied KILL_SWITCH."""
    harness = Harness.build(_BuyThenSell, StrategyParams(), cash=D(100_000))
    bars = real_bars(0, 5)
    harness.run(bars[:2])
    harness.kernel.risk.engage_kill_switch("test")

    harness.run(bars[2:])

    sides = [f.side for f in harness.fills]
    assert sides == [Side.BUY, Side.SELL]
    assert harness.kernel.risk.rejections["KILL_SWITCH"] == 1
