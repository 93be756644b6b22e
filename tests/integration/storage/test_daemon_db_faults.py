"""R17 through the daemon: 500 injected database faults, 0 orders sent without a committed intent.

Every journal transaction may fail (seeded, like a full disk or a lost
connection: nothing written). The daemon must pause at each durability point
until the intent commits, report CRITICAL health while the journal is down,
resume when it clears, and end with exactly the fills and orders of a run
without faults (the session is deterministic).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.commands import Command, SubmitOrder
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import DaemonConfig
from genesis.data.sources import DataSpec
from genesis.errors import StorageError
from genesis.risk.limits import Tier
from genesis.storage import open_repository
from genesis.storage.repository import SqlRepository, WriteRecord
from genesis.testing.taps import tap_venue

ROOT = Path(__file__).resolve().parents[3]
# the busy Sniper of the reliability tests (tests/data/strategies)
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
FAULTS = 500


class _Log:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.journal_down = asyncio.Event()  # the journal part reported an outage

    def _record(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.names.append(event)
        if event == "journal_unavailable":
            self.journal_down.set()

    debug = info = warning = error = critical = _record


def _config(tmp_path: Path) -> DaemonConfig:
    strategies = tuple(c for c in load_strategy_configs(BUSY_STRATEGIES) if c.enabled)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    return DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=(bars,), speed=0, max_events=6000, data_dir=tmp_path,
        journal_retry_s=(0.0005, 0.001),
    )  # fmt: skip


def _faulty(repo: SqlRepository, rng: random.Random, left: list[int]) -> SqlRepository:
    write = repo.write_batch

    async def write_batch(records: Sequence[WriteRecord]) -> None:
        if left[0] > 0 and rng.random() < 0.8:
            left[0] -= 1
            raise StorageError("SQLite statement failed: disk I/O error", transient=True)
        await write(records)

    repo.write_batch = write_batch  # type: ignore[method-assign]
    return repo


async def _run(tmp_path: Path, faults: int) -> tuple[Any, ...]:
    left = [faults]
    rng = random.Random(17)
    log = _Log()
    # the daemon is handed its journal's repository (assemble.paper_daemon): the faulty one
    repo = _faulty(await open_repository(None, tmp_path), rng, left)
    daemon = paper_daemon(_config(tmp_path), repo, None, log=log)
    sent: list[str] = []
    uncommitted: list[str] = []

    def checked_send(command: Command, now_ns: int) -> None:
        if isinstance(command, SubmitOrder):
            with sqlite3.connect(tmp_path / "genesis.db") as db:
                row = db.execute(
                    "SELECT 1 FROM orders WHERE client_order_id = ?", (command.client_order_id,)
                ).fetchone()
            (sent if row else uncommitted).append(command.client_order_id)

    tap_venue(daemon.driver, "binance", checked_send)
    assert await daemon.run() == 0
    assert left[0] == 0, "the run ended before every fault was injected"
    assert daemon.journal is not None
    repo = await open_repository(None, tmp_path)
    try:
        fills = [(f.trade_id, f.side, f.price, f.quantity) for f in await repo.fills_since(0)]
    finally:
        await repo.close()
    return sent, uncommitted, fills, log.names, daemon.journal.stats  # the writer's, after close


async def test_500_db_faults_send_no_order_without_a_committed_intent(tmp_path: Path) -> None:
    (tmp_path / "clean").mkdir()
    (tmp_path / "faulty").mkdir()
    clean = await _run(tmp_path / "clean", 0)
    sent, uncommitted, fills, names, stats = await _run(tmp_path / "faulty", FAULTS)

    assert uncommitted == []
    assert stats.failures == FAULTS
    assert names.count("journal_unavailable") == stats.outages > 50
    assert names.count("journal_recovered") == stats.outages
    # the faults only delayed it: the same orders and the same fills as without them
    assert (sent, fills) == (clean[0], clean[2])
    assert len(fills) > 20


async def test_a_stop_during_a_journal_outage_ends_without_sending(tmp_path: Path) -> None:
    """The database stops accepting writes for good, then SIGTERM: the daemon gives up in bounded
    time (the uncommitted round is never sent) instead of waiting for the journal forever."""
    import dataclasses

    calls = [0]
    repo = await open_repository(None, tmp_path)
    write = repo.write_batch

    async def write_batch(records: Sequence[WriteRecord]) -> None:
        calls[0] += 1
        if calls[0] > 3:
            raise StorageError("database is locked (injected)", transient=True)
        await write(records)

    repo.write_batch = write_batch  # type: ignore[method-assign]
    config = dataclasses.replace(_config(tmp_path), shutdown_timeout_s=0.5)
    log = _Log()
    daemon = paper_daemon(config, repo, None, log=log)
    sent: list[str] = []

    def record_send(command: Command, now_ns: int) -> None:
        if isinstance(command, SubmitOrder):
            sent.append(command.client_order_id)

    tap_venue(daemon.driver, "binance", record_send)
    run = asyncio.ensure_future(daemon.run())

    await asyncio.wait_for(log.journal_down.wait(), 30)
    reasons = daemon.health.snapshot().reasons
    assert any(r.startswith("journal: journal unavailable") for r in reasons)
    await asyncio.sleep(0.2)
    daemon.request_stop("test")
    with pytest.raises(StorageError, match="not committed"):
        await asyncio.wait_for(run, 30)
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        committed = {r[0] for r in db.execute("SELECT client_order_id FROM orders")}
    assert set(sent) <= committed  # only intents committed before the outage reached the venue
    assert "orders_not_sent" in log.names or not daemon.driver.has_commands()
