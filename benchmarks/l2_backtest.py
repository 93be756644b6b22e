"""The L2 market maker, Genesis vs hftbacktest and the pure-Python floor, in one run.

Workload: the bundled Binance spot BTCUSDT streams of 2024-08-08 (41,249 lines: a
REST snapshot, 3,451 depth diffs at 100 ms, 28,040 bookTicker, 9,757 trades), a
market maker quoting every 100 ms of event time, 1 ms order latency.

* **Genesis**: ``python -m genesis backtest --strategy market_maker --data
  BTCUSDT=FILE --latency-ms 1 --cash 100000 --tier strategist`` (Avellaneda-Stoikov,
  ``genesis/strategies/strategist/market_maker.py``), timed as a whole process
  (spawn to exit), and in loop: a child parses the file into events first (timed
  apart, ``genesis_parse_s``), then times ``run_event_backtest`` alone (kernel,
  strategy, risk, OMS, simulated venue, portfolio, outputs); the strategy modules are
  imported before the clock starts (process setup, as hftbacktest's compile is).
  Queue model of the simulated venue (``exchange/simulated.py``): none. A resting
  limit fills at its price when a trade prints at or through it (the smaller of
  the trade's size and what is left) or when the book's opposite best reaches it;
  nothing is ahead of us in the queue (optimistic) and our fills do not consume
  the recorded liquidity.
* **hftbacktest 2.4.4** (``../shared/tools/peer-l2``): ``convert_btc.py`` (its own
  Binance converter) then ``bt.py mm hashmap`` (numba compile on a prefix, then the
  run): a market maker one tick outside the touch, 0.001 BTC, |position| <= 0.01,
  every 100 ms, 1 ms latency, ``power_prob_queue_model(3.0)``, no partial fills.
  Whole process = convert wall + run wall; in loop = its ``run_s``.
* **Floor**: ``pyfloor.py orjson_book FILE``: orjson decode of every line plus a
  plain dict book, no validation, no strategy (``decode_s``; gzip read excluded).

Genesis runs compiled when ``python -m genesis native build`` has been run
(``genesis_native`` in the report says which); the what-if venue runs as pure Python.

``--venue-fix`` (off by default since the fix landed in ``SimulatedVenue``) also
runs Genesis with the *what-if* venue this benchmark used to show the fix before it
landed: the venue then built the best 1,000 levels for every resting order on every
event; the patch looks at the best level and walks only the crossing prefix, as the
venue now does itself. ``what_if_identical`` says whether both gave the same fills.

Bars (issue 11): Genesis' whole process faster than hftbacktest's (convert +
compile + run); Genesis' in-loop messages/s at least half the floor's lines/s.

Usage: ``benchmarks/setup_l2_peers.sh`` once, then
``.venv/bin/python benchmarks/l2_backtest.py [--repeat 3] [--profile]``. One JSON
line on stdout (progress on stderr); outputs in ``bench-out/l2/``. ``--profile``
samples both Genesis runs with py-spy and adds the top functions by own time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from benchmarks._provenance import commit, machine  # noqa: E402 (after the path fix)
from genesis import native  # noqa: E402

# the what-if venue patches SimulatedVenue's methods: compiled classes cannot be patched
_PURE = {**os.environ, "GENESIS_NATIVE": "0"}

PEERS_DIR = ROOT.parent / "shared" / "tools" / "peer-l2"
BENCH_PYTHON = ROOT / ".bench-l2-venv" / "bin" / "python"
PY_SPY = ROOT / ".bench-l2-venv" / "bin" / "py-spy"
OUT = ROOT / "bench-out" / "l2"
STREAMS = ROOT / "genesis" / "resources" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
STRATEGY_ARGS = ("--strategy", "market_maker", "--latency-ms", "1", "--cash", "100000",
                 "--tier", "strategist", "--quiet")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Child:
    """A finished subprocess: its stdout, wall seconds and peak RSS (MiB)."""

    stdout: str
    wall_s: float
    peak_rss_mb: float

    def result(self) -> dict[str, Any]:
        """The last ``RESULT {...}`` (peers) or bare JSON line (our children) of stdout."""
        line = self.stdout.strip().splitlines()[-1].removeprefix("RESULT ")
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
        return {k: _number(v) for k, v in (kv.split("=", 1) for kv in line.split())}


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def run_child(
    argv: Sequence[str | Path], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> Child:
    """Run ``argv`` to completion, timing it from spawn to exit.

    Raises:
        SystemExit: the process failed (its stderr is shown).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed (exit {code}):\n{stderr[-3000:]}")
    return Child(stdout, wall_s, usage.ru_maxrss / 1024)


