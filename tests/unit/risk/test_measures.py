"""RK-4 measures: VaR and CVaR against a hand-computed case and against numpy/scipy on
real returns (Coinbase BTC-USD 1-minute quote bars of 2017-09-03/04, tests/data),
beta, drawdown, exposure and the risk score's bounds."""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from genesis.risk.measures import (
    Holding,
    beta,
    cvar_historical,
    cvar_parametric,
    drawdown,
    exposure,
    risk_score,
    var_historical,
    var_parametric,
)

D = Decimal
S = 1_000_000_000
COINBASE = (
    Path(__file__).resolve().parents[2] / "data" / "coinbase-btcusd-1m-2017-09-03_04-quote.csv.gz"
)
HAND = [-0.05, -0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04]


def _real_returns() -> list[float]:
    with gzip.open(COINBASE, "rt", newline="") as f:
        mids = [(float(r["bid_close"]) + float(r["ask_close"])) / 2 for r in csv.DictReader(f)]
    return [b / a - 1.0 for a, b in itertools.pairwise(mids)]


def test_historical_var_and_cvar_by_hand() -> None:
    """Ten returns -5%..4%: the 5% quantile is -5% + 0.45 x 1% = -4.55%; the tail below
    it is the -5% alone. At 99%: -5% + 0.09 x 1% = -4.91%."""
    assert var_historical(HAND, 0.95) == pytest.approx(0.0455, abs=1e-12)
    assert cvar_historical(HAND, 0.95) == pytest.approx(0.05, abs=1e-12)
    assert var_historical(HAND, 0.99) == pytest.approx(0.0491, abs=1e-12)


def test_parametric_var_and_cvar_by_hand() -> None:
    """mu = -0.5%, sample sigma = sqrt(0.00825 / 9); z95 = 1.6448536, pdf(z95) = 0.1031356."""
    sigma = math.sqrt(0.00825 / 9)

    assert var_parametric(HAND, 0.95) == pytest.approx(0.005 + sigma * 1.6448536, abs=1e-7)
    assert cvar_parametric(HAND, 0.95) == pytest.approx(0.005 + sigma * 0.1031356 / 0.05, abs=1e-6)


def test_too_few_returns_give_no_figure() -> None:
    """Nine returns are not enough for any VaR."""
    assert var_historical(HAND[:9], 0.95) is None
    assert var_parametric(HAND[:9], 0.99) is None


def test_var_and_cvar_match_numpy_and_scipy_on_real_returns() -> None:
    """2,876 real one-minute returns: historical against numpy's percentile, parametric
    against scipy's normal distribution, at 95% and 99%."""
    r = _real_returns()
    arr = np.array(r)
    mu, sd = arr.mean(), arr.std(ddof=1)
    for level in (0.95, 0.99):
        q = np.percentile(arr, (1 - level) * 100)
        z = stats.norm.ppf(1 - level)

        assert var_historical(r, level) == pytest.approx(-q, rel=1e-9)
        assert cvar_historical(r, level) == pytest.approx(-arr[arr <= q].mean(), rel=1e-9)
        assert var_parametric(r, level) == pytest.approx(-(mu + sd * z), rel=1e-9)
        expected_cvar = -mu + sd * stats.norm.pdf(z) / (1 - level)
        assert cvar_parametric(r, level) == pytest.approx(expected_cvar, rel=1e-9)


def test_cvar_is_at_least_var_on_real_returns() -> None:
    """The mean of the tail is never smaller than its edge."""
    r = _real_returns()
    for level in (0.95, 0.99):
        assert cvar_historical(r, level) >= var_historical(r, level)  # type: ignore[operator]


def test_beta_matches_numpy_and_is_one_against_itself() -> None:
    """beta(x, x) = 1; beta(2x + noise, x) = cov / var as numpy computes it."""
    r = _real_returns()
    doubled = [2 * x + 0.0001 * ((i % 7) - 3) for i, x in enumerate(r)]
    expected = np.cov(doubled, r, ddof=1)[0, 1] / np.var(r, ddof=1)

    assert beta(r, r) == pytest.approx(1.0, rel=1e-12)
    assert beta(doubled, r) == pytest.approx(expected, rel=1e-9)


def test_drawdown_duration_and_recovery() -> None:
    """Peak 100 at t=0, trough 80 at t=2 min, back to 100 at t=5 min, then 90 at t=6 min."""
    times = [n * 60 * S for n in range(7)]
    equity = [100.0, 90.0, 80.0, 85.0, 95.0, 100.0, 90.0]

    dd = drawdown(times, equity)

    assert dd["max_pct"] == pytest.approx(0.2)
    assert dd["current_pct"] == pytest.approx(0.1)
    assert dd["current_duration_s"] == 60.0
    assert dd["longest_duration_s"] == 300.0
    assert dd["last_recovery_s"] == 180.0


def test_exposure_gross_net_and_per_asset() -> None:
    """Long 0.1 BTC at 46377.0 (the first bundled bar's close) and short 2 ETH at 2368.64
    (Gemini's ETHUSD best bid of 2021-04-17, tests/data) on 10,000 of equity."""
    holdings = [
        Holding("BTCUSDT", "BTC", D("0.1"), D("46377.0")),
        Holding("gemini:ETHUSD", "ETH", D(-2), D("2368.64")),
    ]

    exp = exposure(holdings, D(10_000))

    assert exp["gross"] == "9374.98"
    assert exp["net"] == "-99.58"
    assert exp["by_asset"]["ETH"] == {"net": "-4737.28", "gross": "4737.28", "pct": -0.473728}
    assert exp["gross_pct"] == pytest.approx(0.937498)


def test_risk_score_bounds_and_parts() -> None:
    """Nothing at risk scores 0; everything at or past its limit scores 100."""
    calm, _ = risk_score(
        leverage=0.0, var99=None, current_drawdown=0.0, concentration=0.0, halted=0.0, limits=None
    )
    worst, parts = risk_score(
        leverage=5.0, var99=0.5, current_drawdown=0.5, concentration=1.0, halted=1.0, limits=None
    )

    assert calm == 0.0
    assert worst == 100.0
    assert set(parts.values()) == {1.0}
