"""A/B statistics and the backtest expectation, on two parameter sets of the reference
strategy over the same bundled month."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.backtesting.rundir import read_run
from genesis.errors import ConfigError
from genesis.paper.stats import bootstrap_mean, compare, holm


def _daily(run: Path) -> list[float]:
    return [float(r) for r in read_run(run).returns("daily")[0]]


def test_welch_and_mann_whitney_on_daily_returns(runs: dict[str, Path]) -> None:
    """fast=20 against fast=10: +0.025 %/day, Welch p 0.248, Mann-Whitney p 0.363."""
    a, b = _daily(runs["10-30"]), _daily(runs["20-30"])

    result = compare(a, b)

    assert (result.n_a, result.n_b) == (33, 33)
    assert result.welch_t == pytest.approx(1.164968324614377, rel=1e-12)
    assert result.welch_p == pytest.approx(0.24849272079278759, rel=1e-12)
    assert result.mannwhitney_u == 616.0
    assert result.mannwhitney_p == pytest.approx(0.3625393423151133, rel=1e-12)
    assert result.prob_superiority == pytest.approx(616 / 33**2, rel=1e-15)
    assert result.cohens_d == pytest.approx(0.2867953760409579, rel=1e-12)


def test_welch_t_is_the_textbook_formula(runs: dict[str, Path]) -> None:
    """t = (mean_b - mean_a) / sqrt(var_a / n_a + var_b / n_b), computed independently."""
    a, b = _daily(runs["10-30"]), _daily(runs["20-30"])
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))

    assert compare(a, b).welch_t == pytest.approx((statistics.fmean(b) - statistics.fmean(a)) / se)


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests() -> None:
    """Holm on (0.2485, 0.6084): 0.4970 and 0.6084."""
    assert holm([0.24849272079278759, 0.6083929920284901]) == pytest.approx(
        [0.49698544158557517, 0.6083929920284901], rel=1e-12
    )


def test_bootstrap_interval_of_the_mean_trade_is_seeded_and_exact(runs: dict[str, Path]) -> None:
    """962 trades, seed 7, 2,000 paths: [-22.210707, -0.896206] in the P&Ls' precision."""
    pnls = read_run(runs["20-30"]).trade_pnls

    assert bootstrap_mean(pnls) == (Decimal("-22.210707"), Decimal("-0.896206"))
    assert bootstrap_mean(pnls) == bootstrap_mean(pnls)


def test_too_short_a_series_is_refused() -> None:
    """One return allows no test: a ConfigError saying how many there were."""
    with pytest.raises(ConfigError, match="the variant has 1 returns"):
        compare([0.01, 0.02], [0.01])


def test_ab_cli_compares_variants_against_the_baseline(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`genesis ab compare` prints each variant's tests with the Holm-adjusted p-value."""
    import json

    from genesis.__main__ import main

    code = main(["ab", "compare", str(runs["10-30"]), str(runs["20-30"]), "--returns", "trades"])
    out = json.loads(capsys.readouterr().out)

    variant = out["variants"][0]
    assert code == 0
    assert out["baseline"] == str(runs["10-30"])
    assert (variant["n_a"], variant["n_b"], variant["different"]) == (945, 962, False)
    assert variant["welch_p_holm"] == variant["welch_p"]  # one comparison: nothing to adjust
    # the runs end flat: mean P&L per trade = (final equity - cash) / trades, from metrics.json
    assert variant["difference"] == pytest.approx(-11351 / 962 + 19367.5 / 945, rel=1e-12)


def test_ab_cli_expect_prints_the_config_band(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`genesis ab expect` gives expected_trade_pnl for the promotion section."""
    import json

    from genesis.__main__ import main

    assert main(["ab", "expect", str(runs["20-30"])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expected_trade_pnl"] == ["-22.210707", "-0.896206"]
    assert (out["trades"], out["mean_trade_pnl"]) == (962, "-11.799376")