# --- the what-if venue (children only) ---------------------------------------------------


_ORIGINAL: dict[str, Any] = {}  # the SimulatedVenue methods the what-if replaces


def patch_venue() -> None:
    """Make ``SimulatedVenue`` look only at crossing levels (same fills, less work)."""
    from genesis.core.enums import LiquiditySide
    from genesis.exchange.simulated import SimulatedVenue

    venue: Any = SimulatedVenue
    _ORIGINAL["maker"] = LiquiditySide.MAKER
    for name, method in (("_levels", _levels), ("_walk", _walk), ("_best", _best),
                         ("_fill_resting_from_book", _resting)):  # fmt: skip
        _ORIGINAL[name] = getattr(venue, name)
        setattr(venue, name, method)


def _levels(self: Any, instrument_id: str, book_side: Any) -> Any:
    sync = self._books.get(instrument_id)
    if sync is None:
        return _ORIGINAL["_levels"](self, instrument_id, book_side)
    return sync.book._walk(book_side) if sync.valid else []  # lazy, best first


def _crossing(levels: Any, buy: bool, limit: Any) -> list[Any]:
    """The levels an order at ``limit`` reaches: a prefix of the best-first levels."""
    from itertools import takewhile

    if limit is None:
        return [lv for lv in levels if lv[1] > 0]
    reaches = (lambda lv: lv[0] <= limit) if buy else (lambda lv: lv[0] >= limit)
    return [lv for lv in takewhile(reaches, levels) if lv[1] > 0]


def _walk(self: Any, w: Any, levels: Any, limit: Any, ts: int, out: Any) -> None:
    usable = _crossing(levels, w.cmd.side.value == "BUY", limit)
    _ORIGINAL["_walk"](self, w, usable, limit, ts, out)


def _resting(self: Any, w: Any, ts: int, out: Any) -> None:
    limit, buy = w.cmd.price, w.cmd.side.value == "BUY"
    sync = self._books.get(w.cmd.instrument_id)
    if sync is None or limit is None:
        _ORIGINAL["_fill_resting_from_book"](self, w, ts, out)
        return
    top = (sync.book.best_ask() if buy else sync.book.best_bid()) if sync.valid else None
    if top is None or (top[0] > limit if buy else top[0] < limit):
        return  # the usual case: the opposite best does not reach the quote
    levels = self._levels(w.cmd.instrument_id, w.cmd.side.opposite)
    qty = sum(q for _, q in _crossing(levels, buy, limit))
    if qty > 0:
        self._fill_at(w, limit, ts, _ORIGINAL["maker"], out, qty=min(qty, w.leaves))


def _best(self: Any, instrument_id: str, book_side: Any) -> Any:
    top = next(iter(self._levels(instrument_id, book_side)), None)
    return top[0] if top is not None else _ORIGINAL["_best"](self, instrument_id, book_side)


def child_inloop(data: Path, out: Path) -> dict[str, Any]:
    """Parse ``data`` into events (timed apart), then time ``run_event_backtest`` alone."""
    from decimal import Decimal

    from genesis.backtesting.events import run_event_backtest
    from genesis.backtesting.runner import BacktestConfig
    from genesis.core.instruments import load_exchange_info
    from genesis.data.sources import open_events
    from genesis.resources import EXCHANGE_INFO
    from genesis.risk.limits import Tier
    from genesis.strategies import registry

    inst = load_exchange_info(EXCHANGE_INFO).get("BTCUSDT")
    registry.get("market_maker")  # imports every built-in strategy (~0.1 s): setup, not loop
    started = time.perf_counter()
    events = list(open_events(data, "BTCUSDT"))
    parsed = time.perf_counter()
    config = BacktestConfig(
        strategy="market_maker", params={}, instrument=inst, cash=Decimal(100000),
        latency_ns=1_000_000, tier=Tier.STRATEGIST,
    )  # fmt: skip
    result = run_event_backtest(config, events, out)
    loop_s = time.perf_counter() - parsed
    return {
        "parse_s": parsed - started, "loop_s": loop_s, "events": result.events,
        "fills": result.fills, "final_equity": result.metrics.final_equity,
    }  # fmt: skip


