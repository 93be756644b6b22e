"""Spread tracking with a historical baseline (SPEC AN-3).

A spread is any one number per update: the price gap of one instrument on two
venues, a basis, a pair's residual. :class:`SpreadTracker` keeps, in O(1) per
update:

* the **rolling** window of the last ``window`` values: mean, stdev and the
  z-score of the newest value against them, ``z = (x - mean) / stdev`` (the
  window includes ``x``, as pandas' ``rolling(window)``);
* the **historical baseline**: mean and stdev of every value seen so far
  (Welford's running moments, pandas' ``expanding()``), the newest value's
  z-score against it, and ``std_ratio`` = rolling stdev / baseline stdev, which
  says whether the spread is currently more or less volatile than usual.

Stdevs are sample ones (``ddof=1``, pandas' default) unless ``ddof=0`` is given.
The rolling moments are updated with Welford's replace step and recomputed
exactly from the window every ``window`` updates (see ``indicators.py``), so
they agree with pandas to ~1e-9 relative over any length. A window whose values
are all equal has stdev 0; its z-score is then 0 (the value *is* the mean).
"""

from __future__ import annotations

import math
from typing import Any

from genesis.analytics.indicators import _RollingMoments

__all__ = ["SpreadTracker"]

# a stdev this small relative to the spread's scale is rounding noise: the window is flat
_FLAT = 1e-12


class SpreadTracker:
    """Rolling mean/stdev/z-score of a spread series plus its all-history baseline.

    ``update`` returns the rolling z-score once ``window`` values were seen, else
    None. The other figures are attributes: ``mean``, ``std``, ``zscore``,
    ``count``, ``baseline_mean``, ``baseline_std``, ``baseline_zscore``, ``std_ratio``
    (None before they exist).
    """

    __slots__ = (
        "_base_m2",
        "_rolling",
        "baseline_mean",
        "baseline_std",
        "baseline_zscore",
        "count",
        "ddof",
        "mean",
        "std",
        "std_ratio",
        "window",
        "zscore",
    )

    def __init__(self, window: int, *, ddof: int = 1) -> None:
        if window < 2:
            raise ValueError(f"SpreadTracker window must be >= 2, was {window}")
        if ddof not in (0, 1):
            raise ValueError(f"SpreadTracker ddof must be 0 or 1, was {ddof}")
        self.window, self.ddof = window, ddof
        self._rolling = _RollingMoments(window)
        self.count = 0
        self.baseline_mean = 0.0
        self._base_m2 = 0.0
        self.baseline_std: float | None = None
        self.baseline_zscore: float | None = None
        self.mean: float | None = None
        self.std: float | None = None
        self.zscore: float | None = None
        self.std_ratio: float | None = None

    @property
    def ready(self) -> bool:
        return self.zscore is not None

    def update(self, spread: float) -> float | None:
        """Add a spread value; return its rolling z-score once the window is full, else None."""
        self._update_baseline(spread)
        if not self._rolling.push(spread):
            return None
        return self._refresh(spread)

    def _update_baseline(self, x: float) -> None:
        self.count = n = self.count + 1
        delta = x - self.baseline_mean
        self.baseline_mean += delta / n
        self._base_m2 += delta * (x - self.baseline_mean)
        self._refresh_baseline(x)

    def _refresh_baseline(self, x: float) -> None:
        if self.count > self.ddof:
            self.baseline_std = std = math.sqrt(self._base_m2 / (self.count - self.ddof))
            self.baseline_zscore = _z(x, self.baseline_mean, std)

    def _refresh(self, x: float) -> float:
        rolling = self._rolling
        self.mean = rolling.mean
        self.std = std = math.sqrt(rolling.variance(self.ddof))
        self.zscore = _z(x, rolling.mean, std)
        self.std_ratio = std / self.baseline_std if self.baseline_std else None
        return self.zscore

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state; :meth:`restore` on a tracker of the same window resumes it."""
        return {
            "window": list(self._rolling.window),
            "count": self.count,
            "baseline_mean": self.baseline_mean,
            "baseline_m2": self._base_m2,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned (the rolling moments recomputed exactly).

        Raises:
            ValueError: the snapshot holds more values than this tracker's window.
        """
        values = [float(v) for v in state["window"]]
        if len(values) > self.window:
            raise ValueError(f"snapshot holds {len(values)} values, window is {self.window}")
        self._rolling = _RollingMoments.of(self.window, values)
        self.count = int(state["count"])
        self.baseline_mean = float(state["baseline_mean"])
        self._base_m2 = float(state["baseline_m2"])
        if values:
            self._refresh_baseline(values[-1])
        if len(values) == self.window:
            self._refresh(values[-1])


def _z(x: float, mean: float, std: float) -> float:
    if std <= _FLAT * max(abs(mean), abs(x)):
        return 0.0
    return (x - mean) / std
