"""Statistics of a pair of prices: cointegration, hedge ratio, spread z-score.

Two paths share one set of formulas:

* the research path, batch over whole arrays of log prices (statsmodels):
  :func:`engle_granger`, :func:`hedge_ratio`, :func:`adf`, :func:`half_life`,
  :func:`johansen`, all gathered by :func:`pair_statistics`, plus
  :func:`load_pair` and the ``analyze pairs`` command;
* the live path, O(1) per update: :class:`PairTracker` (rolling hedge ratio,
  spread and z-score), whose z-score is a
  :class:`genesis.analytics.spread.SpreadTracker` (SPEC AN-3) over the spread.

The maths. With ``y = log a`` and ``x = log b``:

* hedge ratio: ``y = alpha + beta x + ε`` by OLS with an intercept; the spread is
  ``s = y - beta x - alpha``. Engle-Granger (statsmodels ``coint``, defaults: constant,
  ADF lags by AIC) tests the residual ``ε`` for a unit root with MacKinnon's
  cointegration p-values. The separate :func:`adf` of the spread uses the plain
  Dickey-Fuller table, which ignores that beta was estimated: its p-value is
  optimistic and is reported for information, never acted on.
* half-life: ``Δs_t = c + λ s_{t-1} + e_t``; an Ornstein-Uhlenbeck spread
  ``ds = -θ s dt + sigma dW`` has ``λ ≈ -θ``, so the half-life is ``-ln 2 / λ``
  bars (``inf`` when ``λ ≥ 0``: no mean reversion). The exact discrete value
  would be ``-ln 2 / ln(1 + λ)``; the two agree to ``O(λ)``.
* Johansen (``coint_johansen``, a constant, one lagged difference): the trace
  statistics for ``rank ≤ 0`` and ``rank ≤ 1`` against their 90/95/99 %
  critical values; the rank is the first ``r`` whose statistic is below its
  95 % value. It is reported, not acted on: statsmodels demeans the levels
  first and reads Osterwald-Lenum tables (statsmodels issue #6168), and on
  200 pairs of independent random walks it finds a rank 11 % of the time at
  95 % where Engle-Granger's p < 0.05 does 6 % (the tests pin this).
* rolling OLS over the last ``W`` points, from sums of centred values
  ``u = x - c_x``, ``v = y - c_y``: ``S_uu = Σu² - (Σu)²/n``,
  ``S_uv = Σuv - ΣuΣv/n``, ``beta = S_uv / S_uu``, ``alpha = c_y + v̄ - beta (c_x + ū)``
  and ``s_t = y_t - beta_t x_t - alpha_t``, the spread of the newest point under the
  newest fit.
* z-score over the last ``Z`` spreads: ``z = (s_t - mean) / stdev`` with the
  sample stdev (``n - 1``), as pandas' ``rolling().std()``.

Numerics of the rolling regression. ``Σu² - (Σu)²/n`` loses every digit the
two terms share: a log price of -2.3 moving by 0.01 inside a window would
leave about 11 significant digits with raw sums, and adding and removing
values for thousands of updates lets rounding errors pile up. So the sums are
of values centred on a point of the window (the first one the accumulator
saw), and a second, fresh accumulator fills with the newest points; once it
holds a whole window it replaces the live one. Every sum is thus rebuilt from
at most ``W`` additions and ``W`` removals, at O(1) cost on every update (no
periodic O(W) pass). On the bundled altcoin pairs ``beta``, ``alpha``, the
spread and its z-score agree with ``numpy.linalg.lstsq`` on each window and
pandas' rolling mean and stdev to a few 1e-12 of their size.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import math
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

# pandas and statsmodels load on first use (``_sm``, ``_pd``): together they cost 0.7 s
# at import, which every CLI command and daemon start would otherwise pay
from genesis.analytics.spread import SpreadTracker
from genesis.data.loaders import read_bars
from genesis.errors import ConfigError, DataError

__all__ = [
    "MIN_ROWS",
    "AdfResult",
    "AlignedPair",
    "EngleGranger",
    "HedgeRatio",
    "Johansen",
    "PairState",
    "PairStatistics",
    "PairTracker",
    "add_arguments",
    "adf",
    "engle_granger",
    "half_life",
    "hedge_ratio",
    "johansen",
    "load_pair",
    "pair_statistics",
    "run",
]

FloatArray = npt.NDArray[np.float64]

MIN_ROWS: Final = 30  # fewer points leave the ADF lag search and Johansen meaningless
_SIGNIFICANCE_95: Final = 1  # column of the 95 % critical value in statsmodels' tables


def _adf_tuple() -> dict[str, bool]:
    adfuller = _sm().adfuller
    return (
        {"result_object": False}
        if "result_object" in inspect.signature(adfuller).parameters
        else {}
    )


@functools.cache
def _sm() -> Any:
    """statsmodels' functions, imported once on first use."""
    from types import SimpleNamespace

    from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]
    from statsmodels.tsa.stattools import adfuller, coint  # type: ignore[import-untyped]
    from statsmodels.tsa.vector_ar.vecm import coint_johansen  # type: ignore[import-untyped]

    return SimpleNamespace(OLS=OLS, adfuller=adfuller, coint=coint, coint_johansen=coint_johansen)


