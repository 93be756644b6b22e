"""The paper daemon at full speed: events/s, event-loop lag, memory with 10 strategies.

Runs the daemon in-process over the bundled month of real BTCUSDT bars (45,031)
with 10 strategy instances (5 momentum_breakout and 5 sma_cross variants, all
Sniper) and the SQLite journal in a temporary directory. A probe task sleeps
10 ms at a time and records how late it wakes up (event-loop lag). Prints one
JSON line.

Usage: ``python benchmarks/daemon.py [--bars N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from genesis import resources  # noqa: E402
from genesis.config.loader import load_strategy_configs  # noqa: E402
from genesis.core.instruments import load_exchange_info  # noqa: E402
from genesis.daemon.assemble import paper_daemon  # noqa: E402
from genesis.daemon.daemon import DaemonConfig  # noqa: E402
from genesis.data.sources import DataSpec  # noqa: E402
from genesis.risk.limits import Tier  # noqa: E402
from genesis.storage import open_repository  # noqa: E402

MOMENTUM = (
    "strategy: momentum_breakout\ntier: sniper\ninstruments: [BTCUSDT]\nparams:\n  lookback: {n}\n"
)
SMA = (
    "strategy: sma_cross\ntier: sniper\ninstruments: [BTCUSDT]\n"
    'params:\n  fast: {f}\n  slow: {s}\n  quantity: "0.0001"\n'
)


class _Quiet:
    def _noop(self, *args: object, **kwargs: object) -> None:
        return None

    debug = info = warning = error = critical = _noop


def _write_configs(directory: Path) -> None:
    for i, n in enumerate((10, 15, 20, 30, 40)):
        (directory / f"mb{i}.yaml").write_text(MOMENTUM.format(n=n))
    for i, (f, s) in enumerate(((5, 20), (10, 30), (15, 45), (20, 60), (30, 90))):
        (directory / f"sma{i}.yaml").write_text(SMA.format(f=f, s=s))


async def _probe(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - start - 0.01)


async def _run(bars: int, work: Path, journal: bool) -> dict[str, object]:
    strategies = work / "strategies"
    strategies.mkdir()
    _write_configs(strategies)
    data = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=tuple(load_strategy_configs(strategies)),
        instruments=load_exchange_info(resources.EXCHANGE_INFO), data=(data,),
        cash=Decimal(10_000), speed=0, max_events=bars, data_dir=work if journal else None,
    )  # fmt: skip
    repo = await open_repository(None, work) if journal else None
    daemon = paper_daemon(config, repo, None, log=_Quiet())
    lags: list[float] = []
    done = asyncio.Event()
    probe = asyncio.create_task(_probe(done, lags))
    started = time.perf_counter()
    await daemon.run()
    seconds = time.perf_counter() - started
    done.set()
    await probe
    lags.sort()
    stats = daemon.journal.stats if daemon.journal else None  # the writer's, after close
    return {
        "events": daemon.events, "seconds": round(seconds, 3),
        "events_per_s": round(daemon.events / seconds, 1), "strategies": len(config.strategies),
        "fills": daemon.driver.stats.fills,
        "loop_lag_p50_ms": round(lags[len(lags) // 2] * 1000, 3) if lags else None,
        "loop_lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 3) if lags else None,
        "lag_samples": len(lags),
        "writer_commits": stats.batches if stats else None,
        "writer_peak_depth": daemon.journal.peak_depth if daemon.journal else None,
        "writer_written": stats.written if stats else None,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=45_031)
    parser.add_argument("--no-journal", action="store_true", help="run without the SQLite journal")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(_run(args.bars, Path(tmp), journal=not args.no_journal))
    figures["journal"] = "sqlite (synchronous=FULL)" if not args.no_journal else "none"
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    figures["python"] = platform.python_version()
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