def child_main(argv: list[str]) -> int:
    """``--child inloop|cli [--venue-fix] [-- backtest args]``: runs inside a child process."""
    mode, rest = argv[0], argv[1:]
    if rest[:1] == ["--venue-fix"]:
        patch_venue()
        rest = rest[1:]
    if mode == "inloop":
        print(json.dumps(child_inloop(Path(rest[0]), Path(rest[1]))))
        return 0
    from genesis.__main__ import main

    return main(rest[1:] if rest[:1] == ["--"] else rest)


# --- one round of every measurement ------------------------------------------------------


def genesis_whole(data: Path, fix: bool, profile: bool) -> tuple[Child, dict[str, Any]]:
    """The CLI backtest as one process; its metrics.json (and a py-spy profile if asked)."""
    out = OUT / ("genesis-venue-fix" if fix else "genesis")
    args = ["backtest", *STRATEGY_ARGS, "--data", f"BTCUSDT={data}", "--out", str(out)]
    if fix:
        argv = [sys.executable, __file__, "--child", "cli", "--venue-fix", "--", *args]
    else:
        argv = [sys.executable, "-m", "genesis", *args]
    child = run_child(argv, env=_PURE if fix else None)
    metrics = json.loads((out / "metrics.json").read_text())
    if profile:
        metrics["profile"] = py_spy_top(argv, out / "py-spy.txt")
    return child, metrics


def genesis_inloop(data: Path, fix: bool) -> dict[str, Any]:
    out = OUT / ("inloop-venue-fix" if fix else "inloop")
    argv = [sys.executable, __file__, "--child", "inloop", *(["--venue-fix"] if fix else [])]
    return run_child([*argv, str(data), str(out)], env=_PURE if fix else None).result()


def hftbacktest(peers: Path, data: Path) -> tuple[Child, Child]:
    """Convert, then compile + run the peer market maker; both children."""
    peer_out = OUT / "peer"
    peer_out.mkdir(parents=True, exist_ok=True)
    npz = peer_out / "btcusdt_20240808.npz"
    convert = run_child([BENCH_PYTHON, peers / "convert_btc.py", data, npz], peer_out)
    run = run_child([BENCH_PYTHON, peers / "bt.py", "mm", "hashmap", npz], peer_out)
    return convert, run


def floor(peers: Path, data: Path) -> dict[str, Any]:
    return run_child([BENCH_PYTHON, peers / "pyfloor.py", "orjson_book", data]).result()


def py_spy_top(argv: Sequence[str], raw_out: Path, top: int = 8) -> dict[str, Any]:
    """Sample ``argv`` with py-spy: shares of own samples by function and by file."""
    run_child([PY_SPY, "record", "--format", "raw", "--rate", "500", "-o", raw_out, "--", *argv])
    by_function: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for line in raw_out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]  # "function (file:line)"
        name, _, where = leaf.partition(" (")
        path = where.rpartition(":")[0]
        by_function[f"{name} ({path})"] += int(count)
        by_file[path] += int(count)
    total = sum(by_file.values()) or 1

    def shares(counter: Counter[str]) -> list[list[Any]]:
        return [[key, round(n / total, 3)] for key, n in counter.most_common(top)]

    return {"functions": shares(by_function), "files": shares(by_file)}


# --- the run -----------------------------------------------------------------------------


def one_round(args: argparse.Namespace, lines: int, profile: bool) -> dict[str, Any]:
    """Every engine once, one after the other; the figures of this round."""
    fig: dict[str, Any] = {}
    variants = (False, True) if args.venue_fix else (False,)
    for fix in variants:
        key = "genesis_venue_fix" if fix else "genesis"
        _log(f"{key}: whole process")
        whole, metrics = genesis_whole(args.data, fix, profile)
        _log(f"{key}: in loop")
        inloop = genesis_inloop(args.data, fix)
        fig |= {
            f"{key}_whole_s": whole.wall_s, f"{key}_peak_rss_mb": whole.peak_rss_mb,
            f"{key}_parse_s": inloop["parse_s"], f"{key}_loop_s": inloop["loop_s"],
            f"{key}_fills": inloop["fills"], f"{key}_final_equity": metrics["final_equity"],
            f"{key}_rejected_orders": metrics["rejected_orders"],
        }  # fmt: skip
        if profile:
            fig[f"{key}_profile"] = metrics["profile"]
    _log("hftbacktest: convert, compile + run")
    convert, run = hftbacktest(args.peers_dir, args.data)
    fig |= _hft_figures(convert, run)
    _log("pure-Python floor")
    fig["floor_decode_s"] = floor(args.peers_dir, args.data)["decode_s"]
    fig["lines"] = lines
    return fig


