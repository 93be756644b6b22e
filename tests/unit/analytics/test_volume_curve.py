"""The intraday volume curve (ST-X2) of the bundled BTCUSDT month, checked against pandas.

Data: the bundled Binance BTCUSDT perpetual 1-minute bars, 2021-12-31 23:01 to
2022-02-01 05:31 UTC (45,031 bars): 31 complete UTC days and two partial ones.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from genesis.analytics.volume_curve import DAY_NS, estimate_volume_curve, load_volume_curve
from genesis.resources import BTCUSDT_1M_BARS
from genesis.testing.builders import bar

MINUTE_NS = 60_000_000_000


def _pandas_curve(bucket_s: int) -> pd.Series:
    """The same estimate written independently: groupby day and bucket, complete days only."""
    df = pd.read_csv(BTCUSDT_1M_BARS, parse_dates=["timestamp"])
    df["day"] = df["timestamp"].dt.floor("D")
    seconds = (df["timestamp"] - df["day"]).dt.total_seconds().astype(int)
    df["bucket"] = seconds // bucket_s
    grid = df.groupby(["day", "bucket"])["volume"].sum().unstack()
    grid = grid[grid.notna().all(axis=1)]  # complete days: every bucket has a bar
    shares = grid.div(grid.sum(axis=1), axis=0).mean(axis=0)
    return shares / shares.sum()


@pytest.mark.parametrize("bucket_s", [60, 900])
def test_the_month_matches_a_pandas_groupby(bucket_s: int) -> None:
    """Share per minute (and per quarter hour) of the day, averaged over the 31 complete days,
    equals the pandas groupby to 1e-12."""
    curve = load_volume_curve(BTCUSDT_1M_BARS, bucket_s)

    expected = _pandas_curve(bucket_s)

    assert curve.days == 31
    assert len(curve.shares) == len(expected) == 86_400 // bucket_s
    np.testing.assert_allclose(curve.shares, expected.to_numpy(), rtol=0, atol=1e-12)


def test_the_minutes_of_the_bundled_streams() -> None:
    """23:54-23:58 UTC, the window of the 2024-08-08 streams: 0.71, 0.78, 0.80, 0.55 and 0.55
    of an average minute (1/1440 of the day), the busiest minute 13:31 at 3.65."""
    curve = load_volume_curve(BTCUSDT_1M_BARS, 60)

    relative = [round(float(curve.shares[m]) * 1440, 2) for m in range(1434, 1439)]

    assert relative == [0.71, 0.78, 0.8, 0.55, 0.55]
    assert (int(np.argmax(curve.shares)), round(float(curve.shares.max()) * 1440, 2)) == (811, 3.65)


def test_share_between_integrates_the_buckets() -> None:
    """A whole day is 1, a window across midnight is its two parts, and half a bucket is half
    its share (volume is spread evenly within a bucket)."""
    curve = load_volume_curve(BTCUSDT_1M_BARS, 60)
    t = 19_000 * DAY_NS  # any midnight

    assert curve.share_between(t, t + DAY_NS) == pytest.approx(1.0, abs=1e-12)
    assert curve.share_between(t - MINUTE_NS, t + MINUTE_NS) == pytest.approx(
        float(curve.shares[-1] + curve.shares[0]), abs=1e-12
    )
    assert curve.share_between(t, t + MINUTE_NS // 2) == pytest.approx(
        float(curve.shares[0]) / 2, abs=1e-12
    )
    assert curve.share_between(t, t + 3 * DAY_NS) == pytest.approx(3.0, abs=1e-12)


def _bars(day: int, volumes: dict[int, str]) -> list:
    """One 1-hour bar per hour of ``day`` (epoch days), volume 1 unless given."""
    start = day * DAY_NS
    return [
        bar(ts_open=start + h * 3600 * 10**9, volume=Decimal(volumes.get(h, "1")))
        for h in range(24)
    ]


def test_shares_are_averaged_over_days_not_volumes() -> None:
    """A busy day does not set the shape: hour 0 holds 25/48 of day A's volume and 1/24 of day
    B's (ten times busier overall), so its share is their mean, 0.28125."""
    day_a = _bars(10, {0: "25"})  # 48 in all, 25 in hour 0
    day_b = _bars(11, dict.fromkeys(range(24), "10"))  # 240 in all, evenly

    curve = estimate_volume_curve(day_a + day_b, bucket_s=3600)

    assert curve.days == 2
    assert float(curve.shares[0]) == pytest.approx((25 / 48 + 1 / 24) / 2, abs=1e-15)
    assert float(curve.shares.sum()) == pytest.approx(1.0, abs=1e-15)


def test_partial_days_are_left_out() -> None:
    """A day missing one hour's bar is not complete: only the full day counts."""
    full = _bars(10, {})
    partial = _bars(11, {5: "100"})[1:]

    curve = estimate_volume_curve(full + partial, bucket_s=3600)

    assert curve.days == 1
    np.testing.assert_allclose(curve.shares, np.full(24, 1 / 24), atol=1e-15)


def test_no_complete_day_and_bad_buckets_are_refused() -> None:
    """No complete day, or a bucket that does not divide a day, is a ValueError."""
    with pytest.raises(ValueError, match="no complete day"):
        estimate_volume_curve(_bars(10, {})[:-1], bucket_s=3600)
    with pytest.raises(ValueError, match="divide 86400"):
        estimate_volume_curve(_bars(10, {}), bucket_s=7000)
