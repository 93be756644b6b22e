"""Each strategy's own performance: trades, P&L, win rate, expectancy, drawdown, slippage.

Theory of operation
-------------------
The kernel hands every fill it books to ``PerformanceBook.on_fill`` with the
lots that fill closed (from the portfolio's accounting) and the strategy's
position on that instrument after the fill. A *trade* is a round trip as a
trader counts it: it opens when the position leaves zero and completes when
the position is back at zero; its P&L is the net P&L (after fees, both legs)
of every lot closed in between, so a position scaled out in three fills is
one trade, not three. The figures:

* ``realized_pnl`` - net P&L of every closed lot, quote currency, exact;
* ``trades`` / ``wins`` / ``losses`` - completed round trips (a trade of exactly
  zero counts as neither win nor loss);
* ``win_rate`` = wins / trades; ``payoff`` = average win / |average loss|;
  ``expectancy`` = average net P&L per trade; ``profit_factor`` = gross wins /
  |gross losses|;
* ``max_drawdown`` - the largest fall of cumulative realised P&L from its peak
  (quote currency, >= 0), measured at each completed trade;
* ``slippage`` - per fill, the signed price difference from the order's
  decision price (the market price when the strategy decided), positive when
  the fill was worse for the order's side: ``cost`` in quote currency and the
  average in basis points of notional.

Several quote currencies (a strategy trading BTC and USDT pairs) are summed as
numbers: the figures are per strategy, and a strategy trades one quote
currency in every built-in configuration; ``quote_currencies`` says which.
Money stays ``Decimal``; the ratios are floats (analytics).

The kernel feeds it in every mode (backtest, paper, live); a restart rebuilds
it from the journaled fills (paper replays them, live re-books them through
``Kernel.restore_fill``), so it is never stored on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from genesis.core.events import OrderFilled
from genesis.core.money import ZERO
from genesis.portfolio.accounting import ClosedLot

__all__ = ["PerformanceBook", "StrategyPerformance", "TradeRecord"]

_BPS: Final = 10_000.0


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One completed round trip of one strategy on one instrument."""

    strategy_id: str
    instrument_id: str
    opened_ns: int
    closed_ns: int
    net_pnl: Decimal
    fills: int


@dataclass(slots=True)
class StrategyPerformance:
    """Running figures of one strategy (see the module docstring for definitions)."""

    strategy_id: str
    fills: int = 0
    volume: Decimal = ZERO  # traded notional, quote currency
    fees: Decimal = ZERO  # fees in quote currency (a third-currency fee is not counted)
    realized_pnl: Decimal = ZERO
    trades: int = 0
    wins: int = 0
    losses: int = 0
    gross_wins: Decimal = ZERO
    gross_losses: Decimal = ZERO  # <= 0
    peak_pnl: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    slippage_cost: Decimal = ZERO  # quote currency, > 0 = paid versus the decision price
    slippage_bps_sum: float = 0.0
    slipped_fills: int = 0  # fills with a decision price to compare against
    quote_currencies: set[str] = field(default_factory=set)

    @property
    def win_rate(self) -> float | None:
        return None if self.trades == 0 else self.wins / self.trades

    @property
    def average_win(self) -> Decimal | None:
        return None if self.wins == 0 else self.gross_wins / self.wins

    @property
    def average_loss(self) -> Decimal | None:
        return None if self.losses == 0 else self.gross_losses / self.losses

    @property
    def payoff(self) -> float | None:
        """Average win over the size of the average loss (Kelly's ``b``)."""
        win, loss = self.average_win, self.average_loss
        if win is None or loss is None or loss == 0:
            return None
        return float(win / -loss)

    @property
    def expectancy(self) -> Decimal | None:
        """Average net P&L per completed trade."""
        closed = self.gross_wins + self.gross_losses
        return None if self.trades == 0 else closed / self.trades

    @property
    def profit_factor(self) -> float | None:
        if self.gross_losses == 0:
            return None
        return float(self.gross_wins / -self.gross_losses)

    @property
    def drawdown(self) -> Decimal:
        """How far cumulative realised P&L now sits below its peak."""
        return self.peak_pnl - self.realized_pnl

    @property
    def average_slippage_bps(self) -> float | None:
        return None if self.slipped_fills == 0 else self.slippage_bps_sum / self.slipped_fills

    def as_fields(self) -> dict[str, Any]:
        """Plain JSON-ready figures for logs, the journal and the results files."""
        return {
            "fills": self.fills,
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": _round(self.win_rate),
            "realized_pnl": _plain(self.realized_pnl),
            "expectancy": _plain(self.expectancy),
            "payoff": _round(self.payoff),
            "profit_factor": _round(self.profit_factor),
            "max_drawdown": _plain(self.max_drawdown),
            "fees": _plain(self.fees),
            "volume": _plain(self.volume),
            "slippage_cost": _plain(self.slippage_cost),
            "avg_slippage_bps": _round(self.average_slippage_bps),
        }


