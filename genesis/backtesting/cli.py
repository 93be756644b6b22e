"""``python -m genesis backtest``: arguments, instrument resolution, summary, progress.

``--data`` picks the engine: a bars CSV runs the bar loop (``runner.py``); a
recording (a Binance capture ``.jsonl[.gz]`` or raw streams ``.txt[.gz]``,
named as ``data.sources.open_events`` tells them apart) is replayed event by
event through the paper-mode loop (``events.py``). Both write the same files.
A paper session's log (told by its first line) replays that session, with its
strategies and settings from its journal (``session.py``).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from genesis import resources
from genesis.backtesting.events import EventBacktestResult, run_event_backtest
from genesis.backtesting.fx_cli import add_fx_args, run_fx
from genesis.backtesting.metrics import Metrics
from genesis.backtesting.runargs import add_run_args
from genesis.backtesting.runner import BacktestConfig, BacktestResult, run_backtest
from genesis.cliargs import add_venue_fee_arg, decimal_arg
from genesis.core.enums import AccountingMethod
from genesis.core.events import Bar
from genesis.core.instruments import (
    DEFAULT_VENUE,
    Instrument,
    InstrumentTable,
    load_exchange_info,
)
from genesis.data.barcache import cache_dir, cached_bars
from genesis.data.loaders import infer_interval_ns, infer_tick_size
from genesis.data.session_log import is_session_log
from genesis.data.sources import (
    DataSpec,
    is_quote_bars,
    open_events,
    parse_data_arg,
    symbol_from_name,
)
from genesis.data.timeparse import make_timestamp_parser
from genesis.errors import ConfigError
from genesis.risk.config import RiskConfig, load_risk_config
from genesis.risk.limits import Tier
from genesis.strategies import registry

__all__ = ["add_parser", "prepare_bars", "run"]

_QUOTES = (
    "USDT",
    "BUSD",
    "USDC",
    "TUSD",
    "FDUSD",
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "BTC",
    "ETH",
    "BNB",
    "TRY",
    "BRL",
    "AUD",
    "CHF",
    "CAD",
)
_DEFAULT_STEP = Decimal("0.00000001")
_BAR_FILES = (".csv", ".parquet")


_DATA_HELP = (
    "bars CSV (.csv or .csv.gz) or Parquet (.parquet), or a recording replayed event"
    " by event: a Binance capture (.jsonl[.gz], e.g. from `genesis record`) or raw"
    " streams (.txt[.gz]);"
    " repeat for several symbols or venues (replayed together, interleaved by time, the"
    " strategy trading every instrument they bring); or a paper session's log"
    " (session-*.jsonl), replayed with the session's own strategies and settings from its"
    " journal; default: the bundled BTCUSDT 1-minute month"
)


def add_parser(sub: Any) -> None:
    """Register the ``backtest`` sub-command."""
    p = sub.add_parser("backtest", help="run a strategy over historical bars")
    add_run_args(p, _DATA_HELP, strategy_required=False)
    p.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="with a session log as --data: the session's journal (default: genesis.db"
        " beside the log)",
    )
    p.add_argument(
        "--sample-ms",
        type=decimal_arg("--sample-ms", positive=True),
        default=None,
        help="recordings and several --data: equity.csv gets one row per this much event time"
        " (default: the bar interval when every --data is bars, else 1000)",
    )
    add_venue_fee_arg(p, "several venues")
    add_fx_args(p)


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``["fast=10", "slow=30"]`` → ``{"fast": "10", "slow": "30"}``.

    Raises:
        ConfigError: an item without ``=`` or with an empty key, or a repeated key.
    """
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        if key in params:
            raise ConfigError(f"--param {key} is given twice")
        params[key] = value.strip()
    return params


def resolve_instrument(args: argparse.Namespace) -> tuple[Instrument, str]:
    """The instrument for ``--symbol`` and a sentence saying where its increments came from."""
    table = _exchange_info(args.exchange_info, args.symbol)
    if args.symbol in table:
        inst = table.get(args.symbol)
        origin = f"{args.exchange_info.name}"
        if args.tick_size or args.step_size:
            inst = _override(inst, args.tick_size, args.step_size)
            origin += " with overrides from the command line"
        return (
            inst,
            f"instrument {inst.symbol}: tick {inst.tick_size}, step {inst.step_size},"
            f" min notional {inst.min_notional} (from {origin})",
        )
    return _unlisted(args)


