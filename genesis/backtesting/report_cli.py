"""``python -m genesis report RUN_DIR``: one self-contained HTML page of a run (SPEC BT-6).

Renders whatever RUN_DIR holds (a backtest's files, ``optimize.csv``,
``walkforward.csv``, ``montecarlo.json``; ``genesis.backtesting.report``) into
``RUN_DIR/report.html`` or ``--out FILE``. A bad RUN_DIR or missing files is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from genesis.backtesting.report import OUTPUT, write_report
from genesis.errors import ConfigError

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register the ``report`` sub-command."""
    p = sub.add_parser(
        "report",
        help="one self-contained HTML report of a run directory (plotly, no network)",
        description="Write one HTML page of a backtest, optimize, walkforward or montecarlo"
        " directory: metrics, equity, drawdown, monthly returns, trades and, where present,"
        " the optimisation heatmap, walk-forward windows and Monte Carlo fan.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run's --out directory")
    p.add_argument("--out", type=Path, default=None, help=f"the page (default: RUN_DIR/{OUTPUT})")
    p.add_argument(
        "--bars",
        type=Path,
        default=None,
        help="the run's bars file (its --data), to draw closes under the trade markers"
        " (default: none; markers at the fill prices only)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    if args.out is not None and not args.out.parent.is_dir():
        raise ConfigError(f"--out {args.out}: no such directory {args.out.parent}")
    print(write_report(args.run_dir, args.out, bars=args.bars))
    return 0
