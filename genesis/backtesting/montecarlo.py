"""Monte Carlo resampling of a finished backtest (SPEC BT-4): how much of a result is luck.

A backtest is one path through history. Resampling what it did gives many paths
that could as well have happened, and the spread of their outcomes: intervals for
the final equity, the worst drawdown and the Sharpe, and the probability of ruin
(the share of paths whose drawdown ever reaches a threshold, say 30 %).

Two resamplings, both pure functions over arrays and seeded (a numpy ``Generator``
from ``seed``: the same arguments give the same result, byte for byte):

* **trade order** (``trade_paths``): the run's round-trip P&Ls, drawn with
  replacement (the bootstrap: which trades, and how often) or shuffled without
  (the permutation: only their order changes, so every path ends at the run's final
  equity and only the way there, its drawdown, varies). A path starts from the
  starting cash and adds one trade's P&L per step, so its drawdown is seen at trade
  exits only: an open trade's excursion is not in ``trades.csv``. P&Ls are exact
  decimals, added as integers of their smallest decimal unit, so a shuffled path's
  final equity equals the run's to the last digit, whatever the order.
* **blocks of returns** (``block_paths``): the circular block bootstrap (Politis
  and Romano, 1992) of a return series, daily by default. Each path strings
  together blocks of ``block`` consecutive returns that start at uniformly drawn
  positions and wrap around the end, cut to the series' length. Blocks keep what
  single draws would destroy: volatility clustering and runs of gains or losses.

Per path: the final equity; the max drawdown (a fraction <= 0 of the running peak,
the start included, floored at -1 when equity reaches zero); the Sharpe ratio
(``mean / std(ddof=1)`` of the step returns x ``sqrt(periods_per_year)``, NaN where
undefined). ``summarise`` turns the paths into a ``MonteCarloResult``: percentiles
of each figure, the ruin probability and the fan (equity percentiles at each step,
at most ``FAN_POINTS`` steps, for a report chart).

Paths are built a chunk of rows at a time, so memory stays bounded on per-bar
series (a month of minutes x 1,000 paths would be 360 MB at once).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from genesis.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_PERCENTILES",
    "FAN_POINTS",
    "MonteCarloResult",
    "PathStats",
    "block_paths",
    "ruin_probability",
    "summarise",
    "trade_paths",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Method = Literal["trades", "shuffle", "blocks"]
Series = Literal["trades", "daily", "bar"]

DEFAULT_PERCENTILES: Final = (5.0, 50.0, 95.0)
FAN_POINTS: Final = 250  # steps kept for the fan chart; every step when there are fewer
_CELLS_PER_CHUNK: Final = 2_000_000  # path values built at once (16 MB of floats)
_INT64_HEADROOM: Final = 2**62  # fixed-point sums must stay well inside int64


@dataclass(frozen=True, slots=True)
class PathStats:
    """Per-path figures of one resampling, before any percentile is taken.

    ``final_equity``, ``max_drawdown`` and ``sharpe`` hold one value per path
    (``sharpe`` is NaN where undefined); ``fan`` holds each path's equity at
    ``fan_steps`` (step 0 is the start), one row per path.
    """

    final_equity: FloatArray
    max_drawdown: FloatArray
    sharpe: FloatArray
    fan_steps: IntArray
    fan: FloatArray
    steps: int


@dataclass(frozen=True, slots=True)
class MonteCarloResult:
    """Intervals of a resampled backtest; each tuple of figures follows ``percentiles``.

    ``fan[i]`` is the ``percentiles[i]`` equity curve over ``fan_steps``. ``sharpe``
    entries are ``None`` when no path had a defined Sharpe.
    """

    method: Method
    series: Series  # what was resampled: trade P&Ls, daily returns or per-bar returns
    paths: int
    seed: int
    steps: int
    block: int | None
    start_equity: float
    periods_per_year: float
    percentiles: tuple[float, ...]
    final_equity: tuple[float, ...]
    max_drawdown: tuple[float, ...]
    sharpe: tuple[float | None, ...]
    ruin_threshold: float
    ruin_probability: float
    fan_steps: tuple[int, ...]
    fan: tuple[tuple[float, ...], ...]

    def to_json(self) -> str:
        """Deterministic JSON: field order, floats by ``repr``, one trailing newline."""
        return json.dumps(asdict(self), indent=2, allow_nan=False) + "\n"


# --- the two resamplings -------------------------------------------------------------------


def trade_paths(
    pnls: Sequence[Decimal],
    start: Decimal,
    *,
    paths: int,
    seed: int,
    replace: bool = True,
    periods_per_year: float,
) -> PathStats:
    """Equity paths from the run's trade P&Ls, drawn with replacement or shuffled.

    Args:
        pnls: net P&L of each round trip, in the order closed (quote currency, exact).
        start: the starting cash, > 0.
        paths: number of paths, >= 1.
        seed: seed of the numpy ``Generator``, >= 0.
        replace: True draws trades with replacement (bootstrap); False shuffles them.
        periods_per_year: trades per year, to annualise the per-trade Sharpe.

    Raises:
        ConfigError: a bad ``paths``, ``seed`` or ``periods_per_year``.
        DataError: no trades, a non-finite P&L or start, or amounts too large to add
            exactly in 64-bit integers.
    """
    _check_run(paths, seed, periods_per_year)
    units, start_units, scale = _fixed_point(pnls, start)
    n = units.size
    rng = np.random.default_rng(seed)
    base = np.arange(n, dtype=np.int64)

    def chunks() -> Iterator[FloatArray]:
        for rows in _chunk_sizes(paths, n + 1):
            if replace:
                picks = rng.integers(0, n, size=(rows, n))
            else:
                picks = rng.permuted(np.broadcast_to(base, (rows, n)), axis=1)
            totals = np.cumsum(units[picks], axis=1) + start_units
            wealth = np.empty((rows, n + 1), dtype=np.float64)
            wealth[:, 0] = start_units / scale
            wealth[:, 1:] = totals / scale
            yield wealth

    return _collect(chunks(), paths, n, periods_per_year)


def block_paths(
    returns: Sequence[float] | FloatArray,
    start: float,
    *,
    paths: int,
    seed: int,
    block: int,
    periods_per_year: float,
) -> PathStats:
    """Equity paths from a circular block bootstrap of ``returns``.

    Args:
        returns: simple returns per period (daily or per bar), each > -1.
        start: the starting equity, > 0.
        paths: number of paths, >= 1.
        seed: seed of the numpy ``Generator``, >= 0.
        block: consecutive returns per block, 1..len(returns).
        periods_per_year: periods per year of ``returns`` (365 for daily crypto).

    Raises:
        ConfigError: a bad ``paths``, ``seed``, ``block`` or ``periods_per_year``.
        DataError: an empty series, a return <= -1 or non-finite, or a bad start.
    """
    _check_run(paths, seed, periods_per_year)
    series = _as_returns(returns)
    n = series.size
    if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= n:
        raise ConfigError(f"invalid block {block!r}; expected an int in 1..{n} (the returns)")
    if not (math.isfinite(start) and start > 0):
        raise DataError(f"invalid start equity {start!r}; expected a finite number > 0")
    rng = np.random.default_rng(seed)
    blocks = -(-n // block)
    offsets = np.arange(block, dtype=np.int64)

    def chunks() -> Iterator[FloatArray]:
        for rows in _chunk_sizes(paths, n + 1):
            starts = rng.integers(0, n, size=(rows, blocks))
            picks = ((starts[:, :, None] + offsets) % n).reshape(rows, -1)[:, :n]
            wealth = np.empty((rows, n + 1), dtype=np.float64)
            wealth[:, 0] = start
            wealth[:, 1:] = start * np.cumprod(1.0 + series[picks], axis=1)
            yield wealth

    return _collect(chunks(), paths, n, periods_per_year)


# --- percentiles and ruin ------------------------------------------------------------------


def ruin_probability(max_drawdowns: FloatArray, threshold: float) -> float:
    """Share of paths whose drawdown reached ``threshold`` (0.3: down 30 % from a peak).

    Raises:
        ConfigError: ``threshold`` is not in (0, 1].
    """
    _check_threshold(threshold)
    if max_drawdowns.size == 0:
        return 0.0
    return float(np.count_nonzero(max_drawdowns <= -threshold)) / max_drawdowns.size


def summarise(
    stats: PathStats,
    *,
    method: Method,
    series: Series,
    seed: int,
    block: int | None,
    start_equity: float,
    periods_per_year: float,
    ruin: float = 0.3,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> MonteCarloResult:
    """Percentiles of each per-path figure, the ruin probability at ``ruin``, the fan.

    Raises:
        ConfigError: a percentile outside [0, 100], or ``ruin`` outside (0, 1].
    """
    levels = tuple(float(p) for p in percentiles)
    if not levels or any(not (0.0 <= p <= 100.0) for p in levels):
        raise ConfigError(f"invalid percentiles {percentiles!r}; expected numbers in 0..100")
    probability = ruin_probability(stats.max_drawdown, ruin)
    fan = np.percentile(stats.fan, levels, axis=0)
    return MonteCarloResult(
        method=method,
        series=series,
        paths=int(stats.final_equity.size),
        seed=seed,
        steps=stats.steps,
        block=block,
        start_equity=float(start_equity),
        periods_per_year=float(periods_per_year),
        percentiles=levels,
        final_equity=_floats(np.percentile(stats.final_equity, levels)),
        max_drawdown=_floats(np.percentile(stats.max_drawdown, levels)),
        sharpe=_sharpe_percentiles(stats.sharpe, levels),
        ruin_threshold=float(ruin),
        ruin_probability=probability,
        fan_steps=tuple(int(s) for s in stats.fan_steps),
        fan=tuple(_floats(row) for row in fan),
    )


def _floats(values: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _sharpe_percentiles(sharpe: FloatArray, levels: tuple[float, ...]) -> tuple[float | None, ...]:
    defined = sharpe[np.isfinite(sharpe)]
    if defined.size == 0:
        return tuple(None for _ in levels)
    return _floats(np.percentile(defined, levels))


# --- per-path figures ----------------------------------------------------------------------


def _collect(chunks: Iterator[FloatArray], paths: int, steps: int, ppy: float) -> PathStats:
    """Fold chunks of equity paths (rows: start, then one value per step) into PathStats."""
    fan_steps = _fan_steps(steps)
    finals, drawdowns, sharpes, fans = [], [], [], []
    for wealth in chunks:
        finals.append(wealth[:, -1].copy())
        drawdowns.append(_max_drawdowns(wealth))
        sharpes.append(_sharpes(wealth, ppy))
        fans.append(wealth[:, fan_steps])
    return PathStats(
        final_equity=np.concatenate(finals),
        max_drawdown=np.concatenate(drawdowns),
        sharpe=np.concatenate(sharpes),
        fan_steps=fan_steps,
        fan=np.concatenate(fans),
        steps=steps,
    )


def _max_drawdowns(wealth: FloatArray) -> FloatArray:
    # the start is > 0, so every running peak is too; equity at or below zero is -100 %
    peak = np.maximum.accumulate(wealth, axis=1)
    worst = (wealth / peak - 1.0).min(axis=1)
    return np.asarray(np.clip(worst, -1.0, 0.0), dtype=np.float64)


def _sharpes(wealth: FloatArray, ppy: float) -> FloatArray:
    """Per-path Sharpe of the step returns; NaN with < 2 steps, no dispersion or ruin."""
    out = np.full(wealth.shape[0], np.nan)
    if wealth.shape[1] < 3:
        return out
    alive = (wealth > 0.0).all(axis=1)
    if not alive.any():
        return out
    live = wealth[alive]
    returns = live[:, 1:] / live[:, :-1] - 1.0
    spread = returns.max(axis=1) > returns.min(axis=1)  # as metrics._sharpe: no 1e-18 residue
    std = returns.std(axis=1, ddof=1)
    ratio = np.full(live.shape[0], np.nan)
    ratio[spread] = returns.mean(axis=1)[spread] / std[spread] * math.sqrt(ppy)
    out[alive] = ratio
    return out


def _fan_steps(steps: int) -> IntArray:
    if steps + 1 <= FAN_POINTS:
        return np.arange(steps + 1, dtype=np.int64)
    return np.unique(np.linspace(0, steps, FAN_POINTS).round().astype(np.int64))


def _chunk_sizes(paths: int, width: int) -> Iterator[int]:
    rows = max(1, _CELLS_PER_CHUNK // width)
    for first in range(0, paths, rows):
        yield min(rows, paths - first)


# --- input checks --------------------------------------------------------------------------


def _check_run(paths: int, seed: int, ppy: float) -> None:
    if isinstance(paths, bool) or not isinstance(paths, int) or paths < 1:
        raise ConfigError(f"invalid paths {paths!r}; expected an int >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"invalid seed {seed!r}; expected an int >= 0")
    if not (isinstance(ppy, int | float) and math.isfinite(ppy) and ppy > 0):
        raise ConfigError(f"invalid periods_per_year {ppy!r}; expected a finite number > 0")


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, int | float) and 0.0 < threshold <= 1.0):
        raise ConfigError(
            f"invalid ruin threshold {threshold!r}; expected a drawdown fraction in (0, 1]"
        )


def _fixed_point(pnls: Sequence[Decimal], start: Decimal) -> tuple[IntArray, int, int]:
    """P&Ls and start as int64 multiples of their smallest decimal unit, and that scale.

    Integer sums are exact and do not depend on the order of the terms.
    """
    if not pnls:
        raise DataError("no closed trades to resample; try the block bootstrap of returns")
    amounts = [start, *pnls]
    for index, value in enumerate(amounts):
        if not isinstance(value, Decimal) or not value.is_finite():
            where = "start" if index == 0 else f"pnl[{index - 1}]"
            raise DataError(f"invalid {where} {value!r}; expected a finite Decimal")
    if start <= 0:
        raise DataError(f"invalid start {start}; expected a Decimal > 0")
    places = max(max(-int(v.as_tuple().exponent), 0) for v in amounts)
    scale = 10**places
    exact = [int(v.scaleb(places)) for v in amounts]
    # a bootstrap path may draw the largest trade every time
    if abs(exact[0]) + len(pnls) * max(abs(v) for v in exact[1:]) >= _INT64_HEADROOM:
        raise DataError(
            f"trade P&Ls with {places} decimal places are too large to add exactly in"
            " 64-bit integers; round them"
        )
    return np.asarray(exact[1:], dtype=np.int64), exact[0], scale


def _as_returns(returns: Sequence[float] | FloatArray) -> FloatArray:
    try:
        series = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"invalid returns: not convertible to floats ({exc})") from exc
    if series.ndim != 1 or series.size == 0:
        raise DataError(f"invalid returns of shape {series.shape}; expected a non-empty 1-D series")
    bad = np.flatnonzero(~np.isfinite(series) | (series <= -1.0))
    if bad.size:
        index = int(bad[0])
        raise DataError(
            f"invalid returns[{index}] {float(series[index])!r}; expected a finite number > -1"
        )
    return series
