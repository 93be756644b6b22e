"""The daily-loss monitor and the kill switch: new exposure blocked, exits allowed, reset only by hand."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.commands import EngageKillSwitch, ResetKillSwitch
from genesis.core.enums import Side
from genesis.core.events import DailyLossBaseline, KillSwitchChanged
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.risk.monitor import DailyLossMonitor, KillSwitch
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, RecordingLog, make_venue, real_bars
from genesis.testing.instruments import BTCUSDT, lookup

DAY = 86_400 * 1_000_000_000
T0 = 1_640_995_200 * 1_000_000_000  # 2022-01-01 00:00 UTC


def test_monitor_engages_past_the_limit_and_stays_engaged_until_reset() -> None:
    """A 5% limit: 4.9% loss does nothing, 5.1% engages; a new day does not clear it (P10)."""
    switch = KillSwitch(DailyLossMonitor(D("0.05"), D(1000)))
    assert [type(e) for e in switch.on_equity(T0, D(1000))] == [DailyLossBaseline]
    assert switch.on_equity(T0 + 1, D("951")) == []
    [engaged] = switch.on_equity(T0 + 2, D("949"))
    assert isinstance(engaged, KillSwitchChanged)
    assert (engaged.engaged, engaged.source) == (True, "daily_loss")
    assert switch.reason == "daily loss 5.1000% exceeds 5.00%"
    assert [type(e) for e in switch.on_equity(T0 + DAY, D("949"))] == [DailyLossBaseline]
    assert switch.on_equity(T0 + 3 * DAY + 1, D("900")) != []  # a new day's baseline only
    assert switch.reason == "daily loss 5.1000% exceeds 5.00%"


def test_reset_rebases_the_days_loss_on_the_equity_at_the_reset() -> None:
    """After a manual reset the same loss does not re-engage at once; a further 5% does."""
    switch = KillSwitch(DailyLossMonitor(D("0.05"), D(1000)))
    switch.on_equity(T0, D(1000))
    assert switch.on_equity(T0 + 1, D("940"))
    reset, baseline = switch.reset(T0 + 2, "checked", "reset-1", D("940"))
    assert isinstance(reset, KillSwitchChanged)
    assert not reset.engaged
    assert isinstance(baseline, DailyLossBaseline)
    assert baseline.day_start_equity == D("940")
    assert switch.on_equity(T0 + 2, D("940")) == []
    assert switch.on_equity(T0 + 3, D("892"))  # 5.1% below 940
    assert switch.reason is not None


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
    harness.send(harness.kernel.handle(EngageKillSwitch(ts_init=0, reason="test")))

    harness.run(bars[2:])

    sides = [f.side for f in harness.fills]
    assert sides == [Side.BUY, Side.SELL]
    assert harness.kernel.risk.rejections["KILL_SWITCH"] == 1


class _BuyAndHold(Strategy[StrategyParams]):
    """Buys 90% of its cash in BTC on the first bar, then asks to buy more on every bar."""

    def on_bar(self, bar) -> None:  # type: ignore[no-untyped-def]
        qty = "1.0" if self.ctx.portfolio.position_qty(bar.instrument_id) == 0 else "0.001"
        self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.BUY, qty))


def test_daily_loss_trips_in_a_backtest_in_event_time() -> None:
    """With a limit, the kernel checks the day's loss after every bar: the same switch as paper."""
    spec = SessionSpec(
        instruments=lookup, balances={"USDT": D(50_000)}, base_currency="USDT",
        daily_loss_limit=D("0.01"),
        strategies=[StrategySpec(cls=_BuyAndHold, strategy_id="s1", params=StrategyParams(),
                                 instruments=(BTCUSDT,))],
    )  # fmt: skip
    harness = Harness(build_kernel(spec, RecordingLog()), make_venue(balances={"USDT": D(50_000)}))
    bars = real_bars(0, 3000)
    notices = []
    for bar in bars:
        harness.step(bar)
        notices += harness.kernel.take_notices()
    engaged = [n for n in notices if isinstance(n, KillSwitchChanged)]
    assert engaged, "the month's first drawdown must trip a 1% daily loss limit"
    assert engaged[0].source == "daily_loss"
    assert engaged[0].reason.startswith("daily loss 1.")
    assert harness.kernel.risk.rejections["KILL_SWITCH"] > 0
    assert sum(isinstance(n, DailyLossBaseline) for n in notices) == 4  # Dec 31 .. Jan 3 UTC


def test_operator_kill_cancels_and_reset_clears() -> None:
    """EngageKillSwitch is answered with a KillSwitchChanged notice; ResetKillSwitch clears it."""
    harness = Harness.build(_BuyThenSell, StrategyParams(), cash=D(100_000))
    harness.run(real_bars(0, 1))
    harness.send(harness.kernel.handle(EngageKillSwitch(ts_init=0, reason="r", request_id="k1")))
    harness.send(harness.kernel.handle(ResetKillSwitch(ts_init=0, reason="ok", request_id="r1")))
    notices = harness.kernel.take_notices()
    assert [(n.engaged, n.request_id) for n in notices if isinstance(n, KillSwitchChanged)] == [
        (True, "k1"),
        (False, "r1"),
    ]
    assert harness.kernel.risk.kill_switch is None


@settings(max_examples=300, deadline=None)
@given(
    day_start=st.decimals(min_value=D("0.00000001"), max_value=D("1e12"), places=8),
    limit=st.decimals(min_value=D("0.0001"), max_value=D("0.9999"), places=4),
    below=st.decimals(min_value=D(0), max_value=D(1), places=12),
)
def test_no_equity_above_quiet_above_is_a_breach(day_start: D, limit: D, below: D) -> None:
    """The kernel skips the check above ``quiet_above``: no equity there is a breach."""
    monitor = DailyLossMonitor(limit, day_start)
    quiet = monitor.quiet_above()
    equity = quiet + (day_start - quiet) * below  # anywhere between the floor and the baseline
    if equity > quiet:
        assert monitor._breach(equity) is None
    assert monitor._breach(day_start * (1 - limit) - day_start * D("1e-8")) is not None


def test_quiet_above_is_a_billionth_of_the_baseline_above_the_limit() -> None:
    """5% of 1000: the limit's equity 950, raised by 1e-6; a baseline <= 0 is never breached."""
    assert DailyLossMonitor(D("0.05"), D(1000)).quiet_above() == D("950.000001")
    assert DailyLossMonitor(D("0.05"), D(0)).quiet_above() == D("-Infinity")