@functools.cache
def _pd() -> Any:
    import pandas  # type: ignore[import-untyped]  # no stubs installed (pandas-stubs)

    return pandas


_DEGENERATE: Final = 1e-12  # centred variance below this share of Σu²: a flat window


# --- batch statistics ----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EngleGranger:
    """Engle-Granger test of ``log_a`` on ``log_b``: ADF t-statistic of the residual."""

    tstat: float
    pvalue: float
    crit_1: float
    crit_5: float
    crit_10: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeRatio:
    """``log_a = intercept + beta · log_b`` by OLS; ``r_squared`` of that fit."""

    beta: float
    intercept: float
    r_squared: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AdfResult:
    """Augmented Dickey-Fuller test of one series (constant, lags by AIC)."""

    tstat: float
    pvalue: float
    lags: int
    nobs: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Johansen:
    """Johansen trace test of two series; index ``r`` is the hypothesis ``rank ≤ r``."""

    trace: tuple[float, float]
    crit_90: tuple[float, float]
    crit_95: tuple[float, float]
    crit_99: tuple[float, float]
    rank: int  # first r whose trace statistic is below its 95 % critical value


@dataclass(frozen=True, slots=True, kw_only=True)
class PairStatistics:
    """Everything :func:`pair_statistics` measures on one aligned pair."""

    rows: int
    engle_granger: EngleGranger
    hedge: HedgeRatio
    adf: AdfResult
    half_life: float  # bars; inf when the spread does not mean-revert
    johansen: Johansen


def engle_granger(log_a: npt.ArrayLike, log_b: npt.ArrayLike) -> EngleGranger:
    """Engle-Granger cointegration test with statsmodels ``coint`` defaults.

    Raises:
        ConfigError: lengths differ, fewer than ``MIN_ROWS`` points, or a
            value is not finite.
    """
    y, x = _pair_arrays(log_a, log_b, "engle_granger")
    tstat, pvalue, crit = _sm().coint(y, x)
    return EngleGranger(
        tstat=float(tstat),
        pvalue=float(pvalue),
        crit_1=float(crit[0]),
        crit_5=float(crit[1]),
        crit_10=float(crit[2]),
    )


def hedge_ratio(log_a: npt.ArrayLike, log_b: npt.ArrayLike) -> HedgeRatio:
    """OLS slope and intercept of ``log_a`` on ``log_b``.

    Raises:
        ConfigError: as :func:`engle_granger`.
    """
    y, x = _pair_arrays(log_a, log_b, "hedge_ratio")
    fit = _sm().OLS(y, np.column_stack([np.ones_like(x), x])).fit()
    intercept, beta = fit.params
    return HedgeRatio(beta=float(beta), intercept=float(intercept), r_squared=float(fit.rsquared))


def spread(log_a: npt.ArrayLike, log_b: npt.ArrayLike, hedge: HedgeRatio) -> FloatArray:
    """``log_a - beta · log_b - intercept``, element by element."""
    y, x = np.asarray(log_a, dtype=np.float64), np.asarray(log_b, dtype=np.float64)
    result: FloatArray = y - hedge.beta * x - hedge.intercept
    return result


def adf(series: npt.ArrayLike) -> AdfResult:
    """Augmented Dickey-Fuller test (statsmodels ``adfuller`` defaults).

    Raises:
        ConfigError: fewer than ``MIN_ROWS`` points or a value not finite.
    """
    values = _series_array(series, "adf")
    tstat, pvalue, lags, nobs, *_ = _sm().adfuller(values, **_adf_tuple())
    return AdfResult(tstat=float(tstat), pvalue=float(pvalue), lags=int(lags), nobs=int(nobs))


def half_life(series: npt.ArrayLike) -> float:
    """Half-life of mean reversion in samples: ``-ln 2 / λ`` from ``Δs = c + λ s₋₁``.

    Returns ``math.inf`` when ``λ ≥ 0`` (the series does not revert).

    Raises:
        ConfigError: fewer than ``MIN_ROWS`` points or a value not finite.
    """
    values = _series_array(series, "half_life")
    lagged = values[:-1]
    design = np.column_stack([np.ones_like(lagged), lagged])
    (_, lam), *_ = np.linalg.lstsq(design, np.diff(values), rcond=None)
    return -math.log(2.0) / float(lam) if lam < 0 else math.inf


