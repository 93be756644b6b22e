"""``mean_reversion`` (Hunter, SPEC ST-H1): Bollinger Bands + RSI, traded only in a ranging regime.

Rule, on each bar's close, long only (spot), per instrument:

* entry when flat with no working order: the regime detector
  (:class:`~genesis.analytics.regime.RegimeDetector`, SPEC ST-H4) reads RANGING,
  the close is below the lower Bollinger band (``bb_period`` closes, ``bb_k``
  population stdevs) and RSI(``rsi_period``) is below ``rsi_oversold``. A market
  buy of ``position_pct`` of equity at the close (within the Hunter tier's 5%
  position cap) is sent with a stop loss ``stop_atr`` x ATR(``atr_period``) below
  the close and a take profit at the middle band (the upper one with
  ``take_profit="upper"``) attached; the kernel places them as an OCO pair once
  the entry fills;
* exit when long: the close reaches the middle band, RSI rises above
  ``rsi_exit``, or the regime is no longer RANGING. The working stop and target
  are cancelled and the position sold at market.

Confidence of an entry: the mean of three scores in [0, 1], the band score
``0.5 + 0.5 (lower - close) / stdev`` (0.5 at the band, 1 a stdev below it),
the RSI score ``0.5 + (rsi_oversold - RSI) / 20`` (1 ten points below the
threshold) and the regime's own confidence; an entry below ``min_confidence``
(the tier's 0.6 by default) is not sent. Exits carry 1.0 at the middle band,
``0.5 + (RSI - rsi_exit) / 20`` on RSI, the new regime's confidence on a change.

State: the indicators and the regime detector of each instrument are in the
snapshot, with the parameters' version id. A restore under the same parameters
resumes exactly; under others (a hot reload that changed them) the indicators
warm up again while the position keeps its stop and target.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from genesis.analytics.indicators import ATR, RSI, Bands, BollingerBands
from genesis.analytics.regime import Regime, RegimeDetector, RegimeParams
from genesis.core.enums import OrderType
from genesis.core.events import Bar
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["MeanReversion", "MeanReversionParams"]


class MeanReversionParams(StrategyParams):
    bb_period: int = Field(default=20, ge=2, le=10_000)
    bb_k: float = Field(default=2.0, gt=0, le=10)
    rsi_period: int = Field(default=14, ge=2, le=10_000)
    rsi_oversold: float = Field(default=30.0, gt=0, lt=100)
    rsi_exit: float = Field(default=50.0, gt=0, lt=100)
    atr_period: int = Field(default=14, ge=1, le=10_000)
    stop_atr: float = Field(default=2.0, gt=0, le=100)
    take_profit: Literal["middle", "upper"] = "middle"
    position_pct: Decimal = Field(default=Decimal("0.05"), gt=0, le=Decimal("0.05"))
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    regime: RegimeParams = Field(default_factory=RegimeParams)

    @model_validator(mode="after")
    def _exit_above_oversold(self) -> MeanReversionParams:
        if self.rsi_exit <= self.rsi_oversold:
            raise ValueError(f"rsi_exit ({self.rsi_exit}) must be above rsi_oversold")
        return self


class _Signals:
    """One instrument's indicators, updated together on each bar."""

    __slots__ = ("atr", "bands", "regime", "rsi")

    def __init__(self, p: MeanReversionParams) -> None:
        self.bands = BollingerBands(p.bb_period, p.bb_k)
        self.rsi = RSI(p.rsi_period)
        self.atr = ATR(p.atr_period)
        self.regime = RegimeDetector(p.regime)

    def update(self, bar: Bar) -> tuple[Bands, float, float, Regime] | None:
        high, low, close = float(bar.high), float(bar.low), float(bar.close)
        bands = self.bands.update(close)
        rsi = self.rsi.update(close)
        atr = self.atr.update(high, low, close)
        regime = self.regime.update(high, low, close)
        if bands is None or rsi is None or atr is None or regime is None:
            return None
        return bands, rsi, atr, regime

    def snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name).snapshot() for name in self.__slots__}

    def restore(self, state: dict[str, Any]) -> None:
        for name in self.__slots__:
            getattr(self, name).restore(state[name])


@register("mean_reversion", tiers=(Tier.HUNTER,), spec=("ST-H1", "ST-H4"))
class MeanReversion(Strategy[MeanReversionParams]):
    """Buy closes below the lower band on an oversold RSI in a ranging market; exit at the mean."""

    Params = MeanReversionParams

    def on_start(self) -> None:
        self._signals = {i: _Signals(self.params) for i in self.instruments}
        self.signals = 0

    def on_bar(self, bar: Bar) -> None:
        reading = self._signals[bar.instrument_id].update(bar)
        if reading is None:
            return
        instrument = bar.instrument_id
        working = self.ctx.open_orders(instrument)
        if any(o.order_type is OrderType.MARKET for o in working):
            return  # an entry or an exit is on its way: wait for its fill
        position = self.ctx.position(instrument)
        if position > 0:
            self._maybe_exit(instrument, *reading, close=float(bar.close))
        elif position == 0 and not working:
            self._maybe_enter(bar, *reading)

    def entry_confidence(self, close: float, bands: Bands, rsi: float, regime: float) -> float:
        """Confidence in [0, 1] of a long entry at ``close`` (see the module docstring)."""
        stdev = (bands.middle - bands.lower) / self.params.bb_k
        band = 0.5 + 0.5 * (bands.lower - close) / stdev if stdev > 0 else 0.5
        oversold = 0.5 + (self.params.rsi_oversold - rsi) / 20.0
        return (_clip(band) + _clip(oversold) + _clip(regime)) / 3.0

    def _maybe_enter(self, bar: Bar, bands: Bands, rsi: float, atr: float, regime: Regime) -> None:
        p, close = self.params, float(bar.close)
        if regime is not Regime.RANGING or close >= bands.lower or rsi >= p.rsi_oversold:
            return
        detector = self._signals[bar.instrument_id].regime
        confidence = self.entry_confidence(close, bands, rsi, detector.confidence)
        stop = close - p.stop_atr * atr
        if confidence < p.min_confidence or stop <= 0.0:
            return
        qty = self.ctx.portfolio.equity() * p.position_pct / bar.close
        target = bands.middle if p.take_profit == "middle" else bands.upper
        order = self.ctx.buy(
            bar.instrument_id,
            qty,
            stop_loss=stop,
            take_profit=target,
            confidence=confidence,
            reason="below_lower_band_rsi_oversold_ranging",
        )
        if order is not None:
            self.signals += 1

    def _maybe_exit(
        self, instrument: str, bands: Bands, rsi: float, atr: float, regime: Regime, close: float
    ) -> None:
        p = self.params
        if close >= bands.middle:
            confidence, reason = 1.0, "middle_band"
        elif rsi > p.rsi_exit:
            confidence, reason = _clip(0.5 + (rsi - p.rsi_exit) / 20.0), "rsi_exit"
        elif regime is not Regime.RANGING:
            confidence = self._signals[instrument].regime.confidence
            reason = f"regime_{regime.value}"
        else:
            return
        self.ctx.close(instrument, confidence=confidence, reason=reason)

    def _state(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "params": self.params.version_id(),
            "indicators": {i: s.snapshot() for i, s in self._signals.items()},
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self.signals = int(state.get("signals", 0))
        if state.get("params") != self.params.version_id():
            return  # other parameters: the indicators warm up again
        for instrument, saved in state.get("indicators", {}).items():
            if instrument in self._signals:
                self._signals[instrument].restore(saved)


def _clip(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
