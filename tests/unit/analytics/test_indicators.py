"""Float indicators against batch pandas/numpy computations of the same formulas.

Data: the bundled real BTCUSDT 1-minute month (45,031 bars, 2021-12-31 23:01 →
2022-02-01 05:31 UTC) and the ETHBTC / LTCBTC 5-minute series of January 2018.
Each incremental indicator is run over the whole series and compared, value by
value, with a vectorised recomputation: this also proves the rolling windows do
not drift over 45k updates.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from genesis.analytics.indicators import (
    ADX,
    ATR,
    EMA,
    RSI,
    BollingerBands,
    EWMAVolatility,
    RollingCorrelation,
)
from genesis.resources import ALTBTC_5M_BARS, BTCUSDT_1M_BARS

RTOL = 1e-9


@pytest.fixture(scope="module")
def month() -> pd.DataFrame:
    return pd.read_csv(BTCUSDT_1M_BARS)


def _wilder(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder smoothing seeded with the mean of the first n values; aligned to values[n-1:]."""
    seeded = values[n - 1 :].copy()
    seeded[0] = values[:n].mean()
    return pd.Series(seeded).ewm(alpha=1 / n, adjust=False).mean().to_numpy()


def _run(indicator, *columns: np.ndarray) -> list:
    return [indicator.update(*row) for row in zip(*(c.tolist() for c in columns), strict=True)]


def _ready(values: list) -> np.ndarray:
    return np.array([v for v in values if v is not None], dtype=float)


def _first_ready(values: list) -> int:
    return next(i for i, v in enumerate(values) if v is not None)


def _true_range(df: pd.DataFrame) -> np.ndarray:
    h, lo, pc = df.high.to_numpy()[1:], df.low.to_numpy()[1:], df.close.to_numpy()[:-1]
    return np.maximum.reduce([h - lo, np.abs(h - pc), np.abs(lo - pc)])