def johansen(log_a: npt.ArrayLike, log_b: npt.ArrayLike) -> Johansen:
    """Johansen trace test with a constant (``det_order=0``) and ``k_ar_diff=1``.

    One lagged difference is a VAR(2) in levels: enough for bars whose
    returns are nearly uncorrelated, and fixed rather than chosen by an
    information criterion so that results stay comparable between pairs.

    Raises:
        ConfigError: as :func:`engle_granger`.
    """
    y, x = _pair_arrays(log_a, log_b, "johansen")
    result = _sm().coint_johansen(np.column_stack([y, x]), 0, 1)
    trace, cvt = result.lr1, result.cvt
    rank = 0
    while rank < 2 and trace[rank] > cvt[rank, _SIGNIFICANCE_95]:
        rank += 1
    return Johansen(
        trace=_two(trace),
        crit_90=_two(cvt[:, 0]),
        crit_95=_two(cvt[:, 1]),
        crit_99=_two(cvt[:, 2]),
        rank=rank,
    )


def pair_statistics(log_a: npt.ArrayLike, log_b: npt.ArrayLike) -> PairStatistics:
    """Run every batch statistic on one pair of aligned log-price arrays.

    Raises:
        ConfigError: as :func:`engle_granger`.
    """
    y, x = _pair_arrays(log_a, log_b, "pair_statistics")
    hedge = hedge_ratio(y, x)
    residual = spread(y, x, hedge)
    return PairStatistics(
        rows=len(y),
        engle_granger=engle_granger(y, x),
        hedge=hedge,
        adf=adf(residual),
        half_life=half_life(residual),
        johansen=johansen(y, x),
    )


def _series_array(series: npt.ArrayLike, where: str) -> FloatArray:
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1 or len(values) < MIN_ROWS:
        raise ConfigError(
            f"{where}: invalid series of shape {values.shape}, expected at least {MIN_ROWS} rows"
        )
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ConfigError(f"{where}: value at row {bad} is {values[bad]}, expected finite")
    return values


def _two(values: FloatArray) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def _pair_arrays(a: npt.ArrayLike, b: npt.ArrayLike, where: str) -> tuple[FloatArray, FloatArray]:
    y, x = _series_array(a, f"{where} log_a"), _series_array(b, f"{where} log_b")
    if len(y) != len(x):
        raise ConfigError(f"{where}: log_a has {len(y)} rows and log_b {len(x)}, expected equal")
    return y, x


# --- loading -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AlignedPair:
    """Two bar series joined on their open time: log closes, oldest first."""

    label_a: str
    label_b: str
    ts_open: npt.NDArray[np.int64]  # ns since the epoch, UTC
    log_a: FloatArray
    log_b: FloatArray


def load_pair(spec_a: str, spec_b: str) -> AlignedPair:
    """Read two ``[SYMBOL=]FILE`` bar files and inner-join them on the bar open time.

    A bar missing from either file drops that timestamp from both. The label
    is ``SYMBOL`` when given, else the file name without ``.csv[.gz]``.

    Raises:
        ConfigError: a missing file, an unreadable or invalid row (the message
            is ``<file>:<line>: <reason>``), or fewer than ``MIN_ROWS``
            timestamps in common.
    """
    label_a, closes_a = _read_closes(spec_a)
    label_b, closes_b = _read_closes(spec_b)
    joined = _pd().concat([closes_a.rename("a"), closes_b.rename("b")], axis=1, join="inner")
    if len(joined) < MIN_ROWS:
        raise ConfigError(
            f"analyze pairs: {spec_a!r} and {spec_b!r} share {len(joined)} bar timestamps,"
            f" expected at least {MIN_ROWS}"
        )
    joined = joined.sort_index()
    return AlignedPair(
        label_a=label_a,
        label_b=label_b,
        ts_open=joined.index.to_numpy(dtype=np.int64),
        log_a=np.log(joined["a"].to_numpy(dtype=np.float64)),
        log_b=np.log(joined["b"].to_numpy(dtype=np.float64)),
    )


