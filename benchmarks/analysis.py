"""Time the triangular-arbitrage scanner per book update and print one JSON line.

Graph: the full Binance graph of ``exchange-info-2021-10-12.json.gz`` (1,262
symbols, 1,982 triangles, 3,964 directed cycles). Events are parsed before
timing; each book event is applied to its ``BookSync`` untimed, then two
things are timed alone with ``time.perf_counter_ns`` (the clock call, about
0.1 µs, included):

* ``update``: ``TriangleScanner.update(symbol, book)``, the incremental path
  (re-evaluates the cycles through that symbol only);
* ``rescan``: ``scan_all(graph, books)``, the naive baseline that evaluates
  every cycle from scratch, measured on the same book state in the same run.

After every update the two must agree (checked untimed), so no figure comes
from a wrong answer. Workloads:

* ``triangle_*``: the spot capture (NKNUSDT, BLZETH, LRCBTC, RUNEEUR, 181
  book updates), replayed ``--repeat`` times into fresh books. Its four books
  share no cycle, so no cycle has three books (``cycles_with_three_books``):
  the update cost is the rate refresh plus the product over each side's cycles.
* ``triangle_btcusdt_*``: the 2024 BTCUSDT stream recording (1 snapshot and
  3,451 diffs) on the same 2021 graph: BTCUSDT is the symbol with the most
  cycles (512), the worst case of the incremental path.
* ``triangle_gemini_*``: the Gemini recording on its own graph, the complete
  BTC/ETH/USD triangle, once at the defaults (10 bps, threshold 0) and once
  with threshold -100 bps (``_sized``), where almost every update sizes
  cycles by walking the three books.

The speedup is ``rescan p50 / update p50`` (and the same at p99). When
``benchmarks/analysis_pairs.py`` is importable, its ``bench_pairs()`` figures
are merged in (keys prefixed ``pair_``).

Usage: ``python benchmarks/analysis.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
for _path in (ROOT, BENCHMARKS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))  # run from a checkout; analysis_pairs beside this file

import _provenance  # noqa: E402 (beside this file)

from genesis.analytics.triangles import (  # noqa: E402 (after the path fix)
    BookEvent,
    BookReplay,
    TriangleScanner,
    VenueGraph,
    graph_from_symbols,
    load_exchange_info,
    read_book_events,
    scan_all,
)
from genesis.resources import BTCUSDT_STREAMS, EXCHANGE_INFO, SPOT_CAPTURE  # noqa: E402

GEMINI = ROOT / "tests" / "data" / "gemini-l2-btcusd-ethusd-ethbtc-2021-04-17.txt.gz"


def timed_replay(
    graph: VenueGraph,
    events: list[BookEvent],
    *,
    rescan: bool,
    fee_bps: float = 10.0,
    threshold_bps: float = 0.0,
) -> tuple[list[int], list[int], int]:
    """Replay once into fresh books: (update ns, rescan ns, cycles that had three books)."""
    scanner = TriangleScanner(graph, fee_bps=fee_bps, threshold_bps=threshold_bps)
    books, clock, update = BookReplay(), time.perf_counter_ns, scanner.update
    updates: list[int] = []
    rescans: list[int] = []
    complete: set[int] = set()
    gc.collect()
    for event in events:
        symbol, book = event.instrument_id, books.apply(event)
        start = clock()
        update(symbol, book)
        updates.append(clock() - start)
        complete.update(c for c in graph.cycles_through(symbol) if scanner.cycle_rate(c) > 0)
        if rescan:
            start = clock()
            expected = scan_all(graph, books.books, fee_bps=fee_bps, threshold_bps=threshold_bps)
            rescans.append(clock() - start)
            assert dict(scanner.opportunities) == expected, event
    return updates, rescans, len(complete)


def percentiles(prefix: str, samples_ns: list[int]) -> dict[str, float]:
    """``<prefix>_p50_us`` and ``<prefix>_p99_us`` of ``samples_ns``."""
    us = np.array(samples_ns) / 1000.0
    return {
        f"{prefix}_p50_us": round(float(np.percentile(us, 50)), 3),
        f"{prefix}_p99_us": round(float(np.percentile(us, 99)), 3),
    }


def _with_rescan(prefix: str, updates: list[int], rescans: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        **percentiles(f"{prefix}_update", updates),
        **percentiles(f"{prefix}_rescan", rescans),
    }
    out[f"{prefix}_speedup"] = round(
        out[f"{prefix}_rescan_p50_us"] / out[f"{prefix}_update_p50_us"], 1
    )
    out[f"{prefix}_speedup_p99"] = round(
        out[f"{prefix}_rescan_p99_us"] / out[f"{prefix}_update_p99_us"], 1
    )
    return out


def bench_capture(graph: VenueGraph, repeat: int) -> dict[str, Any]:
    """The spot capture on the full graph, ``repeat`` replays."""
    _, events = read_book_events(SPOT_CAPTURE)
    updates: list[int] = []
    rescans: list[int] = []
    complete = 0
    for _ in range(repeat):
        u, r, complete = timed_replay(graph, events, rescan=True)
        updates += u
        rescans += r
    return {
        **_with_rescan("triangle", updates, rescans),
        "triangle_updates": len(events),
        "triangle_samples": len(updates),
        "cycles_with_three_books": complete,
    }


def bench_btcusdt(graph: VenueGraph) -> dict[str, Any]:
    """The BTCUSDT stream recording on the full graph, once."""
    _, events = read_book_events(BTCUSDT_STREAMS)
    updates, rescans, _ = timed_replay(graph, events, rescan=True)
    return {
        **_with_rescan("triangle_btcusdt", updates, rescans),
        "triangle_btcusdt_updates": len(events),
        "triangle_btcusdt_cycles": len(graph.cycles_through("BTCUSDT")),
    }


def bench_gemini(repeat: int) -> dict[str, Any]:
    """The Gemini triangle at the defaults and with threshold -100 bps (cycles sized)."""
    _, events = read_book_events(GEMINI)
    graph = graph_from_symbols(sorted({e.instrument_id for e in events}))
    out: dict[str, Any] = {"triangle_gemini_updates": len(events)}
    for name, threshold_bps in (("triangle_gemini", 0.0), ("triangle_gemini_sized", -100.0)):
        samples: list[int] = []
        for _ in range(repeat):
            samples += timed_replay(graph, events, rescan=False, threshold_bps=threshold_bps)[0]
        out |= percentiles(f"{name}_update", samples)
    return out


def bench_pairs_figures() -> dict[str, Any]:
    """``analysis_pairs.bench_pairs()`` with every key prefixed ``pair_``; {} if not importable."""
    try:
        from analysis_pairs import bench_pairs  # type: ignore[import-not-found]
    except ImportError:
        return {}
    figures: dict[str, Any] = bench_pairs()
    return {
        k if k.startswith("pair_") else f"pair_{k}": v for k, v in figures.items() if k != "python"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=40, help="replays of the capture (default 40)"
    )
    args = parser.parse_args()
    summary: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _provenance.machine(),
        "genesis_commit": _provenance.commit(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "repeat": args.repeat,
    }
    graph = load_exchange_info(EXCHANGE_INFO)
    summary |= {
        "graph_symbols": len(graph.pairs),
        "graph_assets": len(graph.assets),
        "graph_triangles": len(graph.triangles),
        "graph_cycles": len(graph.cycles),
    }
    summary |= bench_capture(graph, args.repeat)
    summary |= bench_btcusdt(graph)
    summary |= bench_gemini(max(1, args.repeat // 8))
    summary |= bench_pairs_figures()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
