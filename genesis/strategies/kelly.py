"""Kelly sizing for a strategy (ST-S3): its parameters and the gate that logs standing aside.

``KellyParams`` holds the settings a strategy's params model inherits
(``max_risk_per_trade`` capped at 2%, the Kelly fraction, the prior and how
fast the record outweighs it); ``KellyGate`` reads the strategy's own record
(``ctx.performance``) on each entry and says, once per change, when the
record leaves no edge (``kelly_no_edge``) and when it has one again
(``kelly_edge_back``). The arithmetic is ``genesis.risk.sizing.KellySizer``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from genesis.risk.sizing import KellySizer
from genesis.strategies.context import StrategyContext
from genesis.strategies.params import StrategyParams

__all__ = ["KellyGate", "KellyParams"]


class KellyParams(StrategyParams):
    """The Kelly settings of a strategy's parameters (inherit, then add your own)."""

    max_risk_per_trade: Decimal = Field(default=Decimal("0.02"), gt=0, le=Decimal("0.02"))
    kelly_multiplier: float = Field(default=0.5, gt=0, le=1)
    kelly_min_trades: int = Field(default=20, ge=1, le=10_000)
    kelly_prior_win_rate: float = Field(default=0.4, gt=0, lt=1)
    kelly_prior_payoff: float = Field(default=2.0, gt=0, le=100)


class KellyGate:
    """One strategy's Kelly sizing from its own record."""

    __slots__ = ("_ctx", "sizer", "standing_aside")

    def __init__(self, params: KellyParams, ctx: StrategyContext) -> None:
        self._ctx = ctx
        self.sizer = KellySizer(
            cap=params.max_risk_per_trade,
            multiplier=params.kelly_multiplier,
            min_trades=params.kelly_min_trades,
            prior_win_rate=params.kelly_prior_win_rate,
            prior_payoff=params.kelly_prior_payoff,
        )
        self.standing_aside = False

    def risk_fraction(self) -> Decimal:
        """Kelly's share of equity to risk on the next entry (0: no edge, stand aside)."""
        perf = self._ctx.performance
        risk = self.sizer.risk_fraction(perf.trades, perf.win_rate, perf.payoff)
        if (risk == 0) != self.standing_aside:
            self.standing_aside = risk == 0
            self._ctx.log.info(
                "kelly_no_edge" if self.standing_aside else "kelly_edge_back",
                strategy_id=self._ctx.strategy_id,
                trades=perf.trades,
                win_rate=perf.win_rate,
                payoff=perf.payoff,
            )
        return risk

    def quantity(self, equity: Decimal, entry: Decimal, stop: Decimal, risk: Decimal) -> Decimal:
        """Base quantity that loses ``risk`` of ``equity`` if the stop is hit."""
        return self.sizer.quantity(equity, entry, stop, risk)
