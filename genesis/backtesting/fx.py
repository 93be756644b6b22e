"""The FX backtest: bid/ask bars, spread-aware fills, rollover financing, account currency.

Theory of operation
-------------------
``run_fx_backtest`` replays one pair's bid and ask bar files merged by time
(``genesis.data.fxbars``: per minute, a quote of the closing bid/ask, then a bar
of mids) through the paper-mode ``Driver``: the same kernel, strategies and
``SimulatedVenue`` as every other backtest. The venue fills against the quote: a
buy takes the ask, a sell the bid, so every round trip pays the spread. A
strategy decides on a bar's close and, with no latency, its market order meets the
closing quote of that minute (``--latency-ms`` > 0: a later minute's quote).

Around the replay, two FX duties:

* **Financing.** Before the first event at or after each rollover (weekdays,
  17:00 New York; ``genesis.portfolio.financing``), an open position is financed
  at the mid standing before the rollover: an entry in the ``FxLedger`` (account
  currency, 0.0001) and the same credit, in the quote currency, to the kernel's
  portfolio (``Portfolio.book_financing``) and the venue's account, so strategies,
  risk and the venue see the money move. Every entry is a row of ``financing.csv``.
* **Account currency.** ``FxLedger`` keeps the account in ``account`` currency
  (the pair's quote or base): ``equity.csv`` and ``metrics.json`` are its NAV at
  the mid after each bar, ``fx.json`` its final figures. The kernel and venue trade
  in the quote currency, funded with ``cash`` converted at the first mid when the
  account currency is the base (``cash x mid``); their ``trades.csv`` P&L is in the
  quote currency, as in every backtest.

The run is deterministic (no wall clock, file order kept): reruns are byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.backtesting.metrics import Metrics, periods_per_year
from genesis.backtesting.runner import (
    BacktestConfig,
    RunOutputs,
    _build,
    order_sink,
    run_outputs,
    write_performance,
)
from genesis.core.events import Bar, MarketEvent, OrderFilled, QuoteTick
from genesis.core.fx import ACCOUNT_UNIT, FxPair
from genesis.data.fxbars import BidAskStats, read_bid_ask_bars
from genesis.data.loaders import infer_interval_ns
from genesis.data.timeparse import format_ns
from genesis.errors import DataError
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.driver import Driver
from genesis.portfolio.financing import FinancingEntry, next_rollover_ns
from genesis.portfolio.fxledger import FxLedger

__all__ = ["FX_OUTPUTS", "FxResult", "run_fx_backtest"]

FX_OUTPUTS = ("financing.csv", "fx.json")
_FINANCING_HEADER = "ts,instrument,units,mid,annual_rate,days,amount_quote,amount,currency\n"


@dataclass(slots=True, kw_only=True)
class FxResult:
    metrics: Metrics
    bars: int
    stats: BidAskStats
    trades: int
    fills: int
    rejected_orders: int
    ledger: FxLedger
    kernel_equity: Decimal  # the kernel portfolio's equity, in the quote currency
    last_mid: Decimal
    strategy_errors: list[str]

    def figures(self) -> dict[str, Any]:
        """``fx.json``: the account's final figures (amounts as exact decimal strings)."""
        ledger, mid = self.ledger, self.last_mid
        return {
            "instrument": ledger.instrument_id,
            "account_currency": ledger.account,
            "starting_cash": str(ledger.cash),
            "balance": str(ledger.balance),
            "realized_pnl": str(ledger.realized),
            "fees": str(ledger.fees),
            "financing": str(ledger.financing),
            "financing_entries": len(ledger.entries),
            "units": str(ledger.units),
            "last_mid": str(mid),
            "unrealized_pnl": str(ledger.unrealized(mid)),
            "nav": str(ledger.nav(mid)),
            "margin_used": str(ledger.margin_used(mid)),
            "long_rate": str(ledger.pair.long_rate),
            "short_rate": str(ledger.pair.short_rate),
            "margin_rate": str(ledger.pair.margin_rate),
            "pip_location": ledger.pair.pip_location,
            "bars": self.bars,
            "skipped_bid_only": self.stats.bid_only,
            "skipped_ask_only": self.stats.ask_only,
            "skipped_crossed": self.stats.crossed,
        }


def run_fx_backtest(
    config: BacktestConfig,
    pair: FxPair,
    account: str,
    bid_path: Path,
    ask_path: Path,
    out_dir: Path,
) -> FxResult:
    """Replay ``bid_path``/``ask_path`` for ``config.strategy`` (module docstring).

    ``config.instrument`` is the pair's (``FxPair.instrument``); ``config.cash`` is in
    ``account`` currency. Writes the backtest files plus ``financing.csv`` and ``fx.json``.

    Raises:
        ConfigError: unknown strategy, bad parameters, an account currency that is
            neither currency of the pair (before any output).
        DataError: unreadable, malformed or unmatched bid/ask files (no output left).
    """
    stats = BidAskStats()
    events = read_bid_ask_bars(bid_path, ask_path, config.instrument.symbol, stats)
    interval = infer_interval_ns(bid_path)
    first, events = _peek(events)
    ledger = FxLedger(pair, config.instrument.symbol, account, config.cash, config.accounting)
    config = replace(config, interval_ns=interval)
    kernel_cash = config.cash if account == pair.quote else config.cash * _mid(first)
    for name in FX_OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    with run_outputs(config, out_dir) as run:  # metrics start from the account's cash
        loop = _FxLoop(replace(config, cash=kernel_cash), run, ledger, out_dir)
        try:
            loop.run(events)
        finally:
            loop.financing_out.close()
    result = loop.finish(stats, run.trades.count)
    (out_dir / "metrics.json").write_text(result.metrics.to_json(), encoding="utf-8")
    write_performance(out_dir, loop.driver.kernel)
    text = json.dumps(result.figures(), indent=2) + "\n"
    (out_dir / "fx.json").write_text(text, encoding="utf-8")
    return result