def _exchange_info(path: Path, symbol: str) -> InstrumentTable:
    """The exchangeInfo file's instrument for ``symbol`` (an empty table: not listed)."""
    if not path.is_file():
        raise ConfigError(f"--exchange-info {path}: no such file")
    try:
        return load_exchange_info(path, symbols=(symbol,))
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--exchange-info {path}: not a Binance exchangeInfo JSON ({type(exc).__name__}: {exc})"
        ) from None


def _override(inst: Instrument, tick: Decimal | None, step: Decimal | None) -> Instrument:
    from dataclasses import replace

    return replace(
        inst, tick_size=tick or inst.tick_size, step_size=step or inst.step_size, source="cli"
    )


def _unlisted(args: argparse.Namespace) -> tuple[Instrument, str]:
    base, quote = args.base, args.quote
    if base is None or quote is None:
        guess = next(
            (q for q in _QUOTES if args.symbol.endswith(q) and len(args.symbol) > len(q)), None
        )
        if guess is None:
            raise ConfigError(
                f"--symbol {args.symbol} is not in {args.exchange_info.name} and its quote"
                " asset is not recognisable; pass --base and --quote"
            )
        base, quote = base or args.symbol[: -len(guess)], quote or guess
    if args.tick_size is None and is_recording(args.data):
        raise ConfigError(
            f"--symbol {args.symbol} is not in {args.exchange_info.name}; pass --tick-size"
            " (it is inferred from bars only)"
        )
    tick = args.tick_size or infer_tick_size(args.data)
    step = args.step_size or _DEFAULT_STEP
    inst = Instrument(
        symbol=args.symbol,
        base=base,
        quote=quote,
        tick_size=tick,
        step_size=step,
        venue="SIM",
        source="inferred",
    )
    how_tick = "--tick-size" if args.tick_size else "inferred from the data"
    how_step = "--step-size" if args.step_size else "default; pass --step-size"
    return inst, (
        f"instrument {args.symbol} is not in {args.exchange_info.name}: base {base}, quote {quote},"
        f" tick {tick} ({how_tick}), step {step} ({how_step})"
    )


def run(args: argparse.Namespace) -> int:
    """Execute the backtest; return the process exit code (errors raise GenesisError)."""
    if getattr(args, "ask_data", None) is not None:
        return run_fx(
            args,
            parse_params(args.param),
            lambda params, inst: _config(args, params, inst, 60_000_000_000),
        )
    data = args.data or [str(resources.BTCUSDT_1M_BARS)]
    if len(data) == 1 and is_session_log(Path(data[0])):
        return _run_session(args, Path(data[0]))
    if args.strategy is None:
        raise ConfigError("--strategy is required (except with a session log as --data)")
    single = _single(args, data)
    if single is None:
        return _run_multi(args, data)
    args.data = single
    if not args.data.is_file():
        raise ConfigError(f"--data {args.data}: no such file")
    params = parse_params(args.param)
    registry.parse_params(
        registry.get(args.strategy), params, source="--param"
    )  # fail before output
    inst, origin = resolve_instrument(args)
    if is_recording(args.data):
        return _run_recording(args, params, inst, origin)
    interval = infer_interval_ns(args.data)
    config = _config(args, params, inst, interval)
    print(origin, file=sys.stderr)
    bars = cached_bars(args.data, inst.symbol, interval, cache_dir())
    progress = _Progress(args.data, sys.stderr) if sys.stderr.isatty() else None
    started = time.perf_counter()
    result = run_backtest(config, bars, args.out, progress.update if progress else None)
    if progress is not None:
        progress.done()
    if not args.quiet:
        _summary(args, result, time.perf_counter() - started, sys.stdout)
    for error in result.strategy_errors:
        print(f"strategy disabled after an error: {error}", file=sys.stderr)
    return 0


