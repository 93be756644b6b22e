"""The event backtest: a tick / L2 recording replayed through the paper-mode loop.

Theory of operation
-------------------
``run_event_backtest`` drives the same ``Driver`` the paper daemon uses (kernel
plus ``SimulatedVenue`` in book/tick mode: market orders walk the recorded
book, partial fills, resting orders fill at their price when the book or a
trade reaches them) with the events of one instrument, in file order, and
writes the bar backtest's three files: ``trades.csv`` (one row per closed lot,
the same columns), ``equity.csv`` and ``metrics.json``.

Choices the bar loop does not have to make:

* Only the configured instrument's events are replayed: a capture may hold
  several symbols, and the kernel knows one instrument. The others are
  counted and skipped.
* A closed kline inside a recording reaches the strategies (``on_bar``) but
  not the matching engine: the book already says where prices were, and
  matching a resting order against a bar's OHLC path after the fact would
  fill it at prices seen before it was placed.
* Equity is sampled on a fixed grid of event time, every ``sample_ns``
  (default 1 s), aligned to multiples of ``sample_ns`` since the epoch. The
  row stamped ``b`` holds the equity after every event seen (``ts_init``)
  before ``b``; a gap in the recording repeats the last value, once per grid
  step. One last row, at the first grid point after the last event, holds
  the equity after the strategies' ``on_stop``. A fixed grid keeps the
  returns equally spaced, so the existing metric code annualises them with
  ``periods_per_year(sample_ns)`` (31,536,000 for 1 s) and the drawdown
  duration is in real seconds.
* Equity is exact: quote balance + base balance x the data engine's last
  price (the mid of the in-sync book, else the last trade or quote mid),
  from the portfolio's own balances; written with ``format(d, "f")``.

The run is deterministic: no wall clock, no randomness, file order kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final

from genesis.backtesting.metrics import Metrics, periods_per_year
from genesis.backtesting.output import Discard, EquityWriter

# the bar runner's wiring, reused as is so both backtests build the same kernel
from genesis.backtesting.runner import (
    BacktestConfig,
    _build,
    order_sink,
    run_outputs,
    write_performance,
)
from genesis.backtesting.streaming import RunningMetrics
from genesis.core.events import Bar, MarketEvent
from genesis.errors import ConfigError, DataError
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel

__all__ = ["DEFAULT_SAMPLE_NS", "EventBacktestResult", "run_event_backtest"]

DEFAULT_SAMPLE_NS: Final = 1_000_000_000
_PROGRESS_EVERY: Final = 4096


@dataclass(slots=True, kw_only=True)
class EventBacktestResult:
    metrics: Metrics
    events: int  # events of the instrument replayed
    skipped: int  # events of other instruments in the recording
    samples: int  # rows of equity.csv
    trades: int
    fills: int
    rejected_orders: int
    venue_balances: dict[str, Decimal]  # the simulated venue's account, non-zero only
    portfolio_balances: dict[str, Decimal]  # the kernel's portfolio, non-zero only
    strategy_errors: list[str] = field(default_factory=list)


def run_event_backtest(
    config: BacktestConfig,
    events: Iterable[MarketEvent],
    out_dir: Path,
    *,
    sample_ns: int = DEFAULT_SAMPLE_NS,
    source: str = "the recording",
    progress: Callable[[int], None] | None = None,
) -> EventBacktestResult:
    """Replay ``events`` for ``config.strategy``; write trades.csv, equity.csv, metrics.json.

    Args:
        config: the run (``interval_ns`` is not used: sampling is ``sample_ns``).
        events: market events in time order (``ts_init``), any instruments.
        out_dir: created if needed; a previous run's three files are replaced.
        sample_ns: the equity sampling interval in event time (ns, > 0).
        source: how error messages name the recording.
        progress: called with the count of events replayed, every 4,096 events.

    Raises:
        ConfigError: unknown strategy, invalid parameters or ``sample_ns`` (before output).
        DataError: the recording is malformed (file:line, raised while streaming) or
            holds no event of the instrument; no output is left behind.
    """
    if sample_ns <= 0:
        raise ConfigError(f"equity sampling interval must be > 0 ns, was {sample_ns}")
    with run_outputs(config, out_dir) as run:
        kernel, venue = _build(
            config, run.spec.cls, run.params, run.sink, run.fills.add, run.tca.add
        )
        loop = _EventLoop(
            Driver(kernel, venue, record=False, on_command=order_sink(run)),
            venue,
            config,
            run.equity,
            run.metrics,
            sample_ns,
        )
        loop.run(events, source, progress)
    return _finish(config, loop, out_dir, run.trades.count, sample_ns)


class _EventLoop:
    """Steps the replay, keeps the equity grid, counts what the summary reports."""

    def __init__(
        self,
        replay: Driver,
        venue: SimulatedVenue,
        config: BacktestConfig,
        equity: EquityWriter | Discard,
        metrics: RunningMetrics,
        sample_ns: int,
    ) -> None:
        self.replay = replay
        self.venue = venue  # the simulated one: its account and rejections are reported
        self.kernel: Kernel = replay.kernel
        self.symbol = config.instrument.symbol
        self.base, self.quote = config.instrument.base, config.instrument.quote
        self.equity_out = equity
        self.metrics = metrics
        self.sample_ns = sample_ns
        self.next_sample = -(1 << 63)  # before any event: the first one starts the grid
        self.events = self.skipped = self.samples = self.exposed = 0
        self.others: set[str] = set()

    def run(
        self, events: Iterable[MarketEvent], source: str, progress: Callable[[int], None] | None
    ) -> None:
        replay, symbol, step = self.replay, self.symbol, self.replay.step
        for event in events:
            if event.instrument_id != symbol:
                self.skipped += 1
                self.others.add(event.instrument_id)
                continue
            ts = event.ts_init
            if ts >= self.next_sample:
                if self.events == 0:
                    self._begin(ts)
                else:
                    self._sample_until(ts)
            if type(event) is Bar:
                self._bar(event)
            else:
                step(event)
            self.events += 1
            if progress is not None and self.events % _PROGRESS_EVERY == 0:
                progress(self.events)
        if self.events == 0:
            seen = ", ".join(sorted(self.others)) or "none"
            raise DataError(f"{source}: no market events of {symbol} (symbols in it: {seen})")
        replay.finish()
        self._record(self.next_sample)

    def _begin(self, ts: int) -> None:
        """Start the strategies at the first event's time; the grid starts after it."""
        self.replay.clock.advance_to(ts)
        self.replay.start()
        self.next_sample = (ts // self.sample_ns + 1) * self.sample_ns

    def _sample_until(self, ts: int) -> None:
        """Write one row per grid point at or before ``ts``: the state before this event."""
        while self.next_sample <= ts:
            self._record(self.next_sample)
            self.next_sample += self.sample_ns

    def _record(self, ts: int) -> None:
        value = self.equity()
        self.equity_out.add(ts, format(value, "f"))
        self.metrics.add(ts, float(value))
        self.samples += 1
        if self.kernel.portfolio.balance(self.base) != 0:
            self.exposed += 1

    def _bar(self, bar: Bar) -> None:
        # strategies see the kline; the venue does not match against its OHLC path
        replay = self.replay
        for timer in replay.clock.advance_to(max(bar.ts_init, replay.clock.now_ns())):
            replay.send(self.kernel.handle(timer))
        replay.send(self.kernel.handle(bar))

    def equity(self) -> Decimal:
        """Quote + base x the last price, exact (the account holds nothing else)."""
        portfolio = self.kernel.portfolio
        cash: Decimal = portfolio.balance(self.quote)
        held: Decimal = portfolio.balance(self.base)
        if held == 0:
            return cash
        mark = self.kernel.market.price(self.symbol)
        if mark is None:  # cannot happen: a fill needs a price first
            raise DataError(f"cannot value {held} {self.base}: no price of {self.symbol} seen")
        return cash + held * mark


def _finish(
    config: BacktestConfig, loop: _EventLoop, out_dir: Path, trades: int, sample_ns: int
) -> EventBacktestResult:
    kernel, venue = loop.kernel, loop.venue
    portfolio = kernel.portfolio
    fees = portfolio.fees_by_currency().get(config.instrument.quote, Decimal(0))
    rejected = kernel.denied + venue.rejected
    metrics = loop.metrics.finish(
        exposed_bars=loop.exposed,
        fees=fees,
        rejected_orders=rejected,
        final_equity=loop.equity(),
        periods_per_year=periods_per_year(sample_ns),
    )
    (out_dir / "metrics.json").write_text(metrics.to_json(), encoding="utf-8")
    write_performance(out_dir, loop.kernel)
    return EventBacktestResult(
        metrics=metrics,
        events=loop.events,
        skipped=loop.skipped,
        samples=loop.samples,
        trades=trades,
        fills=loop.replay.stats.fills,
        rejected_orders=rejected,
        venue_balances=dict(sorted(venue.account.balances().items())),
        portfolio_balances={k: v for k, v in sorted(portfolio.balances().items()) if v != 0},
        strategy_errors=[f"{e.strategy_id}: {e.error_type}: {e.message}" for e in kernel.errors],
    )
