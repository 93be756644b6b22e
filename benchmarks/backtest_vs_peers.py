"""Genesis vs backtesting.py, backtrader, NautilusTrader and a plain loop, on the same bars.

Every engine runs the reference backtest of the peer comparison (SMA 10/30
cross, long only, 1 BTC, market orders filled at the next bar's open, 10 bps
per fill) on the same real BTCUSDT 1-minute file, each in a subprocess of its
own, one after the other (never in parallel). The peers run with the
benchmark-only virtualenv ``.bench-venv`` (``benchmarks/setup_peers.sh``),
Genesis with the interpreter running this script. The peer scripts live in
``../shared/tools/peer-backtests`` (``--peers-dir`` to override).

What is timed:

* peers: the region each peer script times itself (the engine run, after its
  data is loaded into memory; see the docstrings of ``bench_*.py``);
* Genesis: ``benchmarks/_genesis_bars.py`` times streaming the CSV into
  Decimal bars plus the whole engine plus writing its output files (stricter
  than the peers); ``genesis_wall_bars_per_s`` also counts interpreter start
  and imports (the driver's wall clock around the subprocess).

Peak RSS is each subprocess's ``ru_maxrss`` from ``os.wait4``. Linux counts
the parent's pages at fork into it, so the figure is really ``max(driver,
engine)``; the driver stays small (``driver_peak_rss_mb``) for that reason.

Before any figure is printed, the trade lists are checked: every closed trade
of every peer must equal Genesis' row for row (entry/exit time, prices, size,
net P&L to 6 decimals). On the first difference the script prints it and
exits 1. Output: one JSON line on stdout; progress goes to stderr.

Usage: ``python benchmarks/backtest_vs_peers.py [--scale 1|10] [--repeat N]
[--peers-dir DIR] [--engines a,b] [--linearity]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEERS_DIR = ROOT.parent / "shared" / "tools" / "peer-backtests"
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
GENESIS_SCRIPT = ROOT / "benchmarks" / "_genesis_bars.py"
OUT_DIR = ROOT / "bench-out"
DATA_1X_NAME = "btcusdt-perp-1m-2022-01.csv"
CASH_PER_SCALE = 1_000_000  # 1M per 1x block, as the peers' common.py does
PNL_PLACES = Decimal("0.000001")
PEER_PACKAGES = ("backtesting", "backtrader", "nautilus_trader", "pandas", "numpy")


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer script: its JSON key, file name, trades file stem and ``--variant``."""

    key: str
    script: str
    trades_stem: str
    variant: str | None = None


PEERS = (
    Peer("backtesting", "bench_backtesting.py", "backtesting"),
    Peer("backtrader", "bench_backtrader.py", "backtrader"),
    Peer("nautilus", "bench_nautilus.py", "nautilus_aligned", "aligned"),
    Peer("reference_loop", "bench_reference.py", "reference"),
)
ENGINES = ("genesis", *(p.key for p in PEERS))


@dataclass(frozen=True, slots=True)
class Child:
    """A finished subprocess: its last stdout line as JSON, wall time and peak RSS."""

    report: dict[str, Any]
    wall_s: float
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class Setup:
    """Where everything is for one invocation."""

    peers_dir: Path
    data_1x: Path
    out_dir: Path

    def peer_env(self) -> dict[str, str]:
        """The environment of a peer subprocess (its output dir and the 1x bars)."""
        return {**os.environ, "PEER_OUT": str(self.out_dir / "peer-out"),
                "PEER_BARS": str(self.data_1x), "TQDM_DISABLE": "1"}


# --- subprocesses ---------------------------------------------------------------