def prepare_bars(
    args: argparse.Namespace, params: dict[str, str]
) -> tuple[BacktestConfig, Path, str]:
    """The bar engine's config for one ``--data`` bars file (``optimize``'s runs), the
    file, and where the instrument's increments came from.

    Raises:
        ConfigError: several --data, a recording or quote bars, a missing file, or an
            instrument that cannot be resolved.
    """
    data = args.data or [str(resources.BTCUSDT_1M_BARS)]
    path = _single(args, data)
    if path is None or is_recording(path):
        raise ConfigError(
            f"--data {' '.join(data)}: expected one bars file (.csv[.gz] or .parquet) with"
            " trade bars; recordings, quote bars and several files are backtest-only"
        )
    if not path.is_file():
        raise ConfigError(f"--data {path}: no such file")
    args.data = path
    inst, origin = resolve_instrument(args)
    return _config(args, params, inst, infer_interval_ns(path)), path, origin


def _config(
    args: argparse.Namespace, params: dict[str, str], inst: Instrument, interval_ns: int
) -> BacktestConfig:
    return BacktestConfig(
        strategy=args.strategy,
        params=params,
        instrument=inst,
        cash=args.cash,
        fee_bps=args.fee_bps,
        maker_fee_bps=args.maker_fee_bps,
        slippage_bps=args.slippage_bps,
        latency_ns=int(args.latency_ms * 1_000_000),
        tier=Tier(args.tier) if args.tier else None,
        risk=_risk_config(args) if args.tier else None,
        regimes=args.regimes,
        venue_fee_bps=dict(getattr(args, "venue_fee_bps", ())),
        capabilities=args.capabilities,
        accounting=AccountingMethod(args.accounting),
        interval_ns=interval_ns,
    )


def _risk_config(args: argparse.Namespace) -> RiskConfig:
    """--risk-config, else GENESIS_RISK_CONFIG, else the defaults (ConfigError if bad)."""
    from genesis.settings import load_settings  # pydantic-settings: only a tiered run needs it

    path = args.risk_config or load_settings().risk_config
    return load_risk_config(path)


def is_recording(path: Path) -> bool:
    """A capture ``.jsonl[.gz]`` or streams ``.txt[.gz]``: ``open_events``' own rule."""
    return path.name.removesuffix(".gz").endswith((".jsonl", ".txt"))


def _single(args: argparse.Namespace, data: list[str]) -> Path | None:
    """The one bar file or recording the single-instrument runner takes (setting
    ``args.symbol`` from ``SYMBOL=`` or the file's name), or None: the multi runner's."""
    if len(data) == 1 and "=" in data[0]:  # [VENUE:]SYMBOL=FILE for one recording
        spec = parse_data_arg(data[0])
        if spec.venue != DEFAULT_VENUE:
            return None
        if spec.symbol is not None:
            args.symbol = spec.symbol  # SYMBOL= names the bars' instrument
        data = [str(spec.path)]
    if len(data) > 1 or _quote_bars(Path(data[0])):
        return None
    if args.symbol is None:
        args.symbol = symbol_from_name(Path(data[0])) or "BTCUSDT"
    return Path(data[0])


