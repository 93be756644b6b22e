"""``sma_cross``: the reference strategy, with an exact rule so peers can be compared.

Long only by default. On each bar's close compute fast = SMA(close, fast) and
slow = SMA(close, slow) (exact Decimal averages). When flat and fast > slow and
on the previous bar fast <= slow, buy ``quantity`` at market; when long and
fast < slow and on the previous bar fast >= slow, sell the whole position at
market. Market orders fill at the next bar's open (the simulated venue's bar
model); fees are the venue's.

``allow_short: true`` makes it long/short, always in the market after the first
cross (stop and reverse): the cross up buys back a short and goes long
``quantity``, the cross down sells the long and goes short ``quantity``, one
order each. A short needs an instrument traded on margin (FX:
``Instrument.margin_rate``); on a spot instrument the flag changes nothing (a
cross down sells what is held, as long only).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

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
    allow_short: bool = False

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
        return self


class _Averages:
    """Exact rolling sums of the closes; averages are compared cross-multiplied.

    fast_avg > slow_avg  ⇔  fast_sum * slow > slow_sum * fast, with no division,
    so a tie between the two averages is a true tie (as in the peers' exact sums).
    Both sums share one window of closes (the slow one), kept inline: this runs
    on every bar. The two products are compared directly, with the window lengths
    held as ``Decimal`` too: no difference and no int-to-Decimal conversion a bar
    (the comparison of exact products is exact, as the difference's sign was).
    """

    __slots__ = (
        "count", "fast_d", "fast_n", "fast_sum", "prev", "slow_d", "slow_n", "slow_sum", "window",
    )  # fmt: skip

    def __init__(self, fast: int, slow: int) -> None:
        self.fast_n, self.slow_n = fast, slow
        self.fast_d, self.slow_d = Decimal(fast), Decimal(slow)
        self.window: deque[Decimal] = deque()
        self.fast_sum = self.slow_sum = Decimal(0)
        self.count = 0
        self.prev: int | None = None  # sign of (fast_avg - slow_avg) on the previous bar

    def update(self, close: Decimal) -> int | None:
        """Feed a close; return the sign of fast_avg - slow_avg once both are ready."""
        window = self.window
        window.append(close)
        count = self.count = self.count + 1
        fast_n = self.fast_n
        fast_sum = self.fast_sum + close
        if count > fast_n:
            fast_sum -= window[-fast_n - 1]
        self.fast_sum = fast_sum
        slow_sum = self.slow_sum + close
        if count > self.slow_n:
            slow_sum -= window.popleft()
        elif count < self.slow_n:
            self.slow_sum = slow_sum
            return None
        self.slow_sum = slow_sum
        fast_side, slow_side = fast_sum * self.slow_d, slow_sum * self.fast_d
        return (fast_side > slow_side) - (fast_side < slow_side)

    def closes(self) -> list[Decimal]:
        return list(self.window)


@register("sma_cross", tiers=(Tier.SNIPER, Tier.HUNTER, Tier.STRATEGIST))
class SmaCross(Strategy[SmaCrossParams]):
    """Fast/slow simple-moving-average crossover, long only or (``allow_short``) long/short."""

    Params = SmaCrossParams

    def on_start(self) -> None:
        p = self.params
        self._avg = {i: _Averages(p.fast, p.slow) for i in self.instruments}

    def on_bar(self, bar: Bar) -> None:
        avg = self._avg[bar.instrument_id]
        sign = avg.update(bar.close)
        prev, avg.prev = avg.prev, sign
        if sign is None or prev is None or sign == prev:
            return  # no cross: nothing to decide (and no position to look up)
        if self.params.allow_short and self.ctx.instrument(bar.instrument_id).margin_rate:
            self._reverse(bar.instrument_id, sign, prev)
        elif sign > 0 and prev <= 0:  # fast crossed above slow
            if self.ctx.portfolio.position_qty(bar.instrument_id) == 0:
                self._trade(bar.instrument_id, Side.BUY, self.params.quantity)
        elif sign < 0 and prev >= 0:  # fast crossed below slow
            position = self.ctx.portfolio.position_qty(bar.instrument_id)
            if position > 0:
                self._trade(bar.instrument_id, Side.SELL, position)

    def _reverse(self, instrument_id: str, sign: int, prev: int) -> None:
        """Long/short: a cross takes the position to ``quantity`` on its side."""
        position = self.ctx.portfolio.position_qty(instrument_id)
        if sign > 0 and prev <= 0 and position <= 0:
            self._trade(instrument_id, Side.BUY, self.params.quantity - position)
        elif sign < 0 and prev >= 0 and position >= 0:
            self._trade(instrument_id, Side.SELL, self.params.quantity + position)

    def _trade(self, instrument_id: str, side: Side, quantity: Decimal) -> None:
        if self.ctx.open_orders(instrument_id):
            return  # the previous signal's order is still working
        # an exact rule with nothing to weigh: every cross is a full-confidence signal
        self.ctx.submit(self.ctx.orders.market(instrument_id, side, quantity, confidence=1.0))

    def _state(self) -> dict[str, Any]:
        # the slow window holds every close both sums still need
        return {i: [str(x) for x in a.closes()] for i, a in self._avg.items()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        for instrument_id, closes in state.items():
            avg = self._avg.setdefault(instrument_id, _Averages(self.params.fast, self.params.slow))
            for close in closes:
                avg.prev = avg.update(Decimal(close))