def _hft_figures(convert: Child, run: Child) -> dict[str, Any]:
    c, r = convert.result(), run.result()
    return {
        "hft_convert_s": convert.wall_s, "hft_run_process_s": run.wall_s,
        "hft_whole_s": convert.wall_s + run.wall_s, "hft_compile_s": r["warmup_compile_s"],
        "hft_loop_s": r["run_s"], "hft_rows": r["rows"], "hft_orders": r["orders_submitted"],
        "hft_cancels": r["cancels"], "hft_fills": r["fills_num_trades"],
        "hft_final_position": r["final_position"], "hft_equity_wo_fee": r["equity_wo_fee"],
        "hft_peak_rss_mb": max(convert.peak_rss_mb, run.peak_rss_mb),
        "hft_convert_inproc_s": c["convert_s"],
    }  # fmt: skip


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds (first round's value for non-numbers), then rates and ratios."""
    med: dict[str, Any] = {}
    for key, first in rounds[0].items():
        values = [r[key] for r in rounds if key in r]  # the profile is taken once
        numeric = isinstance(first, int | float) and not isinstance(first, bool)
        med[key] = statistics.median(values) if numeric else first
    lines = med["lines"]
    med["floor_lines_per_s"] = lines / med["floor_decode_s"]
    med["hft_inloop_msgs_per_s"] = lines / med["hft_loop_s"]
    for key in ("genesis", "genesis_venue_fix"):
        if f"{key}_whole_s" not in med:
            continue
        med[f"{key}_whole_msgs_per_s"] = lines / med[f"{key}_whole_s"]
        med[f"{key}_inloop_msgs_per_s"] = lines / med[f"{key}_loop_s"]
        med[f"{key}_parse_loop_msgs_per_s"] = lines / (med[f"{key}_parse_s"] + med[f"{key}_loop_s"])
        med[f"{key}_whole_speedup_vs_hft"] = med["hft_whole_s"] / med[f"{key}_whole_s"]
        med[f"{key}_inloop_vs_floor"] = med[f"{key}_inloop_msgs_per_s"] / med["floor_lines_per_s"]
        med[f"{key}_bar_whole_met"] = med[f"{key}_whole_speedup_vs_hft"] > 1
        med[f"{key}_bar_inloop_met"] = med[f"{key}_inloop_vs_floor"] >= 0.5
    return med


def _identical(rounds: list[dict[str, Any]]) -> bool | None:
    if "genesis_venue_fix_fills" not in rounds[0]:
        return None
    return all(
        (r["genesis_fills"], r["genesis_final_equity"])
        == (r["genesis_venue_fix_fills"], r["genesis_venue_fix_final_equity"])
        for r in rounds
    )


def _log(step: str) -> None:
    print(f"l2_backtest: {step}", file=sys.stderr, flush=True)


def _count_lines(path: Path) -> int:
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as fh:
        return sum(1 for _ in fh)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--data", type=Path, default=STREAMS)
    parser.add_argument("--peers-dir", type=Path, default=PEERS_DIR)
    parser.add_argument("--venue-fix", dest="venue_fix", action="store_true")
    parser.add_argument("--no-venue-fix", dest="venue_fix", action="store_false")
    parser.add_argument("--profile", action="store_true", help="py-spy the Genesis runs once")
    return parser.parse_args(argv)


def _check(args: argparse.Namespace) -> None:
    missing = [p for p in (BENCH_PYTHON, args.peers_dir / "bt.py", args.data) if not p.exists()]
    if missing:
        names = ", ".join(map(str, missing))
        raise SystemExit(f"l2_backtest: missing {names} (run benchmarks/setup_l2_peers.sh)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _check(args)
    load = os.getloadavg()[0]  # other work on the machine skews every figure: record it
    lines = _count_lines(args.data)
    rounds = []
    for i in range(args.repeat):
        _log(f"round {i + 1} of {args.repeat}")
        rounds.append(one_round(args, lines, profile=args.profile and i == 0))
    report = {
        "date": time.strftime("%Y-%m-%d"), "machine": machine(), "genesis_commit": commit(),
        "repeat": args.repeat, "load_avg_1m_at_start": load, "data": args.data.name,
        "genesis_native": str(native.state()),
        **summarise(rounds), "what_if_identical": _identical(rounds),
    }  # fmt: skip
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[2:]) if sys.argv[1:2] == ["--child"] else main())
