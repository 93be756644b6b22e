"""Parameter search: Genesis' optimiser, sequential and on N processes, vs backtesting.py's.

The grid: ``sma_cross`` with fast = 5, 10, ..., 50 and slow = 20, 30, ..., 240,
the sets with fast < slow (214 of the 230 points), on the bundled BTCUSDT
1-minute month (45,031 bars), with the peer comparison's settings: 1 BTC per
trade, market orders filled at the next bar's open, 10 bps per fill, 1,000,000
USDT. Both engines search exactly these sets, each in a subprocess of its own,
one after the other (never two at once: the reference machine has 2 cores):

* Genesis: ``python -m genesis optimize`` as a user runs it (called in the
  child as ``genesis.__main__.main``), with ``--workers 1`` (in process) and
  ``--workers N`` (a process pool); timed from the call to its return, so the
  figure includes checking the grid, the pool's start, parsing the bars once
  per worker, every run, the ranking and writing optimize.csv/json;
* backtesting.py (``_backtesting_optimize.py`` under ``.bench-venv``):
  ``Backtest.optimize`` on the same sets, its own multiprocessing pool
  (fork, ``os.cpu_count()`` processes) unless ``--peer-processes`` says
  otherwise; the CSV load and ``Backtest()`` are outside its timer, so the
  comparison is stricter on Genesis.

Before any figure is printed, a few sets' closed-trade count and final equity
are compared between the engines (Genesis' optimize.csv rows vs
backtesting.py's ``Backtest.run`` of the same sets): if they differ the engines
are not searching the same thing, and the script exits 1.

Output: one JSON line on stdout (date, machine, commit, sets, wall times,
sets/s, scaling efficiency ``t1 / (N * tN)``, ``ratio_vs_backtesting`` =
backtesting.py's seconds / Genesis' seconds on N processes, above 1 = Genesis
faster); progress on stderr. Outputs in ``bench-out/optimize/`` (gitignored).

Usage: ``.venv/bin/python benchmarks/optimize.py [--workers 2] [--peers-dir DIR]
[--bench-python PATH] [--peer-processes 1,default] [--skip-peer]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _provenance beside this file
import _provenance

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEERS_DIR = ROOT.parent / "shared" / "tools" / "peer-backtests"
BENCH_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
PEER_SCRIPT = ROOT / "benchmarks" / "_backtesting_optimize.py"
OUT_DIR = ROOT / "bench-out" / "optimize"
FAST = range(5, 55, 5)
SLOW = range(20, 250, 10)
GRID = ["--grid", "fast=5..50:5", "--grid", "slow=20..240:10"]  # FAST x SLOW, as text
SETTINGS = ["--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10"]
CHECKS = ((10, 30), (5, 20), (25, 100), (50, 240))  # the reference set, the corners, a middle


def grid_sets() -> list[tuple[int, int]]:
    """Every (fast, slow) both engines run: the grid's points with fast < slow."""
    return [(f, s) for f in FAST for s in SLOW if f < s]


# --- children -----------------------------------------------------------------


def genesis_child(workers: int, out: Path) -> dict[str, Any]:
    """In the child: one timed ``genesis optimize``; its seconds and the check rows."""
    sys.path.insert(0, str(ROOT))
    from genesis import native, resources
    from genesis.__main__ import main
    from genesis.strategies import registry

    registry.load_builtins()  # strategy classes imported before the clock, as the peer does
    argv = [
        "optimize", "--strategy", "sma_cross", "--data", str(resources.BTCUSDT_1M_BARS),
        *SETTINGS, *GRID, "--objective", "total_return", "--workers", str(workers),
        "--quiet", "--out", str(out),
    ]  # fmt: skip
    started = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"genesis optimize exited {code}")
    rows = list(csv.DictReader((out / "optimize.csv").open(encoding="utf-8")))
    by_set = {(int(r["fast"]), int(r["slow"])): r for r in rows}
    return {
        "engine": "genesis",
        "compiled": native.state().compiled,
        "workers": workers,
        "sets": sum(r["status"] == "ok" for r in rows),
        "seconds": round(seconds, 4),
        "best": {"fast": int(rows[0]["fast"]), "slow": int(rows[0]["slow"])},
        "best_final_equity": float(rows[0]["final_equity"]),
        "checks": [_genesis_check(by_set[pair]) for pair in CHECKS],
    }


