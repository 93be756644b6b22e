"""``PromotionCriteria``: the ``promotion:`` section of a strategy's config file.

A strategy with this section is evaluated continuously while it paper-trades
(``genesis.paper.monitor``); without it, it is never proposed for live. Money
(``capital``, ``target``, the expected band) is ``Decimal`` in the strategy's quote
currency; the ratios are floats (analytics).
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_STEPS", "PromotionCriteria"]

DEFAULT_STEPS: tuple[Decimal, ...] = (Decimal("0.10"), Decimal("0.25"), Decimal("0.50"), Decimal(1))


class PromotionCriteria(BaseModel):
    """When a paper strategy may be proposed for live, and how its capital grows.

    * ``min_trades``: completed round trips (``PerformanceBook``) at least;
    * ``min_days``: UTC calendar days of paper record at least (first trade's day to now);
    * ``min_sharpe``: daily Sharpe (365 days a year) of the realised P&L at least;
    * ``max_drawdown``: largest fall of daily wealth from its peak, a fraction (0.1 = 10 %),
      at most;
    * ``capital``: the paper capital the returns are measured against (wealth = capital +
      cumulative realised P&L);
    * ``target``: the live allocation once fully promoted; ``steps`` the fractions of it
      granted one after the other (increasing, the last 1), ``step_days`` the paper days
      between two steps, each step re-checking every criterion;
    * ``expected_trade_pnl``: the backtest's interval of the mean net P&L per trade
      (``genesis ab expect``); a paper mean below it is a regression alert.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_trades: int = Field(ge=1)
    min_days: int = Field(ge=1)
    min_sharpe: float
    max_drawdown: float = Field(gt=0, le=1)
    capital: Decimal = Field(gt=0)
    target: Decimal = Field(gt=0)
    steps: tuple[Decimal, ...] = DEFAULT_STEPS
    step_days: int = Field(default=7, ge=1)
    expected_trade_pnl: tuple[Decimal, Decimal] | None = None

    @model_validator(mode="after")
    def _check(self) -> PromotionCriteria:
        steps = self.steps
        if not steps or steps[-1] != 1 or any(s <= 0 for s in steps):
            raise ValueError(f"steps are fractions of target in (0, 1], the last 1; was {steps}")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps must increase; was {[str(s) for s in steps]}")
        band = self.expected_trade_pnl
        if band is not None and band[0] > band[1]:
            raise ValueError(f"expected_trade_pnl is [low, high] with low <= high; was {band}")
        return self
