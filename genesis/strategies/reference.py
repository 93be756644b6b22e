"""``sma_cross``: the reference strategy, with an exact rule so peers can be compared.

Long only. On each bar's close compute fast = SMA(close, fast) and slow =
SMA(close, slow) (exact Decimal averages). When flat and fast > slow and on
the previous bar fast <= slow, buy ``quantity`` at market; when long and
fast < slow and on the previous bar fast >= slow, sell the whole position at
market. Market orders fill at the next bar's open (the simulated venue's bar
model); fees are the venue's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from genesis.analytics.indicators import SMA
from genesis.core.enums import Side
from genesis.core.events import Bar
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["SmaCross", "SmaCrossParams"]


class SmaCrossParams(StrategyParams):
    fast: int = Field(default=10, ge=1, le=100_000)
    slow: int = Field(default=30, ge=2, le=100_000)
    quantity: Decimal = Field(default=Decimal(1), gt=0)

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
        return self


class _Averages:
    __slots__ = ("fast", "prev_fast", "prev_slow", "slow")

    def __init__(self, fast: int, slow: int) -> None:
        self.fast: SMA[Decimal] = SMA(fast)
        self.slow: SMA[Decimal] = SMA(slow)
        self.prev_fast: Decimal | None = None
        self.prev_slow: Decimal | None = None


@register("sma_cross", tiers=(Tier.SNIPER, Tier.HUNTER, Tier.STRATEGIST))
class SmaCross(Strategy[SmaCrossParams]):
    """Fast/slow simple-moving-average crossover, long only."""

    Params = SmaCrossParams

    def on_start(self) -> None:
        p = self.params
        self._avg = {i: _Averages(p.fast, p.slow) for i in self.instruments}

    def on_bar(self, bar: Bar) -> None:
        avg = self._avg[bar.instrument_id]
        fast = avg.fast.update(bar.close)
        slow = avg.slow.update(bar.close)
        prev_fast, prev_slow = avg.prev_fast, avg.prev_slow
        avg.prev_fast, avg.prev_slow = fast, slow
        if fast is None or slow is None or prev_fast is None or prev_slow is None:
            return
        position = self.ctx.portfolio.position_qty(bar.instrument_id)
        if position == 0:
            if fast > slow and prev_fast <= prev_slow:
                self._trade(bar.instrument_id, Side.BUY, self.params.quantity)
        elif position > 0 and fast < slow and prev_fast >= prev_slow:
            self._trade(bar.instrument_id, Side.SELL, position)

    def _trade(self, instrument_id: str, side: Side, quantity: Decimal) -> None:
        if self.ctx.open_orders(instrument_id):
            return  # the previous signal's order is still working
        self.ctx.submit(self.ctx.orders.market(instrument_id, side, quantity))

    def _state(self) -> dict[str, Any]:
        # the slow window holds every close both averages still need
        return {i: [str(x) for x in a.slow._window] for i, a in self._avg.items()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        for instrument_id, closes in state.items():
            avg = self._avg.setdefault(instrument_id, _Averages(self.params.fast, self.params.slow))
            for close in closes:
                avg.prev_fast = avg.fast.update(Decimal(close))
                avg.prev_slow = avg.slow.update(Decimal(close))
