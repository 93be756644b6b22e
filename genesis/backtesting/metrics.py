"""Backtest performance metrics (SPEC BT-3): returns, risk ratios, drawdowns, trade statistics.

Everything here is float analytics over a finished run; money stays Decimal only in
``final_equity`` and ``fees``, which are rendered exactly as strings. The exact formulas,
units and annualisation are written down in ``docs/metrics.md``; the return-based ratios
follow empyrical's definitions and the unit tests cross-check them against it.

The work is vectorised with numpy: a 450,000-point equity curve is a handful of array
passes, never a Python loop.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from genesis.errors import ConfigError, DataError

__all__ = [
    "DAYS_PER_YEAR",
    "DailyFigures",
    "Metrics",
    "compute_metrics",
    "daily_closes",
    "daily_figures",
    "periods_per_year",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NS_PER_S: Final = 1_000_000_000
_NS_PER_DAY: Final = 86_400 * _NS_PER_S
# Crypto trades every calendar day, so daily figures are annualised with 365 days,
# not the 252 trading days of equities (quantstats' and empyrical's default).
DAYS_PER_YEAR: Final = 365.0
_SECONDS_PER_HOUR: Final = 3600.0
# How far the float curve's last point may sit from the exact ``final_equity``.
_FINAL_EQUITY_RTOL: Final = 1e-9


@dataclass(frozen=True, slots=True)
class Metrics:
    """The performance summary of one backtest; see ``docs/metrics.md`` for each formula.

    Ratios are ``None`` when undefined (too few returns, zero dispersion, no losses...),
    never NaN or infinity. ``annual_return`` alone may be ``+inf``, when the CAGR of a
    short, steep run overflows a float.
    """

    total_return: float
    annual_return: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    trades: int
    exposure: float
    final_equity: str
    fees: str
    rejected_orders: int
    periods_per_year: float
    initial_equity: str
    days: int
    daily_sharpe: float | None
    daily_sortino: float | None
    daily_cagr: float
    daily_calmar: float | None
    daily_max_drawdown: float
    days_per_year: float

    def to_json(self) -> str:
        """Render as deterministic JSON.

        Returns:
            An indented JSON object with the keys in field order, floats written with
            ``repr`` (shortest round-trip form), ``None``, NaN and infinities as ``null``,
            and exactly one trailing newline.
        """
        payload = {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}
        return json.dumps(payload, indent=2, allow_nan=False) + "\n"


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float):
        return float(value)  # a numpy float64 becomes a plain float
    return value


def periods_per_year(
    interval_ns: int, *, trading_days: float = 365.0, hours_per_day: float = 24.0
) -> float:
    """Number of bars of ``interval_ns`` in a year of trading.

    Crypto trades 24/7, so the defaults count every calendar day and hour: 1-minute bars
    give 365 x 24 x 60 = 525,600 periods per year, 5-minute bars 105,120.

    Args:
        interval_ns: bar length in nanoseconds.
        trading_days: trading days per year (365 for crypto, 252 for equities).
        hours_per_day: trading hours per day (24 for crypto, 6.5 for a US session).

    Returns:
        Periods per year, a float (``trading_days * hours_per_day * 3600 s / interval``).

    Raises:
        ConfigError: ``interval_ns`` is not a positive int, or a calendar argument is not a
            finite positive number.
    """
    if isinstance(interval_ns, bool) or not isinstance(interval_ns, int | np.integer):
        raise ConfigError(f"invalid `interval_ns` {interval_ns!r}; expected an int > 0 (ns)")
    if interval_ns <= 0:
        raise ConfigError(f"invalid `interval_ns` {interval_ns!r}; expected an int > 0 (ns)")
    for name, value in (("trading_days", trading_days), ("hours_per_day", hours_per_day)):
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"invalid `{name}` {value!r}; expected a finite number > 0")
    seconds_per_year = trading_days * hours_per_day * _SECONDS_PER_HOUR
    return seconds_per_year * _NS_PER_S / interval_ns


def compute_metrics(
    *,
    initial_equity: Decimal,
    equity: Sequence[float] | FloatArray,
    timestamps_ns: Sequence[int] | IntArray,
    trade_pnls: Sequence[float] | FloatArray,
    exposed_bars: int,
    fees: Decimal,
    rejected_orders: int,
    final_equity: Decimal,
    periods_per_year: float,
) -> Metrics:
    """Compute the performance metrics of one backtest (formulas in ``docs/metrics.md``).

    Args:
        initial_equity: account equity before the first bar (quote currency), > 0.
        equity: marked-to-market equity after each bar (quote currency), every point > 0.
        timestamps_ns: time of each equity point (ns), non-decreasing; the initial equity
            is taken to stand at ``timestamps_ns[0]``.
        trade_pnls: net P&L of each closed trade, fees included (quote currency).
        exposed_bars: bars that ended with a non-zero position, 0..len(equity).
        fees: total fees paid (quote currency, exact; may be negative with rebates).
        rejected_orders: orders refused by risk or by the venue, >= 0.
        final_equity: the exact final equity; must equal ``equity[-1]`` to 1e-9 relative.
        periods_per_year: equity points per year, e.g. ``periods_per_year(60 * 10**9)``.

    Returns:
        The ``Metrics``: returns and drawdowns as fractions, durations in whole seconds.

    Raises:
        DataError: an input is empty, non-finite, out of range, mis-sized or unsorted, or
            ``final_equity`` disagrees with the curve.
    """
    _check_money(initial_equity=initial_equity, final_equity=final_equity, fees=fees)
    curve = _as_equity(equity)
    times = _as_timestamps(timestamps_ns, curve.size)
    exposed = _as_count("exposed_bars", exposed_bars, upper=curve.size)
    rejected = _as_count("rejected_orders", rejected_orders)
    _check_periods_per_year(periods_per_year)
    _check_final_equity(final_equity, curve)
    return _summarise(
        wealth=np.concatenate(([float(initial_equity)], curve)),
        times=np.concatenate((times[:1], times)),
        pnls=_as_finite("trade_pnls", trade_pnls),
        ppy=float(periods_per_year),
        exposure=exposed / curve.size,
        exact=(initial_equity, final_equity, fees, rejected),
    )


def _summarise(
    *,
    wealth: FloatArray,
    times: IntArray,
    pnls: FloatArray,
    ppy: float,
    exposure: float,
    exact: tuple[Decimal, Decimal, Decimal, int],
) -> Metrics:
    # ``wealth`` and ``times`` start with the initial equity; the rest is validated input.
    returns: FloatArray = wealth[1:] / wealth[:-1] - 1.0
    growth = float(wealth[-1] / wealth[0])
    annual = _annualise(growth, ppy / returns.size)
    peak: FloatArray = np.maximum.accumulate(wealth)
    drawdown = min(float((wealth / peak - 1.0).min()), 0.0)
    initial_equity, final_equity, fees, rejected_orders = exact
    daily = daily_figures(float(initial_equity), daily_closes(times[1:], wealth[1:])[1])
    return Metrics(
        total_return=growth - 1.0,
        annual_return=annual,
        sharpe=_sharpe(returns, ppy),
        sortino=_sortino(returns, ppy),
        calmar=annual / -drawdown if drawdown < 0.0 and math.isfinite(annual) else None,
        max_drawdown=drawdown,
        max_drawdown_duration=_max_drawdown_duration_s(wealth, peak, times),
        win_rate=_win_rate(pnls),
        profit_factor=_profit_factor(pnls),
        expectancy=float(pnls.mean()) if pnls.size else None,
        trades=int(pnls.size),
        exposure=exposure,
        final_equity=format(final_equity, "f"),
        fees=format(fees, "f"),
        rejected_orders=rejected_orders,
        periods_per_year=ppy,
        initial_equity=format(initial_equity, "f"),
        **daily.fields(),
    )


# --- daily figures -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyFigures:
    """Risk-adjusted figures on daily returns, as quantstats and freqtrade users read them.

    A per-minute Sharpe annualised with 525,600 periods is correct but unfamiliar (and
    dominated by microstructure noise); these use one return per UTC day, annualised with
    ``DAYS_PER_YEAR`` = 365 (crypto trades 24/7). Definitions in ``docs/metrics.md``.
    """

    days: int  # daily returns: calendar days from the first equity point's to the last's
    sharpe: float | None
    sortino: float | None
    cagr: float
    calmar: float | None
    max_drawdown: float  # on the daily closes, initial equity included; <= 0

    def fields(self) -> dict[str, Any]:
        """The ``Metrics`` fields these fill (``daily_*``, ``days``, ``days_per_year``)."""
        return {
            "days": self.days, "daily_sharpe": self.sharpe, "daily_sortino": self.sortino,
            "daily_cagr": self.cagr, "daily_calmar": self.calmar,
            "daily_max_drawdown": self.max_drawdown, "days_per_year": DAYS_PER_YEAR,
        }  # fmt: skip


def daily_closes(
    timestamps_ns: Sequence[int] | IntArray, equity: Sequence[float] | FloatArray
) -> tuple[IntArray, FloatArray]:
    """The last equity point of each UTC day, for every calendar day of the curve.

    A day without a point (a gap in the data) carries the previous day's close: the
    market trades every day, the account just did not move, so its return is 0.

    Args:
        timestamps_ns: time of each equity point (ns since the epoch), non-decreasing,
            at least one.
        equity: the equity at each of those times.

    Returns:
        ``(days, closes)``: days since the epoch, consecutive from the first point's UTC
        day to the last's, and the equity standing at the end of each.
    """
    seen, closes = _last_per_day(
        np.asarray(timestamps_ns, dtype=np.int64), np.asarray(equity, dtype=np.float64)
    )
    calendar = np.arange(seen[0], seen[-1] + 1, dtype=np.int64)
    return calendar, closes[np.searchsorted(seen, calendar, side="right") - 1]


def _last_per_day(times: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    # the UTC days that have a point, and the last value of each (times sorted)
    days = times // _NS_PER_DAY
    last = np.append(np.flatnonzero(np.diff(days) != 0), days.size - 1)
    return days[last], values[last]


def daily_figures(initial_equity: float, closes: FloatArray) -> DailyFigures:
    """Sharpe, Sortino, CAGR, Calmar and drawdown of the daily closes (``daily_closes``).

    The first day's return is measured against ``initial_equity``, as the per-bar
    returns are; each ratio is the per-bar one's formula with 365 periods a year.
    """
    wealth = np.concatenate(([initial_equity], closes))
    returns: FloatArray = wealth[1:] / wealth[:-1] - 1.0
    cagr = _annualise(float(wealth[-1] / wealth[0]), DAYS_PER_YEAR / returns.size)
    peak: FloatArray = np.maximum.accumulate(wealth)
    drawdown = min(float((wealth / peak - 1.0).min()), 0.0)
    return DailyFigures(
        days=int(returns.size),
        sharpe=_sharpe(returns, DAYS_PER_YEAR),
        sortino=_sortino(returns, DAYS_PER_YEAR),
        cagr=cagr,
        calmar=cagr / -drawdown if drawdown < 0.0 and math.isfinite(cagr) else None,
        max_drawdown=drawdown,
    )


# --- return-based ratios -----------------------------------------------------------------


def _annualise(growth: float, exponent: float) -> float:
    # A short, steep run (say x2 in ten 1-minute bars) compounds past the float range;
    # report +inf (null in JSON) as numpy and empyrical would, instead of raising.
    try:
        return math.pow(growth, exponent) - 1.0
    except OverflowError:
        return math.inf


def _sharpe(returns: FloatArray, ppy: float) -> float | None:
    # empyrical: a constant series has zero dispersion even when the float std leaves a
    # ~1e-18 residue, so test equality of the extremes rather than std == 0.
    if returns.size < 2 or returns.max() == returns.min():
        return None
    std = float(np.std(returns, ddof=1))
    return float(returns.mean()) / std * math.sqrt(ppy)


def _sortino(returns: FloatArray, ppy: float) -> float | None:
    if returns.size < 2:
        return None
    downside = np.minimum(returns, 0.0)
    downside_risk = math.sqrt(float(np.mean(downside * downside))) * math.sqrt(ppy)
    if downside_risk == 0.0:
        return None
    return float(returns.mean()) * ppy / downside_risk


# --- drawdown duration -------------------------------------------------------------------


def _max_drawdown_duration_s(wealth: FloatArray, peak: FloatArray, times: IntArray) -> int:
    # A drawdown runs from a point at its running peak to the next such point (the
    # recovery, reached when equity is back at or above the peak), or to the last point
    # when it never recovers. Runs with no underwater point between are not drawdowns.
    ends = np.flatnonzero(wealth >= peak)  # ascending, starts at 0
    if ends[-1] != wealth.size - 1:
        ends = np.append(ends, wealth.size - 1)
    starts, stops = ends[:-1], ends[1:]
    underwater = stops > starts + 1
    if not underwater.any():
        return 0
    spans = times[stops[underwater]] - times[starts[underwater]]
    return int(spans.max()) // _NS_PER_S


# --- trade statistics --------------------------------------------------------------------


def _win_rate(pnls: FloatArray) -> float | None:
    if pnls.size == 0:
        return None
    return int(np.count_nonzero(pnls > 0.0)) / pnls.size


def _profit_factor(pnls: FloatArray) -> float | None:
    losses = pnls[pnls < 0.0]
    if losses.size == 0:
        return None
    return float(pnls[pnls > 0.0].sum()) / abs(float(losses.sum()))


# --- input validation --------------------------------------------------------------------


def _check_money(**values: Decimal) -> None:
    for name, value in values.items():
        if not isinstance(value, Decimal) or not value.is_finite():
            raise DataError(f"invalid `{name}` {value!r}; expected a finite Decimal")
    for name in ("initial_equity", "final_equity"):
        if values[name] <= 0:
            raise DataError(f"invalid `{name}` {values[name]}; expected a Decimal > 0")


def _as_finite(name: str, values: Sequence[float] | FloatArray) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"invalid `{name}`: not convertible to floats ({exc})") from exc
    if array.ndim != 1:
        raise DataError(f"invalid `{name}` of shape {array.shape}; expected a 1-D sequence")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        index = int(bad[0])
        raise DataError(
            f"invalid `{name}[{index}]` {float(array[index])!r}; expected a finite number"
        )
    return array


def _as_equity(equity: Sequence[float] | FloatArray) -> FloatArray:
    curve = _as_finite("equity", equity)
    if curve.size == 0:
        raise DataError("invalid `equity`: the curve is empty; expected at least one point")
    bad = np.flatnonzero(curve <= 0.0)
    if bad.size:
        index = int(bad[0])
        raise DataError(f"invalid `equity[{index}]` {float(curve[index])!r}; expected a number > 0")
    return curve


def _as_timestamps(timestamps_ns: Sequence[int] | IntArray, size: int) -> IntArray:
    try:
        times = np.asarray(timestamps_ns, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"invalid `timestamps_ns`: not convertible to int64 ({exc})") from exc
    if times.shape != (size,):
        raise DataError(
            f"invalid `timestamps_ns` of shape {times.shape}; expected ({size},), one per equity"
        )
    back = np.flatnonzero(np.diff(times) < 0)
    if back.size:
        index = int(back[0]) + 1
        raise DataError(
            f"invalid `timestamps_ns[{index}]` {int(times[index])}; expected >= the previous "
            f"{int(times[index - 1])} (non-decreasing)"
        )
    return times


def _as_count(name: str, value: int, upper: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DataError(f"invalid `{name}` {value!r}; expected an int")
    if value < 0 or (upper is not None and value > upper):
        expected = ">= 0" if upper is None else f"0..{upper} (the number of bars)"
        raise DataError(f"invalid `{name}` {value}; expected {expected}")
    return int(value)


def _check_periods_per_year(ppy: float) -> None:
    if not (isinstance(ppy, int | float) and math.isfinite(ppy) and ppy > 0):
        raise DataError(f"invalid `periods_per_year` {ppy!r}; expected a finite number > 0")


def _check_final_equity(final_equity: Decimal, curve: FloatArray) -> None:
    last = float(curve[-1])
    if abs(float(final_equity) - last) > _FINAL_EQUITY_RTOL * abs(last):
        raise DataError(
            f"invalid `final_equity` {final_equity}; expected the last equity point {last!r} "
            f"(within {_FINAL_EQUITY_RTOL} relative)"
        )
