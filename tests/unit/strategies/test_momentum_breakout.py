"""momentum_breakout on the whole bundled month of real BTCUSDT 1-minute bars.

Data: genesis/resources/btcusdt-perp-1m-2022-01.csv.gz (45,031 bars,
2021-12-31 23:01 → 2022-02-01 05:31 UTC), run through the kernel and the
simulated venue exactly as the backtest runner wires them, with 1,000 USDT
(Sniper-sized capital), no fees and default parameters. The golden numbers
below pin this run; a change to the strategy, the kernel or the venue's bar
model that moves them must be deliberate.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from pydantic import ValidationError

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import Bar
from genesis.core.orders import Order
from genesis.risk.limits import Tier
from genesis.strategies.sniper.momentum_breakout import MomentumBreakout, MomentumBreakoutParams
from genesis.testing.builders import Harness, real_bars

D = Decimal
CASH = D(1000)
MONTH = real_bars()
# Kelly's record never outweighs its prior: every entry risks the prior's capped 2%
# (the signal's own behaviour over the month, not the sizing's reaction to it)
FIXED = MomentumBreakoutParams(kelly_min_trades=10_000)


class _Sized(MomentumBreakout):
    """momentum_breakout that records each entry's notional / equity when it is sent."""

    def on_start(self) -> None:
        super().on_start()
        self.shares: list[Decimal] = []

    def on_bar(self, bar: Bar) -> None:
        signals, equity = self.signals, self.ctx.portfolio.equity()
        super().on_bar(bar)
        if self.signals > signals:
            (entry,) = self.ctx.open_orders(bar.instrument_id)
            self.shares.append(entry.quantity * bar.close / equity)


@pytest.fixture(scope="module")
def month() -> Harness:
    """The whole month at fixed risk, no tier: only instrument filters and cash apply."""
    return Harness.build(MomentumBreakout, FIXED, cash=CASH).run(MONTH)


@pytest.fixture(scope="module")
def sniper() -> Harness:
    """The whole month under the Sniper tier's risk limits (as ``--tier sniper``)."""
    return Harness.build(_Sized, FIXED, cash=CASH, tier=Tier.SNIPER).run(MONTH)


def _strategy(h: Harness) -> MomentumBreakout:
    strategy = h.kernel.strategies["s1"]
    assert isinstance(strategy, MomentumBreakout)
    return strategy


def _entries(h: Harness) -> list[Order]:
    return [o for o in h.kernel.oms if o.side is Side.BUY]


def test_it_trades_443_entries_over_the_month(month: Harness) -> None:
    """Default parameters enter 443 times in January 2022, every entry filled."""
    entries = _entries(month)

    assert len(entries) == 443
    assert {o.status for o in entries} == {OrderStatus.FILLED}
    assert _strategy(month).signals == 443


def test_every_entry_is_closed_by_stop_target_or_breakdown(month: Harness) -> None:
    """443 exits: 18 stops, 13 targets, 412 breakdown market sells; flat at the end."""
    exits = Counter(
        o.order_type
        for o in month.kernel.oms
        if o.side is Side.SELL and o.status is OrderStatus.FILLED
    )

    assert exits == {OrderType.STOP_MARKET: 18, OrderType.LIMIT: 13, OrderType.MARKET: 412}
    assert month.kernel.portfolio.position_qty("BTCUSDT") == 0


def test_every_entry_carries_a_stop_below_and_a_target_above(month: Harness) -> None:
    """Each entry's stop loss is under its fill price and its take profit above it."""
    entries = _entries(month)

    assert all(o.stop_loss < o.avg_px < o.take_profit for o in entries)  # type: ignore[operator]


def test_first_entry_is_pinned(month: Harness) -> None:
    """The first breakout fires on the 00:07 bar: 0.00042 BTC filled at 46541.0."""
    first = _entries(month)[0]

    assert (first.quantity, first.avg_px) == (D("0.00042"), D("46541.0"))
    assert (first.stop_loss, first.take_profit) == (D("46075.59"), D("47471.82"))


def test_final_equity_is_pinned(month: Harness) -> None:
    """The month ends with 996.2819594 USDT, venue and portfolio agreeing to the last digit."""
    assert month.kernel.portfolio.equity() == D("996.2819594")
    assert month.venue.account.balances() == {"USDT": D("996.2819594")}