def _peek(events: Iterator[MarketEvent]) -> tuple[QuoteTick, Iterator[MarketEvent]]:
    first = next(events, None)
    if not isinstance(first, QuoteTick):  # read_bid_ask_bars raises first: cannot happen
        raise DataError("the bid/ask files hold no quote")

    def chained() -> Iterator[MarketEvent]:
        yield first
        yield from events

    return first, chained()


def _mid(quote: QuoteTick) -> Decimal:
    return (quote.bid + quote.ask) / 2


class _FxLoop:
    """Steps the replay, books rollovers, records the account's NAV after each bar."""

    def __init__(
        self, config: BacktestConfig, run: RunOutputs, ledger: FxLedger, out_dir: Path
    ) -> None:
        fill_out = run.fills.add

        def on_fill(fill: OrderFilled) -> None:
            fill_out(fill)
            ledger.fill(fill.ts_event, fill.side, fill.last_qty, fill.last_px, fill.fee)

        kernel, venue = _build(config, run.spec.cls, run.params, run.sink, on_fill, run.tca.add)
        self.config = config
        self.run_outputs = run
        self.ledger = ledger
        self.venue: SimulatedVenue = venue
        self.driver = Driver(kernel, venue, record=False, on_command=order_sink(run))
        self.financing_out = (out_dir / "financing.csv").open("w", encoding="utf-8")
        self.financing_out.write(_FINANCING_HEADER)
        self.bars = self.exposed = 0
        self.mid = Decimal(0)

    def run(self, events: Iterator[MarketEvent]) -> None:
        driver, ledger = self.driver, self.ledger
        record = self._record
        next_roll = -1
        for event in events:
            ts = event.ts_init
            if next_roll < 0:
                driver.clock.advance_to(ts)
                driver.start()
                next_roll = next_rollover_ns(ts)
            while ts >= next_roll:  # an event stamped at the rollover comes after it
                if ledger.units:
                    self._finance(next_roll)
                next_roll = next_rollover_ns(next_roll)
            driver.step(event)
            if type(event) is QuoteTick:
                self.mid = (event.bid + event.ask) / 2
            elif type(event) is Bar:
                self.bars += 1
                if ledger.units:
                    self.exposed += 1
                record(event.ts_open, ledger.nav(event.close))
        driver.finish()

    def _finance(self, rollover_ns: int) -> None:
        entry = self.ledger.rollover(rollover_ns, self.mid)
        if entry is None:
            return
        quote = self.config.instrument.quote
        amount = entry.amount if entry.currency == quote else _in_quote(entry)
        self.driver.kernel.portfolio.book_financing(quote, amount)
        self.venue.account.credit(quote, amount)
        self.financing_out.write(_financing_row(entry))

    def _record(self, ts: int, value: Decimal) -> None:
        self.run_outputs.equity.add(ts, format(value, "f"))
        self.run_outputs.metrics.add(ts, float(value))

    def finish(self, stats: BidAskStats, trades: int) -> FxResult:
        kernel = self.driver.kernel
        portfolio = kernel.portfolio
        quote = self.config.instrument.quote
        fees = portfolio.fees_by_currency().get(quote, Decimal(0))
        rejected = kernel.denied + self.venue.rejected
        metrics = self.run_outputs.metrics.finish(
            exposed_bars=self.exposed,
            fees=fees,
            rejected_orders=rejected,
            final_equity=self.ledger.nav(self.mid),
            periods_per_year=periods_per_year(self.config.interval_ns),
        )
        return FxResult(
            metrics=metrics,
            bars=self.bars,
            stats=stats,
            trades=trades,
            fills=self.driver.stats.fills,
            rejected_orders=rejected,
            ledger=self.ledger,
            kernel_equity=portfolio.equity(),
            last_mid=self.mid,
            strategy_errors=[
                f"{e.strategy_id}: {e.error_type}: {e.message}" for e in kernel.errors
            ],
        )


def _in_quote(entry: FinancingEntry) -> Decimal:
    """The kernel's credit when it trades in the quote currency but the account is the
    base: the entry's quote amount at the account's precision."""
    return entry.amount_quote.quantize(ACCOUNT_UNIT)


def _financing_row(entry: FinancingEntry) -> str:
    return (
        f"{format_ns(entry.ts)},{entry.instrument_id},{entry.units},{entry.mid},"
        f"{entry.annual_rate},{entry.days},{entry.amount_quote},{entry.amount},{entry.currency}\n"
    )
