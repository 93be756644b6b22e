"""The backtest driver: a plain ``for`` loop over history into the shared kernel.

No event loop, no threads. For each bar: deliver the commands that reached
the venue and match them against the bar (fills at this bar's open for
orders sent at the previous close), let the kernel react to those fills,
fire due timers, hand the bar to the kernel, carry its commands to the venue,
and record equity. Memory stays flat however long the history: bars are
streamed from the file, equity rows and closed trades are written as they
happen, metrics are accumulated in fixed-size chunks (``RunningMetrics``),
finished orders are forgotten and fill de-duplication keeps a bounded window.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.backtesting.metrics import Metrics, periods_per_year
from genesis.backtesting.output import (
    Discard,
    EquityWriter,
    FillWriter,
    TcaWriter,
    TradeWriter,
)
from genesis.backtesting.streaming import RunningMetrics
from genesis.core.clock import SimClock
from genesis.core.commands import Command, SubmitOrder
from genesis.core.enums import AccountingMethod
from genesis.core.events import Bar, OrderFilled
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.data.book import SharedBooks
from genesis.errors import ConfigError
from genesis.exchange.fills import FeeModel, LatencyModel, SlippageModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.execution.emulation import CAPABILITIES
from genesis.execution.tca import TcaRecord
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.kernel import Kernel
from genesis.portfolio import ClosedLot
from genesis.portfolio.attribution import performance_report
from genesis.risk.config import RiskConfig
from genesis.risk.limits import Tier
from genesis.strategies import registry

__all__ = ["BacktestConfig", "BacktestResult", "run_backtest"]

_BPS = Decimal(10_000)
_DEDUP_WINDOW = 10_000  # fills remembered for de-duplication (bounded memory)


class _NullLog:
    """The backtest's logger: every call is one ``return None``."""

    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = error = critical = _noop


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestConfig:
    strategy: str
    params: Mapping[str, Any]
    instrument: Instrument
    cash: Decimal
    fee_bps: Decimal = Decimal(0)
    maker_fee_bps: Decimal | None = None  # defaults to fee_bps
    slippage_bps: Decimal = Decimal(0)
    latency_ns: int = 0
    tier: Tier | None = None
    accounting: AccountingMethod = AccountingMethod.FIFO
    interval_ns: int = 60_000_000_000
    strategy_id: str = ""
    requires_stop_loss: bool = False
    regimes: tuple[str, ...] = ()  # ST-H4: trade only in these regimes (empty: always)
    risk: RiskConfig | None = None  # the risk config's limits for the tier (None: defaults)
    # several venues: each venue's own fee (maker and taker), bps; others pay fee_bps
    venue_fee_bps: Mapping[str, Decimal] = field(default_factory=dict)
    # the kind of venue the kernel trades as (execution.emulation.CAPABILITIES): what that
    # venue lacks is emulated by the kernel exactly as live (ccxt: stops held, OCO kept)
    capabilities: str = "simulated"


@dataclass(slots=True)
class BacktestResult:
    metrics: Metrics
    bars: int
    trades: int
    fills: int
    rejected_orders: int
    strategy_errors: list[str] = field(default_factory=list)


def run_backtest(
    config: BacktestConfig,
    bars: Iterable[Bar],
    out_dir: Path | None,
    progress: Callable[[Bar], None] | None = None,
) -> BacktestResult:
    """Run ``config.strategy`` over ``bars`` and write trades.csv, equity.csv, metrics.json.

    With ``out_dir`` None the run writes nothing and only returns its result: the
    same engine, in memory (the parameter search's runs).

    Raises:
        ConfigError: unknown strategy or invalid parameters (before any output).
        DataError: the bars are invalid (raised while streaming them).
    """
    with run_outputs(config, out_dir) as run:
        kernel, venue = _build(
            config, run.spec.cls, run.params, run.sink, run.fills.add, run.tca.add
        )
        loop = _Loop(kernel, venue, config.instrument, run.equity, run.metrics, progress)
        loop.run(bars)
    return _finish(config, kernel, venue, loop, out_dir, run.trades.count)


@dataclass(slots=True)
class RunOutputs:
    """A run's validated strategy and its open output writers."""

    spec: registry.StrategySpec
    params: Any
    metrics: RunningMetrics
    trades: TradeWriter | Discard
    equity: EquityWriter | Discard
    fills: FillWriter | Discard
    tca: TcaWriter | Discard

    @property
    def sink(self) -> _TradeSink:
        return _TradeSink(self.trades, self.metrics)

    def close(self) -> None:
        self.equity.close()
        self.trades.close()
        self.fills.close()
        self.tca.close()


