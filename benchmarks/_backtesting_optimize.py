"""backtesting.py side of ``optimize.py``: ``Backtest.optimize`` over the SMA-cross grid.

Runs under the benchmark-only ``.bench-venv`` (never the project's venv). The
strategy, data loading and settings are the peer comparison's
(``../shared/tools/peer-backtests``: ``bench_backtesting.py`` and ``common.py``):
SMA fast/slow cross on the close, long only, 1 BTC, next-bar-open fills, 0.1 %
commission per fill, 1,000,000 cash, on the same real BTCUSDT month.

Timed region (``seconds``): ``Backtest.optimize(fast=..., slow=..., constraint=fast <
slow, maximize="Equity Final [$]")``: backtesting.py's own grid search, which
runs every admissible set in a ``multiprocessing`` pool (``backtesting.Pool``:
fork, ``os.cpu_count()`` processes, the data in shared memory) and then runs the
best set once more. ``--processes 1`` swaps in a one-process pool (the
sequential figure). CSV load and ``Backtest()`` construction are outside it.

After the timed region, the ``--check`` sets run once each with ``Backtest.run``:
their closed-trade count and final equity, for the driver to compare with
Genesis'. One JSON line on stdout.

Usage: ``.bench-venv/bin/python _backtesting_optimize.py --peers-dir DIR --fast 5,10
--slow 20,30 [--processes N] [--check 10:30,...]``
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py wraps the loop in tqdm if present


def _ints(text):
    return [int(v) for v in text.split(",")]


def _pairs(text):
    return [tuple(int(v) for v in pair.split(":")) for pair in text.split(",") if pair]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-dir", required=True, help="../shared/tools/peer-backtests")
    parser.add_argument("--fast", type=_ints, required=True, help="fast SMA values, a,b,c")
    parser.add_argument("--slow", type=_ints, required=True, help="slow SMA values, a,b,c")
    parser.add_argument("--processes", type=int, default=None, help="pool size (default: all)")
    parser.add_argument("--check", type=_pairs, default=[], help="sets to report: f:s,f:s")
    args = parser.parse_args()
    sys.path.insert(0, args.peers_dir)
    import backtesting
    import bench_backtesting  # the peer comparison's SmaCross, unchanged
    import common
    from backtesting import Backtest

    if args.processes is not None:
        backtesting.Pool = lambda *a, **k: mp.get_context("fork").Pool(args.processes)
    df = common.load_df(1).set_index("timestamp")
    df.columns = ["Open", "High", "Low", "Close", "Volume"]
    bt = Backtest(df, bench_backtesting.SmaCross, cash=common.CASH, commission=common.FEE,
                  spread=0.0, margin=1.0, trade_on_close=False, hedging=False,
                  exclusive_orders=False, finalize_trades=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        stats, heatmap = bt.optimize(
            fast=args.fast, slow=args.slow, constraint=lambda p: p.fast < p.slow,
            maximize="Equity Final [$]", return_heatmap=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        checks = [_check(bt, fast, slow) for fast, slow in args.check]
    strategy = stats["_strategy"]
    report = {
        "engine": "backtesting",
        "version": backtesting.__version__,
        "sets": int(heatmap.size),
        "seconds": round(seconds, 4),
        "processes": args.processes or os.cpu_count(),
        "pool": "multiprocessing fork" if mp.get_start_method() == "fork" else "threads",
        "best": {"fast": int(strategy.fast), "slow": int(strategy.slow)},
        "best_final_equity": round(float(stats["Equity Final [$]"]), 6),
        "checks": checks,
    }
    sys.stdout.write(json.dumps(report) + "\n")


def _check(bt, fast, slow):
    stats = bt.run(fast=fast, slow=slow)
    return {
        "fast": fast,
        "slow": slow,
        "trades": int(stats["# Trades"]),
        "final_equity": round(float(stats["Equity Final [$]"]), 6),
        "open_at_end": int(stats["_strategy"].position.size != 0),
    }


if __name__ == "__main__":
    main()
