"""SpreadTracker on real spreads, against pandas' rolling and expanding statistics.

Data: the Binance - Bybit BTCUSD inverse-perpetual close gap, minute by minute
on 2022-12-13 00:00 to 12:00 UTC (720 minutes traded on both venues), and the
ETHBTC/LTCBTC log price ratio on 5-minute bars of January 2018.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genesis.analytics.spread import SpreadTracker
from genesis.resources import (
    ALTBTC_5M_BARS,
    BINANCE_BTCUSD_1M_TRADES,
    BTCUSDT_1M_BARS,
    BYBIT_BTCUSD_1M_TRADES,
)

RTOL = 1e-9


def _closes(*paths) -> pd.DataFrame:
    frames = [pd.read_csv(p, index_col=0).close for p in paths]
    return pd.concat(frames, axis=1, join="inner").set_axis(range(len(paths)), axis=1)


@pytest.fixture(scope="module")
def venue_gap() -> pd.Series:
    closes = _closes(BINANCE_BTCUSD_1M_TRADES, BYBIT_BTCUSD_1M_TRADES)
    return closes[0] - closes[1]


@pytest.fixture(scope="module")
def eth_ltc() -> pd.Series:
    closes = _closes(ALTBTC_5M_BARS["ETHBTC"], ALTBTC_5M_BARS["LTCBTC"])
    return np.log(closes[0]) - np.log(closes[1])


def _track(series: pd.Series, window: int, **kw) -> tuple[SpreadTracker, pd.DataFrame]:
    tracker = SpreadTracker(window, **kw)
    rows = []
    for x in series.tolist():
        z = tracker.update(x)
        rows.append((z, tracker.mean, tracker.std, tracker.baseline_mean, tracker.baseline_std))
    return tracker, pd.DataFrame(rows, columns=["z", "mean", "std", "base_mean", "base_std"])


def test_cross_venue_gap_matches_pandas_rolling(venue_gap: pd.Series) -> None:
    """60-minute mean, sample stdev and z-score of the real gap equal pandas' rolling ones."""
    roll = venue_gap.rolling(60)
    mean, std = roll.mean().to_numpy(), roll.std().to_numpy()

    _, got = _track(venue_gap, 60)

    assert len(venue_gap) == 720
    ready = ~np.isnan(mean)
    assert got.z.isna().sum() == 59
    np.testing.assert_allclose(got["mean"][ready], mean[ready], rtol=RTOL)
    np.testing.assert_allclose(got["std"][ready], std[ready], rtol=RTOL)
    np.testing.assert_allclose(
        got.z[ready], (venue_gap.to_numpy() - mean)[ready] / std[ready], rtol=1e-8, atol=1e-12
    )


def test_baseline_matches_pandas_expanding(venue_gap: pd.Series) -> None:
    """The historical baseline is the mean and stdev of everything seen so far."""
    expanding = venue_gap.expanding()

    tracker, got = _track(venue_gap, 60)

    np.testing.assert_allclose(got.base_mean, expanding.mean(), rtol=RTOL)
    np.testing.assert_allclose(got.base_std[1:], expanding.std()[1:], rtol=RTOL)
    assert tracker.count == 720
    assert tracker.std_ratio == pytest.approx(tracker.std / venue_gap.std())


def test_the_gap_peak_is_pinned(venue_gap: pd.Series) -> None:
    """The widest gap, 17.3 USD at 06:38, is 2.27 baseline and 1.83 rolling stdevs above the mean."""
    tracker = SpreadTracker(60)
    peak = {}
    for ts, x in venue_gap.items():
        tracker.update(x)
        if x == venue_gap.max():
            peak[ts] = (round(tracker.baseline_zscore, 2), round(tracker.zscore, 2))

    assert round(venue_gap.mean(), 2) == 6.84
    assert peak == {"2022-12-13 06:38:00+00:00": (2.27, 1.83)}


def test_log_ratio_matches_pandas_over_the_month(eth_ltc: pd.Series) -> None:
    """ETHBTC/LTCBTC log ratio, 288-bar (one day) window, population stdev, every bar."""
    roll = eth_ltc.rolling(288)

    _, got = _track(eth_ltc, 288, ddof=0)

    ready = ~roll.mean().isna().to_numpy()
    np.testing.assert_allclose(got["mean"][ready], roll.mean()[ready], rtol=RTOL)
    np.testing.assert_allclose(got["std"][ready], roll.std(ddof=0)[ready], rtol=RTOL)


def test_no_drift_over_45k_updates() -> None:
    """BTCUSDT close - open over the month, 30-bar window: stdevs match a two-pass numpy one."""
    bars = pd.read_csv(BTCUSDT_1M_BARS)
    spread = (bars.close - bars.open).to_numpy()
    windows = np.lib.stride_tricks.sliding_window_view(spread, 30)

    _, got = _track(pd.Series(spread), 30)

    np.testing.assert_allclose(got["std"][29:], windows.std(axis=1, ddof=1), rtol=RTOL)


def test_a_flat_window_has_zero_zscore() -> None:
    """Equal values: stdev 0, z-score 0 instead of a division by zero."""
    tracker = SpreadTracker(3)

    assert [tracker.update(2.5) for _ in range(4)] == [None, None, 0.0, 0.0]


def test_snapshot_restore_resumes_exactly(venue_gap: pd.Series) -> None:
    """A tracker restored from a JSON snapshot after 300 minutes continues as the original."""
    values = venue_gap.tolist()
    original = SpreadTracker(60)
    for x in values[:300]:
        original.update(x)
    restored = SpreadTracker(60)
    restored.restore(json.loads(json.dumps(original.snapshot())))

    tail = [(original.update(x), restored.update(x)) for x in values[300:]]

    np.testing.assert_allclose([a for a, _ in tail], [b for _, b in tail], rtol=1e-12)
    assert restored.baseline_mean == pytest.approx(original.baseline_mean, rel=1e-15)


def test_bad_window_is_rejected() -> None:
    """A window of one value has no stdev."""
    with pytest.raises(ValueError, match="was 1"):
        SpreadTracker(1)