def test_ema_matches_pandas_ewm_seeded_with_the_sma(month: pd.DataFrame) -> None:
    """EMA(20) equals pandas ewm(span=20, adjust=False) started from the first SMA."""
    close = month.close.to_numpy()
    seeded = close[19:].copy()
    seeded[0] = close[:20].mean()

    got = _run(EMA(20), close)

    assert _first_ready(got) == 19
    expected = pd.Series(seeded).ewm(span=20, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(_ready(got), expected, rtol=RTOL)


def test_rsi_matches_wilder_smoothing_of_gains_and_losses(month: pd.DataFrame) -> None:
    """RSI(14) over the month equals 100 - 100/(1 + RS) of Wilder-smoothed gains/losses."""
    change = np.diff(month.close.to_numpy())
    gain = _wilder(np.where(change > 0, change, 0.0), 14)
    loss = _wilder(np.where(change < 0, -change, 0.0), 14)

    got = _run(RSI(14), month.close.to_numpy())

    assert _first_ready(got) == 14
    np.testing.assert_allclose(_ready(got), 100 - 100 / (1 + gain / loss), rtol=RTOL)


def test_rsi_is_100_without_losses_and_50_without_moves() -> None:
    """A rising series reads 100, a flat one 50."""
    rising, flat = RSI(3), RSI(3)

    assert [rising.update(x) for x in (1.0, 2.0, 3.0, 4.0)][-1] == 100.0
    assert [flat.update(5.0) for _ in range(4)][-1] == 50.0


def test_atr_matches_wilder_smoothing_of_true_range(month: pd.DataFrame) -> None:
    """ATR(14) equals the Wilder-smoothed true range (first TR from the second bar)."""
    got = _run(ATR(14), month.high.to_numpy(), month.low.to_numpy(), month.close.to_numpy())

    assert _first_ready(got) == 14
    np.testing.assert_allclose(_ready(got), _wilder(_true_range(month), 14), rtol=RTOL)


def test_adx_matches_a_batch_wilder_computation(month: pd.DataFrame) -> None:
    """ADX(14) equals DX (from smoothed TR, +DM, -DM) smoothed again, over the whole month."""
    h, lo = month.high.to_numpy(), month.low.to_numpy()
    up, down = np.diff(h), -np.diff(lo)
    plus = np.where((up > down) & (up > 0), up, 0.0)
    minus = np.where((down > up) & (down > 0), down, 0.0)
    tr = _wilder(_true_range(month), 14)
    plus_di, minus_di = 100 * _wilder(plus, 14) / tr, 100 * _wilder(minus, 14) / tr
    dx = 100 * np.abs(plus_di - minus_di) / (plus_di + minus_di)

    got = _run(ADX(14), h, lo, month.close.to_numpy())

    assert _first_ready(got) == 27
    np.testing.assert_allclose(_ready(got), _wilder(dx, 14), rtol=RTOL)


@pytest.mark.parametrize("ddof", [0, 1])
def test_bollinger_matches_rolling_mean_and_stdev(month: pd.DataFrame, ddof: int) -> None:
    """Bands(20, 2) equal the two-pass window mean ± 2 stdev (population or sample)."""
    windows = sliding_window_view(month.close.to_numpy(), 20)
    mid, sd = windows.mean(axis=1), windows.std(axis=1, ddof=ddof)

    got = _ready(_run(BollingerBands(20, 2.0, ddof=ddof), month.close.to_numpy()))

    np.testing.assert_allclose(got, np.column_stack([mid - 2 * sd, mid, mid + 2 * sd]), rtol=RTOL)


def test_bollinger_stdev_does_not_drift_over_the_month(month: pd.DataFrame) -> None:
    """Every one of the 45,012 band widths matches its window's exact stdev to 1e-9."""
    windows = sliding_window_view(month.close.to_numpy(), 20)
    bands = BollingerBands(20)

    widths = [bands.stdev for x in month.close.tolist() if bands.update(x) is not None]

    assert len(widths) == 45_012
    np.testing.assert_allclose(widths, windows.std(axis=1), rtol=RTOL)


def test_bollinger_percent_b_locates_a_price() -> None:
    """%b is 0 at the lower band, 0.5 at the middle and 1 at the upper band."""
    bands = BollingerBands(4, 1.0)
    lower, middle, upper = [bands.update(x) for x in (1.0, 2.0, 3.0, 4.0)][-1]

    assert [bands.percent_b(p) for p in (lower, middle, upper)] == pytest.approx([0, 0.5, 1])


def test_ewma_volatility_matches_riskmetrics_recursion(month: pd.DataFrame) -> None:
    """σ² = 0.94 σ² + 0.06 r², seeded with the mean of 20 squared log returns."""
    r2 = np.diff(np.log(month.close.to_numpy())) ** 2
    seeded = r2[19:].copy()
    seeded[0] = r2[:20].mean()
    expected = np.sqrt(pd.Series(seeded).ewm(alpha=0.06, adjust=False).mean().to_numpy())

    got = _run(EWMAVolatility(0.94, warmup=20), month.close.to_numpy())

    assert _first_ready(got) == 20
    np.testing.assert_allclose(_ready(got), expected, rtol=RTOL)


def test_ewma_volatility_from_span_is_pandas_span() -> None:
    """from_span(39) uses λ = 1 - 2/40 = 0.95."""
    assert EWMAVolatility.from_span(39).lam == pytest.approx(0.95)


def _pearson(x: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    wx, wy = sliding_window_view(x, n), sliding_window_view(y, n)
    dx, dy = wx - wx.mean(axis=1, keepdims=True), wy - wy.mean(axis=1, keepdims=True)
    return (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))


def test_rolling_correlation_of_two_altcoins_matches_pearson() -> None:
    """ETHBTC vs LTCBTC 5m log returns (aligned by time): 48-bar Pearson, value by value."""
    eth, ltc = (pd.read_csv(ALTBTC_5M_BARS[s], index_col=0).close for s in ("ETHBTC", "LTCBTC"))
    both = pd.concat([eth, ltc], axis=1, join="inner").to_numpy()
    rx, ry = np.diff(np.log(both[:, 0])), np.diff(np.log(both[:, 1]))

    got = _ready(_run(RollingCorrelation(48), rx, ry))

    np.testing.assert_allclose(got, _pearson(rx, ry, 48), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(
        got, pd.Series(rx).rolling(48).corr(pd.Series(ry)).dropna(), rtol=1e-6, atol=1e-9
    )


def test_rolling_correlation_does_not_drift_over_the_month(month: pd.DataFrame) -> None:
    """BTCUSDT returns vs log volume changes, 60-bar window, all 45k values to 1e-9."""
    rx = np.diff(np.log(month.close.to_numpy()))
    ry = np.diff(np.log(month.volume.to_numpy()))

    got = _ready(_run(RollingCorrelation(60), rx, ry))

    np.testing.assert_allclose(got, _pearson(rx, ry, 60), rtol=RTOL, atol=1e-12)


def test_rolling_correlation_of_a_constant_series_is_zero() -> None:
    """No variance, no correlation: 0.0 rather than a division by zero."""
    corr = RollingCorrelation(3)

    assert [corr.update(float(i), 1.0) for i in range(3)][-1] == 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: EMA(0),
        lambda: RSI(0),
        lambda: ATR(0),
        lambda: ADX(0),
        lambda: BollingerBands(1),
        lambda: BollingerBands(20, 0.0),
        lambda: EWMAVolatility(1.0),
        lambda: RollingCorrelation(1),
    ],
)
def test_bad_parameters_are_rejected(make) -> None:
    """Periods below the minimum and out-of-range factors raise ValueError."""
    with pytest.raises(ValueError, match="was"):
        make()


def test_ready_flags_follow_the_warm_up() -> None:
    """``ready`` is False until the first value and True from then on."""
    rsi = RSI(2)
    flags = []
    for x in (1.0, 2.0, 1.5, 1.7):
        rsi.update(x)
        flags.append(rsi.ready)

    assert flags == [False, False, True, True]
    assert not math.isnan(rsi.value)


@pytest.mark.parametrize(
    ("make", "columns"),
    [
        (lambda: EMA(20), ("close",)),
        (lambda: RSI(14), ("close",)),
        (lambda: ATR(14), ("high", "low", "close")),
        (lambda: ADX(14), ("high", "low", "close")),
        (lambda: BollingerBands(20, 2.0), ("close",)),
        (lambda: EWMAVolatility(0.94), ("close",)),
        (lambda: RollingCorrelation(30), ("close", "volume")),
    ],
)
def test_snapshot_restore_resumes_bit_for_bit(month: pd.DataFrame, make, columns) -> None:
    """Restored from a JSON snapshot taken after 10,007 bars, an indicator continues exactly."""
    rows = list(zip(*(month[c].tolist() for c in columns), strict=True))
    original = make()
    for row in rows[:10_007]:
        original.update(*row)
    restored = make()
    restored.restore(json.loads(json.dumps(original.snapshot())))

    tail = [(original.update(*row), restored.update(*row)) for row in rows[10_007:12_000]]

    assert all(a == b for a, b in tail)
