"""Pair statistics (AN-6, ST-H2): batch tests, the rolling PairTracker, ``analyze pairs``.

Real data: the six Binance altcoin/BTC 5-minute series of January 2018 and
the Coinbase BTC-USD / ETH-USD minute bars of 2017-09-03/04
(genesis/resources). Synthetic series are built on top of a real one with a
seeded numpy generator, as each test says.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs
import pytest

from genesis import resources
from genesis.analytics.cointegration import (
    AlignedPair,
    PairTracker,
    add_arguments,
    engle_granger,
    half_life,
    hedge_ratio,
    johansen,
    load_pair,
    pair_statistics,
    run,
)
from genesis.errors import ConfigError

ALT = resources.ALTBTC_5M_BARS


def _spec(symbol: str) -> str:
    return f"{symbol}={ALT[symbol]}"


@pytest.fixture(scope="module")
def dash_ltc() -> AlignedPair:
    """DASHBTC and LTCBTC joined on time: the most cointegrated of the 15 altcoin pairs."""
    return load_pair(_spec("DASHBTC"), _spec("LTCBTC"))


@pytest.fixture(scope="module")
def eth_ltc() -> AlignedPair:
    return load_pair(_spec("ETHBTC"), _spec("LTCBTC"))


# --- batch statistics on synthetic pairs ----------------------------------------


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    noise = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = noise[0]
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t]
    return out


def test_cointegrated_pair_built_on_real_eth_is_detected(eth_ltc: AlignedPair) -> None:
    """A = 0.8·B + 0.5 + AR(1) noise (phi 0.9, sigma 0.002, seed 7), B = real log ETHBTC: detected."""
    log_b = eth_ltc.log_a
    log_a = 0.8 * log_b + 0.5 + _ar1(np.random.default_rng(7), len(log_b), 0.9, 0.002)

    stats = pair_statistics(log_a, log_b)

    assert stats.engle_granger.pvalue < 0.001
    assert stats.hedge.beta == pytest.approx(0.8, abs=0.01)
    assert stats.hedge.intercept == pytest.approx(0.5, abs=0.03)
    assert stats.half_life == pytest.approx(-math.log(2) / (0.9 - 1), rel=0.15)
    assert stats.johansen.rank >= 1


def test_independent_random_walks_are_not_cointegrated() -> None:
    """Two independent Gaussian random walks (seed 11, 5,000 steps of 1%): Engle-Granger p 0.50."""
    rng = np.random.default_rng(11)
    log_a, log_b = np.cumsum(rng.normal(0.0, 0.01, (2, 5000)), axis=1)

    eg = engle_granger(log_a, log_b)

    assert eg.pvalue > 0.2


def test_johansen_false_positive_rate_on_random_walks() -> None:
    """Over 200 seeded random-walk pairs Johansen finds a rank in 11%, twice its nominal 5%.

    statsmodels demeans the levels before the test (det_order 0) and reads
    Osterwald-Lenum tables (statsmodels issue #6168); Engle-Granger's size on
    the same pairs is 6% (12 of 200, measured once: too slow for a unit test).
    This is why the strategy acts on Engle-Granger and reports Johansen.
    """
    ranks = [0, 0, 0]
    for seed in range(200):
        steps = np.random.default_rng(seed).normal(0.0, 0.01, (2, 1000))
        ranks[johansen(*np.cumsum(steps, axis=1)).rank] += 1

    assert ranks == [178, 12, 10]


def test_half_life_of_a_trending_series_is_infinite() -> None:
    """A series growing 1% a step (delta proportional to level, lambda > 0) has no half-life."""
    assert half_life(1.01 ** np.arange(100.0)) == math.inf


def test_hedge_ratio_is_the_ols_fit_with_intercept(dash_ltc: AlignedPair) -> None:
    """The slope and intercept equal numpy's least squares on [1, log b]."""
    design = np.column_stack([np.ones(len(dash_ltc.log_b)), dash_ltc.log_b])
    (intercept, beta), *_ = np.linalg.lstsq(design, dash_ltc.log_a, rcond=None)

    hedge = hedge_ratio(dash_ltc.log_a, dash_ltc.log_b)

    assert (hedge.beta, hedge.intercept) == pytest.approx((beta, intercept), rel=1e-10)


# --- the real pairs, pinned -----------------------------------------------------


def test_dash_ltc_figures(dash_ltc: AlignedPair) -> None:
    """DASHBTC on LTCBTC: cointegrated at 1% (Engle-Granger), Johansen rank 2, half-life 31 bars."""
    stats = pair_statistics(dash_ltc.log_a, dash_ltc.log_b)

    assert stats.rows == 5758
    eg, jo = stats.engle_granger, stats.johansen
    assert (eg.tstat, eg.pvalue) == pytest.approx((-3.96936999786, 0.00793706907), rel=1e-6)
    assert (stats.hedge.beta, stats.hedge.intercept) == pytest.approx(
        (0.91161843856, 1.09883910505), rel=1e-9
    )
    assert stats.half_life == pytest.approx(30.7915500446, rel=1e-6)
    assert stats.adf.pvalue == pytest.approx(0.00157573054, rel=1e-6)
    assert jo.trace == pytest.approx((48.6517252269, 7.8812958449), rel=1e-6)
    assert jo.crit_95 == (15.4943, 3.8415)
    assert jo.rank == 2


def test_eth_ltc_figures(eth_ltc: AlignedPair) -> None:
    """ETHBTC on LTCBTC: not cointegrated by Engle-Granger (p 0.68), Johansen rank 1."""
    stats = pair_statistics(eth_ltc.log_a, eth_ltc.log_b)

    assert stats.rows == 5760
    assert stats.engle_granger.pvalue == pytest.approx(0.67596299210, rel=1e-6)
    assert stats.hedge.beta == pytest.approx(-0.12634838599, rel=1e-9)
    assert stats.johansen.trace == pytest.approx((20.27, 3.62), abs=0.005)
    assert stats.johansen.rank == 1


def test_coinbase_btc_eth_figures() -> None:
    """Coinbase BTC-USD on ETH-USD over two days: p 0.11, beta 0.36, Johansen rank 1."""
    pair = load_pair(
        f"BTCUSD={resources.COINBASE_BTCUSD_1M_TRADES}",
        f"ETHUSD={resources.COINBASE_ETHUSD_1M_TRADES}",
    )

    stats = pair_statistics(pair.log_a, pair.log_b)

    assert stats.rows == 2880
    assert stats.engle_granger.pvalue == pytest.approx(0.11062200025, rel=1e-6)
    assert stats.hedge.beta == pytest.approx(0.36015808021, rel=1e-9)
    assert stats.johansen.rank == 1


def test_load_pair_inner_joins_on_time(dash_ltc: AlignedPair) -> None:
    """DASHBTC misses two of LTCBTC's 5,760 bars: both are dropped, times strictly increase."""
    assert (dash_ltc.label_a, dash_ltc.label_b) == ("DASHBTC", "LTCBTC")
    assert len(dash_ltc.ts_open) == len(dash_ltc.log_a) == len(dash_ltc.log_b) == 5758
    assert (np.diff(dash_ltc.ts_open) > 0).all()


# --- the rolling trackers against batch computations ----------------------------


def _batch_pair(log_a: np.ndarray, log_b: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """The PairTracker formulas the slow way: lstsq on each window, pandas rolling on the spread."""
    n = len(log_a)
    beta, alpha = np.full(n, np.nan), np.full(n, np.nan)
    for end in range(window, n + 1):
        xs, ys = log_b[end - window : end], log_a[end - window : end]
        (alpha[end - 1], beta[end - 1]), *_ = np.linalg.lstsq(
            np.column_stack([np.ones(window), xs]), ys, rcond=None
        )
    spread = log_a - beta * log_b - alpha
    rolling = pd.Series(spread).rolling(window)
    mean, std = rolling.mean().to_numpy(), rolling.std().to_numpy()
    return {"beta": beta, "alpha": alpha, "spread": spread, "spread_mean": mean,
            "spread_std": std, "zscore": (spread - mean) / std}  # fmt: skip


@pytest.mark.parametrize("window", [30, 288])
def test_pair_tracker_matches_batch_on_real_series(dash_ltc: AlignedPair, window: int) -> None:
    """Every field agrees with lstsq per window and pandas rolling to 1e-9 of its typical size."""
    price_a, price_b = np.exp(dash_ltc.log_a), np.exp(dash_ltc.log_b)
    expected = _batch_pair(np.log(price_a), np.log(price_b), window)
    tracker = PairTracker(window)

    states = [tracker.update(a, b) for a, b in zip(price_a.tolist(), price_b.tolist(), strict=True)]

    ready = [i for i, state in enumerate(states) if state is not None]
    assert ready == list(range(2 * window - 2, len(states)))
    for name, want in expected.items():
        got = np.array([getattr(states[i], name) for i in ready])
        scale = np.median(np.abs(want[ready]))
        np.testing.assert_allclose(got, want[ready], rtol=1e-9, atol=1e-9 * scale, err_msg=name)


def test_pair_tracker_restored_from_a_snapshot_continues(dash_ltc: AlignedPair) -> None:
    """A tracker restored mid-series from JSON gives the states of the uninterrupted one.

    The regression sums resume bit for bit; the spread's moments are
    recomputed from its window, so the z-scores agree to rounding.
    """
    prices = list(
        zip(np.exp(dash_ltc.log_a).tolist(), np.exp(dash_ltc.log_b).tolist(), strict=True)
    )
    whole, first = PairTracker(50), PairTracker(50)
    expected = [whole.update(a, b) for a, b in prices]
    for a, b in prices[:1234]:
        first.update(a, b)
    resumed = PairTracker(50)
    resumed.restore(json.loads(json.dumps(first.snapshot())))

    rest = [resumed.update(a, b) for a, b in prices[1234:]]

    got = [s for s in rest if s is not None]
    want = [s for s in expected[1234:] if s is not None]
    assert len(got) == len(want) == len(rest)
    assert [(s.beta, s.alpha, s.spread) for s in got] == [(s.beta, s.alpha, s.spread) for s in want]
    z_got, z_want = [s.zscore for s in got], [s.zscore for s in want]
    np.testing.assert_allclose(z_got, z_want, rtol=1e-12, atol=1e-12)


def test_pair_tracker_with_flat_leg_returns_none() -> None:
    """A window where B never moves has no hedge ratio: no state, no exception."""
    tracker = PairTracker(5, z_window=3)

    states = [tracker.update(1.0 + i / 100, 2.0) for i in range(20)]

    assert states == [None] * 20


@pytest.mark.parametrize("window", [0, 2])
def test_pair_tracker_rejects_a_tiny_window(window: int) -> None:
    """A regression window below 3 points is refused."""
    with pytest.raises(ConfigError, match="window"):
        PairTracker(window)


# --- analyze pairs and bad input -------------------------------------------------


def _args(*data: str, as_json: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = [arg for path in data for arg in ("--data", path)]
    return parser.parse_args([*argv, "--json"] if as_json else argv)


def test_analyze_pairs_cli_json() -> None:
    """`python -m genesis analyze pairs --json` on DASHBTC/LTCBTC prints the pinned figures."""
    cmd = [sys.executable, "-m", "genesis", "analyze", "pairs", "--json",
           "--data", _spec("DASHBTC"), "--data", _spec("LTCBTC")]  # fmt: skip

    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["a"], report["b"], report["rows"]) == ("DASHBTC", "LTCBTC", 5758)
    assert report["pvalue"] == pytest.approx(0.00793706907, rel=1e-6)
    assert report["hedge_ratio"] == pytest.approx(0.91161843856, rel=1e-9)
    assert report["johansen"]["rank"] == 2


def test_analyze_pairs_table_names_every_statistic() -> None:
    """Without --json the report is a table of the same figures."""
    out = io.StringIO()

    code = run(_args(_spec("ETHBTC"), str(ALT["LTCBTC"]), as_json=False), out=out)

    assert code == 0
    text = out.getvalue()
    assert "ETHBTC on binance-LTCBTC-5m-2018-01" in text
    for label in ("engle-granger", "hedge ratio", "half-life", "johansen rank"):
        assert label in text


def test_analyze_pairs_needs_two_files() -> None:
    """One --data is a ConfigError naming the count."""
    with pytest.raises(ConfigError, match="expected exactly 2"):
        run(_args(_spec("ETHBTC")))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A --data path that does not exist is named in the error."""
    with pytest.raises(ConfigError, match="no such file"):
        load_pair(_spec("ETHBTC"), str(tmp_path / "absent.csv"))


def test_non_numeric_close_is_a_config_error(tmp_path: Path) -> None:
    """A close that is not a number is reported with its file and line."""
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n"
                   "2018-01-10 04:55:00+00:00,1,1,1,1,1\n"
                   "2018-01-10 05:00:00+00:00,1,1,1,abc,1\n")  # fmt: skip

    with pytest.raises(ConfigError, match=r"bad\.csv:3"):
        load_pair(_spec("ETHBTC"), str(bad))


def test_too_few_aligned_rows_is_a_config_error(tmp_path: Path) -> None:
    """Two files sharing only 10 bar times cannot be tested."""
    rows = pd.read_csv(ALT["ETHBTC"], nrows=40)
    rows.iloc[:20].to_csv(tmp_path / "a.csv", index=False)
    rows.iloc[10:40].to_csv(tmp_path / "b.csv", index=False)

    with pytest.raises(ConfigError, match="share 10 bar timestamps"):
        load_pair(str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))


def test_arrays_of_unequal_length_are_refused() -> None:
    """Batch functions refuse log-price arrays of different lengths."""
    with pytest.raises(ConfigError, match="expected equal"):
        engle_granger(np.arange(40.0), np.arange(41.0))
