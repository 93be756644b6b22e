"""The backtest metrics, accumulated while the run streams: memory stays flat.

``compute_metrics`` (``metrics.py``) needs the whole equity curve; a long
backtest should not have to hold it. ``RunningMetrics`` buffers a fixed-size
chunk of equity points, folds each full chunk into running statistics with
numpy, and gives the same ``Metrics`` at the end: the return moments are
merged chunk by chunk (Chan et al.'s pairwise update of mean and squared
deviations), the drawdown carries its running peak and the time of the last
point at that peak across chunks, and trade statistics are running sums. The
tests check it against ``compute_metrics`` (and so against empyrical).
"""

from __future__ import annotations

import math
from array import array
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from genesis.backtesting.metrics import (
    Metrics,
    _annualise,
    _last_per_day,
    daily_closes,
    daily_figures,
)
from genesis.errors import DataError

__all__ = ["RunningMetrics"]

_NS_PER_S = 1_000_000_000
_NS_PER_DAY = 86_400 * _NS_PER_S


class _Moments:
    """Count, mean and sum of squared deviations of the returns, plus the downside sum."""

    __slots__ = ("down2", "m2", "maximum", "mean", "minimum", "n")

    def __init__(self) -> None:
        self.n, self.mean, self.m2, self.down2 = 0, 0.0, 0.0, 0.0
        self.minimum, self.maximum = math.inf, -math.inf

    def fold(self, r: npt.NDArray[np.float64]) -> None:
        n_b = int(r.size)
        if n_b == 0:
            return
        mean_b = float(r.mean())
        m2_b = float(((r - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.mean += delta * n_b / n
        self.n = n
        down = np.minimum(r, 0.0)
        self.down2 += float((down * down).sum())
        self.minimum = min(self.minimum, float(r.min()))
        self.maximum = max(self.maximum, float(r.max()))


class _Drawdown:
    """Deepest drawdown and longest time from a peak to its recovery (or the end)."""

    __slots__ = ("last_end_ts", "longest_ns", "peak", "underwater", "worst")

    def __init__(self, initial: float, first_ts: int) -> None:
        self.peak = initial
        self.worst = 0.0
        self.last_end_ts = first_ts  # last point standing at its running peak
        self.underwater = False  # any point below the peak since last_end_ts
        self.longest_ns = 0

    def fold(self, wealth: npt.NDArray[np.float64], times: npt.NDArray[np.int64]) -> None:
        peaks = np.maximum.accumulate(np.concatenate(([self.peak], wealth)))[1:]
        self.worst = min(self.worst, float((wealth / peaks - 1.0).min()))
        self.peak = float(peaks[-1])
        ends = np.flatnonzero(wealth >= peaks)
        if ends.size == 0:
            self.underwater = True
            return
        prev_idx = np.concatenate(([-1], ends[:-1]))
        prev_ts = np.concatenate(([self.last_end_ts], times[ends[:-1]]))
        gap = ends > prev_idx + 1
        gap[0] = gap[0] or self.underwater
        if gap.any():
            self.longest_ns = max(self.longest_ns, int((times[ends] - prev_ts)[gap].max()))
        self.last_end_ts = int(times[ends[-1]])
        self.underwater = bool(ends[-1] < wealth.size - 1)

    def longest_s(self, last_ts: int) -> int:
        longest = self.longest_ns
        if self.underwater:
            longest = max(longest, last_ts - self.last_end_ts)
        return longest // _NS_PER_S


class RunningMetrics:
    """Accumulates equity points and closed-trade P&L; ``finish`` returns the ``Metrics``."""

    def __init__(self, initial_equity: Decimal, *, chunk: int = 65_536) -> None:
        if not (initial_equity.is_finite() and initial_equity > 0):
            raise DataError(f"invalid initial equity {initial_equity}; expected a Decimal > 0")
        self._initial = initial_equity
        self._chunk = chunk
        self._values: array[float] = array("d")
        self._times: array[int] = array("q")
        self._moments = _Moments()
        self._drawdown: _Drawdown | None = None
        self._last_wealth = float(initial_equity)
        self._last_ts = 0
        self._points = 0
        self._days: list[int] = []  # UTC days seen, and the last equity of each
        self._closes: list[float] = []
        self._trades = self._wins = 0
        self._gains = self._losses = self._pnl_sum = 0.0

    def add(self, ts_ns: int, equity: float) -> None:
        """Record the equity after one bar (quote currency, > 0)."""
        self._values.append(equity)
        self._times.append(ts_ns)
        if len(self._values) >= self._chunk:
            self._fold()

    def add_chunk(self, times_ns: array[int], equity: array[float]) -> None:
        """Record many equity points at once (the caller's own buffers; they are copied)."""
        self._values.extend(equity)
        self._times.extend(times_ns)
        if len(self._values) >= self._chunk:
            self._fold()

    def add_trade(self, net_pnl: float) -> None:
        """Record one closed trade's net P&L."""
        self._trades += 1
        self._pnl_sum += net_pnl
        if net_pnl > 0:
            self._wins += 1
            self._gains += net_pnl
        elif net_pnl < 0:
            self._losses += net_pnl

    def _fold(self) -> None:
        wealth = np.frombuffer(self._values, dtype=np.float64).copy()
        times = np.frombuffer(self._times, dtype=np.int64).copy()
        del self._values[:], self._times[:]
        if wealth.size == 0:
            return
        if (wealth <= 0).any() or not np.isfinite(wealth).all():
            raise DataError("equity must stay finite and > 0 for return-based metrics")
        if self._drawdown is None:
            self._drawdown = _Drawdown(self._last_wealth, int(times[0]))
        returns = wealth / np.concatenate(([self._last_wealth], wealth[:-1])) - 1.0
        self._moments.fold(returns)
        self._drawdown.fold(wealth, times)
        self._fold_days(wealth, times)
        self._last_wealth, self._last_ts = float(wealth[-1]), int(times[-1])
        self._points += int(wealth.size)

    def _fold_days(self, wealth: npt.NDArray[np.float64], times: npt.NDArray[np.int64]) -> None:
        """Keep the last equity of each UTC day (one float a day, whatever the bar size)."""
        days, closes = _last_per_day(times, wealth)  # gaps are filled in at the end
        if self._days and self._days[-1] == int(days[0]):
            self._days.pop()
            self._closes.pop()
        self._days.extend(days.tolist())
        self._closes.extend(closes.tolist())

    def finish(
        self,
        *,
        exposed_bars: int,
        fees: Decimal,
        rejected_orders: int,
        final_equity: Decimal,
        periods_per_year: float,
    ) -> Metrics:
        """Fold what is buffered; return the metrics (definitions as ``compute_metrics``)."""
        self._fold()
        if self._points == 0 or self._drawdown is None:
            raise DataError("no equity points: the backtest saw no bars")
        m, ppy = self._moments, periods_per_year
        growth = self._last_wealth / float(self._initial)
        annual = _annualise(growth, ppy / m.n)
        worst = self._drawdown.worst
        day_times = np.asarray(self._days, dtype=np.int64) * _NS_PER_DAY
        daily = daily_figures(float(self._initial), daily_closes(day_times, self._closes)[1])
        return Metrics(
            total_return=growth - 1.0,
            annual_return=annual,
            sharpe=self._sharpe(ppy),
            sortino=self._sortino(ppy),
            calmar=annual / -worst if worst < 0.0 and math.isfinite(annual) else None,
            max_drawdown=worst,
            max_drawdown_duration=self._drawdown.longest_s(self._last_ts),
            win_rate=self._wins / self._trades if self._trades else None,
            profit_factor=self._gains / abs(self._losses) if self._losses < 0 else None,
            expectancy=self._pnl_sum / self._trades if self._trades else None,
            trades=self._trades,
            exposure=exposed_bars / self._points,
            final_equity=format(final_equity, "f"),
            fees=format(fees, "f"),
            rejected_orders=rejected_orders,
            periods_per_year=ppy,
            initial_equity=format(self._initial, "f"),
            **daily.fields(),
        )

    def _sharpe(self, ppy: float) -> float | None:
        m = self._moments
        if m.n < 2 or m.maximum == m.minimum:
            return None
        return m.mean / math.sqrt(m.m2 / (m.n - 1)) * math.sqrt(ppy)

    def _sortino(self, ppy: float) -> float | None:
        m = self._moments
        if m.n < 2:
            return None
        downside = math.sqrt(m.down2 / m.n) * math.sqrt(ppy)
        return None if downside == 0.0 else m.mean * ppy / downside