def _read_closes(spec: str) -> tuple[str, Any]:
    # An existing file whose name holds "=" is taken whole (as backtest --data does).
    label, sep, file = ("", "", spec) if Path(spec).is_file() else spec.partition("=")
    path = Path(file if sep else spec)
    if not path.is_file():
        raise ConfigError(f"analyze pairs: --data {spec!r}: no such file {str(path)!r}")
    try:
        bars = [(bar.ts_open, float(bar.close)) for bar in read_bars(path, label or path.name)]
    except DataError as exc:  # loaders validate rows; here bad input is a command-line error
        raise ConfigError(f"analyze pairs: --data {spec!r}: {exc}") from exc
    index = _pd().Index([ts for ts, _ in bars], dtype=np.int64)
    closes = _pd().Series([close for _, close in bars], index=index, dtype=np.float64)
    return label or path.name.removesuffix(".gz").removesuffix(".csv"), closes


# --- live path: O(1) rolling trackers ------------------------------------------


class _Sums:
    """Sums of centred points ``(u, v) = (x - cx, y - cy)``; the centre is the first point."""

    __slots__ = ("cx", "cy", "n", "su", "suu", "suv", "sv")

    def __init__(self, x: float, y: float) -> None:
        self.cx, self.cy = x, y
        self.n = 0
        self.su = self.sv = self.suu = self.suv = 0.0

    def add(self, x: float, y: float) -> None:
        u, v = x - self.cx, y - self.cy
        self.n += 1
        self.su += u
        self.sv += v
        self.suu += u * u
        self.suv += u * v

    def remove(self, x: float, y: float) -> None:
        u, v = x - self.cx, y - self.cy
        self.n -= 1
        self.su -= u
        self.sv -= v
        self.suu -= u * u
        self.suv -= u * v


