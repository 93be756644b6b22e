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
[--peers-dir DIR] [--engines a,b] [--linearity] [--whole-process]``; ``--whole-process``
is the issue's bar (see ``whole_process``)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _provenance beside this file
import _provenance

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
        return {
            **os.environ,
            "PEER_OUT": str(self.out_dir / "peer-out"),
            "PEER_BARS": str(self.data_1x),
            "TQDM_DISABLE": "1",
        }


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
    argv = [
        sys.executable,
        str(GENESIS_SCRIPT),
        "--data",
        str(data),
        "--cash",
        str(CASH_PER_SCALE * scale),
        "--out",
        str(out),
    ]
    return run_child(argv, ROOT), out / "trades.csv"


def run_peer(setup: Setup, peer: Peer, scale: int) -> tuple[Child, Path]:
    """Run one peer script with ``--write-trades``; return the child and its trades file."""
    argv = [
        str(BENCH_PYTHON),
        peer.script,
        "--scale",
        str(scale),
        "--write-trades",
        "--cash",
        str(CASH_PER_SCALE * scale),
    ]
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
    missing = [
        s for s in ("common.py", *(p.script for p in PEERS)) if not (peers_dir / s).is_file()
    ]
    if missing:
        raise SystemExit(
            f"peer scripts not found in {peers_dir} (missing {', '.join(missing)}): this "
            "benchmark needs ../shared/tools/peer-backtests next to the repo, or --peers-dir DIR"
        )
    if not BENCH_PYTHON.is_file():
        raise SystemExit(f"{BENCH_PYTHON} not found: run benchmarks/setup_peers.sh first")
    data_1x = Path(
        os.environ.get("PEER_BARS", peers_dir / ".." / ".." / "data" / "bars" / DATA_1X_NAME)
    )
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
        subprocess.run(
            [str(BENCH_PYTHON), "-c", code],
            cwd=setup.peers_dir,
            env=setup.peer_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
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
            closed.append(
                (
                    row["entry_time"],
                    row["exit_time"],
                    Decimal(row["entry_price"]),
                    Decimal(row["exit_price"]),
                    Decimal(size),
                    Decimal(row["pnl"]).quantize(PNL_PLACES),
                )
            )
    return closed, open_at_end


def first_difference(ours: Sequence[Trade], theirs: Sequence[Trade]) -> str | None:
    """A sentence naming the first row where the lists differ, or None if they are equal."""
    for index in range(max(len(ours), len(theirs))):
        a = ours[index] if index < len(ours) else None
        b = theirs[index] if index < len(theirs) else None
        if a != b:
            where = f"trade {index + 1} (of {len(ours)} vs {len(theirs)})"
            return f"{where}: genesis {_fmt(a)} != peer {_fmt(b)}"
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
        print(
            f"TRADE LISTS DIFFER, genesis ({genesis}) vs {name} ({peer}):\n  {diff}",
            file=sys.stderr,
        )
        raise SystemExit(1)
    return len(ours), open_at_end


# --- runs and figures -----------------------------------------------------------


def _log(step: str, name: str, child: Child) -> None:
    rate = child.report["bars_per_s"]
    print(
        f"{step} {name:<15} {rate:>12,.0f} bars/s  peak {child.peak_rss_mb:7.1f} MB"
        f"  wall {child.wall_s:6.1f} s",
        file=sys.stderr,
    )


def compare(setup: Setup, scale: int, repeat: int, peers: Sequence[Peer]) -> dict[str, Any]:
    """Run Genesis and ``peers`` ``repeat`` times (round robin), checking every trade list.

    Returns:
        The JSON-ready summary (medians of the bars/s, maxima of the peak RSS).

    Raises:
        SystemExit: a run failed, bar counts differ or a trade list differs.
    """
    data = data_file(setup, scale)
    runs: dict[str, list[Child]] = {"genesis": [], **{p.key: [] for p in peers}}
    open_at_end: dict[str, int] = {}
    for step in range(1, repeat + 1):
        genesis, genesis_trades = run_genesis(setup, data, scale)
        _log(f"[{step}/{repeat}]", "genesis", genesis)
        runs["genesis"].append(genesis)
        open_at_end["genesis"] = genesis.report["open_trades"]
        for peer in peers:
            child, trades_path = run_peer(setup, peer, scale)
            _log(f"[{step}/{repeat}]", peer.key, child)
            _check_bars(genesis, child, peer.key)
            _, open_at_end[peer.key] = check_trades(genesis_trades, trades_path, peer.key)
            runs[peer.key].append(child)
    _check_open(open_at_end)
    summary = _header(scale, repeat, runs["genesis"][0].report["bars"])
    summary.update(_figures(runs))
    summary.update(
        trades=runs["genesis"][0].report["trades"],
        open_at_end=open_at_end,
        trade_lists_identical=True,
    )
    return summary


def _check_bars(genesis: Child, peer: Child, name: str) -> None:
    if peer.report["bars"] != genesis.report["bars"]:
        raise SystemExit(
            f"bar counts differ: genesis {genesis.report['bars']}, {name} {peer.report['bars']}"
        )


def _check_open(open_at_end: Mapping[str, int]) -> None:
    if len(set(open_at_end.values())) > 1:
        print(f"OPEN POSITIONS AT THE END DIFFER: {dict(open_at_end)}", file=sys.stderr)
        raise SystemExit(1)


def _figures(runs: Mapping[str, Sequence[Child]]) -> dict[str, Any]:
    """Median bars/s and max peak RSS per engine, Genesis' wall rate and the ratios."""
    out: dict[str, Any] = {}
    for name, children in runs.items():
        out[f"{name}_bars_per_s"] = round(
            statistics.median(c.report["bars_per_s"] for c in children), 1
        )
    genesis = runs["genesis"]
    out["genesis_wall_bars_per_s"] = round(
        statistics.median(c.report["bars"] / c.wall_s for c in genesis), 1
    )
    out["genesis_seconds"] = round(statistics.median(c.report["seconds"] for c in genesis), 4)
    out["genesis_wall_seconds"] = round(statistics.median(c.wall_s for c in genesis), 4)
    out["genesis_engine_bars_per_s"] = round(
        statistics.median(c.report["engine_bars_per_s"] for c in genesis), 1
    )
    for name in ("backtesting", "backtrader", "nautilus"):
        if name in runs:
            out[f"ratio_vs_{name}"] = round(
                out["genesis_bars_per_s"] / out[f"{name}_bars_per_s"], 3
            )
            # like for like: the peers' timers exclude loading, so exclude it here too
            out[f"engine_ratio_vs_{name}"] = round(
                out["genesis_engine_bars_per_s"] / out[f"{name}_bars_per_s"], 3
            )
    for name, children in runs.items():
        out[f"{name}_peak_rss_mb"] = round(max(c.peak_rss_mb for c in children), 1)
    out["driver_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def linearity(setup: Setup, repeat: int) -> dict[str, Any]:
    """Run Genesis alone at scale 1 and 10; return times, rates, peak RSS and their ratios."""
    data = {scale: data_file(setup, scale) for scale in (1, 10)}
    runs: dict[int, list[Child]] = {1: [], 10: []}
    for step in range(1, repeat + 1):
        for scale in (1, 10):
            child, _ = run_genesis(setup, data[scale], scale)
            _log(f"[{step}/{repeat}]", f"genesis x{scale}", child)
            runs[scale].append(child)
    out = _header(1, repeat, runs[1][0].report["bars"])
    out["mode"] = "linearity"
    del out["scale"]
    for scale, children in runs.items():
        out[f"bars_x{scale}"] = children[0].report["bars"]
        out[f"trades_x{scale}"] = children[0].report["trades"]
        out[f"genesis_seconds_x{scale}"] = statistics.median(c.report["seconds"] for c in children)
        out[f"genesis_wall_seconds_x{scale}"] = round(
            statistics.median(c.wall_s for c in children), 4
        )
        out[f"genesis_bars_per_s_x{scale}"] = statistics.median(
            c.report["bars_per_s"] for c in children
        )
        out[f"genesis_peak_rss_mb_x{scale}"] = round(max(c.peak_rss_mb for c in children), 1)
    out["time_ratio"] = round(out["genesis_seconds_x10"] / out["genesis_seconds_x1"], 3)
    out["wall_time_ratio"] = round(
        out["genesis_wall_seconds_x10"] / out["genesis_wall_seconds_x1"], 3
    )
    out["rss_ratio"] = round(out["genesis_peak_rss_mb_x10"] / out["genesis_peak_rss_mb_x1"], 3)
    del out["bars"]
    return out


def _header(scale: int, repeat: int, bars: int) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "genesis_commit": _provenance.commit(),
        "scale": scale,
        "repeat": repeat,
        "bars": bars,
    }


def machine() -> dict[str, Any]:
    """CPU model, logical cores and the interpreters' versions of this machine."""
    return {**_provenance.machine(), "peers": _peer_versions()}


def _peer_versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; "
        f"print(json.dumps({{p: m.version(p) for p in {list(PEER_PACKAGES)!r}}}))"
    )
    return run_child([str(BENCH_PYTHON), "-c", code], ROOT).report