@contextmanager
def run_outputs(config: BacktestConfig, out_dir: Path | None) -> Iterator[RunOutputs]:
    """Validate the strategy, clear ``out_dir``, open the writers; on any failure close them
    and remove the partial outputs (never a half-written run beside an old one). With
    ``out_dir`` None nothing is written (the writers discard their rows)."""
    spec = registry.get(config.strategy)
    params = registry.parse_params(spec, config.params, source="--param")
    if out_dir is None:
        yield RunOutputs(
            spec, params, RunningMetrics(config.cash),
            Discard(), Discard(), Discard(), Discard(),
        )  # fmt: skip
        return
    _prepare(out_dir)
    run = RunOutputs(
        spec, params, RunningMetrics(config.cash),
        TradeWriter(out_dir / "trades.csv"), EquityWriter(out_dir / "equity.csv"),
        FillWriter(out_dir / "fills.csv"), TcaWriter(out_dir / "tca.csv"),
    )  # fmt: skip
    try:
        yield run
    except BaseException:
        run.close()
        _discard(out_dir)
        raise
    run.close()


_OUTPUTS = (
    "trades.csv",
    "equity.csv",
    "fills.csv",
    "tca.csv",
    "metrics.json",
    "performance.json",
    "attribution.json",
)


def write_performance(out_dir: Path, kernel: Kernel) -> None:
    """``performance.json``: each strategy's own figures (trades, win rate, expectancy,
    drawdown, fills, slippage), as the daemon logs and journals them; ``attribution.json``:
    ``performance_report`` (attribution, correlation, capacity, execution quality)."""
    figures = {sid: kernel.performance.of(sid).as_fields() for sid in sorted(kernel.strategies)}
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    (out_dir / "performance.json").write_text(text, encoding="utf-8")
    # new beside the pinned files, never in them: P&L attribution, correlation, capacity
    # and execution quality (portfolio.attribution.performance_report)
    report = json.dumps(performance_report(kernel), indent=2, sort_keys=True) + "\n"
    (out_dir / "attribution.json").write_text(report, encoding="utf-8")


