"""Each strategy's own figures: round trips, win rate, payoff, expectancy, drawdown, slippage.

Real prices: the first bars of the bundled BTCUSDT 1-minute month (opens 46319.0,
46377.0, ...) for the hand-made fills, and the whole month for the reference
strategy's figures (sma_cross 10/30, 1 BTC, no fees: 945 round trips).
"""

from __future__ import annotations

from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.events import Bar, TradeCompleted
from genesis.portfolio.accounting import ClosedLot
from genesis.portfolio.performance import PerformanceBook
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import Harness, fill, make_portfolio, real_bars

D = Decimal
BARS = real_bars(0, 12)


def _book_fills(fills: list[tuple[Side, str, str]]) -> tuple[PerformanceBook, list[object]]:
    """Feed fills through a real portfolio and the book, as the kernel does."""
    portfolio, book, done = make_portfolio(), PerformanceBook(), []
    for n, (side, qty, px) in enumerate(fills):
        f = fill(side, qty, px, trade_id=f"T{n}", ts=BARS[n].ts_open)
        closed = portfolio.apply_fill(f)
        assert closed is not None
        done.append(
            book.on_fill(
                f, closed, portfolio.position_qty(f.instrument_id, "s1"),
                quote="USDT", decision_price=BARS[n].open,
            )
        )  # fmt: skip
    return book, done


def test_a_position_scaled_out_in_two_fills_is_one_trade() -> None:
    """Buy 0.02 at 46319.0, sell 0.01 at 46377.0 and 0.01 at 46385.0: one trade, +1.24."""
    book, done = _book_fills(
        [(Side.BUY, "0.02", "46319.0"), (Side.SELL, "0.01", "46377.0"),
         (Side.SELL, "0.01", "46385.0")]
    )  # fmt: skip

    perf = book.of("s1")
    assert done[:2] == [None, None]
    assert done[2] is not None
    assert done[2].net_pnl == D("1.24")
    assert (perf.trades, perf.wins, perf.losses, perf.fills) == (1, 1, 0, 3)
    assert perf.realized_pnl == D("1.24")
    assert perf.win_rate == 1.0


def test_win_rate_payoff_expectancy_and_drawdown_over_three_trades() -> None:
    """+0.58, -0.90, +0.30 (0.01 BTC each): win rate 2/3, payoff 0.44/0.90, drawdown 0.90."""
    book, _ = _book_fills(
        [
            (Side.BUY, "0.01", "46319.0"), (Side.SELL, "0.01", "46377.0"),  # +0.58
            (Side.BUY, "0.01", "46400.0"), (Side.SELL, "0.01", "46310.0"),  # -0.90
            (Side.BUY, "0.01", "46300.0"), (Side.SELL, "0.01", "46330.0"),  # +0.30
        ]
    )  # fmt: skip

    perf = book.of("s1")
    assert (perf.trades, perf.wins, perf.losses) == (3, 2, 1)
    assert perf.realized_pnl == D("-0.02")
    assert perf.expectancy == D("-0.02") / 3
    assert perf.payoff == float(D("0.44") / D("0.90"))
    assert perf.profit_factor == float(D("0.88") / D("0.90"))
    assert perf.max_drawdown == D("0.90")
    assert perf.drawdown == D("0.60")


def test_slippage_is_measured_from_the_decision_price_signed_by_side() -> None:
    """A buy filled 10 above its decision price costs 10 x qty; a sell 10 below too."""
    book, portfolio = PerformanceBook(), make_portfolio()
    buy = fill(Side.BUY, "0.01", "46329.0", trade_id="B")
    sell = fill(Side.SELL, "0.01", "46367.0", trade_id="S")
    for f, decision in ((buy, D("46319.0")), (sell, D("46377.0"))):
        closed = portfolio.apply_fill(f)
        assert closed is not None
        book.on_fill(f, closed, portfolio.position_qty(f.instrument_id, "s1"),
                     quote="USDT", decision_price=decision)  # fmt: skip

    perf = book.of("s1")
    assert perf.slippage_cost == D("0.20")
    expected_bps = (10 / 46319.0 + 10 / 46377.0) / 2 * 10_000
    assert abs(perf.average_slippage_bps - expected_bps) < 1e-9  # type: ignore[operator]


def test_the_reference_month_counts_945_round_trips_and_its_exact_pnl() -> None:
    """sma_cross on the whole month: 945 trades, 301 wins, realised P&L equal to its lots."""
    harness = Harness.build(SmaCross, SmaCrossParams(quantity=D(1)), cash=D(1_000_000))
    harness.run(real_bars())
    kernel = harness.kernel

    perf = kernel.performance.of("s1")
    lots: list[ClosedLot] = kernel.portfolio.closed_lots(strategy_id="s1")
    assert (perf.trades, perf.wins, perf.losses, perf.fills) == (945, 301, 638, 1890)
    assert perf.realized_pnl == sum((lot.net_pnl for lot in lots), D(0)) == D("-19367.5")
    assert perf.max_drawdown == D("20720")
    assert kernel.portfolio.equity() == D(1_000_000) + perf.realized_pnl


class _Verbs(Strategy[StrategyParams]):
    """Buys 0.01 with ctx.buy on the first bar, closes with ctx.close on the fifth."""

    def on_start(self) -> None:
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars == 1:
            self.ctx.buy(bar.instrument_id, "0.01", confidence=0.9, reason="test entry")
        elif self.bars == 5:
            self.ctx.close(bar.instrument_id, reason="test exit")


def test_ctx_buy_and_close_make_one_trade_announced_as_a_notice() -> None:
    """Bought at the second bar's open 46377.0, sold at the sixth's: one TradeCompleted."""
    harness = Harness.build(_Verbs, StrategyParams())
    harness.run(BARS[:7])
    kernel = harness.kernel

    notices = [n for n in kernel.take_notices() if isinstance(n, TradeCompleted)]
    buy, sell = harness.fills
    assert (buy.side, buy.last_px, sell.side) == (Side.BUY, BARS[1].open, Side.SELL)
    assert sell.last_px == BARS[5].open
    assert len(notices) == 1
    assert notices[0].net_pnl == (sell.last_px - buy.last_px) * D("0.01")
    assert kernel.performance.of("s1").trades == 1
    assert kernel.portfolio.position_qty(buy.instrument_id, "s1") == 0
    entry = kernel.oms.get(buy.client_order_id)
    assert entry is not None
    assert entry.confidence == 0.9
    assert entry.decision_price == BARS[0].close  # the price the strategy decided on


def test_ctx_buy_too_small_to_build_returns_none_and_logs_why() -> None:
    """0.000001 BTC rounds to zero at BTCUSDT's 0.00001 step: no order, a log line."""

    class _Tiny(Strategy[StrategyParams]):
        def on_bar(self, bar: Bar) -> None:
            self.result = self.ctx.buy(bar.instrument_id, "0.000001", confidence=0.9)

    harness = Harness.build(_Tiny, StrategyParams())
    harness.run(BARS[:1])

    strategy = harness.kernel.strategies["s1"]
    assert strategy.result is None  # type: ignore[attr-defined]
    assert harness.kernel.errors == []
    assert "order_not_built" in harness.kernel.log.events()
