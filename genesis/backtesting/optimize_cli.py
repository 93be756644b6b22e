"""``python -m genesis optimize``: a parameter grid searched with the backtest engine (BT-5).

Takes the backtest's options for one bars file (``runargs``), ``--grid`` axes
and fixed ``--param`` values; checks the whole search before running anything
(strategy, parameter names, objective, grid syntax, data file), then runs the
valid points on local processes or a Dask cluster (``optimize_exec``), ranks
them (``optimize``), writes ``DIR/optimize.csv`` and ``DIR/optimize.json`` and
prints the ten best. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from genesis import __version__, native
from genesis.backtesting.cli import parse_params, prepare_bars
from genesis.backtesting.optimize import (
    Axis,
    Row,
    check_names,
    check_objective,
    expand,
    manifest,
    parse_axis,
    rank,
    render_table,
    validate_points,
    write_csv,
)
from genesis.backtesting.optimize_exec import Dataset, Task, execute, run_task, sha256_of
from genesis.backtesting.runargs import add_run_args
from genesis.backtesting.runner import BacktestConfig
from genesis.errors import ConfigError
from genesis.strategies import registry

__all__ = ["CSV", "MANIFEST", "add_parser", "add_scheduler_arg", "prepare", "run"]

CSV = "optimize.csv"
MANIFEST = "optimize.json"
_DATA_HELP = (
    "one bars file: CSV (.csv or .csv.gz) or Parquet (.parquet), parsed once per worker;"
    " default: the bundled BTCUSDT 1-minute month"
)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, was {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, was {value}")
    return value


def add_parser(sub: Any) -> None:
    """Register the ``optimize`` sub-command."""
    p = sub.add_parser(
        "optimize",
        help="grid search of a strategy's parameters: local processes or a Dask cluster",
        description="Run the backtest once per point of a parameter grid; write"
        " DIR/optimize.csv (every point, ranked by the objective) and DIR/optimize.json"
        " (what it takes to run the search again).",
    )
    add_run_args(p, _DATA_HELP)
    p.add_argument(
        "--grid", action="append", required=True, metavar="NAME=SPEC",
        help="a parameter axis: NAME=START..END:STEP (inclusive; integers or decimals) or"
        " NAME=V1,V2,...; repeat for more axes (their product is searched)",
    )  # fmt: skip
    p.add_argument(
        "--objective",
        default="sharpe",
        help="the metric ranking the rows (a metrics.json key), best first: higher is better"
        " except max_drawdown_duration, fees and rejected_orders",
    )
    p.add_argument(
        "--workers", type=_workers, default=os.cpu_count() or 1,
        help="local processes (1: in this process)",
    )  # fmt: skip
    add_scheduler_arg(p)
    p.add_argument(
        "--keep-runs",
        action="store_true",
        help="also write each run's backtest files to DIR/runs/NAME-VALUE_... (with"
        " --scheduler: on the workers' filesystem)",
    )


def add_scheduler_arg(p: argparse.ArgumentParser) -> None:
    """``--scheduler tcp://HOST:PORT`` (optimize and walkforward)."""
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed scheduler instead (needs genesis[research]); its"
        " workers must see --data at the same path",
    )


@dataclass(frozen=True, slots=True)
class Search:
    """A checked search: the strategy, the grid, its valid and invalid points, the run
    configuration and the pinned bars file (``prepare``; walk-forward uses it too)."""

    spec: Any
    axes: list[Axis]
    fixed: dict[str, str]
    valid: list[dict[str, str]]
    invalid: list[Row]
    config: BacktestConfig
    path: Path
    data: Dataset


def prepare(args: argparse.Namespace) -> Search:
    """Check the strategy, grid, fixed params and objective; read the bars file once.

    Raises:
        ConfigError: what is wrong, in one line (nothing has run).
    """
    spec = registry.get(args.strategy)
    axes = [parse_axis(text) for text in args.grid]
    fixed = parse_params(args.param)
    check_names(spec, axes, fixed)
    check_objective(args.objective)
    points = expand(axes)
    valid, invalid = validate_points(spec, points, fixed)
    if not valid:
        raise ConfigError(
            f"no valid parameter set among the grid's {len(points)} points; the first:"
            f" {invalid[0].detail}"
        )
    config, path, origin = prepare_bars(args, fixed)
    if not args.quiet:
        print(origin, file=sys.stderr)
    data = Dataset(
        str(path.resolve()), sha256_of(path), config.instrument.symbol, config.interval_ns
    )
    return Search(spec, axes, fixed, valid, invalid, config, path, data)