def _quote_bars(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return path.is_file() and name.endswith(".csv") and is_quote_bars(path)


def _sample_ns(args: argparse.Namespace, specs: list[DataSpec] | None = None) -> int:
    """Equity sampling: ``--sample-ms``, else the bar interval when every recording is
    bars (one row per bar, not per second), else one second."""
    if args.sample_ms is not None:
        sample_ns = int(args.sample_ms * 1_000_000)
        if sample_ns <= 0:
            raise ConfigError(f"--sample-ms {args.sample_ms}: below one nanosecond")
        return sample_ns
    bars = [s.path for s in specs or () if s.path.name.removesuffix(".gz").endswith(_BAR_FILES)]
    if specs and len(bars) == len(specs):
        return min(infer_interval_ns(path) for path in bars)
    return 1_000_000_000


def _run_recording(
    args: argparse.Namespace, params: dict[str, str], inst: Instrument, origin: str
) -> int:
    sample_ns = _sample_ns(args)
    config = _config(args, params, inst, sample_ns)
    print(origin, file=sys.stderr)
    events = open_events(args.data, inst.symbol)
    tty = sys.stderr.isatty()
    started = time.perf_counter()
    result = run_event_backtest(
        config,
        events,
        args.out,
        sample_ns=sample_ns,
        source=str(args.data),
        progress=_event_progress(started) if tty else None,
    )
    if tty:
        sys.stderr.write("\r" + " " * 60 + "\r")
    if not args.quiet:
        _event_summary(args, result, time.perf_counter() - started, sys.stdout)
    for error in result.strategy_errors:
        print(f"strategy disabled after an error: {error}", file=sys.stderr)
    return 0


def _run_session(args: argparse.Namespace, log: Path) -> int:
    """A paper session's log, replayed with the session's own strategies and settings."""
    from genesis.backtesting.session import load_session, replay_session

    given = [name for name in ("strategy", "param", "tier") if getattr(args, name)]
    if given:
        raise ConfigError(
            f"--data {log} is a session log: it replays the session's own strategies, params"
            f" and settings from its journal; drop --{', --'.join(given)}"
        )
    session = load_session(log, args.journal)
    for action in sorted(set(session.not_replayed)):
        print(
            f"genesis: the session's journal has {action} rows, an operator action a replay"
            " cannot repeat: its orders differ from the session's from there",
            file=sys.stderr,
        )
    started = time.perf_counter()
    sample_ns = int(args.sample_ms * 1_000_000) if args.sample_ms else 1_000_000_000
    result = replay_session(session, args.out, sample_ns)
    if not args.quiet:
        config = session.config
        rows = [
            ("session", f"{log.name} (journal {session.journal})"),
            ("strategies", ", ".join(c.id for c in config.strategies)),
            ("settings", f"tier {config.tier.value}, cash {config.cash}, fee {config.fee_bps} bps"),
            ("events", f"{result.events:,} in {time.perf_counter() - started:.2f} s"),
            ("orders", f"{result.orders} ({result.fills} fills, {result.trades} closed lots)"),
            ("final equity", result.final_equity),
            ("balances", ", ".join(f"{a} {v}" for a, v in result.balances.items())),
            ("output", str(args.out)),
        ]
        _table(rows, sys.stdout)
    for error in result.strategy_errors:
        print(f"strategy disabled after an error: {error}", file=sys.stderr)
    return 0


def _event_progress(started: float) -> Callable[[int], None]:
    def update(events: int) -> None:
        sys.stderr.write(f"\r{events:,} events  {time.perf_counter() - started:5.1f}s")
        sys.stderr.flush()

    return update


def _event_summary(
    args: argparse.Namespace, result: EventBacktestResult, seconds: float, out: IO[str]
) -> None:
    m = result.metrics
    skipped = f", {result.skipped:,} of other symbols skipped" if result.skipped else ""
    rows = [
        ("strategy", f"{args.strategy} on {args.symbol} ({args.data.name})"),
        (
            "events",
            f"{result.events:,} in {seconds:.2f} s"
            f" ({result.events / max(seconds, 1e-9):,.0f} events/s{skipped})",
        ),
        ("trades", f"{m.trades} ({result.fills} fills, {m.rejected_orders} rejected orders)"),
        ("final equity", m.final_equity),
        ("total return", _pct(m.total_return)),
        ("annual return", _pct(m.annual_return)),
        ("sharpe / sortino", f"{_num(m.sharpe)} / {_num(m.sortino)} (per bar)"),
        ("daily ratios", _daily(m)),
        ("max drawdown", f"{_pct(m.max_drawdown)} over {m.max_drawdown_duration:,} s"),
        ("win rate", _pct(m.win_rate)),
        ("profit factor", _num(m.profit_factor)),
        ("fees", m.fees),
        ("equity rows", f"{result.samples:,}, one per {args.sample_ms or 1000} ms of event time"),
        ("output", str(args.out)),
    ]
    _table(rows, out)


def _summary(
    args: argparse.Namespace, result: BacktestResult, seconds: float, out: IO[str]
) -> None:
    m = result.metrics
    rows = [
        ("strategy", f"{args.strategy} on {args.symbol} ({args.data.name})"),
        (
            "bars",
            f"{result.bars:,} in {seconds:.2f} s ({result.bars / max(seconds, 1e-9):,.0f} bars/s)",
        ),
        ("trades", f"{m.trades} ({result.fills} fills, {m.rejected_orders} rejected orders)"),
        ("final equity", m.final_equity),
        ("total return", _pct(m.total_return)),
        ("annual return", _pct(m.annual_return)),
        ("sharpe / sortino", f"{_num(m.sharpe)} / {_num(m.sortino)} (per bar)"),
        ("daily ratios", _daily(m)),
        ("max drawdown", f"{_pct(m.max_drawdown)} over {m.max_drawdown_duration / 86400:.1f} days"),
        ("win rate", _pct(m.win_rate)),
        ("profit factor", _num(m.profit_factor)),
        ("fees", m.fees),
        ("output", str(args.out)),
    ]
    _table(rows, out)


def _table(rows: Sequence[tuple[str, str]], out: IO[str]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")


def _daily(m: Metrics) -> str:
    """The daily ratios, saying how they are annualised (365 days: crypto trades 24/7)."""
    return (
        f"sharpe {_num(m.daily_sharpe)}, sortino {_num(m.daily_sortino)},"
        f" cagr {_pct(m.daily_cagr)}, calmar {_num(m.daily_calmar)}"
        f" ({m.days} UTC days, {m.days_per_year:g} a year)"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class _Progress:
    """A one-line progress bar on stderr, by time covered (only on a terminal)."""

    def __init__(self, path: Path, out: IO[str]) -> None:
        self._out = out
        self._span = _time_span(path)
        self._t0 = time.perf_counter()

    def update(self, bar: Bar) -> None:
        first, last = self._span
        frac = 0.0 if last <= first else min(1.0, (bar.ts_open - first) / (last - first))
        filled = int(frac * 30)
        self._out.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {frac * 100:5.1f}%"
            f"  {time.perf_counter() - self._t0:5.1f}s"
        )
        self._out.flush()

    def done(self) -> None:
        self._out.write("\r" + " " * 60 + "\r")
        self._out.flush()


def _time_span(path: Path) -> tuple[int, int]:
    lines = list(_first_and_last(path))
    if len(lines) < 2:
        return (0, 0)
    parse = make_timestamp_parser(lines[0])
    try:
        return parse(lines[0]), parse(lines[1])
    except ValueError:
        return (0, 0)


def _first_and_last(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        next(fh, None)
        first = next(fh, "")
        last = first
        for last in fh:  # noqa: B007 - only the last line is wanted
            pass
    for line in (first, last):
        if line.strip():
            yield line.split(",", 1)[0]


def _run_multi(args: argparse.Namespace, data: list[str]) -> int:
    """Several recordings (``genesis.backtesting.multi``)."""
    from genesis.backtesting.multi import run_multi_backtest

    params = parse_params(args.param)
    registry.parse_params(registry.get(args.strategy), params, source="--param")
    specs = [parse_data_arg(text) for text in data]
    sample_ns = _sample_ns(args, specs)
    first = Instrument(symbol="X", base="X", quote="X", tick_size=Decimal(1), step_size=Decimal(1))
    config = _config(args, params, first, sample_ns)
    started = time.perf_counter()
    result = run_multi_backtest(
        config, specs, load_exchange_info(args.exchange_info), args.out, sample_ns
    )
    for line in result.inferred:
        print(f"genesis: {line}", file=sys.stderr)
    if not args.quiet:
        m, seconds = result.metrics, time.perf_counter() - started
        rows = [
            ("strategy", f"{args.strategy} on {', '.join(result.instruments)}"),
            ("events", f"{result.events:,} in {seconds:.2f} s"),
            ("trades", f"{m.trades} ({result.fills} fills, {m.rejected_orders} rejected orders)"),
            ("final equity", m.final_equity),
            ("total return", _pct(m.total_return)),
            ("max drawdown", _pct(m.max_drawdown)),
            ("fees", m.fees),
            ("output", str(args.out)),
        ]
        for name, value in rows:
            print(f"{name:<17} {value}")
    return 0
