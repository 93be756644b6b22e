"""CSV loaders and bar aggregation on the real bundled files; prints one JSON line.

Timed, best of ``--repeat`` runs each (no other work in the timed region):

* ``read_bars_per_s``: ``read_bars`` over the bundled BTCUSDT 1-minute month
  (45,031 bars, gzip), interval inferred (as ``read_bars`` does by default):
  decompression, CSV split, timestamp parsing, Decimal prices, validation and
  the ``Bar`` events, consumed by a plain ``for`` loop;
* ``read_bars_gbpusd_per_s``: the same on the FXCM GBP/USD file (offset
  timestamps, no volume);
* ``read_trades_per_s`` / ``read_quotes_per_s``: the Binance trade and quote
  recordings (small files: each run reads them ``--tick-loops`` times);
* ``time_bars_trades_per_s`` / ``volume_bars_trades_per_s``: trades per second
  through ``TimeBarAggregator`` (1 s bars) and ``VolumeBarAggregator``
  (0.01 BTC bars), trades parsed before timing;
* ``resample_bars_per_s``: input bars per second through ``resample_bars``
  (1 m → 5 m on the BTCUSDT month, parsed before timing).

``load_avg_1m`` is the machine's load when the script started: the reference
machine has 2 cores and other work there skews every figure.

Usage: ``python benchmarks/loaders.py [--repeat N] [--tick-loops N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from genesis.core.events import Bar, TradeTick  # noqa: E402 (after the path fix)
from genesis.data.bars import (  # noqa: E402
    TimeBarAggregator,
    VolumeBarAggregator,
    resample_bars,
)
from genesis.data.loaders import read_bars, read_quotes, read_trades  # noqa: E402
from genesis.resources import BTCUSDT_1M_BARS  # noqa: E402

DATA = ROOT / "tests" / "data"
GBPUSD = DATA / "gbpusd-1m-2012-02-bid.csv.gz"
TRADES = DATA / "binance-btcusdt-trades-2021-01-08.csv.gz"
QUOTES = DATA / "binance-btcusdt-quotes-2021-01-08.csv.gz"


def best_rate(count: int, run: Callable[[], object], repeat: int) -> float:
    """``count`` items divided by the fastest of ``repeat`` runs, in items per second."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def drain(items: Iterable[Any]) -> int:
    """Consume ``items`` with a plain loop, as a backtest does; return how many."""
    count = 0
    for _ in items:
        count += 1
    return count


def aggregate_time(trades: list[TradeTick]) -> None:
    """Feed every trade into a 1-second time bar aggregator."""
    aggregator = TimeBarAggregator("BTCUSDT", 1_000_000_000)
    for trade in trades:
        aggregator.update(trade)
    aggregator.flush()


def aggregate_volume(trades: list[TradeTick]) -> None:
    """Feed every trade into a 0.01 BTC volume bar aggregator."""
    aggregator = VolumeBarAggregator("BTCUSDT", Decimal("0.01"))
    for trade in trades:
        aggregator.update(trade)
    aggregator.flush()


def measure(repeat: int, tick_loops: int) -> dict[str, Any]:
    """Every figure of the output line."""
    bars = drain(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))
    gbp = drain(read_bars(GBPUSD, "GBPUSD"))
    trades = list(read_trades(TRADES, "BTCUSDT"))
    quotes = drain(read_quotes(QUOTES, "BTCUSDT"))
    minutes: list[Bar] = list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))
    rate = best_rate(bars, lambda: drain(read_bars(BTCUSDT_1M_BARS, "BTCUSDT")), repeat)
    ticks = range(tick_loops)
    return {
        "read_bars_per_s": round(rate),
        "bars": bars,
        "us_per_bar": round(1e6 / rate, 3),
        "read_bars_gbpusd_per_s": round(
            best_rate(gbp, lambda: drain(read_bars(GBPUSD, "GBPUSD")), repeat)
        ),
        "read_trades_per_s": round(
            best_rate(
                len(trades) * tick_loops,
                lambda: [drain(read_trades(TRADES, "BTCUSDT")) for _ in ticks],
                repeat,
            )
        ),
        "read_quotes_per_s": round(
            best_rate(
                quotes * tick_loops,
                lambda: [drain(read_quotes(QUOTES, "BTCUSDT")) for _ in ticks],
                repeat,
            )
        ),
        "time_bars_trades_per_s": round(
            best_rate(len(trades), lambda: aggregate_time(trades), repeat)
        ),
        "volume_bars_trades_per_s": round(
            best_rate(len(trades), lambda: aggregate_volume(trades), repeat)
        ),
        "resample_bars_per_s": round(
            best_rate(len(minutes), lambda: drain(resample_bars(minutes, 300_000_000_000)), repeat)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tick-loops", type=int, default=20)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    figures = measure(args.repeat, args.tick_loops)
    figures.update(
        repeat=args.repeat,
        load_avg_1m=round(load, 2),
        cpus=os.cpu_count(),
        python=platform.python_version(),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
