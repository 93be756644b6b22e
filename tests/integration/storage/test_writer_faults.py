"""R17: database faults make the writer fail closed and resume when the fault clears.

Real faults where they can be made here (another process holding SQLite's
write lock, PostgreSQL killing our connections), and an injected one for the
cases a test cannot provoke for real (disk full, fsync error): the writer
never reports a commit that did not happen, keeps every record, retries the
same transaction and writes each record exactly once.
"""

from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from genesis.core.enums import Side
from genesis.errors import StorageError
from genesis.storage import BatchingWriter, FillRecord, SqliteRepository, open_repository
from genesis.storage.repository import Repository, WriteRecord

from .conftest import PG_URL


def fill(trade_id: str) -> FillRecord:
    return FillRecord(
        "BINANCE", "BTCUSDT", trade_id, "O-1", "V-1", Side.BUY, Decimal("46319.0"),
        Decimal("0.00001"), Decimal("0.046319"), "USDT", 10,
    )  # fmt: skip


class FlakyRepo:
    """Fails the first ``failures`` write attempts with a transient error, like ENOSPC."""

    def __init__(self, inner: Repository, failures: int) -> None:
        self.inner = inner
        self.left = failures
        self.two_left = asyncio.Event()

    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        if self.left > 0:
            self.left -= 1
            if self.left == 2:
                self.two_left.set()
            cause = OSError(errno.ENOSPC, "No space left on device")
            raise StorageError(f"SQLite statement failed: {cause}", transient=True)
        await self.inner.write_batch(records)


async def test_transient_faults_hold_the_durability_point_until_they_clear(tmp_path: Path) -> None:
    """Five failed attempts: flush waits (fail closed), then commits each record once."""
    repo = await open_repository(None, tmp_path)
    faults: list[str] = []
    recovered: list[float] = []
    flaky = FlakyRepo(repo, failures=5)
    writer = BatchingWriter(
        flaky,  # type: ignore[arg-type]
        retry_base_s=0.001,
        retry_cap_s=0.004,
        on_fault=lambda exc: faults.append(str(exc)),
        on_recovered=recovered.append,
    )
    writer.start()
    try:
        writer.submit_nowait(fill("T-1"))
        flushed = asyncio.create_task(writer.flush())
        await flaky.two_left.wait()
        assert not flushed.done()  # nobody is told "committed" while the fault lasts
        assert writer.fault is not None
        assert "No space left" in str(writer.fault)
        await flushed
        assert writer.fault is None
        stats = writer.statistics()
        assert (stats.failures, stats.outages, stats.written) == (5, 1, 1)
        assert len(faults) == 1
        assert len(recovered) == 1
        assert await repo.fills_since(0) == [fill("T-1")]
    finally:
        await writer.aclose()
        await repo.close()


async def test_a_permanent_error_still_stops_the_writer(tmp_path: Path) -> None:
    """A constraint violation is a bug: no retry loop, the waiting intent fails."""
    from genesis.storage import OrderEventRecord

    repo = await open_repository(None, tmp_path)
    writer = BatchingWriter(repo)
    writer.start()
    writer.submit_nowait(OrderEventRecord("O-404", 1, "OrderSubmitted", "{}"))  # no such order
    with pytest.raises(StorageError) as caught:
        await writer.flush()
    assert caught.value.transient is False
    assert writer.statistics().failures == 1
    with pytest.raises(StorageError):
        await writer.aclose()
    await repo.close()


async def test_sqlite_locked_by_another_process_is_retried(tmp_path: Path) -> None:
    """Another connection holds the write lock for a while: "database is locked", then commit."""
    path = tmp_path / "journal.sqlite3"
    repo = await SqliteRepository.open(path, busy_timeout_ms=20)
    await repo.migrate()
    faulted = asyncio.Event()
    writer = BatchingWriter(
        repo, retry_base_s=0.01, retry_cap_s=0.02, on_fault=lambda _: faulted.set()
    )
    writer.start()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        writer.submit_nowait(fill("T-9"))
        flushed = asyncio.create_task(writer.flush())
        await faulted.wait()
        assert not flushed.done()
        assert "locked" in str(writer.fault)
        other.execute("COMMIT")
        await flushed
        assert await repo.fills_since(0) == [fill("T-9")]
        assert writer.statistics().outages == 1
    finally:
        other.close()
        await writer.aclose()
        await repo.close()


async def test_writer_gives_up_only_at_close(tmp_path: Path) -> None:
    """A fault that never clears: aclose raises after its timeout instead of hanging."""
    repo = await open_repository(None, tmp_path)
    flaky = FlakyRepo(repo, failures=10**9)
    writer = BatchingWriter(
        flaky,  # type: ignore[arg-type]
        retry_base_s=0.001,
        retry_cap_s=0.002,
        close_timeout_s=0.05,
    )
    writer.start()
    writer.submit_nowait(fill("T-1"))
    with pytest.raises(StorageError, match="not committed"):
        await writer.aclose()
    assert await repo.fills_since(0) == []
    await repo.close()


async def test_postgres_connection_killed_mid_run_is_retried(tmp_path: Path) -> None:
    """The server terminates every connection of ours; the next commit reconnects."""
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    app = schema = f"genesis_r17_{os.getpid()}_{time.monotonic_ns()}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    repo = await open_repository(f"{PG_URL}?search_path={schema}&application_name={app}", tmp_path)
    writer = BatchingWriter(repo, retry_base_s=0.01, retry_cap_s=0.05)
    writer.start()
    try:
        async with asyncio.timeout(60):  # a hang here is the bug this test exists for
            await _kill_and_write(writer, admin, app)
        assert [f.trade_id for f in await repo.fills_since(0)] == ["T-1", "T-2"]
    finally:
        await writer.aclose()
        await repo.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def _kill_and_write(writer: BatchingWriter, admin: asyncpg.Connection, app: str) -> None:
    writer.submit_nowait(fill("T-1"))
    await writer.flush()
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        app,
    )
    assert killed >= 1
    writer.submit_nowait(fill("T-2"))
    await writer.flush()


class _Broken:
    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        raise RuntimeError("cannot switch to state 15; another operation is in progress")


async def test_an_unexpected_exception_fails_the_waiters_instead_of_hanging() -> None:
    """A driver error outside the StorageError tree must not kill the drain task silently."""
    writer = BatchingWriter(_Broken())  # type: ignore[arg-type]
    writer.start()
    writer.submit_nowait(fill("T-1"))
    async with asyncio.timeout(10):
        with pytest.raises(StorageError, match="RuntimeError: cannot switch to state"):
            await writer.flush()
        with pytest.raises(StorageError):
            await writer.aclose()
