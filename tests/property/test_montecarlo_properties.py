"""Monte Carlo invariants over generated trade lists and return series."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.backtesting.montecarlo import (
    block_paths,
    ruin_probability,
    summarise,
    trade_paths,
)

# P&Ls in cents, up to +/- 5,000.00 each, against 10,000.00 to 1,000,000.00 of cash
_PNLS = st.lists(
    st.integers(min_value=-500_000, max_value=500_000).map(lambda c: Decimal(c).scaleb(-2)),
    min_size=1,
    max_size=60,
)
_CASH = st.integers(min_value=1_000_000, max_value=100_000_000).map(lambda c: Decimal(c).scaleb(-2))
_RETURNS = st.lists(st.floats(min_value=-0.5, max_value=0.5), min_size=1, max_size=60)
_SEEDS = st.integers(min_value=0, max_value=2**32)


@settings(deadline=None, max_examples=60)
@given(pnls=_PNLS, cash=_CASH, seed=_SEEDS)
def test_a_shuffle_ends_every_path_at_the_run_s_final_equity_exactly(
    pnls: list[Decimal], cash: Decimal, seed: int
) -> None:
    """Reordering trades changes no sum: every path's final equity is cash + sum(pnl), exactly."""
    stats = trade_paths(pnls, cash, paths=16, seed=seed, replace=False, periods_per_year=12.0)

    assert set(stats.final_equity.tolist()) == {float(cash + sum(pnls))}


@settings(deadline=None, max_examples=60)
@given(pnls=_PNLS, cash=_CASH, seed=_SEEDS, replace=st.booleans())
def test_percentiles_are_ordered(
    pnls: list[Decimal], cash: Decimal, seed: int, replace: bool
) -> None:
    """5 % <= 50 % <= 95 % for final equity, drawdown and Sharpe, and along the fan."""
    stats = trade_paths(pnls, cash, paths=32, seed=seed, replace=replace, periods_per_year=12.0)

    result = summarise(
        stats, method="trades", series="trades", seed=seed, block=None,
        start_equity=float(cash), periods_per_year=12.0,
    )  # fmt: skip

    for figures in (result.final_equity, result.max_drawdown, result.sharpe):
        if None not in figures:
            assert list(figures) == sorted(figures)  # type: ignore[type-var]
    low, mid, high = result.fan
    assert all(a <= b <= c for a, b, c in zip(low, mid, high, strict=True))


@settings(deadline=None, max_examples=60)
@given(
    returns=_RETURNS,
    seed=_SEEDS,
    block=st.integers(min_value=1, max_value=8),
    thresholds=st.tuples(st.floats(0.001, 1.0), st.floats(0.001, 1.0)),
)
def test_ruin_is_a_probability_that_falls_as_the_threshold_rises(
    returns: list[float], seed: int, block: int, thresholds: tuple[float, float]
) -> None:
    """Ruin lies in [0, 1]; a deeper threshold is never reached more often than a shallower."""
    stats = block_paths(
        returns, 100.0, paths=32, seed=seed, block=min(block, len(returns)),
        periods_per_year=365.0,
    )  # fmt: skip
    shallow, deep = sorted(thresholds)

    p_shallow = ruin_probability(stats.max_drawdown, shallow)
    p_deep = ruin_probability(stats.max_drawdown, deep)

    assert 0.0 <= p_deep <= p_shallow <= 1.0
    assert ((stats.max_drawdown >= -1.0) & (stats.max_drawdown <= 0.0)).all()
