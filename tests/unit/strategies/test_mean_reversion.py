"""mean_reversion (Hunter, ST-H1) on the bundled real ETHBTC 5-minute bars.

Data: genesis/resources/binance-ETHBTC-5m-2018-01.csv.gz (5,760 bars,
2018-01-10 04:55 → 2018-01-30 04:50 UTC), 1 BTC of capital, no fees, default
parameters, the Hunter tier's risk limits: the same run as

    python -m genesis backtest --strategy mean_reversion --symbol ETHBTC \
        --data genesis/resources/binance-ETHBTC-5m-2018-01.csv.gz --cash 1 --tier hunter

The golden numbers pin that run; a change to the strategy, the analytics it
reads, the kernel or the venue's bar model that moves them must be deliberate.
"""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest
from pydantic import ValidationError

from genesis.analytics.regime import Regime, RegimeDetector, RegimeParams
from genesis.backtesting.runner import BacktestConfig, run_backtest
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.orders import Order
from genesis.data.loaders import read_bars
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.resources import ALTBTC_5M_BARS
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.hunter.mean_reversion import MeanReversion, MeanReversionParams
from genesis.testing.builders import Harness, RecordingLog, make_venue
from genesis.testing.instruments import ETHBTC, instrument, lookup

BARS = list(read_bars(ALTBTC_5M_BARS[ETHBTC], ETHBTC))
CASH = D(1)


def _harness(params: MeanReversionParams | None = None, strategy=MeanReversion) -> Harness:
    """The strategy on ETHBTC under the Hunter tier, 1 BTC in the venue and the portfolio."""
    balances = {"BTC": CASH}
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency="BTC", tier=Tier.HUNTER, start_ns=0
    )
    kernel = build_kernel(spec, RecordingLog())
    kernel.add_strategy(strategy, "s1", params or MeanReversionParams(), (ETHBTC,))
    return Harness(kernel, make_venue(balances=balances))


@pytest.fixture(scope="module")
def run() -> Harness:
    return _harness().run(BARS)


def _entries(h: Harness) -> list[Order]:
    return [o for o in h.kernel.oms if o.side is Side.BUY and o.order_type is OrderType.MARKET]


def test_golden_backtest_metrics(tmp_path) -> None:
    """The backtest runner's metrics for the default run, pinned."""
    config = BacktestConfig(
        strategy="mean_reversion", params={}, instrument=instrument(ETHBTC), cash=CASH,
        tier=Tier.HUNTER, interval_ns=300_000_000_000,
    )  # fmt: skip

    result = run_backtest(config, BARS, tmp_path)

    m = result.metrics
    assert (result.bars, result.trades, result.fills, result.rejected_orders) == (5760, 12, 24, 0)
    assert result.strategy_errors == []
    assert m.final_equity == "1.002141488993"
    assert (m.trades, m.win_rate) == (12, pytest.approx(7 / 12))
    assert m.total_return == pytest.approx(0.0021414889930000403, rel=1e-9)
    assert m.sharpe == pytest.approx(3.9200531191434944, rel=1e-9)
    assert m.sortino == pytest.approx(7.5401324132858285, rel=1e-9)
    assert m.max_drawdown == pytest.approx(-0.0010375763805420268, rel=1e-9)
    assert m.profit_factor == pytest.approx(2.263419094054567, rel=1e-9)
    assert m.expectancy == pytest.approx(0.00017845741608333332, rel=1e-9)


def test_harness_run_matches_the_backtest(run: Harness) -> None:
    """The in-memory harness ends on the same equity: 12 entries, all filled, flat at the end."""
    entries = _entries(run)

    assert len(entries) == 12
    assert {o.status for o in entries} == {OrderStatus.FILLED}
    assert run.kernel.portfolio.equity() == D("1.002141488993")
    assert run.kernel.portfolio.position_qty(ETHBTC) == 0
    assert (run.kernel.denied, run.venue.rejected, run.kernel.errors) == (0, 0, [])


def test_first_entry_is_pinned(run: Harness) -> None:
    """The first signal, on the 2018-01-10 15:50 bar: 0.5377 ETH at 0.09298834, stop and target."""
    first = _entries(run)[0]

    assert (first.quantity, first.avg_px) == (D("0.5377"), D("0.09298834"))
    assert (first.stop_loss, first.take_profit) == (D("0.091370"), D("0.095447"))


def test_every_entry_has_a_stop_below_a_target_above_and_enough_confidence(run: Harness) -> None:
    """Stop < fill < target on every entry; each carries a confidence of at least the tier's 0.6."""
    entries = _entries(run)

    assert all(o.stop_loss < o.avg_px < o.take_profit for o in entries)  # type: ignore[operator]
    assert all(0.6 <= o.confidence <= 1.0 for o in entries)  # type: ignore[operator]