# --- whole process ----------------------------------------------------------------

REFERENCE_COMMAND = (
    "-m", "genesis", "backtest", "--strategy", "sma_cross", "--param", "fast=10",
    "--param", "slow=30", "--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10",
)  # fmt: skip


def whole_process(setup: Setup, rounds: int) -> dict[str, Any]:
    """The reference command (interpreter start, imports, instrument, bars, engine, every
    output file) against the whole ``bench_backtesting.py`` process (pandas import, CSV
    load, ``Backtest.run``, trades file), alternating, ``rounds`` times each.

    Both sides run with their bytecode caches, as an installed package has them: pip
    compiled the peers' at install; Genesis' (an editable checkout, where a
    ``PYTHONDONTWRITEBYTECODE`` environment would otherwise leave none and every run
    would recompile ~55 modules) are compiled here first. The bar cache is warmed by a
    first untimed run, as a research loop has it after its first backtest.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "genesis")],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    peer = next(p for p in PEERS if p.key == "backtesting")
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, *REFERENCE_COMMAND, "--out", str(Path(tmp) / "run")]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # warm the bar cache
        genesis: list[float] = []
        backtesting: list[float] = []
        for i in range(rounds):
            print(f"whole process: round {i + 1}/{rounds}", file=sys.stderr)
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            genesis.append(time.perf_counter() - started)
            backtesting.append(run_peer(setup, peer, 1)[0].wall_s)
    return {
        "measure": "whole process, reference command vs bench_backtesting.py",
        "rounds": rounds,
        "genesis_wall_s_min": round(min(genesis), 4),
        "genesis_wall_s_median": round(statistics.median(genesis), 4),
        "backtesting_wall_s_min": round(min(backtesting), 4),
        "backtesting_wall_s_median": round(statistics.median(backtesting), 4),
        "ratio_min": round(min(backtesting) / min(genesis), 3),
        "ratio_median": round(statistics.median(backtesting) / statistics.median(genesis), 3),
    }


# --- command line ---------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--peers`` is a comma-separated subset of the peer keys."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scale",
        type=int,
        choices=(1, 10),
        default=1,
        help="1: the month of 1-minute bars; 10: it repeated 10x (peers' file)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; medians reported")
    parser.add_argument(
        "--peers-dir",
        type=Path,
        default=DEFAULT_PEERS_DIR,
        help=f"the peer-backtests scripts (default {DEFAULT_PEERS_DIR})",
    )
    parser.add_argument(
        "--peers",
        default=",".join(p.key for p in PEERS),
        help="comma-separated subset of: " + ", ".join(p.key for p in PEERS),
    )
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="the issue's measure: the whole reference command vs the whole backtesting.py "
        "process, interleaved --repeat rounds (bytecode caches compiled first on both sides)",
    )
    parser.add_argument(
        "--linearity",
        action="store_true",
        help="Genesis alone at scale 1 and 10: time and peak RSS ratios",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, was {args.repeat}")
    known = {p.key: p for p in PEERS}
    unknown = [k for k in args.peers.split(",") if k and k not in known]
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; expected some of {', '.join(known)}")
    args.peers = [known[k] for k in args.peers.split(",") if k]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print its JSON line; return the exit code."""
    args = parse_args(argv)
    setup = locate(args.peers_dir)
    load = os.getloadavg()[0]  # other work on the machine skews every figure: record it
    if args.whole_process:
        summary = whole_process(setup, args.repeat)
    elif args.linearity:
        summary = linearity(setup, args.repeat)
    else:
        summary = compare(setup, args.scale, args.repeat, args.peers)
    summary["load_avg_1m_at_start"] = round(load, 2)
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