def run_child(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> Child:
    """Run ``argv`` to completion; return its last stdout line parsed as JSON.

    Raises:
        SystemExit: the process failed or printed no JSON line (its stderr is shown).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SystemExit(
            f"{' '.join(map(str, argv))} failed (exit {proc.returncode}):\n{stderr[-3000:]}"
        )
    return Child(json.loads(lines[-1]), wall_s, usage.ru_maxrss / 1024)  # KiB -> MiB


def run_genesis(setup: Setup, data: Path, scale: int) -> tuple[Child, Path]:
    """Run the Genesis reference backtest on ``data``; return the child and its trades.csv."""
    out = setup.out_dir / f"genesis-x{scale}"
    argv = [sys.executable, str(GENESIS_SCRIPT), "--data", str(data),
            "--cash", str(CASH_PER_SCALE * scale), "--out", str(out)]
    return run_child(argv, ROOT), out / "trades.csv"


def run_peer(setup: Setup, peer: Peer, scale: int) -> tuple[Child, Path]:
    """Run one peer script with ``--write-trades``; return the child and its trades file."""
    argv = [str(BENCH_PYTHON), peer.script, "--scale", str(scale), "--write-trades",
            "--cash", str(CASH_PER_SCALE * scale)]
    if peer.variant:
        argv += ["--variant", peer.variant]
    child = run_child(argv, setup.peers_dir, setup.peer_env())
    suffix = "" if scale == 1 else "_x10"
    return child, setup.out_dir / "peer-out" / f"trades_{peer.trades_stem}{suffix}.csv"


# --- data -----------------------------------------------------------------------


def locate(peers_dir: Path) -> Setup:
    """Check the peer scripts, the bench venv and the 1x bars exist; return the setup.

    Raises:
        SystemExit: something is missing; the message says what and how to fix it.
    """
    missing = [s for s in ("common.py", *(p.script for p in PEERS)) if not (peers_dir / s).is_file()]
    if missing:
        raise SystemExit(
            f"peer scripts not found in {peers_dir} (missing {', '.join(missing)}): this "
            "benchmark needs ../shared/tools/peer-backtests next to the repo, or --peers-dir DIR"
        )
    if not BENCH_PYTHON.is_file():
        raise SystemExit(f"{BENCH_PYTHON} not found: run benchmarks/setup_peers.sh first")
    data_1x = Path(os.environ.get("PEER_BARS", peers_dir / ".." / ".." / "data" / "bars" / DATA_1X_NAME))
    if not data_1x.is_file():
        raise SystemExit(f"bars file {data_1x} not found (the peers' default; set PEER_BARS=FILE)")
    return Setup(peers_dir.resolve(), data_1x.resolve(), OUT_DIR)


def data_file(setup: Setup, scale: int) -> Path:
    """The bars every engine reads at ``scale``: the 1x file, or the peers' 10x file.

    The 10x file is generated by the peers' ``common.py`` (bench venv) under
    ``PEER_OUT`` and regenerated when its row count is not ten times the 1x file's.
    """
    if scale == 1:
        return setup.data_1x
    path = setup.out_dir / "peer-out" / "btc-1m-x10.csv"
    rows_1x = _rows(setup.data_1x)
    if path.is_file() and _rows(path) != 10 * rows_1x:
        path.unlink()  # stale: made from other bars
    if not path.is_file():
        print(f"generating {path} ...", file=sys.stderr)
        code = "import common; print(common.data_path(10))"
        subprocess.run([str(BENCH_PYTHON), "-c", code], cwd=setup.peers_dir,
                       env=setup.peer_env(), check=True, stdout=subprocess.DEVNULL)
    return path


def _rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip()) - 1  # minus the header


# --- trade lists ----------------------------------------------------------------

Trade = tuple[str, str, Decimal, Decimal, Decimal, Decimal]


def read_trades(path: Path) -> tuple[list[Trade], int]:
    """Closed trades of a Genesis or peer trades file, normalised; and the open-at-end count.

    Normalised row: (entry_time, exit_time, entry_price, exit_price, size,
    net pnl rounded to 6 decimals). Genesis names the size ``quantity``; peers
    write an open position at the end as a row with an empty exit time.
    """
    closed: list[Trade] = []
    open_at_end = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["exit_time"]:
                open_at_end += 1
                continue
            size = row["quantity"] if "quantity" in row else row["size"]
            closed.append((
                row["entry_time"], row["exit_time"], Decimal(row["entry_price"]),
                Decimal(row["exit_price"]), Decimal(size), Decimal(row["pnl"]).quantize(PNL_PLACES),
            ))
    return closed, open_at_end


def first_difference(ours: Sequence[Trade], theirs: Sequence[Trade]) -> str | None:
    """A sentence naming the first row where the lists differ, or None if they are equal."""
    for index in range(max(len(ours), len(theirs))):
        a = ours[index] if index < len(ours) else None
        b = theirs[index] if index < len(theirs) else None
        if a != b:
            return f"trade {index + 1} (of {len(ours)} vs {len(theirs)}): genesis {_fmt(a)} != peer {_fmt(b)}"
    return None


def _fmt(trade: Trade | None) -> str:
    return "<none>" if trade is None else "(" + ", ".join(str(v) for v in trade) + ")"


def check_trades(genesis: Path, peer: Path, name: str) -> tuple[int, int]:
    """Compare a peer's trades file with Genesis'; return (closed trades, peer open at end).

    Raises:
        SystemExit: the closed-trade lists differ (code 1, first differing row printed).
    """
    ours, _ = read_trades(genesis)
    theirs, open_at_end = read_trades(peer)
    diff = first_difference(ours, theirs)
    if diff is not None:
        print(f"TRADE LISTS DIFFER, genesis ({genesis}) vs {name} ({peer}):\n  {diff}", file=sys.stderr)
        raise SystemExit(1)
    return len(ours), open_at_end