class PerformanceBook:
    """Every strategy's ``StrategyPerformance`` and its completed trades, fed by fills."""

    def __init__(self) -> None:
        self._by_strategy: dict[str, StrategyPerformance] = {}
        # (strategy, instrument) -> [opened_ns, net pnl so far, fills] of the open round trip
        self._open: dict[tuple[str, str], list[Any]] = {}
        self.completed: list[TradeRecord] = []

    def of(self, strategy_id: str) -> StrategyPerformance:
        """The figures of ``strategy_id`` (all zero before its first fill)."""
        perf = self._by_strategy.get(strategy_id)
        if perf is None:
            perf = self._by_strategy[strategy_id] = StrategyPerformance(strategy_id)
        return perf

    def strategies(self) -> list[str]:
        return sorted(self._by_strategy)

    def on_fill(
        self,
        fill: OrderFilled,
        closed: Iterable[ClosedLot],
        position_after: Decimal,
        *,
        quote: str,
        decision_price: Decimal | None,
    ) -> TradeRecord | None:
        """Book one fill; return the trade it completed, if it brought the position to zero."""
        perf = self.of(fill.strategy_id)
        notional = fill.last_qty * fill.last_px
        perf.fills += 1
        perf.volume += notional
        perf.quote_currencies.add(quote)
        if fill.fee_currency == quote:
            perf.fees += fill.fee
        if decision_price is not None and decision_price > 0:
            worse = (fill.last_px - decision_price) * fill.side.sign
            perf.slippage_cost += worse * fill.last_qty
            perf.slippage_bps_sum += float(worse / decision_price) * _BPS
            perf.slipped_fills += 1
        key = (fill.strategy_id, fill.instrument_id)
        trip = self._open.get(key)
        if trip is None:
            trip = self._open[key] = [fill.ts_event, ZERO, 0]
        trip[2] += 1
        for lot in closed:
            trip[1] += lot.net_pnl
            perf.realized_pnl += lot.net_pnl
        if position_after != 0:
            return None
        del self._open[key]
        return self._complete(perf, fill, trip)

    def _complete(
        self, perf: StrategyPerformance, fill: OrderFilled, trip: list[Any]
    ) -> TradeRecord | None:
        opened_ns, pnl, fills = trip
        if fills < 2 and pnl == 0:
            return None  # a lone fill that left the position flat closed nothing
        perf.trades += 1
        if pnl > 0:
            perf.wins += 1
            perf.gross_wins += pnl
        elif pnl < 0:
            perf.losses += 1
            perf.gross_losses += pnl
        perf.peak_pnl = max(perf.peak_pnl, perf.realized_pnl)
        perf.max_drawdown = max(perf.max_drawdown, perf.peak_pnl - perf.realized_pnl)
        trade = TradeRecord(
            fill.strategy_id, fill.instrument_id, opened_ns, fill.ts_event, pnl, fills
        )
        self.completed.append(trade)
        return trade


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f") if value else "0"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
