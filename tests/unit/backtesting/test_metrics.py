"""Tests for backtest metrics: golden numbers and an empyrical cross-check on real bars."""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from decimal import Decimal
from functools import cache
from typing import Any

import empyrical
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.backtesting.metrics import (
    Metrics,
    compute_metrics,
    daily_closes,
    daily_figures,
    periods_per_year,
)
from genesis.errors import ConfigError, DataError
from genesis.resources import BTCUSDT_1M_BARS

SECOND_NS = 10**9
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS
INITIAL = Decimal(100_000)  # USDT
TAKER_FEE = Decimal("0.0004")

Run = dict[str, Any]  # keyword arguments of compute_metrics


# --- real curves from the bundled BTCUSDT perpetual 1-minute bars (2022-01) -----------------


@cache
def _bars() -> tuple[tuple[int, ...], tuple[Decimal, ...]]:
    """Bar open times (ns since the epoch) and closes of the bundled 1-minute bars."""
    with gzip.open(BTCUSDT_1M_BARS, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    opens = np.array([row["timestamp"] for row in rows], dtype="datetime64[ns]").astype(np.int64)
    return tuple(int(ts) for ts in opens), tuple(Decimal(row["close"]) for row in rows)


def _buy_and_hold(closes_at: list[tuple[int, Decimal]], interval_ns: int) -> Run:
    """100,000 USDT buys 1 BTC at the first close and holds it; equity = cash + close."""
    closes = [close for _, close in closes_at]
    cash = INITIAL - closes[0]
    return {
        "initial_equity": INITIAL,
        "equity": [float(cash + close) for close in closes],
        "timestamps_ns": [ts for ts, _ in closes_at],
        "trade_pnls": [float(closes[-1] - closes[0])],
        "exposed_bars": len(closes),
        "fees": Decimal(0),
        "rejected_orders": 0,
        "final_equity": cash + closes[-1],
        "periods_per_year": periods_per_year(interval_ns),
    }


def _buy_and_hold_1m() -> Run:
    """Buy and hold on the 1-minute bars, equity stamped at each bar's close time."""
    opens, closes = _bars()
    return _buy_and_hold(
        [(ts + MINUTE_NS, c) for ts, c in zip(opens, closes, strict=True)], MINUTE_NS
    )


def _buy_and_hold_5m() -> Run:
    """Buy and hold on a 5-minute resample (last 1-minute close in each 5-minute bucket)."""
    opens, closes = _bars()
    last: dict[int, Decimal] = {}
    for ts, close in zip(opens, closes, strict=True):
        last[ts // (5 * MINUTE_NS)] = close
    return _buy_and_hold([((b + 1) * 5 * MINUTE_NS, c) for b, c in last.items()], 5 * MINUTE_NS)


def _session_1m() -> Run:
    """Long 1 BTC from the first 08:00 UTC bar to the first 16:00 UTC bar each day, 4 bps fees.

    Flat 16 hours a day, so the curve has long flat stretches and 31 real round trips.
    """
    opens, closes = _bars()
    cash, held, entry, fees, exposed = INITIAL, 0, Decimal(0), Decimal(0), 0
    equity: list[float] = []
    pnls: list[float] = []
    for ts, close in zip(opens, closes, strict=True):
        fee = close * TAKER_FEE
        if held == 0 and ts // HOUR_NS % 24 == 8:
            cash, held, entry, fees = cash - close - fee, 1, close + fee, fees + fee
        elif held == 1 and ts // HOUR_NS % 24 == 16:
            cash, held, fees = cash + close - fee, 0, fees + fee
            pnls.append(float(close - fee - entry))
        equity.append(float(cash + held * close))
        exposed += held
    return {
        **_buy_and_hold_1m(),
        "equity": equity,
        "trade_pnls": pnls,
        "exposed_bars": exposed,
        "fees": fees,
        "final_equity": cash + held * closes[-1],
    }


def _returns(run: Run) -> npt.NDArray[np.float64]:
    """Simple returns of [initial equity] + equity, the series handed to empyrical."""
    wealth = np.array([float(run["initial_equity"]), *run["equity"]], dtype=np.float64)
    return np.asarray(wealth[1:] / wealth[:-1] - 1.0, dtype=np.float64)


def _split(values: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Float fields (compared with a tolerance) and the rest (compared exactly)."""
    floats = {k: v for k, v in values.items() if isinstance(v, float)}
    return floats, {k: v for k, v in values.items() if k not in floats}


REAL_RUNS: dict[str, Callable[[], Run]] = {
    "buy-and-hold-1m": _buy_and_hold_1m,
    "buy-and-hold-5m": _buy_and_hold_5m,
    "session-1m-flat-stretches": _session_1m,
}

# Pinned from this implementation after the empyrical cross-check above agreed; durations in s.
GOLDEN: dict[str, dict[str, Any]] = {
    "buy-and-hold-1m": {
        "total_return": -0.07833000000000001,
        "annual_return": -0.614054383820324,
        "sharpe": -2.9948601068557665,
        "sortino": -4.332415382330262,
        "calmar": -4.179987940937021,
        "max_drawdown": -0.14690338644438106,
        "max_drawdown_duration": 2_550_600,
        "win_rate": 0.0,
        "profit_factor": 0.0,
        "expectancy": -7833.0,
        "trades": 1,
        "exposure": 1.0,
        "final_equity": "92167.0",
        "fees": "0",
        "rejected_orders": 0,
        "periods_per_year": 525_600.0,
        "initial_equity": "100000",
        "days": 33,
        "daily_sharpe": -3.9189483531690894,
        "daily_sortino": -4.333605025583049,
        "daily_cagr": -0.5943205345254388,
        "daily_calmar": -4.706170465795983,
        "daily_max_drawdown": -0.1262853818927525,
        "days_per_year": 365.0,
    },
    "buy-and-hold-5m": {
        "total_return": -0.07876000000000005,
        "annual_return": -0.6161181756824093,
        "sharpe": -3.003270859783658,
        "sortino": -4.258883669227846,
        "calmar": -4.213801564367974,
        "max_drawdown": -0.14621433075831625,
        "max_drawdown_duration": 2_550_600,
        "win_rate": 0.0,
        "profit_factor": 0.0,
        "expectancy": -7876.0,
        "trades": 1,
        "exposure": 1.0,
        "final_equity": "92124.0",
        "fees": "0",
        "rejected_orders": 0,
        "periods_per_year": 105_120.0,
        "initial_equity": "100000",
        "days": 33,
        "daily_sharpe": -3.959701815063002,
        "daily_sortino": -4.32770130292014,
        "daily_cagr": -0.5964090416729804,
        "daily_calmar": -4.799835439436918,
        "daily_max_drawdown": -0.12425614361123738,
        "days_per_year": 365.0,
    },
    "session-1m-flat-stretches": {
        "total_return": -0.004586768000000019,
        "annual_return": -0.05224545226436628,
        "sharpe": -0.23048562175483153,
        "sortino": -0.33959505973323023,
        "calmar": -1.2108448533308958,
        "max_drawdown": -0.04314793271875006,
        "max_drawdown_duration": 2_131_200,
        "win_rate": 0.41935483870967744,
        "profit_factor": 0.9355925109075606,
        "expectancy": -14.79602580645163,
        "trades": 31,
        "exposure": 0.33043903088983145,
        "final_equity": "99541.32320",
        "fees": "1020.67680",
        "rejected_orders": 0,
        "periods_per_year": 525_600.0,
        "initial_equity": "100000",
        "days": 33,
        "daily_sharpe": -0.46413634026986456,
        "daily_sortino": -0.6986730598463039,
        "daily_cagr": -0.049577959515498926,
        "daily_calmar": -1.6944020904341435,
        "daily_max_drawdown": -0.029259855022249148,
        "days_per_year": 365.0,
    },
}


# --- cross-check with empyrical and golden numbers on real curves --------------------------


@pytest.mark.parametrize("name", list(REAL_RUNS))
def test_return_metrics_match_empyrical_on_real_curves(name: str) -> None:
    """Sharpe, Sortino, Calmar, max drawdown, CAGR and total return equal empyrical's to 1e-9."""
    run = REAL_RUNS[name]()
    returns, ppy = _returns(run), run["periods_per_year"]
    expected = {
        "sharpe": empyrical.sharpe_ratio(returns, annualization=ppy),
        "sortino": empyrical.sortino_ratio(returns, annualization=ppy),
        "calmar": empyrical.calmar_ratio(returns, annualization=ppy),
        "max_drawdown": empyrical.max_drawdown(returns),
        "annual_return": empyrical.cagr(returns, annualization=ppy),
        "total_return": empyrical.cum_returns_final(returns),
    }

    metrics = compute_metrics(**run)

    assert {key: getattr(metrics, key) for key in expected} == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", list(REAL_RUNS))
def test_metrics_match_golden_numbers_on_real_curves(name: str) -> None:
    """Every metric of the real runs stays pinned (floats to rtol 1e-9, the rest exactly)."""
    expected_floats, expected_exact = _split(GOLDEN[name])

    floats, exact = _split(asdict(compute_metrics(**REAL_RUNS[name]())))

    assert floats == pytest.approx(expected_floats, rel=1e-9)
    assert exact == expected_exact


def test_numpy_arrays_give_the_same_metrics_as_lists() -> None:
    """Numpy arrays and numpy ints are accepted and give exactly the list result."""
    run = _session_1m()
    arrays = {
        **run,
        "equity": np.asarray(run["equity"]),
        "timestamps_ns": np.asarray(run["timestamps_ns"], dtype=np.int64),
        "trade_pnls": np.asarray(run["trade_pnls"]),
        "exposed_bars": np.int64(run["exposed_bars"]),
    }

    assert compute_metrics(**arrays) == compute_metrics(**run)


# --- daily figures (the quantstats view) ---------------------------------------------------

DAY_S = 86_400


def _daily_returns_by_pandas(run: Run) -> npt.NDArray[np.float64]:
    """Daily returns as a quantstats user builds them: resample to UTC days, last value,
    empty days carried forward, the initial equity standing before the first day."""
    curve = pd.Series(run["equity"], index=pd.to_datetime(run["timestamps_ns"], utc=True))
    closes = curve.resample("1D").last().ffill().to_numpy()
    wealth = np.concatenate(([float(run["initial_equity"])], closes))
    return np.asarray(wealth[1:] / wealth[:-1] - 1.0, dtype=np.float64)


@pytest.mark.parametrize("name", list(REAL_RUNS))
def test_daily_ratios_match_empyrical_on_pandas_daily_returns(name: str) -> None:
    """Daily Sharpe, Sortino, CAGR, Calmar equal empyrical's on pandas-resampled days (365/yr).

    quantstats' ``sharpe``/``sortino``/``cagr`` (periods=365) are the same formulas:
    mean / std(ddof=1) x sqrt(365); mean / sqrt(sum(r<0 squared) / n) x sqrt(365);
    (1 + total) ** (365 / n) - 1.
    """
    run = REAL_RUNS[name]()
    returns = _daily_returns_by_pandas(run)
    expected = {
        "days": returns.size,
        "daily_sharpe": empyrical.sharpe_ratio(returns, annualization=365),
        "daily_sortino": empyrical.sortino_ratio(returns, annualization=365),
        "daily_cagr": empyrical.cagr(returns, annualization=365),
        "daily_calmar": empyrical.calmar_ratio(returns, annualization=365),
        "daily_max_drawdown": empyrical.max_drawdown(returns),
    }

    metrics = compute_metrics(**run)

    assert {key: getattr(metrics, key) for key in expected} == pytest.approx(expected, rel=1e-9)


def test_daily_figures_of_a_hand_worked_three_day_curve() -> None:
    """100 -> 110 (day 0) -> 99 (day 1) -> 108.9 (day 2): returns +10 %, -10 %, +10 %."""
    run = _tiny(
        [105.0, 110.0, 99.0, 104.0, 108.9],
        seconds=[60, 3_600, DAY_S + 60, 2 * DAY_S + 60, 2 * DAY_S + 120],
    )
    r = np.array([0.1, -0.1, 0.1])
    mean, std = r.mean(), r.std(ddof=1)  # 1/30, 0.11547
    downside = math.sqrt(0.01 / 3)  # one losing day of three

    metrics = compute_metrics(**run)

    assert metrics.days == 3
    assert metrics.daily_sharpe == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert metrics.daily_sortino == pytest.approx(mean / downside * math.sqrt(365), rel=1e-12)
    assert metrics.daily_cagr == pytest.approx(1.089 ** (365 / 3) - 1, rel=1e-12)
    assert metrics.daily_max_drawdown == pytest.approx(-0.1, rel=1e-12)
    assert metrics.daily_calmar == pytest.approx((1.089 ** (365 / 3) - 1) / 0.1, rel=1e-12)


def test_a_day_without_equity_points_is_a_flat_day() -> None:
    """A gap day carries the previous close: a zero return that still counts as a day."""
    days, closes = daily_closes([0, 10 * SECOND_NS, 2 * DAY_S * SECOND_NS], [101.0, 102.0, 99.0])

    assert days.tolist() == [0, 1, 2]
    assert closes.tolist() == [102.0, 102.0, 99.0]


def test_one_day_has_a_cagr_but_no_daily_sharpe() -> None:
    """A single daily return has no dispersion: Sharpe and Sortino are undefined."""
    figures = daily_figures(100.0, np.array([101.0]))

    assert (figures.days, figures.sharpe, figures.sortino) == (1, None, None)
    assert figures.cagr == pytest.approx(1.01**365 - 1, rel=1e-12)


# --- hand-worked tiny examples -------------------------------------------------------------


def _tiny(
    equity: list[float],
    *,
    seconds: list[int] | None = None,
    pnls: tuple[float, ...] = (),
    exposed: int = 0,
    ppy: float = 4.0,
) -> Run:
    """A small run starting from 100 USDT, one point per 60 s unless ``seconds`` is given."""
    stamps = seconds if seconds is not None else [60 * i for i in range(len(equity))]
    return {
        "initial_equity": Decimal(100),
        "equity": equity,
        "timestamps_ns": [s * SECOND_NS for s in stamps],
        "trade_pnls": list(pnls),
        "exposed_bars": exposed,
        "fees": Decimal("1.25"),
        "rejected_orders": 2,
        "final_equity": Decimal(repr(equity[-1])),
        "periods_per_year": ppy,
    }


# 100 -> 110 -> 99 -> 121 -> 110 -> 115 at t = 0, 0, 60, 120, 180, 300 s (the initial 100
# stands at the first timestamp). Drawdown 1: peak 110 @0 s, trough 99 (-10 %), recovered by
# 121 @120 s: 120 s. Drawdown 2: peak 121 @120 s, never recovered, runs to the end @300 s:
# 180 s, shallower (-9.1 %) but longer. Trades +30, -10, 0, +20, -5: 2 wins of 5, profit
# factor 50 / 15, expectancy 35 / 5 = 7.
TINY = _tiny(
    [110.0, 99.0, 121.0, 110.0, 115.0],
    seconds=[0, 60, 120, 180, 300],
    pnls=(30.0, -10.0, 0.0, 20.0, -5.0),
    exposed=3,
)

TINY_JSON = """\
{
  "total_return": 0.1499999999999999,
  "annual_return": 0.11829986451586216,
  "sharpe": 0.521741948384323,
  "sortino": 1.1698882953259198,
  "calmar": 1.1829986451586219,
  "max_drawdown": -0.09999999999999998,
  "max_drawdown_duration": 180,
  "win_rate": 0.4,
  "profit_factor": 3.3333333333333335,
  "expectancy": 7.0,
  "trades": 5,
  "exposure": 0.6,
  "final_equity": "115.0",
  "fees": "1.25",
  "rejected_orders": 2,
  "periods_per_year": 4.0,
  "initial_equity": "100",
  "days": 1,
  "daily_sharpe": null,
  "daily_sortino": null,
  "daily_cagr": 1.4279458186331043e+22,
  "daily_calmar": null,
  "daily_max_drawdown": 0.0,
  "days_per_year": 365.0
}
"""


def test_longest_drawdown_duration_wins_over_the_deepest() -> None:
    """Duration is the longest peak-to-recovery span, an unrecovered one running to the end."""
    metrics = compute_metrics(**TINY)

    assert (metrics.max_drawdown, metrics.max_drawdown_duration) == pytest.approx((-0.1, 180))


def test_returning_to_the_peak_exactly_ends_a_drawdown() -> None:
    """Equity back at (not above) its peak counts as recovered."""
    run = _tiny([100.0, 90.0, 100.0, 95.0])  # 100@0 -> 90@60 -> 100@120 -> 95@180

    metrics = compute_metrics(**run)

    assert metrics.max_drawdown_duration == 120


def test_a_loss_on_the_first_bar_is_measured_from_the_initial_equity() -> None:
    """The initial equity is the first peak, so a first-bar drop is a drawdown."""
    run = _tiny([80.0, 90.0], seconds=[60, 120])

    metrics = compute_metrics(**run)

    assert (metrics.max_drawdown, metrics.max_drawdown_duration) == pytest.approx((-0.2, 60))


def test_trade_statistics_of_a_hand_worked_trade_list() -> None:
    """Win rate 2/5 (breakeven is not a win), profit factor 50/15, expectancy 7."""
    metrics = compute_metrics(**TINY)

    assert (metrics.trades, metrics.win_rate, metrics.profit_factor, metrics.expectancy) == (
        pytest.approx((5, 0.4, 50 / 15, 7.0))
    )


def test_three_point_curve_matches_hand_worked_ratios() -> None:
    """100 -> 120 -> 108 -> 108 at 4 periods a year gives the closed-form ratios below."""
    run = _tiny([120.0, 108.0, 108.0])  # returns +0.2, -0.1, 0
    annual = 1.08 ** (4 / 3) - 1

    metrics = compute_metrics(**run)

    assert (
        metrics.total_return,
        metrics.annual_return,
        metrics.max_drawdown,
        metrics.sharpe,
        metrics.sortino,
        metrics.calmar,
    ) == pytest.approx((0.08, annual, -0.1, 2 / math.sqrt(21), 2 / math.sqrt(3), annual / 0.1))


def test_no_trades_leaves_trade_statistics_undefined() -> None:
    """Without closed trades, win rate, profit factor and expectancy are None."""
    metrics = compute_metrics(**_tiny([101.0, 102.0]))

    assert (metrics.trades, metrics.win_rate, metrics.profit_factor, metrics.expectancy) == (
        0,
        None,
        None,
        None,
    )


def test_no_losing_trade_leaves_profit_factor_undefined() -> None:
    """Profit factor is None without a loss; a breakeven trade is not a loss."""
    metrics = compute_metrics(**_tiny([101.0], pnls=(5.0, 0.0, 7.0)))

    assert (metrics.profit_factor, metrics.win_rate) == pytest.approx((None, 2 / 3))


def test_only_losing_trades_give_a_zero_profit_factor() -> None:
    """With losses and no wins the profit factor is 0.0, not None."""
    metrics = compute_metrics(**_tiny([99.0], pnls=(-1.0, -2.0)))

    assert (metrics.profit_factor, metrics.win_rate) == (0.0, 0.0)


def test_constant_equity_has_no_ratios_and_no_drawdown() -> None:
    """Flat equity: Sharpe, Sortino and Calmar are None (not NaN), drawdown 0 for 0 s."""
    metrics = compute_metrics(**_tiny([100.0, 100.0, 100.0]))

    assert (metrics.sharpe, metrics.sortino, metrics.calmar) == (None, None, None)
    assert (metrics.total_return, metrics.max_drawdown, metrics.max_drawdown_duration) == (
        0.0,
        0.0,
        0,
    )


def test_rising_equity_has_sharpe_but_no_sortino_or_calmar() -> None:
    """No down period: downside risk and drawdown are 0, so Sortino and Calmar are None."""
    metrics = compute_metrics(**_tiny([110.0, 121.0, 121.0]))  # returns 0.1, 0.1, 0

    assert (metrics.sharpe, metrics.sortino, metrics.calmar) == pytest.approx(
        (4 / math.sqrt(3), None, None)
    )


def test_cagr_past_the_float_range_is_infinite_and_calmar_undefined() -> None:
    """x2 over two 1-minute bars annualises past 1e308: CAGR +inf (null in JSON), Calmar None."""
    metrics = compute_metrics(**_tiny([200.0, 150.0], ppy=525_600.0))

    assert (metrics.annual_return, metrics.calmar) == (math.inf, None)
    assert json.loads(metrics.to_json())["annual_return"] is None


def test_a_single_bar_has_no_sharpe_or_sortino() -> None:
    """One return has no sample standard deviation: both ratios are None."""
    metrics = compute_metrics(**_tiny([90.0]))

    assert (metrics.sharpe, metrics.sortino, metrics.max_drawdown) == pytest.approx(
        (None, None, -0.1)
    )


def test_exposure_is_the_fraction_of_bars_holding_a_position() -> None:
    """3 exposed bars of 5 is an exposure of 0.6."""
    metrics = compute_metrics(**TINY)

    assert metrics.exposure == 0.6


def test_money_fields_are_exact_plain_decimal_strings() -> None:
    """final_equity and fees keep every digit and never use exponent notation."""
    run = {**_tiny([1200.0]), "final_equity": Decimal("1.2E+3"), "fees": Decimal("0E-8")}

    metrics = compute_metrics(**run)

    assert (metrics.final_equity, metrics.fees) == ("1200", "0.00000000")


# --- JSON rendering ------------------------------------------------------------------------


def test_to_json_matches_the_pinned_text() -> None:
    """Fixed key order, floats via repr, ints as ints, money as strings, one trailing newline."""
    text = compute_metrics(**TINY).to_json()

    assert text == TINY_JSON


def test_to_json_is_identical_across_runs_on_real_data() -> None:
    """Two computations on the same real run render byte-identical JSON in field order."""
    first = compute_metrics(**_session_1m()).to_json()

    second = compute_metrics(**_session_1m()).to_json()

    assert first == second
    assert list(json.loads(first)) == [field.name for field in fields(Metrics)]


def test_to_json_renders_none_nan_and_infinity_as_null() -> None:
    """None, NaN and +/-inf all become null; the text stays strict JSON."""
    metrics = replace(compute_metrics(**TINY), sharpe=None, sortino=math.nan, calmar=-math.inf)

    decoded = json.loads(metrics.to_json())

    assert (decoded["sharpe"], decoded["sortino"], decoded["calmar"]) == (None, None, None)


# --- periods per year ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval_ns", "calendar", "expected"),
    [
        (MINUTE_NS, {}, 525_600.0),  # 365 x 24 x 60
        (5 * MINUTE_NS, {}, 105_120.0),
        (HOUR_NS, {}, 8_760.0),
        (24 * HOUR_NS, {}, 365.0),
        (MINUTE_NS, {"trading_days": 252.0, "hours_per_day": 6.5}, 98_280.0),
    ],
)
def test_periods_per_year_counts_bars_in_a_trading_year(
    interval_ns: int, calendar: dict[str, float], expected: float
) -> None:
    """Crypto trades 24/7: 1-minute bars give 525,600 periods a year."""
    assert periods_per_year(interval_ns, **calendar) == expected


@pytest.mark.parametrize(
    ("interval_ns", "calendar"),
    [(0, {}), (-MINUTE_NS, {}), (60.0, {}), (True, {}), (MINUTE_NS, {"trading_days": 0.0})],
)
def test_periods_per_year_rejects_bad_intervals_and_calendars(
    interval_ns: Any, calendar: dict[str, float]
) -> None:
    """A non-positive or non-int interval, or a zero calendar, is a ConfigError."""
    with pytest.raises(ConfigError, match="invalid"):
        periods_per_year(interval_ns, **calendar)


# --- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"equity": [], "timestamps_ns": []}, r"`equity`: the curve is empty"),
        ({"equity": [110.0, 0.0, 121.0, 110.0, 115.0]}, r"`equity\[1\]` 0\.0; expected .*> 0"),
        ({"equity": [110.0, math.nan, 121.0, 110.0, 115.0]}, r"`equity\[1\]` nan"),
        ({"timestamps_ns": [0, 60]}, r"`timestamps_ns` of shape \(2,\); expected \(5,\)"),
        ({"timestamps_ns": [0, 60, 30, 180, 300]}, r"`timestamps_ns\[2\]` 30; expected >= .* 60"),
        ({"trade_pnls": [1.0, math.inf]}, r"`trade_pnls\[1\]` inf"),
        ({"final_equity": Decimal("116")}, r"`final_equity` 116; expected the last .* 115\.0"),
        ({"initial_equity": Decimal(0)}, r"`initial_equity` 0; expected a Decimal > 0"),
        ({"fees": 1.25}, r"`fees` 1\.25; expected a finite Decimal"),
        ({"exposed_bars": 6}, r"`exposed_bars` 6; expected 0\.\.5"),
        ({"exposed_bars": 2.0}, r"`exposed_bars` 2\.0; expected an int"),
        ({"rejected_orders": -1}, r"`rejected_orders` -1; expected >= 0"),
        ({"periods_per_year": 0.0}, r"`periods_per_year` 0\.0; expected a finite number > 0"),
    ],
)
def test_bad_input_raises_data_error_naming_field_value_and_expectation(
    change: Run, message: str
) -> None:
    """A malformed argument is a DataError naming the field, its value and what was expected."""
    run = {**TINY, **change}

    with pytest.raises(DataError, match=message):
        compute_metrics(**run)


