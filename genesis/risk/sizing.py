"""Position sizing: Kelly from a strategy's own record (ST-S3) and volatility targeting (ST-H3).

Kelly
-----
For a strategy that wins with probability ``W`` and whose average win is
``R`` times its average loss (the payoff), the growth-optimal fraction of
capital to *risk* on one trade is ``f* = W - (1 - W) / R``. Full Kelly is
famously violent when ``W`` and ``R`` are estimates, so Genesis sizes with a
fraction of it (``multiplier``, half by default) and never risks more than
``cap`` (2% of equity, SPEC ST-S3) on one trade. Risk here is what the trade
loses if its stop is hit: ``quantity = equity x risk_fraction / (entry - stop)``.

Where the numbers come from: the strategy's own completed trades (its
``PerformanceBook`` figures, the same in backtest, paper and live). Until it
has ``min_trades`` of them the estimate is noise, so a prior is used instead
(``prior_win_rate``, ``prior_payoff``), and the two are blended by trade
count (``n / (n + min_trades)`` weight on the record), so the size moves
smoothly from the prior to the record instead of jumping at trade 20. A
negative edge sizes to zero: the strategy then stays out until its record or
its parameters change.

Volatility targeting
--------------------
``volatility_quantity`` sizes a position so that its expected daily move is
``target`` of equity: ``quantity = equity x target / (price x daily vol)``,
the usual inverse-volatility weight of a multi-asset portfolio.

Sizes are Decimals (they become order quantities); the statistics are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["KellySizer", "kelly_fraction", "volatility_quantity"]

_ZERO = Decimal(0)


def kelly_fraction(win_rate: float, payoff: float) -> float:
    """``W - (1 - W) / R``: the growth-optimal fraction to risk (may be negative).

    Raises:
        ValueError: ``win_rate`` outside [0, 1] or ``payoff`` not > 0.
    """
    if not 0.0 <= win_rate <= 1.0:
        raise ValueError(f"win rate must be in [0, 1], was {win_rate}")
    if not payoff > 0:
        raise ValueError(f"payoff must be > 0, was {payoff}")
    return win_rate - (1.0 - win_rate) / payoff


@dataclass(frozen=True, slots=True)
class KellySizer:
    """Fractional Kelly from a record blended with a prior, capped per trade."""

    cap: Decimal = Decimal("0.02")  # at most 2% of equity at risk on one trade
    multiplier: float = 0.5  # half Kelly
    min_trades: int = 20  # the record's weight is n / (n + min_trades)
    prior_win_rate: float = 0.4
    prior_payoff: float = 2.0

    def risk_fraction(self, trades: int, win_rate: float | None, payoff: float | None) -> Decimal:
        """The fraction of equity to risk on the next trade, in [0, cap]."""
        win, pay = self.prior_win_rate, self.prior_payoff
        if trades > 0 and win_rate is not None:
            weight = trades / (trades + self.min_trades)
            win = weight * win_rate + (1 - weight) * win
            # no loss yet: the payoff is unknown, keep the prior's
            if payoff is not None and payoff > 0:
                pay = weight * payoff + (1 - weight) * pay
        edge = kelly_fraction(win, pay) * self.multiplier
        if edge <= 0:
            return _ZERO
        return min(self.cap, Decimal(repr(round(edge, 6))))

    def quantity(
        self, equity: Decimal, entry: Decimal, stop: Decimal, risk_fraction: Decimal
    ) -> Decimal:
        """Base quantity that loses ``risk_fraction`` of ``equity`` if the stop is hit."""
        per_unit = abs(entry - stop)
        if per_unit == 0 or equity <= 0:
            return _ZERO
        return equity * risk_fraction / per_unit


def volatility_quantity(
    equity: Decimal, price: Decimal, daily_volatility: float, target: Decimal
) -> Decimal:
    """Quantity whose one-standard-deviation daily move is ``target`` of ``equity``."""
    if daily_volatility <= 0 or price <= 0 or equity <= 0:
        return _ZERO
    return equity * target / (price * Decimal(repr(daily_volatility)))