def _prepare(out_dir: Path) -> None:
    """Create ``out_dir`` and remove a previous run's outputs from it.

    Raises:
        ConfigError: the directory cannot be created or written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _discard(out_dir)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot write there ({exc.strerror or exc})") from None


def _discard(out_dir: Path) -> None:
    for name in _OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)


class _TradeSink:
    """Each closed lot goes to trades.csv and into the trade statistics."""

    __slots__ = ("_metrics", "_writer")

    def __init__(self, writer: TradeWriter | Discard, metrics: RunningMetrics) -> None:
        self._writer, self._metrics = writer, metrics

    def __call__(self, lot: ClosedLot) -> None:
        self._writer.add(lot)
        self._metrics.add_trade(float(lot.net_pnl))


def _build(
    config: BacktestConfig,
    cls: Any,
    params: Any,
    sink: Callable[[ClosedLot], None],
    fill_sink: Callable[[OrderFilled], None] | None = None,
    tca_sink: Callable[[TcaRecord], None] | None = None,
) -> tuple[Kernel, SimulatedVenue]:
    inst = config.instrument
    lookup = {inst.symbol: inst}.__getitem__
    balances = {inst.quote: config.cash}
    maker = config.fee_bps if config.maker_fee_bps is None else config.maker_fee_bps
    fees = FeeModel(maker_bps=maker, taker_bps=config.fee_bps)
    books = SharedBooks()  # the venue's L2 books are the kernel's: one copy
    venue = SimulatedVenue(
        instruments=lookup,
        balances=balances,
        fees=fees,
        slippage=SlippageModel(bps=config.slippage_bps),
        latency=LatencyModel(config.latency_ns),
        book_factory=books,
    )
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency=inst.quote, tier=config.tier,
        risk=config.risk,
        fee_rate=fees.worst_rate, accounting=config.accounting, closed_lot_sink=sink,
        fill_sink=fill_sink, tca_sink=tca_sink,
        dedup_window=_DEDUP_WINDOW, forget_closed=True, books=books,
        strategies=[
            StrategySpec(
                cls=cls, strategy_id=config.strategy_id or config.strategy, params=params,
                instruments=(inst.symbol,), requires_stop_loss=config.requires_stop_loss,
                regimes=config.regimes,
            )
        ],
    )  # fmt: skip
    kernel = build_kernel(spec, _NullLog())
    emulate_as(kernel, [split_instrument_id(inst.symbol)[0]], config.capabilities)
    return kernel, venue


def emulate_as(kernel: Kernel, venues: Iterable[str], kind: str) -> None:
    """Have the kernel treat each of ``venues`` as a ``kind`` venue (``CAPABILITIES``).

    Raises:
        ConfigError: ``kind`` is not a known venue kind.
    """
    if kind not in CAPABILITIES:
        raise ConfigError(
            f"capabilities {kind!r}: expected one of {', '.join(sorted(CAPABILITIES))}"
        )
    for venue in venues:
        kernel.emulator.set_capabilities(venue, CAPABILITIES[kind])


class _Loop:
    """The per-bar loop and what it accumulates."""

    def __init__(
        self,
        kernel: Kernel,
        venue: SimulatedVenue,
        instrument: Instrument,
        equity: EquityWriter | Discard,
        metrics: RunningMetrics,
        progress: Callable[[Bar], None] | None,
    ) -> None:
        self.kernel = kernel
        self.venue = venue
        self.instrument = instrument
        self.equity_out = equity
        self.metrics = metrics
        self.progress = progress
        self.exposed = 0
        self.bars = 0
        self.fills = 0
        self.first_ts: int | None = None

    def run(self, bars: Iterable[Bar]) -> None:  # noqa: C901 - the hot loop, kept inline
        kernel, venue = self.kernel, self.venue
        clock = kernel.clock
        assert isinstance(clock, SimClock)
        self._send(kernel.start())
        equity_of = self._equity_fn()
        times, values, texts = array("q"), array("d"), list[str]()
        add_time, add_value, add_text = times.append, values.append, texts.append
        advance, handle, send, progress = clock.advance_to, kernel.handle, self._send, self.progress
        handle_bar, has_work, deliver = kernel.handle_bar, venue.has_work, self._deliver
        count = exposed = 0
        value = kernel.portfolio.equity()
        value_f, value_s = float(value), str(value)
        position, dirty = Decimal(0), False
        for bar in bars:
            if count == 0:
                self.first_ts = bar.ts_open
                advance(bar.ts_open)
            count += 1
            if has_work() and (moved := deliver(bar)) is not None:
                position, dirty = position + moved, True
            for timer in advance(bar.ts_event):
                send(handle(timer))
            commands = handle_bar(bar)
            if commands:
                send(commands)
            # equity moves only with a position or a fill; flat and idle, it is the cash
            if position or dirty:
                if dirty:
                    equity_of = self._equity_fn()
                    dirty = False
                value = equity_of(bar.close)
                value_f, value_s = float(value), str(value)
                if position:
                    exposed += 1
            add_time(bar.ts_open)
            add_value(value_f)
            add_text(value_s)
            if count & 4095 == 0:
                self._flush(times, values, texts)
                if progress is not None:
                    progress(bar)
        self._flush(times, values, texts)
        send(kernel.stop())
        self.bars, self.exposed = count, exposed

    def _equity_fn(self) -> Callable[[Decimal], Decimal]:
        """Equity as a function of the instrument's close, valid until the next fill.

        While the account holds only the quote and the base asset, equity is
        ``quote + base * close`` with both balances fixed between fills: two exact
        Decimal operations a bar. Anything else falls back to the portfolio's own
        valuation (which reads the mark the kernel set from the same close).
        """
        portfolio = self.kernel.portfolio
        inst = self.instrument
        held = {a: v for a, v in portfolio.balances().items() if v != 0}
        if set(held) <= {inst.quote, inst.base}:
            cash, base = held.get(inst.quote, Decimal(0)), held.get(inst.base, Decimal(0))
            return lambda close: cash + base * close
        return lambda close: portfolio.equity()

    def _flush(self, times: array[int], values: array[float], texts: list[str]) -> None:
        """Hand the buffered equity points to the metrics and equity.csv, then reuse the buffers."""
        if times:
            self.metrics.add_chunk(times, values)
            self.equity_out.add_chunk(times, texts)
            del times[:], values[:], texts[:]

    def _deliver(self, bar: Bar) -> Decimal | None:
        """Match the venue's orders against ``bar``; return the net filled quantity, if any."""
        kernel, clock = self.kernel, self.kernel.clock
        assert isinstance(clock, SimClock)
        for timer in clock.advance_to(bar.ts_open):
            self._send(kernel.handle(timer))
        moved: Decimal | None = None
        for event in self.venue.process(bar):
            if isinstance(event, OrderFilled):
                self.fills += 1
                moved = (moved or Decimal(0)) + event.side.sign * event.last_qty
            self._send(kernel.handle(event))
        return moved

    def _send(self, commands: Sequence[Command]) -> None:
        if commands:
            now = self.kernel.clock.now_ns()
            for cmd in commands:
                # a held order's intent (emulated) is the kernel's: its release goes later
                if not (type(cmd) is SubmitOrder and cmd.emulated):
                    self.venue.execute(cmd, now)


def _finish(
    config: BacktestConfig,
    kernel: Kernel,
    venue: SimulatedVenue,
    loop: _Loop,
    out_dir: Path | None,
    trades: int,
) -> BacktestResult:
    portfolio = kernel.portfolio
    # the simulated venue charges fees in the quote asset; other currencies cannot be summed
    fees = portfolio.fees_by_currency().get(config.instrument.quote, Decimal(0))
    rejected = kernel.denied + venue.rejected
    metrics = loop.metrics.finish(
        exposed_bars=loop.exposed,
        fees=fees,
        rejected_orders=rejected,
        final_equity=portfolio.equity(),
        periods_per_year=periods_per_year(config.interval_ns),
    )
    if out_dir is not None:
        (out_dir / "metrics.json").write_text(metrics.to_json(), encoding="utf-8")
        write_performance(out_dir, kernel)
    return BacktestResult(
        metrics=metrics,
        bars=loop.bars,
        trades=trades,
        fills=loop.fills,
        rejected_orders=rejected,
        strategy_errors=[f"{e.strategy_id}: {e.error_type}: {e.message}" for e in kernel.errors],
    )
