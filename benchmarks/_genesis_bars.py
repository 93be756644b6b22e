"""Genesis side of ``backtest_vs_peers.py``: one reference backtest, one JSON line.

Runs the reference strategy of the peer comparison (``sma_cross`` 10/30,
1 BTC, 10 bps per fill, fills at the next bar's open) through the public
Python API, exactly as ``python -m genesis backtest`` builds it, and prints
one JSON line to stdout.

Timed region (``seconds``): ``read_bars`` + ``run_backtest``, i.e. streaming
and parsing the CSV into Decimal bars, the full engine (bar event, strategy,
risk, OMS, simulated venue, portfolio with Decimal accounting) and writing
trades.csv, equity.csv and metrics.json. The peers' timers exclude loading,
so this region is stricter than theirs; a separate pass before it that only
parses the file gives ``load_seconds``, and ``engine_bars_per_s``
is the rate with that loading time taken out (comparable to the peers').
``prep_seconds`` is everything from the first line of this script to the start
of the region (imports, venue metadata); the interpreter's own start-up is only
in the driver's wall time.

Usage: ``python benchmarks/_genesis_bars.py --data FILE --cash N --out DIR``
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before the imports: prep_seconds includes them

import argparse  # noqa: E402 (after the clock start)
import json  # noqa: E402
import sys  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from genesis import resources  # noqa: E402
from genesis.backtesting.runner import BacktestConfig, run_backtest  # noqa: E402
from genesis.core.instruments import load_exchange_info  # noqa: E402
from genesis.data.loaders import read_bars  # noqa: E402
from genesis.strategies import registry  # noqa: E402

SYMBOL = "BTCUSDT"
INTERVAL_NS = 60_000_000_000
PARAMS = {"fast": "10", "slow": "30", "quantity": "1"}
FEE_BPS = Decimal(10)


def build_config(cash: Decimal) -> BacktestConfig:
    """The reference backtest's configuration with ``cash`` USDT of starting balance."""
    instrument = load_exchange_info(resources.EXCHANGE_INFO).get(SYMBOL)
    return BacktestConfig(
        strategy="sma_cross",
        params=PARAMS,
        instrument=instrument,
        cash=cash,
        fee_bps=FEE_BPS,
        interval_ns=INTERVAL_NS,
    )


def main() -> None:
    """Parse the arguments, run the timed backtest and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="bars CSV (.csv or .csv.gz)")
    parser.add_argument("--cash", type=Decimal, default=Decimal(1_000_000))
    parser.add_argument("--out", type=Path, required=True, help="directory for trades.csv etc.")
    args = parser.parse_args()
    config = build_config(args.cash)
    registry.load_builtins()  # strategy classes imported before the clock, as the peers do
    # the streaming parse alone (first, so both passes see the same warm file cache): it
    # splits the timed region below into loading and engine
    load_started = time.perf_counter()
    for _ in read_bars(args.data, SYMBOL, interval_ns=INTERVAL_NS):
        pass
    load_seconds = time.perf_counter() - load_started
    started = time.perf_counter()
    bars = read_bars(args.data, SYMBOL, interval_ns=INTERVAL_NS)
    result = run_backtest(config, bars, args.out)
    seconds = time.perf_counter() - started
    engine_seconds = max(seconds - load_seconds, 1e-9)
    report = {
        "engine": "genesis",
        "bars": result.bars,
        "seconds": round(seconds, 6),
        "bars_per_s": round(result.bars / seconds, 1),
        "load_seconds": round(load_seconds, 6),
        "engine_seconds": round(engine_seconds, 6),
        "engine_bars_per_s": round(result.bars / engine_seconds, 1),
        "trades": result.trades,
        "fills": result.fills,
        # one lot at a time, long only: a fill without its closing fill is an open position
        "open_trades": result.fills - 2 * result.trades,
        "final_equity": result.metrics.final_equity,
        "commission": result.metrics.fees,
        "rejected_orders": result.rejected_orders,
        "strategy_errors": result.strategy_errors,
        "prep_seconds": round(started - T0, 4),
        "in_process_total_s": round(time.perf_counter() - T0, 4),
    }
    sys.stdout.write(json.dumps(report, default=str) + "\n")


if __name__ == "__main__":
    main()