def _genesis_check(row: dict[str, str]) -> dict[str, Any]:
    return {
        "fast": int(row["fast"]),
        "slow": int(row["slow"]),
        "trades": int(row["trades"]),
        "final_equity": float(Decimal(row["final_equity"])),
    }


# --- driver -------------------------------------------------------------------


def run_child(argv: list[str]) -> dict[str, Any]:
    """Run ``argv``; its last stdout line as JSON, plus ``wall_seconds`` (spawn to exit),
    ``cpu_seconds`` (user + system of the child and every process it waited for: its
    pool's workers) and ``load_avg_1m`` (the machine's, at the start).

    Raises:
        SystemExit: the child failed or printed no JSON (its stderr is shown).
    """
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    lines = stdout.strip().splitlines()
    if code != 0 or not lines:
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}):\n{stderr[-3000:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    report["wall_seconds"] = round(wall, 4)
    report["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 4)
    report["load_avg_1m"] = round(load, 2)
    return report


def run_genesis(workers: int) -> dict[str, Any]:
    """Genesis' search on ``workers`` processes, in a fresh interpreter."""
    out = OUT_DIR / f"genesis-w{workers}"
    return run_child(
        [sys.executable, __file__, "--child", "genesis", "--workers", str(workers),
         "--out", str(out)]
    )  # fmt: skip


def run_peer(python: Path, peers_dir: Path, processes: int | None) -> dict[str, Any]:
    """backtesting.py's ``Backtest.optimize`` on the same sets (``None``: its default pool)."""
    argv = [
        str(python), str(PEER_SCRIPT), "--peers-dir", str(peers_dir),
        "--fast", ",".join(map(str, FAST)), "--slow", ",".join(map(str, SLOW)),
        "--check", ",".join(f"{f}:{s}" for f, s in CHECKS),
    ]  # fmt: skip
    if processes is not None:
        argv += ["--processes", str(processes)]
    return run_child(argv)


def compare(genesis: dict[str, Any], peer: dict[str, Any]) -> list[dict[str, Any]]:
    """The check sets side by side; exits 1 when a trade count or final equity differs."""
    table = []
    for ours, theirs in zip(genesis["checks"], peer["checks"], strict=True):
        row = {
            "set": f"{ours['fast']}/{ours['slow']}",
            "trades": [ours["trades"], theirs["trades"]],
            "final_equity": [ours["final_equity"], theirs["final_equity"]],
        }
        table.append(row)
        same = (
            ours["trades"] == theirs["trades"]
            and abs(ours["final_equity"] - theirs["final_equity"]) < 1e-4
        )
        print(f"check {row}: {'agree' if same else 'DIFFER'}", file=sys.stderr)
        if not same:
            raise SystemExit(f"the engines disagree on set {row['set']}: {row}")
    return table


def main() -> None:
    """Parse the arguments; run a child, or drive the whole comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="N of the parallel run")
    parser.add_argument("--peers-dir", type=Path, default=DEFAULT_PEERS_DIR)
    parser.add_argument(
        "--bench-python", type=Path, default=BENCH_PYTHON,
        help="the peers' interpreter (default: .bench-venv/bin/python of this checkout)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-processes", default="default",
        help="backtesting.py pool sizes to time, comma-separated ('default': os.cpu_count())",
    )  # fmt: skip
    parser.add_argument("--skip-peer", action="store_true", help="Genesis alone")
    parser.add_argument("--child", choices=["genesis"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(genesis_child(args.workers, args.out)) + "\n")
        return
    _drive(args)


def _drive(args: argparse.Namespace) -> None:
    if not args.skip_peer and not (args.bench_python.is_file() and args.peers_dir.is_dir()):
        raise SystemExit(
            f"need {args.bench_python} (benchmarks/setup_peers.sh) and {args.peers_dir}"
            " (--peers-dir), or --skip-peer"
        )
    print(f"{len(grid_sets())} sets; genesis --workers 1 ...", file=sys.stderr)
    one = run_genesis(1)
    print(f"  {one['seconds']} s; genesis --workers {args.workers} ...", file=sys.stderr)
    many = run_genesis(args.workers)
    print(f"  {many['seconds']} s", file=sys.stderr)
    if one["sets"] != len(grid_sets()) or many["checks"] != one["checks"]:
        raise SystemExit(f"genesis: {one['sets']} sets, or workers 1 and N disagree")
    result = _genesis_figures(one, many, args.workers)
    if not args.skip_peer:
        result.update(_peer_figures(args, one, many))
    sys.stdout.write(json.dumps(result) + "\n")


def _genesis_figures(one: dict[str, Any], many: dict[str, Any], n: int) -> dict[str, Any]:
    sets = one["sets"]
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _provenance.machine(),
        "genesis_commit": _provenance.commit(),
        "genesis_compiled": one["compiled"],
        "load_avg_1m_at_start": one["load_avg_1m"],
        "grid": "sma_cross fast=5..50:5 x slow=20..240:10, fast < slow",
        "bars": 45_031,
        "sets": sets,
        "genesis_seconds_1": one["seconds"],
        f"genesis_seconds_{n}": many["seconds"],
        "genesis_wall_seconds_1": one["wall_seconds"],
        f"genesis_wall_seconds_{n}": many["wall_seconds"],
        "genesis_cpu_seconds_1": one["cpu_seconds"],
        f"genesis_cpu_seconds_{n}": many["cpu_seconds"],
        f"genesis_load_avg_1m_{n}": many["load_avg_1m"],
        "genesis_sets_per_s_1": round(sets / one["seconds"], 2),
        f"genesis_sets_per_s_{n}": round(sets / many["seconds"], 2),
        "workers": n,
        "scaling_efficiency": round(one["seconds"] / (n * many["seconds"]), 3),
        "genesis_best": one["best"],
    }


def _peer_figures(
    args: argparse.Namespace, one: dict[str, Any], many: dict[str, Any]
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for spec in args.peer_processes.split(","):
        processes = None if spec == "default" else int(spec)
        print(f"backtesting.py optimize, pool {spec} ...", file=sys.stderr)
        peer = run_peer(args.bench_python, args.peers_dir, processes)
        print(f"  {peer['seconds']} s on {peer['processes']} ({peer['pool']})", file=sys.stderr)
        if peer["sets"] != one["sets"]:
            raise SystemExit(f"backtesting.py searched {peer['sets']} sets, Genesis {one['sets']}")
        checks = compare(one, peer)
        p = peer["processes"]
        figures.update({
            "backtesting_version": peer["version"],
            f"backtesting_seconds_{p}": peer["seconds"],
            f"backtesting_wall_seconds_{p}": peer["wall_seconds"],
            f"backtesting_cpu_seconds_{p}": peer["cpu_seconds"],
            f"backtesting_load_avg_1m_{p}": peer["load_avg_1m"],
            f"backtesting_sets_per_s_{p}": round(peer["sets"] / peer["seconds"], 2),
            f"backtesting_pool_{p}": peer["pool"],
            "backtesting_best": peer["best"],
            "checks": checks,
            "checks_agree": True,
        })  # fmt: skip
        if p == 1:
            figures["ratio_vs_backtesting_1"] = round(peer["seconds"] / one["seconds"], 3)
        elif p == args.workers:
            figures[f"ratio_vs_backtesting_{p}"] = round(peer["seconds"] / many["seconds"], 3)
    return figures


if __name__ == "__main__":
    main()
