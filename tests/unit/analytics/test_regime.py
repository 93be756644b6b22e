"""RegimeDetector on real bars: pinned classifications, real scenarios, a batch cross-check.

Data: the bundled BTCUSDT 1-minute month (45,031 bars, 2021-12-31 23:01 →
2022-02-01 05:31 UTC; timestamps are bar open times) and ETHBTC 5-minute bars
(2018-01-10 → 2018-01-30), default parameters.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from genesis.analytics.regime import Regime, RegimeDetector, RegimeParams
from genesis.resources import ALTBTC_5M_BARS, BTCUSDT_1M_BARS

TRENDING, RANGING, VOLATILE = Regime.TRENDING, Regime.RANGING, Regime.VOLATILE


def _classify(df: pd.DataFrame, params: RegimeParams | None = None) -> pd.DataFrame:
    detector = RegimeDetector(params)
    rows = []
    for h, lo, c in zip(df.high.tolist(), df.low.tolist(), df.close.tolist(), strict=True):
        regime = detector.update(h, lo, c)
        rows.append((regime, detector.confidence, detector.adx, detector.vol_ratio))
    out = pd.DataFrame(rows, columns=["regime", "confidence", "adx", "vol_ratio"])
    return pd.concat([df, out], axis=1).set_index("timestamp")


@pytest.fixture(scope="module")
def month() -> pd.DataFrame:
    return _classify(pd.read_csv(BTCUSDT_1M_BARS))


@pytest.fixture(scope="module")
def ethbtc() -> pd.DataFrame:
    return _classify(pd.read_csv(ALTBTC_5M_BARS["ETHBTC"]))


def _runs(regimes: pd.Series) -> list[int]:
    labels = regimes.dropna().tolist()
    cuts = [0, *(i for i in range(1, len(labels)) if labels[i] is not labels[i - 1]), len(labels)]
    return [b - a for a, b in itertools.pairwise(cuts)]


def test_btcusdt_month_counts_are_pinned(month: pd.DataFrame) -> None:
    """100 warm-up bars, then 26,240 RANGING, 14,516 TRENDING and 4,175 VOLATILE bars."""
    counts = Counter(month.regime)

    assert counts == {None: 100, RANGING: 26_240, TRENDING: 14_516, VOLATILE: 4_175}


def test_ethbtc_5m_counts_are_pinned(ethbtc: pd.DataFrame) -> None:
    """ETHBTC 5m: 100 warm-up bars, then 3,360 RANGING, 2,042 TRENDING, 258 VOLATILE."""
    counts = Counter(ethbtc.regime)

    assert counts == {None: 100, RANGING: 3_360, TRENDING: 2_042, VOLATILE: 258}


def test_hysteresis_keeps_regimes_from_flapping(month: pd.DataFrame) -> None:
    """1,120 regime runs over the month, median 28 bars, only 9 shorter than 3 bars."""
    runs = _runs(month.regime)

    assert (len(runs), int(np.median(runs)), sum(r < 3 for r in runs)) == (1_120, 28, 9)


def test_a_steady_real_decline_is_trending(month: pd.DataFrame) -> None:
    """2022-01-30 18:11→19:12: BTC slides 38,025 → 37,537 (efficiency 0.64): all TRENDING."""
    window = month.loc["2022-01-30 18:11":"2022-01-30 19:12"]

    assert (window.close.iloc[0], window.close.iloc[-1]) == (38_025.0, 37_537.0)
    assert set(window.regime) == {TRENDING}


def test_a_real_flat_hour_is_ranging(month: pd.DataFrame) -> None:
    """2022-01-16 01:22→02:32: 70 minutes inside a 0.22% range, all RANGING."""
    window = month.loc["2022-01-16 01:22":"2022-01-16 02:32"]

    assert (window.high.max() - window.low.min()) / window.close.iloc[-1] < 0.0023
    assert set(window.regime) == {RANGING}


def test_the_2022_01_20_break_turns_volatile(month: pd.DataFrame) -> None:
    """The 21:41 bar (42,113 → 41,844, low 41,659) flips the slide from TRENDING to VOLATILE."""
    before = month.loc["2022-01-20 21:36":"2022-01-20 21:40"]
    spike = month.loc["2022-01-20 21:41":"2022-01-20 21:44"]

    assert set(month.loc["2022-01-20 21:04":"2022-01-20 21:35"].regime) == {RANGING}
    assert set(before.regime) == {TRENDING}
    assert set(spike.regime) == {VOLATILE}
    assert spike.vol_ratio.iloc[0] > 1.6


def test_confidence_is_in_unit_interval_and_half_at_the_thresholds(month: pd.DataFrame) -> None:
    """Confidence stays in [0, 1]; a TRENDING bar with ADX near 30 reads about 0.5."""
    ready = month.dropna(subset=["regime"])
    near = ready[(ready.regime == TRENDING) & (ready.adx.sub(30).abs() < 0.05)]

    assert ready.confidence.between(0, 1).all()
    np.testing.assert_allclose(near.confidence, 0.5, atol=0.01)


def _batch_regimes(df: pd.DataFrame, p: RegimeParams) -> list[Regime | None]:
    """ADX and the EWMA-volatility ratio recomputed with pandas, then the hysteresis rules."""
    n = p.adx_period

    def wilder(v: np.ndarray) -> np.ndarray:
        seeded = v[n - 1 :].copy()
        seeded[0] = v[:n].mean()
        out = pd.Series(seeded).ewm(alpha=1 / n, adjust=False).mean().to_numpy()
        return np.concatenate([np.full(n - 1, np.nan), out])

    def vol(span: int, r2: np.ndarray) -> np.ndarray:
        seeded = r2[p.warmup - 1 :].copy()
        seeded[0] = r2[: p.warmup].mean()
        out = pd.Series(seeded).ewm(span=span, adjust=False).mean().to_numpy()
        return np.sqrt(np.concatenate([np.full(p.warmup, np.nan), out]))

    h, lo, c = df.high.to_numpy(), df.low.to_numpy(), df.close.to_numpy()
    tr = np.maximum.reduce([h[1:] - lo[1:], abs(h[1:] - c[:-1]), abs(lo[1:] - c[:-1])])
    up, down = np.diff(h), -np.diff(lo)
    plus = wilder(np.where((up > down) & (up > 0), up, 0.0)) / wilder(tr)
    minus = wilder(np.where((down > up) & (down > 0), down, 0.0)) / wilder(tr)
    dx = 100 * abs(plus - minus) / (plus + minus)
    adx = np.concatenate([[np.nan], np.full(n - 1, np.nan), wilder(dx[n - 1 :])])
    r2 = np.diff(np.log(c)) ** 2
    ratio = vol(p.vol_span, r2) / vol(p.baseline_span, r2)
    regimes: list[Regime | None] = []
    current = None
    for a, v in zip(adx, ratio, strict=True):
        if np.isnan(a) or np.isnan(v):
            regimes.append(None)
            continue
        if v >= (p.volatile_exit if current is VOLATILE else p.volatile_enter):
            current = VOLATILE
        elif a >= (p.trend_exit if current is TRENDING else p.trend_enter):
            current = TRENDING
        else:
            current = RANGING
        regimes.append(current)
    return regimes


@pytest.mark.parametrize("source", ["month", "ethbtc"])
def test_batch_recomputation_agrees_bar_for_bar(source: str, request) -> None:
    """The pandas recomputation classifies every bar exactly as the incremental detector."""
    df = request.getfixturevalue(source)

    batch = _batch_regimes(df.reset_index(), RegimeParams())

    assert batch == df.regime.tolist()


def test_classification_is_deterministic() -> None:
    """Two detectors fed the same 5,000 real bars agree on every regime and confidence."""
    head = pd.read_csv(BTCUSDT_1M_BARS, nrows=5_000)

    first, second = _classify(head), _classify(head)

    assert first.regime.tolist() == second.regime.tolist()
    assert first.confidence.tolist() == second.confidence.tolist()


@pytest.mark.parametrize(
    "bad",
    [
        {"trend_exit": 30.0, "trend_enter": 30.0},
        {"volatile_exit": 2.0, "volatile_enter": 1.5},
        {"vol_span": 500, "baseline_span": 500},
        {"adx_period": 1},
        {"unknown": 1},
    ],
)
def test_inconsistent_parameters_are_rejected(bad: dict) -> None:
    """Exit thresholds must sit below enter thresholds; unknown keys are refused."""
    with pytest.raises(ValidationError):
        RegimeParams(**bad)


def test_parameters_are_frozen() -> None:
    """A RegimeParams cannot be mutated after construction."""
    with pytest.raises(ValidationError):
        RegimeParams().trend_enter = 10.0  # type: ignore[misc]


def test_snapshot_restore_resumes_the_same_classification() -> None:
    """A detector restored from a JSON snapshot mid-month classifies the rest identically."""
    rows = pd.read_csv(BTCUSDT_1M_BARS)[["high", "low", "close"]].itertuples(index=False)
    rows = list(rows)
    original = RegimeDetector()
    for row in rows[:20_000]:
        original.update(*row)
    restored = RegimeDetector()
    restored.restore(json.loads(json.dumps(original.snapshot())))

    tail = [
        (original.update(*row), original.confidence, restored.update(*row), restored.confidence)
        for row in rows[20_000:]
    ]

    assert all(a == c and b == d for a, b, c, d in tail)
    assert restored.regime is original.regime