def run(args: argparse.Namespace) -> int:
    """Check the search, run it, write optimize.csv and optimize.json, print the best rows."""
    search = prepare(args)
    spec, axes, fixed, valid, invalid = (
        search.spec, search.axes, search.fixed, search.valid, search.invalid
    )  # fmt: skip
    config, data = search.config, search.data
    _make_dir(args.out)
    tasks = [_task(args, config, fixed, point, data) for point in valid]
    started = time.perf_counter()
    rows = _execute(args, tasks)
    ranked = rank([*rows, *invalid], args.objective, axes)
    write_csv(args.out / CSV, ranked, axes, fixed)
    context = _context(args, spec.name, fixed, config, data)
    (args.out / MANIFEST).write_text(manifest(ranked, axes, args.objective, context), "utf-8")
    if not args.quiet:
        render_table(ranked, axes, args.objective, sys.stdout)
        _footer(args, ranked, time.perf_counter() - started, sys.stdout)
    return 0


def _task(
    args: argparse.Namespace,
    config: BacktestConfig,
    fixed: Mapping[str, str],
    point: dict[str, str],
    data: Dataset,
) -> Task:
    keep = None
    if args.keep_runs:
        name = "_".join(f"{k}-{v}" for k, v in point.items())
        keep = str((args.out / "runs" / re.sub(r"[^A-Za-z0-9._-]", "_", name)).resolve())
    return Task(point, replace(config, params={**fixed, **point}), data, keep)


def _execute(args: argparse.Namespace, tasks: list[Task]) -> list[Row]:
    progress = _Progress(len(tasks), sys.stderr) if sys.stderr.isatty() else None
    try:
        return execute(
            tasks,
            run_task,
            workers=args.workers,
            scheduler=args.scheduler,
            done=progress.update if progress else _ignore,
        )
    finally:
        if progress is not None:
            progress.close()


def _ignore(finished: int) -> None:
    return None


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def _context(
    args: argparse.Namespace,
    strategy: str,
    fixed: Mapping[str, str],
    config: BacktestConfig,
    data: Dataset,
) -> dict[str, Any]:
    """What optimize.json records besides the grid: enough to run the search again."""
    inst = config.instrument
    return {
        "strategy": strategy,
        "params": dict(fixed),
        "data": {
            "file": str(args.data),
            "sha256": data.sha256,
            "symbol": data.symbol,
            "interval_ns": data.interval_ns,
        },
        "backtest": {
            "cash": str(args.cash),
            "fee_bps": str(args.fee_bps),
            "maker_fee_bps": None if args.maker_fee_bps is None else str(args.maker_fee_bps),
            "slippage_bps": str(args.slippage_bps),
            "latency_ms": str(args.latency_ms),
            "tier": args.tier,
            "risk_config": None if args.risk_config is None else str(args.risk_config),
            "capabilities": args.capabilities,
            "regimes": list(args.regimes),
            "accounting": args.accounting,
            "instrument": {
                "symbol": inst.symbol,
                "base": inst.base,
                "quote": inst.quote,
                "tick_size": str(inst.tick_size),
                "step_size": str(inst.step_size),
                "min_notional": str(inst.min_notional),
            },
        },
        "engine": {"genesis": __version__, "compiled": native.state().compiled},
    }


def _footer(args: argparse.Namespace, rows: list[Row], seconds: float, out: IO[str]) -> None:
    ok = sum(r.status == "ok" for r in rows)
    where = (
        f"on the Dask cluster at {args.scheduler}"
        if args.scheduler
        else f"on {args.workers} local process{'es' if args.workers > 1 else ''}"
    )
    out.write(
        f"{len(rows)} points ({ok} ok, {len(rows) - ok} not) in {seconds:.1f} s {where};"
        f" all rows in {args.out / CSV}\n"
    )


class _Progress:
    """A one-line progress bar on stderr, by runs finished (only on a terminal)."""

    def __init__(self, total: int, out: IO[str]) -> None:
        self._total, self._out = total, out
        self._t0 = time.perf_counter()
        self.update(0)

    def update(self, finished: int) -> None:
        frac = finished / self._total if self._total else 1.0
        filled = int(frac * 30)
        self._out.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {finished}/{self._total} runs"
            f"  {time.perf_counter() - self._t0:5.1f}s"
        )
        self._out.flush()

    def close(self) -> None:
        self._out.write("\r" + " " * 70 + "\r")
        self._out.flush()