def test_nothing_is_refused_or_faulted(month: Harness) -> None:
    """No denial, no venue rejection, no strategy error, no illegal order event."""
    stats = month.kernel.oms.statistics()

    assert (month.kernel.denied, month.venue.rejected, month.kernel.errors) == (0, 0, [])
    assert (stats.illegal_events, stats.unknown_order_events) == (0, 0)


def test_sniper_limits_never_refuse_its_entries(sniper: Harness) -> None:
    """Under the Sniper tier the same 443 entries are sent and none is denied."""
    assert (len(_entries(sniper)), sniper.kernel.denied) == (443, 0)


def test_sniper_position_never_exceeds_2_percent_of_equity(sniper: Harness) -> None:
    """Each entry's notional at the signal close is at most 2% of equity at that moment."""
    strategy = _strategy(sniper)
    assert isinstance(strategy, _Sized)
    shares = strategy.shares

    assert len(shares) == 443
    assert max(shares) <= D("0.02")


def test_short_lookback_breakdown_right_after_a_fill_keeps_trading() -> None:
    """With lookback 5, the first 600 bars run without disabling the strategy."""
    harness = Harness.build(MomentumBreakout, MomentumBreakoutParams(lookback=5), cash=CASH)

    harness.run(MONTH[:600])

    assert harness.kernel.errors == []


def test_mandatory_stop_loss_does_not_block_closing_sells() -> None:
    """Sniper with requires_stop_loss: the month runs with no denial."""
    harness = Harness.build(
        MomentumBreakout,
        MomentumBreakoutParams(),
        cash=CASH,
        tier=Tier.SNIPER,
        requires_stop_loss=True,
    )

    harness.run(MONTH)

    assert harness.kernel.denied == 0


def test_no_signal_during_warm_up() -> None:
    """The first 20 bars only fill the lookback windows: no order."""
    harness = Harness.build(MomentumBreakout, MomentumBreakoutParams(), cash=CASH)

    harness.run(MONTH[:21])

    assert harness.commands == []


def test_confidence_grows_with_the_volume_surge() -> None:
    """At factor 1.5 a 1.5x surge is 0.5 confident, a 3x surge (or more) is 1.0, no volume 0."""
    harness = Harness.build(MomentumBreakout, MomentumBreakoutParams(), cash=CASH)
    strategy = _strategy(harness)

    values = [strategy.confidence(D(v), D(100)) for v in (150, 300, 900)]

    assert values == [0.5, 1.0, 1.0]
    assert strategy.confidence(D(1), D(0)) == 0.0


def test_snapshot_round_trips_the_signal_count(month: Harness) -> None:
    """snapshot/restore carries the number of signals to a fresh instance."""
    fresh = Harness.build(MomentumBreakout, MomentumBreakoutParams(), cash=CASH)
    strategy = _strategy(fresh)

    strategy.restore(_strategy(month).snapshot())

    assert strategy.signals == 443


def test_risk_per_trade_above_two_percent_is_refused() -> None:
    """max_risk_per_trade is capped at 0.02 by the params model (ST-S3)."""
    with pytest.raises(ValidationError, match="max_risk_per_trade"):
        MomentumBreakoutParams(max_risk_per_trade=D("0.05"))


@pytest.fixture(scope="module")
def kelly() -> Harness:
    """The whole month with Kelly live (the default): the record decides the size."""
    return Harness.build(MomentumBreakout, MomentumBreakoutParams(), cash=CASH).run(MONTH)


def test_kelly_stands_aside_once_the_record_has_no_edge(kelly: Harness) -> None:
    """Default Kelly trades 24 times (8 wins), then its record (no edge) sizes every signal to 0."""
    perf = kelly.kernel.performance.of("s1")
    strategy = _strategy(kelly)

    assert len(_entries(kelly)) == 24
    assert (perf.trades, perf.wins) == (24, 8)
    assert strategy.risk_fraction() == 0
    assert "kelly_no_edge" in kelly.kernel.log.events()
    assert kelly.kernel.portfolio.equity() == D("999.825740")


def test_kelly_risk_starts_at_the_capped_prior() -> None:
    """Before any trade: prior 40% wins at payoff 2 is half-Kelly 5%, capped at 2%."""
    harness = Harness.build(MomentumBreakout, MomentumBreakoutParams(), cash=CASH)
    harness.run(MONTH[:1])

    assert _strategy(harness).risk_fraction() == D("0.02")