class _RollingSums:
    """:class:`_Sums` over the last ``size`` points, rebuilt fresh every ``size`` pushes."""

    __slots__ = ("_fresh", "_points", "live", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._points: deque[tuple[float, float]] = deque()
        self.live: _Sums | None = None
        self._fresh: _Sums | None = None

    def push(self, x: float, y: float) -> _Sums:
        """Add a point (dropping the oldest beyond ``size``); return the live sums."""
        points = self._points
        points.append((x, y))
        live = self.live or _Sums(x, y)
        live.add(x, y)
        if len(points) > self.size:
            live.remove(*points.popleft())
        fresh = self._fresh or _Sums(x, y)
        fresh.add(x, y)
        if fresh.n == self.size:  # it now holds exactly the window, built by additions only
            self.live, self._fresh = fresh, None
            return fresh
        self.live, self._fresh = live, fresh
        return live

    def state(self) -> list[Any]:
        """Everything needed to resume bit for bit (floats survive JSON exactly)."""
        return [list(self._points), _sums_state(self.live), _sums_state(self._fresh)]

    def load(self, state: Sequence[Any]) -> None:
        points, live, fresh = state
        self._points = deque((float(x), float(y)) for x, y in points)
        self.live, self._fresh = _sums_from(live), _sums_from(fresh)


def _sums_state(sums: _Sums | None) -> list[float] | None:
    if sums is None:
        return None
    return [sums.cx, sums.cy, sums.n, sums.su, sums.sv, sums.suu, sums.suv]


def _sums_from(state: Sequence[float] | None) -> _Sums | None:
    if state is None:
        return None
    sums = _Sums(state[0], state[1])
    sums.n = int(state[2])
    sums.su, sums.sv, sums.suu, sums.suv = (float(v) for v in state[3:])
    return sums


class PairState(msgspec.Struct, frozen=True, gc=False):
    """A pair at its newest update: hedge, spread ``log a - beta log b - alpha`` and its z-score."""

    beta: float
    alpha: float
    spread: float
    spread_mean: float
    spread_std: float
    zscore: float


class PairTracker:
    """Rolling hedge ratio, spread and spread z-score of two prices, O(1) per update.

    ``beta`` and ``alpha`` are the OLS fit of ``log a`` on ``log b`` over the last
    ``window`` updates; the spread of the newest point under that fit goes into
    a :class:`~genesis.analytics.spread.SpreadTracker` over the last
    ``z_window`` spreads (default ``window``). The first state comes after
    ``window + z_window - 1`` updates. A window where ``log b`` is flat has no
    hedge ratio: that update returns None and adds no spread. A flat spread
    window has stdev 0 and z-score 0.
    """

    __slots__ = ("_spreads", "_sums", "window", "z_window")

    def __init__(self, window: int, *, z_window: int | None = None) -> None:
        if window < 3:
            raise ConfigError(f"invalid `window` {window}, expected at least 3")
        self.window = window
        self.z_window = window if z_window is None else z_window
        self._sums = _RollingSums(window)
        self._spreads = SpreadTracker(self.z_window)

    def update(self, price_a: float, price_b: float) -> PairState | None:
        """Add one pair of simultaneous prices (both > 0); the state once warm, else None."""
        x, y = math.log(price_b), math.log(price_a)
        sums = self._sums.push(x, y)
        n = sums.n
        if n < self.window:
            return None
        su, sv = sums.su, sums.sv
        s_uu = sums.suu - su * su / n
        if s_uu <= _DEGENERATE * sums.suu:
            return None
        beta = (sums.suv - su * sv / n) / s_uu
        alpha_c = (sv - beta * su) / n  # intercept in centred coordinates
        spread_now = (y - sums.cy) - beta * (x - sums.cx) - alpha_c
        spreads = self._spreads
        zscore = spreads.update(spread_now)
        if zscore is None:
            return None
        mean, std = spreads.mean, spreads.std
        assert mean is not None  # both are set together with the z-score
        assert std is not None
        return PairState(
            beta=beta,
            alpha=sums.cy + alpha_c - beta * sums.cx,
            spread=spread_now,
            spread_mean=mean,
            spread_std=std,
            zscore=zscore,
        )

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state; :meth:`restore` on a tracker with the same windows resumes it.

        The regression sums resume bit for bit; the spread's rolling moments
        are recomputed exactly from its window (``SpreadTracker.restore``), so
        later figures may differ from an uninterrupted run in the last bits.
        """
        return {"pair": self._sums.state(), "spread": self._spreads.snapshot()}

    def restore(self, state: dict[str, Any]) -> None:
        """Load what :meth:`snapshot` returned."""
        self._sums.load(state["pair"])
        self._spreads.restore(state["spread"])


# --- analyze pairs -------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``analyze pairs``."""
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="[SYMBOL=]FILE",
        help="bars CSV (.csv or .csv.gz); exactly two: A then B (A is regressed on B)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run ``analyze pairs``: load, align, measure, print; return 0.

    Raises:
        ConfigError: not exactly two ``--data``, or as :func:`load_pair`.
    """
    if len(args.data) != 2:
        raise ConfigError(
            f"analyze pairs: invalid --data count {len(args.data)}, expected exactly 2 (A and B)"
        )
    pair = load_pair(args.data[0], args.data[1])
    stats = pair_statistics(pair.log_a, pair.log_b)
    report = _report(pair, stats)
    text = json.dumps(report) if args.json else _table(report)
    print(text, file=out or sys.stdout)
    return 0


def _report(pair: AlignedPair, stats: PairStatistics) -> dict[str, Any]:
    eg, hedge, jo = stats.engle_granger, stats.hedge, stats.johansen
    return {
        "a": pair.label_a,
        "b": pair.label_b,
        "rows": stats.rows,
        "tstat": eg.tstat,
        "pvalue": eg.pvalue,
        "crit_values": {"1%": eg.crit_1, "5%": eg.crit_5, "10%": eg.crit_10},
        "hedge_ratio": hedge.beta,
        "intercept": hedge.intercept,
        "r_squared": hedge.r_squared,
        "half_life": stats.half_life if math.isfinite(stats.half_life) else None,
        "adf_tstat": stats.adf.tstat,
        "adf_pvalue": stats.adf.pvalue,
        "johansen": asdict(jo),
    }


def _table(report: dict[str, Any]) -> str:
    jo = report["johansen"]
    crit = report["crit_values"]
    half = report["half_life"]
    rows = [
        ("pair", f"{report['a']} on {report['b']} (log closes, A = alpha + beta·B)"),
        ("rows", f"{report['rows']:,} aligned bars"),
        ("engle-granger", f"t {report['tstat']:.4f}  p-value {report['pvalue']:.4f}"),
        ("  critical", f"1% {crit['1%']:.4f}  5% {crit['5%']:.4f}  10% {crit['10%']:.4f}"),
        ("hedge ratio", f"beta {report['hedge_ratio']:.6f}  alpha {report['intercept']:.6f}"
                        f"  R² {report['r_squared']:.4f}"),
        ("spread ADF", f"t {report['adf_tstat']:.4f}  p-value {report['adf_pvalue']:.4f}"),
        ("half-life", "none (no mean reversion)" if half is None else f"{half:.1f} bars"),
    ]  # fmt: skip
    for r in range(2):
        levels = f"{jo['crit_90'][r]:.2f}/{jo['crit_95'][r]:.2f}/{jo['crit_99'][r]:.2f}"
        rows.append((f"johansen r<={r}", f"trace {jo['trace'][r]:.2f}  (90/95/99%: {levels})"))
    rows.append(("johansen rank", f"{jo['rank']} at 95%"))
    return "\n".join(f"{name:<16}{value}" for name, value in rows)
