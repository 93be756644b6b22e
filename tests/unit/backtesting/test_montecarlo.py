"""Monte Carlo resampling: golden intervals on the reference run, hand-worked paths, bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from genesis import resources
from genesis.__main__ import main
from genesis.backtesting.montecarlo import (
    MonteCarloResult,
    block_paths,
    ruin_probability,
    summarise,
    trade_paths,
)
from genesis.backtesting.rundir import RunFiles, read_run
from genesis.errors import ConfigError, DataError

# the e2e reference run: sma_cross 10/30 on the bundled BTCUSDT month, 1 BTC, 10 bps
REFERENCE = [
    "backtest", "--strategy", "sma_cross", "--symbol", "BTCUSDT", "--param", "fast=10",
    "--param", "slow=30", "--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10",
    "--quiet", "--data", str(resources.BTCUSDT_1M_BARS),
]  # fmt: skip
TRADES_PER_YEAR = 945 / (45_031 / 525_600)  # 945 trades over 45,031 one-minute rows
START = Decimal(1_000_000)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFiles:
    out = tmp_path_factory.mktemp("reference")
    assert main([*REFERENCE, "--out", str(out)]) == 0
    return read_run(out)


def _trades(run: RunFiles, *, seed: int = 7, replace: bool = True) -> MonteCarloResult:
    stats = trade_paths(
        run.trade_pnls, START, paths=1000, seed=seed, replace=replace,
        periods_per_year=TRADES_PER_YEAR,
    )  # fmt: skip
    return summarise(
        stats, method="trades" if replace else "shuffle", series="trades", seed=seed,
        block=None, start_equity=1e6, periods_per_year=TRADES_PER_YEAR, ruin=0.1,
    )  # fmt: skip


# --- golden intervals on the reference run ------------------------------------------------


def test_reference_run_is_read_back(run: RunFiles) -> None:
    """945 trades netting -97,136.7625 from 1,000,000; 45,031 equity rows at 525,600 a year."""
    assert (len(run.trade_pnls), run.initial_equity, run.equity.size) == (945, START, 45_031)
    assert sum(run.trade_pnls) == Decimal("-97136.762500")
    assert run.periods_per_year == 525_600.0


def test_trade_bootstrap_intervals_are_pinned(run: RunFiles) -> None:
    """Seed 7, 1,000 paths: 5/50/95 % of final equity, drawdown, Sharpe; 28.7 % reach -10 %."""
    result = _trades(run)

    assert result.final_equity == pytest.approx((894475.431575, 902902.16475, 911404.87725))
    assert result.max_drawdown == pytest.approx(
        (-0.10564917935, -0.09717823125000002, -0.08881569507737598), rel=1e-9
    )
    assert result.sharpe == pytest.approx(
        (-78.50750736140594, -66.80713709573917, -57.038395387555525), rel=1e-9
    )
    assert result.ruin_probability == 0.287


def test_trade_shuffle_keeps_the_final_equity_and_varies_the_drawdown(run: RunFiles) -> None:
    """Reordering the same trades ends every path at 902,863.2375; drawdowns differ."""
    result = _trades(run, replace=False)

    assert result.final_equity == (902863.2375, 902863.2375, 902863.2375)
    assert result.max_drawdown == pytest.approx(
        (-0.0978784225, -0.09713676249999992, -0.09713676249999992), rel=1e-9
    )
    assert result.ruin_probability == 0.0


def test_block_bootstrap_of_daily_returns_is_pinned(run: RunFiles) -> None:
    """33 daily returns in blocks of 5, seed 7: intervals pinned, 34.1 % reach -10 %."""
    returns, ppy = run.returns("daily")
    stats = block_paths(returns, 1e6, paths=1000, seed=7, block=5, periods_per_year=ppy)

    result = summarise(
        stats, method="blocks", series="daily", seed=7, block=5, start_equity=1e6,
        periods_per_year=ppy, ruin=0.1,
    )  # fmt: skip

    assert (returns.size, ppy, len(result.fan_steps)) == (33, 365.0, 34)
    assert result.final_equity == pytest.approx(
        (888297.002501442, 903416.2244242174, 917536.1161421238), rel=1e-9
    )
    assert result.max_drawdown == pytest.approx(
        (-0.11170299749855801, -0.09658377557578263, -0.08246388385787624), rel=1e-9
    )
    assert result.sharpe == pytest.approx(
        (-64.15405159507972, -49.66202322928614, -39.173765351577806), rel=1e-9
    )
    assert result.ruin_probability == 0.341


def test_the_same_seed_gives_the_same_json(run: RunFiles) -> None:
    """Seeded: two runs with seed 7 render byte-identical JSON."""
    assert _trades(run).to_json() == _trades(run).to_json()


def test_another_seed_gives_other_intervals(run: RunFiles) -> None:
    """Seed 8 draws other paths: the intervals move."""
    assert _trades(run, seed=8).final_equity != _trades(run).final_equity


# --- hand-worked paths ---------------------------------------------------------------------


def test_one_trade_bootstraps_to_the_same_path_every_time() -> None:
    """A single -10 trade from 100: every path is 100 -> 90, a 10 % drawdown."""
    stats = trade_paths([Decimal(-10)], Decimal(100), paths=4, seed=0, periods_per_year=1.0)

    assert stats.final_equity.tolist() == [90.0] * 4
    assert stats.max_drawdown.tolist() == pytest.approx([-0.1] * 4)
    assert np.isnan(stats.sharpe).all()  # one step: no dispersion


def test_fan_starts_at_the_start_and_ends_at_the_finals() -> None:
    """The fan's first column is the starting cash; its last is each path's final equity."""
    stats = trade_paths(
        [Decimal("1.5"), Decimal(-2), Decimal("0.25")], Decimal(10), paths=5, seed=3,
        periods_per_year=3.0,
    )  # fmt: skip

    assert stats.fan_steps.tolist() == [0, 1, 2, 3]
    assert stats.fan[:, 0].tolist() == [10.0] * 5
    assert stats.fan[:, -1].tolist() == stats.final_equity.tolist()


def test_a_path_through_zero_is_ruined_at_any_threshold() -> None:
    """100 - 150 goes below zero: drawdown floored at -100 %, no Sharpe, ruin at 100 %."""
    stats = trade_paths(
        [Decimal(-150), Decimal(10)], Decimal(100), paths=1, seed=0, replace=False,
        periods_per_year=2.0,
    )  # fmt: skip

    assert stats.max_drawdown.tolist() == [-1.0]
    assert np.isnan(stats.sharpe).all()
    assert ruin_probability(stats.max_drawdown, 1.0) == 1.0


def test_block_of_the_whole_series_keeps_its_rotation() -> None:
    """A block as long as the series is a rotation of it: the product of returns is kept."""
    returns = [0.1, -0.2, 0.05]
    stats = block_paths(returns, 100.0, paths=20, seed=1, block=3, periods_per_year=365.0)

    assert stats.final_equity == pytest.approx([100 * 1.1 * 0.8 * 1.05] * 20, rel=1e-12)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paths": 0}, "invalid paths 0"),
        ({"seed": -1}, "invalid seed -1"),
        ({"periods_per_year": 0.0}, "invalid periods_per_year 0.0"),
    ],
)
def test_bad_run_parameters_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    """Paths, seed and annualisation are checked before anything is drawn."""
    args: dict[str, object] = {"paths": 10, "seed": 1, "periods_per_year": 1.0, **kwargs}

    with pytest.raises(ConfigError, match=message):
        trade_paths([Decimal(1)], Decimal(10), **args)  # type: ignore[arg-type]


def test_no_trades_is_a_data_error_pointing_to_blocks() -> None:
    """A run without closed trades cannot be trade-resampled."""
    with pytest.raises(DataError, match="no closed trades.*block bootstrap"):
        trade_paths([], Decimal(10), paths=1, seed=0, periods_per_year=1.0)


def test_block_longer_than_the_series_is_a_config_error() -> None:
    """The block length must fit in the series."""
    with pytest.raises(ConfigError, match=r"invalid block 4; expected an int in 1\.\.3"):
        block_paths([0.1, 0.0, -0.1], 1.0, paths=1, seed=0, block=4, periods_per_year=365.0)


def test_a_return_of_minus_one_is_a_data_error() -> None:
    """A -100 % return cannot come from a positive equity curve."""
    with pytest.raises(DataError, match=r"returns\[1\] -1.0"):
        block_paths([0.1, -1.0], 1.0, paths=1, seed=0, block=1, periods_per_year=365.0)


def test_missing_run_directory_is_a_config_error(tmp_path: Path) -> None:
    """read_run names the directory that is not there."""
    with pytest.raises(ConfigError, match="no such run directory"):
        read_run(tmp_path / "nope")
