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
the replay loop only (``Driver.run``), after the quotes are parsed. Each measurement
process runs under the garbage-collector policy every ``python -m genesis`` process sets
(``genesis.gcpolicy``: frozen start-up objects, young generation every 50,000 allocations).

NautilusTrader 1.221 (``../shared/tools/peer-orders/bench_nautilus_orders.py``, its own
synthetic quotes as a clock at one per second, RiskEngine and ExecutionEngine on, order
rate throttle raised), in ``.bench-venv`` (``benchmarks/setup_peers.sh``), in the same
run. Each engine runs ``--repeat`` times, each in a fresh process; medians reported.

Bar (issue 12): Genesis >= 10x Nautilus for submit+cancel pairs/s and for fills/s.

Journaled (SPEC performance, DB-1, DB-2): the same kernel and venue with the daemon's
own write path (``daemon.journal.Journal`` over ``BatchingWriter`` and the repository:
SQLite, a file in a temporary directory opened with the daemon's pragmas; PostgreSQL,
127.0.0.1:5432 database ``test`` in a throwaway schema dropped afterwards). Workload
``submit_cancel`` with one order per quote, journaled exactly as the daemon does: each
round's intents (order row and command) and its progress mark are queued, a durability
marker after them, and the round goes to the venue only once that marker's commit has
returned; order events, order states and progress marks follow as the daemon writes
them. Rounds are pipelined by the live daemon's own ``daemon.outbox.Outbox`` (what
``Daemon.send`` uses on live venues): the loop keeps stepping the kernel while a
commit is in flight, and one transaction carries every round queued meanwhile (group
commit). (A paper daemon sends each round after its own commit, in step with the
replay: it is not this path.)
``sustained``: ``--journal-orders`` orders as fast as they go (orders/s = orders sent
/ wall time, the final commit included). ``burst``: the same offered at ``--burst-rate``
orders/s for ``--burst-s`` seconds (quotes released on a wall-clock schedule); reports
the achieved rate, each order's wait from offered to sent, the commit latency of each
durability marker, the writer queue's peak depth, and ``kept_up``: achieved >= 98% of
the offered rate and the last order sent within 0.25 s of the last offer (offers stop
at twice the burst's length: what was not offered by then is not kept up). Quotes past
the bundled stream's 28,040 are the stream again, shifted later in time (real prices).

Usage: ``.venv/bin/python benchmarks/orders.py [--ticks 20000] [--k 1] [--repeat 3]
[--journal-orders 100000] [--burst-rate 10000] [--burst-s 10] [--only journal]``;
one JSON line on stdout, progress on stderr. ``--child MODE`` runs one Genesis
measurement in this process (what the parent spawns).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from genesis import gcpolicy, native  # noqa: E402
from genesis.core.commands import Command, SubmitOrder  # noqa: E402
from genesis.core.enums import Side  # noqa: E402
from genesis.core.events import OrderAccepted, OrderCanceled, OrderEvent, QuoteTick  # noqa: E402
from genesis.core.orders import Order  # noqa: E402
from genesis.daemon.journal import Journal  # noqa: E402
from genesis.daemon.outbox import Outbox  # noqa: E402
from genesis.exchange.simulated import SimulatedVenue  # noqa: E402
from genesis.kernel.driver import Driver  # noqa: E402
from genesis.kernel.kernel import Kernel  # noqa: E402
from genesis.strategies.base import Strategy  # noqa: E402
from genesis.strategies.params import StrategyParams  # noqa: E402

PEER = ROOT.parent / "shared" / "tools" / "peer-orders" / "bench_nautilus_orders.py"
PEER_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
STREAMS = ROOT / "genesis" / "resources" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
MODES = ("submit_cancel", "fill_market")
RISK_CONFIG = (  # breakers off: order rate, and the loss streak a spread-paying loop makes
    "tiers:\n  strategist:\n    breakers:\n      max_orders: 0\n      loss_streak: 0\n"
)
BACKENDS = ("sqlite", "postgres")
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
VENUE = "BINANCE"


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
        self.cancelling = self.params.mode == "submit_cancel"
        self.qty = Decimal("0.02") if self.cancelling else Decimal("0.001")

    def on_quote(self, quote: QuoteTick) -> None:
        # as the peer's strategy: the mode read once, the price made once per quote
        orders, iid, qty = self.ctx.orders, self.instrument_id, self.qty
        if self.cancelling:
            price = quote.bid / 2
            for _ in range(self.params.k):
                order = orders.limit(iid, Side.BUY, qty, price, confidence=1.0)
                self.waiting[order.client_order_id] = order
                self.ctx.submit(order)
            self.submitted += self.params.k
            return
        for _ in range(self.params.k):
            side = Side.BUY if self.buy else Side.SELL
            self.buy = not self.buy
            self.ctx.submit(orders.market(iid, side, qty, confidence=1.0))
        self.submitted += self.params.k

    def on_order(self, event: OrderEvent) -> None:
        order = self.waiting.pop(event.client_order_id, None)
        if type(event) is OrderAccepted and order is not None:
            self.ctx.cancel(order)
            self.cancels += 1
        elif type(event) is not OrderCanceled:
            self.other += 1

    def on_fill(self, fill: Any) -> None:
        self.fills += 1


def _session(mode: str, k: int, start_ns: int) -> tuple[Kernel, SimulatedVenue]:
    """The production kernel (Strategist tier, the daemon's dedup window) and the venue."""
    from genesis.core.instruments import load_exchange_info
    from genesis.exchange.fills import FeeModel, LatencyModel
    from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
    from genesis.logs import get_logger
    from genesis.resources import EXCHANGE_INFO
    from genesis.risk.config import parse_risk_config
    from genesis.risk.limits import Tier

    table = load_exchange_info(EXCHANGE_INFO)
    # enough that thousands of orders in flight (a pipelined journal) never run out of cash
    balances = {"USDT": Decimal(100_000_000), "BTC": Decimal(10_000)}
    # a throughput test: the order-rate breaker (Binance's 100 per 10 s) is off, as
    # Nautilus' order throttle is raised in its run, and the loss-streak breaker (market
    # buys and sells alternating lose the spread every round trip); every check stays on
    risk = parse_risk_config(RISK_CONFIG, "benchmarks/orders.py")
    spec = SessionSpec(
        instruments=table.get, balances=balances, base_currency="USDT", tier=Tier.STRATEGIST,
        start_ns=start_ns, dedup_window=100_000, risk=risk,
        strategies=[StrategySpec(
            cls=OrderBench, strategy_id="bench", instruments=("BTCUSDT",),
            params=OrderBenchParams(mode=mode, k=k),
        )],
    )  # fmt: skip
    kernel = build_kernel(spec, get_logger("bench"))
    venue = SimulatedVenue(
        instruments=table.get, balances=balances, fees=FeeModel(Decimal(0), Decimal(0)),
        latency=LatencyModel(0), name=VENUE,
    )  # fmt: skip
    return kernel, venue


def child(mode: str, ticks: int, k: int) -> dict[str, Any]:
    """One Genesis measurement, in this process."""
    from genesis.data.sources import open_events

    quotes: list[QuoteTick] = []
    for event in open_events(STREAMS, "BTCUSDT"):
        if type(event) is QuoteTick:
            quotes.append(event)
            if len(quotes) == ticks:
                break
    kernel, venue = _session(mode, k, quotes[0].ts_init)
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


# --- journaled: risk + OMS + the durable journal (SQLite, PostgreSQL) ----------------


def _quotes(n: int) -> list[QuoteTick]:
    """``n`` real quotes: the bundled stream, replayed again shifted later when ``n`` is more."""
    from genesis.data.sources import open_events

    stream = [e for e in open_events(STREAMS, "BTCUSDT") if type(e) is QuoteTick]
    span = stream[-1].ts_init - stream[0].ts_init + 1_000_000
    out: list[QuoteTick] = []
    for lap in range(n // len(stream) + 1):
        shift = lap * span
        out.extend(
            msgspec.structs.replace(q, ts_event=q.ts_event + shift, ts_init=q.ts_init + shift)
            for q in stream[: n - len(out)]
        )
    return out


async def _open_journal(backend: str, tmp: Path) -> tuple[Journal, Callable[[], Awaitable[None]]]:
    """The daemon's repository for ``backend`` (migrated) in its Journal, and a cleanup."""
    import asyncpg

    from genesis.storage import open_repository

    if backend == "sqlite":
        repo = await open_repository(None, tmp)  # data_dir/genesis.db, the daemon's pragmas

        async def nothing() -> None:
            return None

        return Journal(repo), nothing
    admin = await asyncpg.connect(PG_URL, timeout=10)
    schema = f"genesis_bench_{os.getpid()}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')

    async def drop() -> None:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()

    try:
        repo = await open_repository(f"{PG_URL}?search_path={schema}", tmp)
    except BaseException:
        await drop()
        raise
    return Journal(repo), drop


class JournaledRun:
    """The live daemon's send path (``Daemon.send`` and its ``Outbox``) over the simulated
    venue: step, queue intents + marker, each round sent once durable, in order."""

    def __init__(self, journal: Journal, k: int, start_ns: int) -> None:
        kernel, venue = _session("submit_cancel", k, start_ns)
        self.kernel, self.journal = kernel, journal
        self.driver = Driver(kernel, venue, record=False, defer_commands=True,
                             on_order_event=self._on_order_event)  # fmt: skip
        self.outbox = Outbox(self._dispatch, self._durable, self._lost)
        self.offered: deque[float] = deque()  # per round with intents, in round order
        self.commit_s: list[float] = []  # marker queued -> its commit returned, per round
        self.wait_s: list[float] = []  # order offered -> sent to the venue, per round
        self.sent = self.events = 0
        self.last_sent_at = 0.0

    def _on_order_event(self, event: OrderEvent) -> None:
        order = self.kernel.oms.get(event.client_order_id)
        self.journal.order_event(event, order, VENUE)

    def _dispatch(self, round_: Sequence[Command]) -> None:
        for command in round_:
            self.driver.execute(command)
        n = sum(1 for c in round_ if type(c) is SubmitOrder)
        if n:
            self.sent += n
            self.last_sent_at = time.perf_counter()
            self.wait_s.append(self.last_sent_at - self.offered.popleft())

    async def _durable(self, marker: asyncio.Future[None]) -> bool:
        await marker
        return True

    def _lost(self, count: int, why: str) -> None:
        raise AssertionError(f"{count} orders not sent: {why}")

    def _timer(self, queued_at: float) -> Callable[[asyncio.Future[None]], None]:
        def done(_: asyncio.Future[None]) -> None:
            self.commit_s.append(time.perf_counter() - queued_at)

        return done

    async def _queue_round(self, offered_at: float) -> None:
        """``Daemon.send`` for a live session: what the kernel made goes to the outbox."""
        while self.driver.has_commands():
            commands = self.driver.take_commands()
            intents = [c for c in commands if type(c) is SubmitOrder]
            marker = None
            if intents:
                await self.journal.queue_intents(intents, _venue_of)
                self.journal.progress(self.events + 1, self.kernel.clock.now_ns())
                marker = await self.journal.commit_later()
                marker.add_done_callback(self._timer(time.perf_counter()))
                self.offered.append(offered_at)
            await self.outbox.put(commands, len(intents), marker)

    async def run(self, quotes: Sequence[QuoteTick], rate: float | None) -> float:
        """Replay ``quotes`` (paced at ``rate`` quotes/s when given); return the start time."""
        self.driver.start()
        started = time.perf_counter()
        for i, quote in enumerate(quotes):
            offered_at = time.perf_counter()
            if rate is not None:
                offered_at = started + i / rate
                if time.perf_counter() > started + 2 * len(quotes) / rate:
                    break  # far behind: stop offering, report what was achieved
                if offered_at > time.perf_counter():
                    await asyncio.sleep(offered_at - time.perf_counter())
            self.driver.step(quote)
            await self._queue_round(offered_at)
            self.events += 1
            self.journal.progress(self.events, self.kernel.clock.now_ns())
            await self.journal.relieve()
            # a live loop yields here (its next event, or the commit it waits for); without
            # it a loop that is behind never lets the writer or the sender run
            await asyncio.sleep(0)
        while True:  # the cancels the last rounds caused
            await self.outbox.drain()
            if not self.driver.has_commands():
                break
            await self._queue_round(time.perf_counter())
        await self.journal.commit()
        return started


def _venue_of(_instrument_id: str) -> str:
    return VENUE


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ms(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _journaled(backend: str, orders: int, rate: float | None) -> dict[str, Any]:
    quotes = _quotes(orders)
    with tempfile.TemporaryDirectory() as tmp:
        journal, cleanup = await _open_journal(backend, Path(tmp))
        try:
            journal.start()
            run = JournaledRun(journal, 1, quotes[0].ts_init)
            cpu_before = _cpu_s()
            started = await run.run(quotes, rate)
            wall = time.perf_counter() - started
            cpu_s = _cpu_s() - cpu_before  # both threads (the loop and aiosqlite's)
        finally:
            await journal.close()
            await cleanup()
    assert journal.stats is not None
    per_s = run.sent / wall
    out: dict[str, Any] = {
        "backend": backend, "orders": run.sent, "wall_s": wall, "per_s": per_s,
        "denied": run.kernel.denied, "commits": journal.stats.batches,
        "records": journal.stats.written, "writer_queue_peak": journal.peak_depth,
        "rounds_in_flight_peak": run.outbox.peak,
        "commit_p50_ms": _ms(run.commit_s, 0.5), "commit_p99_ms": _ms(run.commit_s, 0.99),
        "wait_p50_ms": _ms(run.wait_s, 0.5), "wait_p99_ms": _ms(run.wait_s, 0.99),
        "cpu_s": cpu_s, "orders_per_cpu_s": run.sent / cpu_s,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    if rate is not None:
        lag = run.last_sent_at - (started + (len(quotes) - 1) / rate)
        kept_up = run.sent == len(quotes) and per_s >= 0.98 * rate and lag <= 0.25
        out |= {"offered_per_s": rate, "offered": len(quotes), "lag_s": lag, "kept_up": kept_up}
    return out


def journaled_child(backend: str, orders: int, rate: float | None) -> dict[str, Any]:
    """One journaled measurement, in this process."""
    return asyncio.run(_journaled(backend, orders, rate))


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
    parser.add_argument(
        "--journal-orders",
        type=int,
        default=100_000,
        help="orders in the sustained journaled run, per backend",
    )
    parser.add_argument(
        "--burst-rate", type=float, default=10_000.0, help="orders/s offered in the journaled burst"
    )
    parser.add_argument("--burst-s", type=float, default=10.0, help="length of the burst")
    parser.add_argument(
        "--only",
        choices=("kernel", "journal"),
        help="run only the in-memory or only the journaled measurements",
    )
    parser.add_argument("--child", choices=(*MODES, "journal"), help=argparse.SUPPRESS)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)  # fmt: skip


def run_journaled(backend: str, orders: int, rate: float | None) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", "journal", "--backend", backend]
    argv += ["--journal-orders", str(orders)] + ([] if rate is None else ["--rate", str(rate)])
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def journaled_figures(args: argparse.Namespace) -> dict[str, Any]:
    """Sustained and burst runs on each backend, one fresh process each."""
    out: dict[str, Any] = {}
    burst_orders = int(args.burst_rate * args.burst_s)
    for backend in BACKENDS:
        print(f"orders: journaled sustained on {backend}", file=sys.stderr)
        run = run_journaled(backend, args.journal_orders, None)
        out[f"journaled_orders_per_s_{backend}"] = run["per_s"]
        out[f"journaled_{backend}"] = run
        print(f"orders: journaled burst on {backend}", file=sys.stderr)
        burst = run_journaled(backend, burst_orders, args.burst_rate)
        out[f"burst_orders_per_s_{backend}"] = burst["per_s"]
        out[f"burst_kept_up_{backend}"] = burst["kept_up"]
        out[f"commit_p50_ms_{backend}"] = burst["commit_p50_ms"]
        out[f"commit_p99_ms_{backend}"] = burst["commit_p99_ms"]
        out[f"burst_queue_peak_{backend}"] = burst["writer_queue_peak"]
        out[f"burst_{backend}"] = burst
    out["journaled_rss_mb"] = max(
        out[f"{w}_{b}"]["rss_mb"] for w in ("journaled", "burst") for b in BACKENDS
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:  # a measurement runs under the collector policy `python -m genesis` sets
        gcpolicy.apply()
    if args.child == "journal":
        print(json.dumps(journaled_child(args.backend, args.journal_orders, args.rate)))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.ticks, args.k)))
        return 0
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m_at_start": os.getloadavg()[0], "ticks": args.ticks, "k": args.k,
        "repeat": args.repeat, "genesis_native": str(native.state()),
    }  # fmt: skip
    if args.only != "journal":
        out |= kernel_figures(args)
    if args.only != "kernel":
        out |= journaled_figures(args)
    out["rss_mb"] = max(v for k, v in out.items() if k.endswith("rss_mb"))
    print(json.dumps(out))
    return 0


def kernel_figures(args: argparse.Namespace) -> dict[str, Any]:
    """In-memory submit+cancel pairs/s and fills/s, Genesis and NautilusTrader."""
    out: dict[str, Any] = {}
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
    return out


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
