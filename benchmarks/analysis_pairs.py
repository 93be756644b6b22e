"""Time ``PairTracker.update`` on a real pair and print one JSON line.

Data: the bundled Binance DASHBTC and LTCBTC 5-minute closes of January 2018
joined on time (5,758 bars; the most cointegrated altcoin pair), loaded once
before timing. A tracker (regression and z-score windows of 288 bars, one day)
is warmed up on the first ``2 * window`` pairs, untimed; then every update of
``passes`` full passes over the series is timed alone with
``time.perf_counter_ns`` (the clock call itself, about 0.1 µs, is included).
SPEC target: p99 under 50 µs per pair update.

Output keys: ``pair_update_p50_us``, ``pair_update_p99_us``,
``pair_update_mean_us``, ``pair_update_max_us``, ``updates``, ``window``,
``python``. ``benchmarks/analysis.py`` imports :func:`bench_pairs`.

Usage: ``python benchmarks/analysis_pairs.py [--window N] [--passes N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from genesis.analytics.cointegration import PairTracker, load_pair  # noqa: E402 (after the path fix)
from genesis.resources import ALTBTC_5M_BARS  # noqa: E402

__all__ = ["bench_pairs"]


def _prices() -> list[tuple[float, float]]:
    pair = load_pair(f"DASHBTC={ALTBTC_5M_BARS['DASHBTC']}", f"LTCBTC={ALTBTC_5M_BARS['LTCBTC']}")
    return list(zip(np.exp(pair.log_a).tolist(), np.exp(pair.log_b).tolist(), strict=True))


def _timed_updates_ns(prices: list[tuple[float, float]], window: int, passes: int) -> list[int]:
    tracker = PairTracker(window)
    for a, b in prices[: 2 * window]:
        tracker.update(a, b)
    clock, update = time.perf_counter_ns, tracker.update
    samples = []
    for _ in range(passes):
        for a, b in prices:
            start = clock()
            update(a, b)
            samples.append(clock() - start)
    return samples


def bench_pairs(window: int = 288, passes: int = 2) -> dict[str, float | int | str]:
    """Per-update latency of ``PairTracker.update`` over the real DASHBTC/LTCBTC pair, in µs."""
    samples_us = np.array(_timed_updates_ns(_prices(), window, passes)) / 1000.0
    return {
        "pair_update_p50_us": round(float(np.percentile(samples_us, 50)), 3),
        "pair_update_p99_us": round(float(np.percentile(samples_us, 99)), 3),
        "pair_update_mean_us": round(float(samples_us.mean()), 3),
        "pair_update_max_us": round(float(samples_us.max()), 3),
        "updates": len(samples_us),
        "window": window,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--window", type=int, default=288)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(bench_pairs(args.window, args.passes)))


if __name__ == "__main__":
    main()
