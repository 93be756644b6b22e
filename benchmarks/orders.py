"""Order throughput through risk + OMS + the simulated venue, Genesis vs NautilusTrader.

Workload (both engines, in memory, one process each): a quote stream drives the clock;
on each quote a strategy sends ``--k`` orders.

* ``submit_cancel``: a limit buy of 0.02 BTC at half the bid, cancelled as soon as the
  venue acknowledges it: one submit + cancel pair per order.
* ``fill_market``: a market order of 0.001 BTC, buys and sells alternating: one fill each.

Genesis: the first ``--ticks`` bookTicker quotes of the bundled Binance BTCUSDT streams
of 2024-08-08 (real prices), the production kernel (``kernel.builder.build_kernel``,
Strategist tier: every pre-trade check on, each order carries confidence 1.0), the
``SimulatedVenue`` with zero latency and zero fees (each command is answered inside
the step, as Nautilus' venue does), driven by ``kernel.driver.Driver``, compiled when
``python -m genesis native build`` has run (``genesis_native`` in the report). Timed:
the replay loop only (``Driver.run``), after the quotes are parsed.

NautilusTrader 1.221 (``../shared/tools/peer-orders/bench_nautilus_orders.py``, its own
synthetic quotes as a clock at one per second, RiskEngine and ExecutionEngine on, order
rate throttle raised), in ``.bench-venv`` (``benchmarks/setup_peers.sh``), in the same
run. Each engine runs ``--repeat`` times, each in a fresh process; medians reported.

Bar (issue 12): Genesis >= 10x Nautilus for submit+cancel pairs/s and for fills/s.

Usage: ``.venv/bin/python benchmarks/orders.py [--ticks 20000] [--k 1] [--repeat 3]``;
one JSON line on stdout, progress on stderr. ``--child MODE`` runs one Genesis
measurement in this process (what the parent spawns).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from genesis import native  # noqa: E402
from genesis.core.enums import Side  # noqa: E402
from genesis.core.events import OrderAccepted, OrderCanceled, OrderEvent, QuoteTick  # noqa: E402
from genesis.core.orders import Order  # noqa: E402
from genesis.strategies.base import Strategy  # noqa: E402
from genesis.strategies.params import StrategyParams  # noqa: E402

PEER = ROOT.parent / "shared" / "tools" / "peer-orders" / "bench_nautilus_orders.py"
PEER_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
STREAMS = ROOT / "genesis" / "resources" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
MODES = ("submit_cancel", "fill_market")


class OrderBenchParams(StrategyParams):
    mode: str = "submit_cancel"
    k: int = 1


class OrderBench(Strategy[OrderBenchParams]):
    """Sends ``k`` orders per quote; in ``submit_cancel`` mode cancels each on its ack."""

    Params = OrderBenchParams

    def on_start(self) -> None:
        self.instrument_id = self.instruments[0]
        self.buy = True
        self.submitted = self.cancels = self.fills = self.other = 0
        self.waiting: dict[str, Order] = {}  # submitted, not yet acknowledged
        self.qty = Decimal("0.02") if self.params.mode == "submit_cancel" else Decimal("0.001")

    def on_quote(self, quote: QuoteTick) -> None:
        orders, iid = self.ctx.orders, self.instrument_id
        for _ in range(self.params.k):
            if self.params.mode == "submit_cancel":
                order = orders.limit(iid, Side.BUY, self.qty, quote.bid / 2, confidence=1.0)
            else:
                side = Side.BUY if self.buy else Side.SELL
                self.buy = not self.buy
                order = orders.market(iid, side, self.qty, confidence=1.0)
            if self.params.mode == "submit_cancel":
                self.waiting[order.client_order_id] = order
            self.ctx.submit(order)
            self.submitted += 1

    def on_order(self, event: OrderEvent) -> None:
        order = self.waiting.pop(event.client_order_id, None)
        if type(event) is OrderAccepted and order is not None:
            self.ctx.cancel(order)
            self.cancels += 1
        elif type(event) is not OrderCanceled:
            self.other += 1

    def on_fill(self, fill: Any) -> None:
        self.fills += 1


def child(mode: str, ticks: int, k: int) -> dict[str, Any]:
    """One Genesis measurement, in this process."""
    from genesis.core.instruments import load_exchange_info
    from genesis.data.sources import open_events
    from genesis.exchange.fills import FeeModel, LatencyModel
    from genesis.exchange.simulated import SimulatedVenue
    from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
    from genesis.kernel.driver import Driver
    from genesis.logs import get_logger
    from genesis.resources import EXCHANGE_INFO
    from genesis.risk.limits import Tier

    table = load_exchange_info(EXCHANGE_INFO)
    quotes: list[QuoteTick] = []
    for event in open_events(STREAMS, "BTCUSDT"):
        if type(event) is QuoteTick:
            quotes.append(event)
            if len(quotes) == ticks:
                break
    balances = {"USDT": Decimal(1_000_000), "BTC": Decimal(100)}
    spec = SessionSpec(
        instruments=table.get, balances=balances, base_currency="USDT", tier=Tier.STRATEGIST,
        start_ns=quotes[0].ts_init,
        strategies=[StrategySpec(
            cls=OrderBench, strategy_id="bench", instruments=("BTCUSDT",),
            params=OrderBenchParams(mode=mode, k=k),
        )],
    )  # fmt: skip
    kernel = build_kernel(spec, get_logger("bench"))
    venue = SimulatedVenue(
        instruments=table.get, balances=balances, fees=FeeModel(Decimal(0), Decimal(0)),
        latency=LatencyModel(0),
    )  # fmt: skip
    driver = Driver(kernel, venue, record=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    driver.run(quotes)
    wall = time.perf_counter() - started
    bench = kernel.strategies["bench"]
    assert isinstance(bench, OrderBench)
    pairs = bench.cancels if mode == "submit_cancel" else 0
    return {
        "engine": "genesis", "mode": mode, "ticks": len(quotes), "k": k, "wall_s": wall,
        "submitted": bench.submitted, "pairs": pairs, "fills": bench.fills,
        "denied": kernel.denied, "unexpected_events": bench.other,
        "per_s": (pairs if mode == "submit_cancel" else bench.fills) / wall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
    }  # fmt: skip


def run_genesis(mode: str, ticks: int, k: int) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", mode, "--ticks", str(ticks), "--k", str(k)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_nautilus(mode: str, ticks: int, k: int) -> dict[str, Any] | None:
    if not (PEER.exists() and PEER_PYTHON.exists()):
        return None
    argv = [str(PEER_PYTHON), str(PEER), "--mode", mode, "--ticks", str(ticks), "--k", str(k)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _nautilus_per_s(result: dict[str, Any], mode: str) -> float:
    wall = float(result["wall_s"])
    count = result["canceled"] if mode == "submit_cancel" else result["filled"]
    return float(count) / wall


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=20_000, help="quotes replayed (default 20000)")
    parser.add_argument("--k", type=int, default=1, help="orders per quote (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="processes per engine and mode")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.ticks, args.k)))
        return 0
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m_at_start": os.getloadavg()[0], "ticks": args.ticks, "k": args.k,
        "repeat": args.repeat, "genesis_native": str(native.state()),
    }  # fmt: skip
    names = {"submit_cancel": "submit_cancel_pairs_per_s", "fill_market": "fills_per_s"}
    for mode in MODES:
        ours, theirs = [], []
        for n in range(args.repeat):
            print(f"orders: {mode} round {n + 1}", file=sys.stderr)
            ours.append(run_genesis(mode, args.ticks, args.k))
            peer = run_nautilus(mode, args.ticks, args.k)
            if peer is not None:
                theirs.append(_nautilus_per_s(peer, mode))
        key = names[mode]
        out[key] = statistics.median(r["per_s"] for r in ours)
        out[f"{key}_runs"] = [round(r["per_s"]) for r in ours]
        out[f"{mode}_denied"] = ours[-1]["denied"]
        out[f"{mode}_rss_mb"] = ours[-1]["rss_mb"]
        if theirs:
            out[f"nautilus_{key}"] = statistics.median(theirs)
            out[f"nautilus_{key}_runs"] = [round(x) for x in theirs]
            out[f"{key}_vs_nautilus"] = out[key] / out[f"nautilus_{key}"]
    print(json.dumps(out))
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
