"""Market regime detection from bars (SPEC ST-H4): TRENDING, RANGING or VOLATILE.

Method, on each bar (high, low, close), O(1), no history kept beyond the indicators:

* **trend strength** is Wilder's ADX over ``adx_period`` bars (14): it measures how
  one-sided the directional movement is, whatever its direction;
* **volatility** is the ratio of a short to a long RiskMetrics EWMA volatility of log
  returns (spans ``vol_span`` and ``baseline_span``, both seeded with the mean
  squared return of the first ``warmup`` returns): the current volatility relative to
  its own recent baseline, so the same thresholds fit BTCUSDT 1m and ETHBTC 5m.

Classification, in priority order, with hysteresis: each regime is entered when its
metric reaches the *enter* threshold and kept until the metric falls below the lower
*exit* threshold, so a metric hovering near one threshold does not flap bar to bar.

1. VOLATILE when ``vol_ratio >= volatile_enter`` (``>= volatile_exit`` if already VOLATILE);
2. else TRENDING when ``adx >= trend_enter`` (``>= trend_exit`` if already TRENDING);
3. else RANGING.

Confidence in [0, 1]: for a metric ``m`` with enter/exit thresholds ``e > x`` let
``s = (m - x) / (e - x)`` (0 at exit, 1 at enter). VOLATILE and TRENDING have
confidence ``clip(s / 2)``: 0.5 right at the enter threshold, 1.0 once as far again
beyond it, falling towards 0 as the regime nears its exit. RANGING has
``min(clip(1 - s_trend / 2), clip(1 - s_vol / 2))``: 0.5 at either enter threshold,
1.0 when both metrics are below their exit thresholds. The two sides meet at 0.5.

The defaults suit 1- and 5-minute crypto bars: on the bundled BTCUSDT 1-minute month
about 58% of bars are RANGING, 32% TRENDING and 9% VOLATILE, with a regime lasting
about 40 bars on average.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genesis.analytics.indicators import ADX, EWMAVolatility, Persistent

__all__ = ["Regime", "RegimeDetector", "RegimeParams"]


class Regime(enum.Enum):
    TRENDING = "trending"
    RANGING = "ranging"
    VOLATILE = "volatile"


class RegimeParams(BaseModel):
    """Detector settings (frozen; unknown keys rejected). Exit thresholds sit below enter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    adx_period: int = Field(default=14, ge=2, le=1_000)
    trend_enter: float = Field(default=30.0, gt=0, lt=100)
    trend_exit: float = Field(default=22.0, gt=0, lt=100)
    vol_span: int = Field(default=20, ge=2, le=10_000)
    baseline_span: int = Field(default=500, ge=3, le=100_000)
    warmup: int = Field(default=100, ge=1, le=100_000)
    volatile_enter: float = Field(default=1.6, gt=1)
    volatile_exit: float = Field(default=1.25, gt=0)

    @model_validator(mode="after")
    def _exits_below_enters(self) -> RegimeParams:
        if self.trend_exit >= self.trend_enter:
            raise ValueError(f"trend_exit ({self.trend_exit}) must be < trend_enter")
        if self.volatile_exit >= self.volatile_enter:
            raise ValueError(f"volatile_exit ({self.volatile_exit}) must be < volatile_enter")
        if self.vol_span >= self.baseline_span:
            raise ValueError(f"vol_span ({self.vol_span}) must be < baseline_span")
        return self


class RegimeDetector(Persistent):
    """Incremental regime classifier; see the module docstring for the rules.

    ``update`` returns the regime of the bar just closed, or None during the
    warm-up (``max(2 * adx_period, warmup + 1)`` bars). ``regime``, ``confidence``,
    ``adx`` and ``vol_ratio`` hold the latest values. ``snapshot()``/``restore()``
    carry the whole state (JSON-ready) to a detector built with the same params.
    """

    __slots__ = (
        "_adx",
        "_baseline",
        "_short",
        "adx",
        "confidence",
        "params",
        "regime",
        "vol_ratio",
    )

    def __init__(self, params: RegimeParams | None = None) -> None:
        self.params = p = params if params is not None else RegimeParams()
        self._adx = ADX(p.adx_period)
        self._short = EWMAVolatility.from_span(p.vol_span, p.warmup)
        self._baseline = EWMAVolatility.from_span(p.baseline_span, p.warmup)
        self.regime: Regime | None = None
        self.confidence = 0.0
        self.adx: float | None = None
        self.vol_ratio: float | None = None

    @property
    def ready(self) -> bool:
        return self.regime is not None

    def _decode(self, name: str, current: object, raw: Any) -> Any:
        if name == "regime" and raw is not None:
            return Regime(raw)
        return super()._decode(name, current, raw)

    def update(self, high: float, low: float, close: float) -> Regime | None:
        """Add a bar; return its regime once warmed up, else None."""
        adx = self.adx = self._adx.update(high, low, close)
        short = self._short.update(close)
        baseline = self._baseline.update(close)
        if adx is None or short is None or baseline is None:
            return None
        self.vol_ratio = ratio = short / baseline if baseline > 0.0 else 1.0
        self.regime = self._classify(adx, ratio)
        self.confidence = self._confidence(self.regime, adx, ratio)
        return self.regime

    def _classify(self, adx: float, ratio: float) -> Regime:
        p, current = self.params, self.regime
        volatile = p.volatile_exit if current is Regime.VOLATILE else p.volatile_enter
        if ratio >= volatile:
            return Regime.VOLATILE
        trend = p.trend_exit if current is Regime.TRENDING else p.trend_enter
        return Regime.TRENDING if adx >= trend else Regime.RANGING

    def _confidence(self, regime: Regime, adx: float, ratio: float) -> float:
        p = self.params
        s_trend = (adx - p.trend_exit) / (p.trend_enter - p.trend_exit)
        s_vol = (ratio - p.volatile_exit) / (p.volatile_enter - p.volatile_exit)
        if regime is Regime.VOLATILE:
            return _clip(s_vol / 2)
        if regime is Regime.TRENDING:
            return _clip(s_trend / 2)
        return min(_clip(1 - s_trend / 2), _clip(1 - s_vol / 2))


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
