"""``python -m genesis walkforward``: the grid searched in sample, run out of sample (BT-5).

Takes ``optimize``'s inputs (the backtest's options, ``--grid``, ``--param``,
``--objective``, ``--workers``, ``--scheduler``) plus the window lengths.
Everything is checked before anything runs; then every window's in-sample
search runs in one batch on the local processes or the Dask cluster
(``optimize_exec``), each window's best row is picked as ``optimize`` ranks,
the chosen parameters run on the test spans (second batch, same executor:
each run's backtest files come back as bytes and are written here, in
``DIR/windows/NNN``, so a remote worker's disk never matters), and the
out-of-sample runs are stitched (``walkforward``). The result depends only on
the inputs: the same files in process, on N processes and on Dask. Writes
``DIR/walkforward.csv``, ``DIR/walkforward.json`` and
``DIR/walkforward_equity.csv``. Bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from genesis.backtesting.metrics import periods_per_year
from genesis.backtesting.optimize import (
    Axis,
    Row,
)
from genesis.backtesting.optimize_cli import (
    _context,
    _ignore,
    _make_dir,
    _workers,
    add_scheduler_arg,
    prepare,
)
from genesis.backtesting.optimize_exec import (
    Dataset,
    Task,
    dataset_bars,
    execute,
    run_task,
    run_task_files,
    span_bars,
)
from genesis.backtesting.runargs import add_run_args
from genesis.backtesting.runner import BacktestConfig
from genesis.backtesting.walkforward import (
    OosRun,
    Window,
    make_windows,
    metric_names,
    parse_duration,
    pick,
    stitch,
    window_record,
    write_equity,
    write_windows,
)
from genesis.errors import ConfigError

__all__ = ["CSV", "EQUITY", "MANIFEST", "add_parser", "run"]

CSV: Final = "walkforward.csv"
MANIFEST: Final = "walkforward.json"
EQUITY: Final = "walkforward_equity.csv"
_WINDOW: Final = "#window"  # a task's window, kept in its grid (never a parameter name)


def add_parser(sub: Any) -> None:
    """Register the ``walkforward`` sub-command."""
    p = sub.add_parser(
        "walkforward",
        help="walk-forward validation: grid search in sample, best parameters out of sample",
        description="Cut the data into train/test windows (rolling, or anchored at the"
        " data's start); search the grid on each train span, run the best parameters on the"
        " test span that follows (cold start: no warm-up bars), chain the out-of-sample"
        " runs; write DIR/walkforward.csv, DIR/walkforward.json, DIR/walkforward_equity.csv.",
    )
    add_run_args(p, "one bars file (CSV or Parquet); default: the bundled BTCUSDT 1-minute month")
    p.add_argument(
        "--grid", action="append", required=True, metavar="NAME=SPEC",
        help="a parameter axis: NAME=START..END:STEP or NAME=V1,V2,... (repeatable)",
    )  # fmt: skip
    p.add_argument("--objective", default="sharpe", help="the metric choosing each window's row")
    p.add_argument("--train", required=True, help="in-sample length: 14d, 12h, 90m, 2w, 30s")
    p.add_argument("--test", required=True, help="out-of-sample length, same units")
    p.add_argument("--step", default=None, help="how far each window moves (default: --test)")
    p.add_argument(
        "--anchored", action="store_true",
        help="train always from the data's first bar (default: rolling, fixed --train)",
    )  # fmt: skip
    p.add_argument("--workers", type=_workers, default=1, help="local processes (1: in this one)")
    add_scheduler_arg(p)


def run(args: argparse.Namespace) -> int:
    """Check the inputs, run every window, write the three files, print a summary."""
    train = parse_duration("--train", args.train)
    test = parse_duration("--test", args.test)
    step = test if args.step is None else parse_duration("--step", args.step)
    search = prepare(args)
    spec, axes, fixed, valid, invalid = (
        search.spec, search.axes, search.fixed, search.valid, search.invalid
    )  # fmt: skip
    config, path, data = search.config, search.path, search.data
    bars = dataset_bars(data)
    if not bars:
        raise ConfigError(f"--data {path}: no bars")
    windows = make_windows(
        bars[0].ts_open, bars[-1].ts_open + config.interval_ns,
        train=train, test=test, step=step, anchored=args.anchored,
    )  # fmt: skip
    _make_dir(args.out)
    chosen = _search(args, config, fixed, valid, invalid, windows, data, axes)
    runs, oos = _out_of_sample(args, config, fixed, windows, chosen, data, bars)
    stitched = stitch(config.cash, runs, periods_per_year(config.interval_ns))
    records = [
        window_record(w, chosen[w.index], args.objective, stitched.starts[w.index], oos[w.index])
        for w in windows
    ]
    write_windows(args.out / CSV, records, axes, args.objective)
    write_equity(args.out / EQUITY, stitched)
    context = _context(args, spec.name, fixed, config, data)
    settings = {
        "train": args.train, "test": args.test, "step": args.step or args.test,
        "anchored": args.anchored, "objective": args.objective,
        "grid": [{"name": a.name, "spec": a.text, "values": list(a.values)} for a in axes],
        "warm_up": "none: each test span starts cold, flat, with the starting cash",
    }  # fmt: skip
    payload = {
        **context,
        "walkforward": settings,
        "windows": records,
        "stitched": json.loads(stitched.metrics.to_json()),
    }
    (args.out / MANIFEST).write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    if not args.quiet:
        _summary(records, axes, stitched.metrics.final_equity, args.out, sys.stdout)
    return 0


def _search(
    args: argparse.Namespace,
    config: BacktestConfig,
    fixed: dict[str, str],
    valid: list[dict[str, str]],
    invalid: list[Row],
    windows: list[Window],
    data: Dataset,
    axes: list[Axis],
) -> list[Row | None]:
    """Every window's grid on its train span, in one batch; each window's chosen row."""
    tasks = [
        Task(
            {_WINDOW: str(w.index), **point},
            replace(config, params={**fixed, **point}),
            data,
            span=(w.train_start, w.train_end),
        )
        for w in windows
        for point in valid
    ]
    by_window: dict[int, list[Row]] = defaultdict(list)
    rows = execute(tasks, run_task, workers=args.workers, scheduler=args.scheduler, done=_ignore)
    for row in rows:
        grid = dict(row.grid)
        index = int(grid.pop(_WINDOW))
        by_window[index].append(replace(row, grid=grid))
    return [pick([*by_window[w.index], *invalid], args.objective, axes) for w in windows]


def _out_of_sample(
    args: argparse.Namespace,
    config: BacktestConfig,
    fixed: dict[str, str],
    windows: list[Window],
    chosen: list[Row | None],
    data: Dataset,
    bars: Any,
) -> tuple[list[OosRun], list[dict[str, Any] | None]]:
    """Run each window's chosen parameters on its test span (files written to
    DIR/windows/NNN here); a window with no chosen row stays in cash."""
    tasks = [
        Task(
            {_WINDOW: str(w.index)},
            replace(config, params={**fixed, **row.grid}),
            data,
            span=(w.test_start, w.test_end),
        )
        for w, row in zip(windows, chosen, strict=True)
        if row is not None
    ]
    rows = _run_chosen(args, tasks)
    runs: list[OosRun] = []
    metrics: list[dict[str, Any] | None] = []
    for w in windows:
        times = [b.ts_open for b in span_bars(bars, (w.test_start, w.test_end))]
        row = rows.get(w.index)
        if row is None or row.metrics is None:
            runs.append(_in_cash(config.cash, times))
            metrics.append(None)
            continue
        runs.append(_read_run(args.out / "windows" / f"{w.index:03d}", times, row.metrics))
        metrics.append({m: row.metrics[m] for m in metric_names()})
    return runs, metrics


def _run_chosen(args: argparse.Namespace, tasks: list[Task]) -> dict[int, Row]:
    """Run the out-of-sample tasks; write each one's files to DIR/windows/NNN; its row by
    window."""
    done = execute(
        tasks, run_task_files, workers=args.workers, scheduler=args.scheduler, done=_ignore
    )
    rows: dict[int, Row] = {}
    for row, files in done:
        index = int(row.grid[_WINDOW])
        run_dir = args.out / "windows" / f"{index:03d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (run_dir / name).write_bytes(content)
        rows[index] = row
    return rows


def _in_cash(cash: Decimal, times: list[int]) -> OosRun:
    return OosRun(times, [float(cash)] * len(times), [], cash, Decimal(0), 0, 0)


def _read_run(run_dir: Path, times: list[int], metrics: Mapping[str, Any]) -> OosRun:
    """A kept out-of-sample run: its equity.csv (one row per test bar) and trades' P&L."""
    with (run_dir / "equity.csv").open(encoding="utf-8") as fh:
        equity = [float(r["equity"]) for r in csv.DictReader(fh)]
    with (run_dir / "trades.csv").open(encoding="utf-8") as fh:
        pnls = [float(r["pnl"]) for r in csv.DictReader(fh)]
    if len(equity) != len(times):
        raise ConfigError(
            f"{run_dir / 'equity.csv'}: {len(equity)} rows for {len(times)} test bars"
        )
    return OosRun(
        times,
        equity,
        pnls,
        Decimal(metrics["final_equity"]),
        Decimal(metrics["fees"]),
        round(metrics["exposure"] * len(times)),
        metrics["rejected_orders"],
    )


def _summary(
    records: list[dict[str, Any]], axes: list[Axis], final: str, out_dir: Path, out: IO[str]
) -> None:
    for r in records:
        params = ", ".join(f"{k}={v}" for k, v in (r["params"] or {}).items()) or "(in cash)"
        ret = (r["oos"] or {}).get("total_return")
        shown = "-" if ret is None else f"{ret:+.4%}"
        out.write(f"#{r['window']} test {r['test_start']} .. {r['test_end']}  {params}  {shown}\n")
    out.write(f"{len(records)} windows; stitched final equity {final}; files in {out_dir}\n")
