"""The intraday volume curve (SPEC ST-X2): what share of a day's volume trades when.

Estimate. From bars with volume (the bundled BTCUSDT month of 1-minute bars),
each UTC day ``d`` gives the share of its volume in each bucket of the day
(``bucket_s`` seconds, 60 = minute of day)::

    share[d, b] = volume[d, b] / sum_b volume[d, b]

The curve is the mean of ``share[d, b]`` over the days used, normalised to sum
to 1 (the mean of shares already sums to 1; the division only removes rounding).
Averaging shares rather than volumes keeps one busy day from setting the shape.
Only *complete* days are used: every bucket of the day holds at least one bar
and the day traded something; a capture's partial first and last days would
otherwise put all of their volume in a few hours.

Reading. ``cumulative(ts_ns)`` is the expected volume traded from the epoch to
``ts_ns``, in days: whole days count 1 each, and inside a day the curve is
integrated with volume spread evenly within each bucket. The share expected
between two instants is the difference of the two, so a window may cross
midnight or last several days. A VWAP schedule asks for the share of each of
its slices; on a window much shorter than a bucket that share is just the
bucket's rate, and the schedule is as flat as a TWAP.

Floats and numpy only (never Decimal); the volume's unit is the file's
(base or quote): a share does not depend on it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from genesis.core.events import Bar
from genesis.data.loaders import read_bars

__all__ = ["DAY_NS", "VolumeCurve", "estimate_volume_curve", "load_volume_curve"]

DAY_NS: Final = 86_400_000_000_000
_NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True, eq=False)
class VolumeCurve:
    """The expected share of a UTC day's volume in each ``bucket_s`` bucket.

    Attributes:
        bucket_s: bucket length in seconds; divides 86,400.
        shares: one share per bucket from midnight UTC, each >= 0, summing to 1.
        days: how many complete days were averaged.
    """

    bucket_s: int
    shares: npt.NDArray[np.float64]
    days: int
    _edges: npt.NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bucket_s <= 0 or 86_400 % self.bucket_s:
            raise ValueError(f"bucket_s must divide 86400, was {self.bucket_s}")
        if self.shares.shape != (86_400 // self.bucket_s,):
            raise ValueError(f"need {86_400 // self.bucket_s} shares, got {self.shares.shape}")
        # the integral at each bucket edge, 0 at midnight and 1 at the next
        edges = np.concatenate(([0.0], np.cumsum(self.shares)))
        edges[-1] = 1.0
        object.__setattr__(self, "_edges", edges)

    def cumulative(self, ts_ns: int) -> float:
        """Expected volume from the epoch to ``ts_ns``, in days (module essay)."""
        day, into = divmod(ts_ns, DAY_NS)
        bucket, rest = divmod(into, self.bucket_s * _NS)
        edges = self._edges
        within = float(self.shares[bucket]) * rest / (self.bucket_s * _NS) if rest else 0.0
        return day + float(edges[bucket]) + within

    def share_between(self, start_ns: int, end_ns: int) -> float:
        """Expected share of a day's volume traded in ``[start_ns, end_ns)``.

        Raises:
            ValueError: ``end_ns`` is before ``start_ns``.
        """
        if end_ns < start_ns:
            raise ValueError(f"end {end_ns} is before start {start_ns}")
        return self.cumulative(end_ns) - self.cumulative(start_ns)

    def bucket_of(self, ts_ns: int) -> int:
        """Index of the bucket holding ``ts_ns`` (0 = the one starting at midnight UTC)."""
        return (ts_ns % DAY_NS) // (self.bucket_s * _NS)


def estimate_volume_curve(bars: Iterable[Bar], bucket_s: int = 60) -> VolumeCurve:
    """The curve of ``bars`` (any instrument, any bar length up to ``bucket_s``).

    A bar counts in the bucket of its open time.

    Raises:
        ValueError: ``bucket_s`` does not divide a day, or no day is complete.
    """
    if bucket_s <= 0 or 86_400 % bucket_s:
        raise ValueError(f"bucket_s must divide 86400, was {bucket_s}")
    opens, volumes = [], []
    for bar in bars:
        opens.append(bar.ts_open)
        volumes.append(float(bar.volume))
    ts = np.asarray(opens, dtype=np.int64)
    per_day = 86_400 // bucket_s
    days, into = np.divmod(ts, DAY_NS)
    cell = (days - days.min(initial=0)) * per_day + into // (bucket_s * _NS)
    n_days = int(days.max(initial=-1) - days.min(initial=0)) + 1
    grid = np.bincount(cell, weights=volumes, minlength=n_days * per_day).reshape(n_days, -1)
    seen = np.bincount(cell, minlength=n_days * per_day).reshape(n_days, -1)
    totals = grid.sum(axis=1)
    complete = (seen > 0).all(axis=1) & (totals > 0)
    if not complete.any():
        raise ValueError("no complete day in the bars: every bucket of a day needs a bar")
    shares = (grid[complete] / totals[complete, None]).mean(axis=0)
    return VolumeCurve(bucket_s, shares / shares.sum(), int(complete.sum()))


@functools.lru_cache(maxsize=8)
def load_volume_curve(path: Path, bucket_s: int = 60) -> VolumeCurve:
    """The curve of a bars CSV (``timestamp,open,high,low,close,volume``), read once.

    Raises:
        DataError: the file cannot be read as bars.
        ValueError: as ``estimate_volume_curve``.
    """
    return estimate_volume_curve(read_bars(path, "CURVE"), bucket_s)
