"""``report.downsample``: at most the limit, extremes and ends kept, x order kept."""

from __future__ import annotations

import numpy as np

from genesis.backtesting.report import downsample


def test_short_series_is_returned_whole() -> None:
    x, y = np.arange(10), np.linspace(1.0, 2.0, 10)
    xs, ys = downsample(x, y, limit=10)
    assert xs.tolist() == x.tolist()
    assert ys.tolist() == y.tolist()


def test_long_series_keeps_its_extremes_and_ends_within_the_limit() -> None:
    """A seeded random walk of 100,000 points cut to <= 5,000 keeps min, max, first, last."""
    y = np.cumsum(np.random.default_rng(7).normal(size=100_000)) + 1_000.0
    x = np.arange(y.size)
    xs, ys = downsample(x, y, limit=5_000)
    assert ys.size <= 5_000
    assert (ys.min(), ys.max()) == (y.min(), y.max())
    assert (xs[0], xs[-1]) == (0, y.size - 1)
    assert np.all(np.diff(xs) > 0)
    assert ys.tolist() == y[xs].tolist()
