"""Test helpers for execution algorithms on the bundled 2024-08-08 BTCUSDT depth streams.

One place for what the TWAP, VWAP and shortfall tests each need: the recording's
events (read once), the parent's start (the first quote: the first priced event),
the interval VWAP of the recorded prints, a kernel + simulated venue run driven like
the event backtest, and the backtest CLI's golden run with its fills and TCA rows.
"""

from __future__ import annotations

import csv
import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.core.events import MarketEvent, QuoteTick, TradeTick
from genesis.data.book import SharedBooks
from genesis.data.capture import read_binance_streams
from genesis.execution.tca import TcaRecord
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.risk.limits import Tier
from genesis.testing.builders import RecordingLog, make_venue
from genesis.testing.instruments import lookup

__all__ = ["backtest_rows", "events", "interval_vwap", "run_execution", "start_ns"]


@functools.cache
def events() -> tuple[MarketEvent, ...]:
    """Every event of the bundled BTCUSDT streams, in order."""
    return tuple(read_binance_streams(resources.BTCUSDT_STREAMS))


@functools.cache
def start_ns() -> int:
    """A parent's start: the first event with a price (the first quote)."""
    return next(e.ts_init for e in events() if isinstance(e, QuoteTick))


def interval_vwap(start: int, end: int) -> Decimal:
    """The VWAP of the recording's prints seen from ``start`` up to (not at) ``end``."""
    trades = [e for e in events() if isinstance(e, TradeTick) and start <= e.ts_init < end]
    return sum((t.price * t.size for t in trades), Decimal(0)) / sum(
        (t.size for t in trades), Decimal(0)
    )


def run_execution(
    cls: type,
    strategy_id: str,
    params: Any,
    data: tuple[MarketEvent, ...] | None = None,
    *,
    cash: str = "2000000",
    base: str = "0",
    tier: Tier | None = None,
    latency_ns: int = 0,
    finish: bool = True,
) -> tuple[Kernel, Driver, list[TcaRecord], RecordingLog]:
    """``cls`` with ``params`` over ``data`` (default: the whole recording), as a backtest."""
    data = events() if data is None else data
    balances = {"USDT": Decimal(cash), "BTC": Decimal(base)}
    tca: list[TcaRecord] = []
    log = RecordingLog()
    books = SharedBooks()  # as a backtest wires them
    spec = SessionSpec(
        instruments=lookup, balances=balances, base_currency="USDT", tier=tier,
        start_ns=data[0].ts_init, tca_sink=tca.append, books=books,
    )  # fmt: skip
    kernel = build_kernel(spec, log)
    kernel.add_strategy(cls, strategy_id, params, ("BTCUSDT",))
    driver = Driver(kernel, make_venue(balances=balances, latency_ns=latency_ns, books=books))
    driver.run(data)
    if finish:
        driver.finish()
    return kernel, driver, tca, log


def backtest_rows(
    out: Path, strategy: str, *params: str, cash: str = "2000000"
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """``python -m genesis backtest`` of ``strategy`` on the streams (Strategist tier):
    its fills.csv rows and its one tca.csv row."""
    from genesis.__main__ import main

    argv = ["backtest", "--strategy", strategy, "--data", f"BTCUSDT={resources.BTCUSDT_STREAMS}",
            "--cash", cash, "--tier", "strategist", "--out", str(out), "--quiet"]  # fmt: skip
    for p in params:
        argv += ["--param", p]
    assert main(argv) == 0
    with (out / "fills.csv").open(newline="") as fh:
        fills = list(csv.DictReader(fh))
    with (out / "tca.csv").open(newline="") as fh:
        (tca,) = list(csv.DictReader(fh))
    return fills, tca