class _Sized(MeanReversion):
    """mean_reversion recording each entry's notional / equity at its decision close."""

    def on_start(self) -> None:
        super().on_start()
        self.shares: list[D] = []

    def on_bar(self, bar) -> None:
        signals, equity = self.signals, self.ctx.portfolio.equity()
        super().on_bar(bar)
        if self.signals > signals:
            (entry,) = self.ctx.open_orders(bar.instrument_id)
            self.shares.append(entry.quantity * bar.close / equity)


def test_every_entry_is_within_the_hunter_position_cap() -> None:
    """Each entry's notional at its decision close is at most the tier's 5% of equity."""
    harness = _harness(strategy=_Sized).run(BARS)
    shares = harness.kernel.strategies["s1"].shares  # type: ignore[attr-defined]

    assert len(shares) == 12
    assert D("0.0499") < max(shares) <= D("0.05")
    assert harness.kernel.denied == 0


def _regimes_by_close() -> dict[int, Regime | None]:
    detector = RegimeDetector(RegimeParams())
    return {b.ts_event: detector.update(float(b.high), float(b.low), float(b.close)) for b in BARS}


def test_it_never_enters_outside_a_ranging_regime(run: Harness) -> None:
    """An independent detector over the same bars reads RANGING at every entry's decision bar."""
    regimes = _regimes_by_close()

    decided = [regimes[o.ts_init] for o in _entries(run)]

    assert decided == [Regime.RANGING] * 12
    assert {Regime.TRENDING, Regime.VOLATILE} <= set(regimes.values())


def test_a_regime_that_never_ranges_means_no_trade() -> None:
    """With ADX thresholds near zero every bar reads TRENDING and nothing is bought."""
    params = MeanReversionParams(regime=RegimeParams(trend_enter=0.002, trend_exit=0.001))

    harness = _harness(params).run(BARS)

    assert _entries(harness) == []


def _until(minute: str) -> int:
    """Index of the bar opening at ``minute`` (UTC): bars before it have been seen."""
    ts = pd.Timestamp(minute, tz="UTC").value
    return next(i for i, b in enumerate(BARS) if b.ts_open == ts)


def test_snapshot_restore_mid_position_resumes_exactly(run: Harness) -> None:
    """Swapped for a fresh instance restored from its snapshot while long (entry filled at
    2018-01-11 22:55, restart after the 23:05 bar), the strategy exits by its own rule at 23:20
    as the uninterrupted run does, then makes exactly the same orders to the end."""
    harness = _harness()
    cut = _until("2018-01-11 23:10")
    harness.run(BARS[:cut])
    assert harness.kernel.portfolio.position_qty(ETHBTC) == D("0.5839")
    old = harness.kernel.strategies["s1"]

    new = harness.kernel.replace_params("s1", MeanReversionParams())
    harness.run(BARS[cut:])

    assert new is not old
    assert new.signals == 12  # type: ignore[attr-defined]
    assert [(o.client_order_id, o.status, o.avg_px) for o in harness.kernel.oms] == [
        (o.client_order_id, o.status, o.avg_px) for o in run.kernel.oms
    ]
    assert harness.kernel.portfolio.equity() == run.kernel.portfolio.equity()


def test_restore_under_other_params_warms_up_again() -> None:
    """A hot reload that changes a parameter starts the indicators afresh; the position keeps
    its stop and target while they warm up, and the run goes on without an error."""
    harness = _harness()
    cut = _until("2018-01-11 23:10")
    harness.run(BARS[:cut])

    new = harness.kernel.replace_params("s1", MeanReversionParams(rsi_exit=55.0))
    working = sorted(o.order_type.value for o in harness.kernel.oms.open_orders())
    harness.run(BARS[cut : cut + 50])

    assert working == ["LIMIT", "STOP_MARKET"]
    assert not new._signals[ETHBTC].regime.ready  # type: ignore[attr-defined]
    assert harness.kernel.errors == []


def test_registered_for_the_hunter_tier_only() -> None:
    """``mean_reversion`` resolves to this class, Hunter tier, ST-H1."""
    spec = registry.get("mean_reversion")

    assert (spec.cls, spec.tiers) == (MeanReversion, (Tier.HUNTER,))
    assert "ST-H1" in spec.spec_ids


@pytest.mark.parametrize(
    "bad",
    [
        {"position_pct": "0.06"},
        {"rsi_oversold": 50, "rsi_exit": 40},
        {"take_profit": "far"},
        {"x": 1},
    ],
)
def test_bad_parameters_are_rejected(bad: dict) -> None:
    """A position above the tier's 5%, an exit RSI below the entry one, unknown keys: refused."""
    with pytest.raises(ValidationError):
        MeanReversionParams(**bad)