# --- invariants ----------------------------------------------------------------------------

_CURVES = st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=60)


def _cents_run(initial_cents: int, cents: list[int], scale: int = 1) -> Run:
    """A run whose equity points are whole cents, multiplied by ``scale``."""
    equity = [c * scale / 100 for c in cents]
    return {
        **_tiny(equity, ppy=525_600.0),
        "initial_equity": Decimal(initial_cents * scale) / 100,
        "final_equity": Decimal(cents[-1] * scale) / 100,
    }


@settings(deadline=None, derandomize=True)
@given(initial_cents=st.integers(min_value=1, max_value=10**9), cents=_CURVES)
def test_drawdown_stays_within_its_bounds(initial_cents: int, cents: list[int]) -> None:
    """Max drawdown lies in [-1, 0] and its duration within the curve's time span."""
    metrics = compute_metrics(**_cents_run(initial_cents, cents))

    assert -1.0 < metrics.max_drawdown <= 0.0
    assert 0 <= metrics.max_drawdown_duration <= 60 * (len(cents) - 1)


@settings(deadline=None, derandomize=True)
@given(initial_cents=st.integers(min_value=1, max_value=10**9), cents=_CURVES)
def test_scaling_the_account_by_a_power_of_two_changes_no_ratio(
    initial_cents: int, cents: list[int]
) -> None:
    """Doubling every equity value (exact in binary floats) leaves every float metric identical."""
    single = compute_metrics(**_cents_run(initial_cents, cents))

    double = compute_metrics(**_cents_run(initial_cents, cents, scale=2))

    assert (
        replace(double, final_equity=single.final_equity, initial_equity=single.initial_equity)
        == single
    )


@settings(deadline=None, derandomize=True)
@given(pnls=st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=80))
def test_profit_factor_above_one_means_positive_expectancy(pnls: list[int]) -> None:
    """Profit factor exists iff a trade lost, and is > 1 exactly when the trades net positive."""
    metrics = compute_metrics(**_tiny([100.0], pnls=tuple(float(p) for p in pnls)))

    assert (metrics.profit_factor is not None) == any(p < 0 for p in pnls)
    assert metrics.profit_factor is None or (metrics.profit_factor > 1.0) == (sum(pnls) > 0)
