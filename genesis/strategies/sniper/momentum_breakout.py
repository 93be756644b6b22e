"""``momentum_breakout`` (Sniper, SPEC ST-S2): lookback breakout with volume confirmation.

Rule, on each bar's close, long only:

* entry when flat: the close is above the highest high of the previous
  ``lookback`` bars and the bar's volume is at least ``volume_factor`` times
  the average volume of the previous ``volume_lookback`` bars. A market buy
  is sent with a stop loss ``stop_loss_pct`` below and a take profit
  ``take_profit_pct`` above the close attached (the kernel places them as an
  OCO pair once the entry fills);
* exit when long: the close falls below the lowest low of the previous
  ``lookback`` bars (a failed breakout), unless the stop or target already
  closed the position.

Size (ST-S3): fractional Kelly from the strategy's own record of completed
trades (win rate and payoff, from ``ctx.performance``), blended with a prior
until it has ``kelly_min_trades`` of them, capped at ``max_risk_per_trade``
(2%) of equity at risk between entry and stop (qty = equity x risk /
(close - stop)), and capped again so the position's notional is at most
``max_position_pct`` of equity (the Sniper tier's 2% by default). A record
with a negative edge sizes to zero: the strategy stands aside (logged once
as ``kelly_no_edge``) until the record recovers.
The confidence of a signal grows with the volume surge: min(1, ratio / (2 x
volume_factor)); entries below ``min_confidence`` are skipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from genesis.analytics.indicators import SMA, RollingMax, RollingMin
from genesis.core.enums import Side
from genesis.core.events import Bar
from genesis.errors import InvalidOrder
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.kelly import KellyGate, KellyParams
from genesis.strategies.registry import register

__all__ = ["MomentumBreakout", "MomentumBreakoutParams"]


class MomentumBreakoutParams(KellyParams):
    lookback: int = Field(default=20, ge=2, le=10_000)
    volume_lookback: int = Field(default=20, ge=1, le=10_000)
    volume_factor: Decimal = Field(default=Decimal("1.5"), gt=0, le=100)
    stop_loss_pct: Decimal = Field(default=Decimal("0.01"), gt=0, lt=1)
    take_profit_pct: Decimal = Field(default=Decimal("0.02"), gt=0, le=10)
    max_position_pct: Decimal = Field(default=Decimal("0.02"), gt=0, le=1)
    min_confidence: float = Field(default=0.6, ge=0, le=1)


class _Window:
    __slots__ = ("high", "low", "prev_high", "prev_low", "prev_volume", "volume")

    def __init__(self, p: MomentumBreakoutParams) -> None:
        self.high: RollingMax[Decimal] = RollingMax(p.lookback)
        self.low: RollingMin[Decimal] = RollingMin(p.lookback)
        self.volume: SMA[Decimal] = SMA(p.volume_lookback)
        self.prev_high: Decimal | None = None
        self.prev_low: Decimal | None = None
        self.prev_volume: Decimal | None = None


@register("momentum_breakout", tiers=(Tier.SNIPER,), spec=("ST-S2", "ST-S3"))
class MomentumBreakout(Strategy[MomentumBreakoutParams]):
    """Buy breakouts above the recent range on a volume surge; stop and target attached."""

    Params = MomentumBreakoutParams

    def on_start(self) -> None:
        p = self.params
        self._windows = {i: _Window(p) for i in self.instruments}
        self.signals = 0
        self._kelly = KellyGate(p, self.ctx)

    def on_bar(self, bar: Bar) -> None:
        w = self._windows[bar.instrument_id]
        high, low, avg_volume = w.prev_high, w.prev_low, w.prev_volume
        w.prev_high = w.high.update(bar.high)
        w.prev_low = w.low.update(bar.low)
        w.prev_volume = w.volume.update(bar.volume)
        if high is None or low is None or avg_volume is None:
            return
        position = self.ctx.portfolio.position_qty(bar.instrument_id)
        if self.ctx.open_orders(bar.instrument_id) and position == 0:
            return
        if position == 0 and bar.close > high:
            self._maybe_enter(bar, avg_volume)
        elif position > 0 and bar.close < low:
            self._exit(bar.instrument_id, position)

    def confidence(self, volume: Decimal, avg_volume: Decimal) -> float:
        """Signal confidence in [0, 1] from the volume surge ratio."""
        if avg_volume <= 0:
            return 0.0
        ratio = float(volume / avg_volume)
        return min(1.0, ratio / (2 * float(self.params.volume_factor)))

    def _maybe_enter(self, bar: Bar, avg_volume: Decimal) -> None:
        p = self.params
        if bar.volume < p.volume_factor * avg_volume:
            return
        confidence = self.confidence(bar.volume, avg_volume)
        if confidence < p.min_confidence:
            return
        stop = bar.close * (1 - p.stop_loss_pct)
        equity = self.ctx.portfolio.equity()
        risk = self.risk_fraction()
        if risk == 0:
            return
        qty = min(
            self._kelly.quantity(equity, bar.close, stop, risk),
            equity * p.max_position_pct / bar.close,
        )
        try:
            order = self.ctx.orders.market(
                bar.instrument_id,
                Side.BUY,
                qty,
                stop_loss=stop,
                take_profit=bar.close * (1 + p.take_profit_pct),
                confidence=confidence,
            )
        except InvalidOrder:
            return  # too small for the instrument's step size at this equity
        self.signals += 1
        self.ctx.submit(order)

    def risk_fraction(self) -> Decimal:
        """Kelly's share of equity to risk on the next entry, from this strategy's record."""
        return self._kelly.risk_fraction()

    def _exit(self, instrument_id: str, position: Decimal) -> None:
        for order in self.ctx.open_orders(instrument_id):
            self.ctx.cancel(order)
        self.ctx.submit(self.ctx.orders.market(instrument_id, Side.SELL, position))

    def _state(self) -> dict[str, Any]:
        return {"signals": self.signals}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self.signals = int(state.get("signals", 0))
