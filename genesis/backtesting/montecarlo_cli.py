"""``python -m genesis montecarlo RUN_DIR``: resample a finished backtest (SPEC BT-4).

Reads the run's ``metrics.json``, ``trades.csv`` and ``equity.csv``
(``genesis.backtesting.rundir``), resamples them (``genesis.backtesting.montecarlo``),
writes ``RUN_DIR/montecarlo.json`` and prints a short table. A bad RUN_DIR or a
missing file is one line on stderr and exit code 2.

What each method resamples and how its Sharpe is annualised:

* ``trades`` / ``shuffle``: the closed trades' P&Ls, with / without replacement;
  the per-trade Sharpe is annualised with the run's trades per year (trades over
  the run's length, that length counted as ``metrics.json`` counts it: equity rows
  / ``periods_per_year``);
* ``blocks``: blocks of ``--block`` daily returns (UTC days, 365 a year, as the
  daily metrics), or of per-bar returns with ``--returns bar`` (the run's
  ``periods_per_year``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from genesis.backtesting.montecarlo import (
    MonteCarloResult,
    block_paths,
    summarise,
    trade_paths,
)
from genesis.backtesting.rundir import RunFiles, read_run
from genesis.cliargs import decimal_arg

__all__ = ["OUTPUT", "add_parser", "run"]

OUTPUT = "montecarlo.json"


def _bounded(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)`` within [low, high] (a usage error otherwise)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"in {low}..{high}"
            raise argparse.ArgumentTypeError(f"{text} is out of range; expected {span}")
        return value

    return parse


def add_parser(sub: Any) -> None:
    """Register the ``montecarlo`` sub-command."""
    p = sub.add_parser(
        "montecarlo",
        help="confidence intervals for a finished backtest: trade or return resampling",
        description="Resample a finished backtest's trades or returns; write"
        " RUN_DIR/montecarlo.json with percentiles of final equity, max drawdown and"
        " Sharpe, the probability of ruin and the equity fan.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `backtest --out` directory")
    p.add_argument("--paths", type=_bounded(int, 1), default=1000, help="resampled paths")
    p.add_argument("--seed", type=_bounded(int, 0), default=7, help="random seed (numpy)")
    p.add_argument(
        "--method",
        choices=("trades", "shuffle", "blocks"),
        default="trades",
        help="trades: trade P&Ls with replacement; shuffle: the same trades reordered;"
        " blocks: circular block bootstrap of returns",
    )
    p.add_argument("--block", type=_bounded(int, 1), default=5, help="returns per block (blocks)")
    p.add_argument(
        "--returns",
        choices=("daily", "bar"),
        default="daily",
        help="blocks: resample daily (UTC) returns or per-bar returns",
    )
    p.add_argument(
        "--ruin",
        type=_bounded(float, 1e-9, 1.0),
        default=0.3,
        help="drawdown counted as ruin, a fraction (0.3 = down 30%% from a peak)",
    )
    p.add_argument(
        "--cash",
        type=decimal_arg("--cash", positive=True),
        default=None,
        help="starting cash, for runs whose metrics.json has no initial_equity",
    )
    p.add_argument("--quiet", action="store_true", help="no table")


def run(args: argparse.Namespace) -> int:
    """Resample the run in ``args.run_dir``; write montecarlo.json; print the table."""
    files = read_run(args.run_dir, cash=args.cash)
    result = _simulate(args, files)
    (args.run_dir / OUTPUT).write_text(result.to_json(), encoding="utf-8")
    if not args.quiet:
        _table(result, len(files.trade_pnls), args.run_dir / OUTPUT, sys.stdout)
    return 0


def _simulate(args: argparse.Namespace, files: RunFiles) -> MonteCarloResult:
    start = files.initial_equity
    if args.method == "blocks":
        returns, ppy = files.returns(args.returns)
        stats = block_paths(
            returns, float(start), paths=args.paths, seed=args.seed, block=args.block,
            periods_per_year=ppy,
        )  # fmt: skip
        series = args.returns
    else:
        years = files.equity.size / files.periods_per_year
        ppy = max(len(files.trade_pnls), 1) / years
        stats = trade_paths(
            files.trade_pnls, start, paths=args.paths, seed=args.seed,
            replace=args.method == "trades", periods_per_year=ppy,
        )  # fmt: skip
        series = "trades"
    return summarise(
        stats,
        method=args.method,
        series=series,
        seed=args.seed,
        block=args.block if args.method == "blocks" else None,
        start_equity=float(start),
        periods_per_year=ppy,
        ruin=args.ruin,
    )


def _table(result: MonteCarloResult, trades: int, output: Path, out: IO[str]) -> None:
    what = {
        "trades": f"trade bootstrap of {trades} trades (with replacement)",
        "shuffle": f"trade shuffle of {trades} trades (order only)",
        "blocks": f"block bootstrap of {result.steps} {result.series} returns,"
        f" blocks of {result.block}",
    }[result.method]
    header = "".join(f"{p:>14g}%" for p in result.percentiles)
    rows = [
        ("method", f"{what}; {result.paths} paths, seed {result.seed}"),
        ("", header),
        ("final equity", "".join(f"{v:>15,.2f}" for v in result.final_equity)),
        ("max drawdown", "".join(f"{v * 100:>14.2f}%" for v in result.max_drawdown)),
        ("sharpe", "".join(f"{_num(v):>15}" for v in result.sharpe)),
        (
            f"ruin (dd {result.ruin_threshold * 100:g}%)",
            f"{result.ruin_probability * 100:.2f}% of paths",
        ),
        ("output", str(output)),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value}\n")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
