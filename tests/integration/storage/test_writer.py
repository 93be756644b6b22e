"""BatchingWriter on both backends: batching, the order-intent durability point, fail-stop on bugs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.errors import ConfigError, StorageError
from genesis.storage import (
    AuditRecord,
    BatchingWriter,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    QueueStats,
    SqlRepository,
    open_repository,
)


def intent(coid: str = "O-1") -> OrderRecord:
    return OrderRecord(
        coid, "S-1", "BINANCE", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("0.00001"),
        Decimal("46319.0"), OrderStatus.NEW, Decimal("0"), "", 1, 1,
    )  # fmt: skip


def fill(trade_id: str) -> FillRecord:
    return FillRecord(
        "BINANCE", "BTCUSDT", trade_id, "O-1", "V-1", Side.BUY, Decimal("46319.0"),
        Decimal("0.00001"), Decimal("0.046319"), "USDT", 10,
    )  # fmt: skip


async def test_submit_nowait_queues_and_flush_commits_one_batch(repo: SqlRepository) -> None:
    """Records wait in the queue until the drain task commits them together in one batch."""
    writer = BatchingWriter(repo, max_depth=10)
    writer.start()
    for i in range(3):
        writer.submit_nowait(fill(f"T-{i}"))
    queued = writer.statistics()

    await writer.flush()
    flushed = writer.statistics()
    await writer.aclose()

    assert queued == QueueStats(depth=3, max_depth=10, written=0, batches=0)
    assert flushed == QueueStats(depth=0, max_depth=10, written=3, batches=1)
    assert [f.trade_id for f in await repo.fills_since(0)] == ["T-0", "T-1", "T-2"]


async def test_order_intent_is_committed_when_the_call_returns(
    db_url: str | None, tmp_path: Path
) -> None:
    """After record_order_intent returns, a separate connection already sees the order."""
    repo = await open_repository(db_url, tmp_path)
    observer = await open_repository(db_url, tmp_path)
    try:
        async with BatchingWriter(repo) as writer:
            await writer.record_order_intent(intent())
            seen = await observer.load_open_orders()
    finally:
        await observer.close()
        await repo.close()

    assert seen == [intent()]


async def test_intent_commits_earlier_submissions_in_the_same_batch(repo: SqlRepository) -> None:
    """Records queued before an intent are committed with it, in submission order."""
    async with BatchingWriter(repo) as writer:
        writer.submit_nowait(AuditRecord(1, "engine", "signal", '{"strategy_id": "S-1"}'))
        writer.submit_nowait(fill("T-1"))
        await writer.record_order_intent(intent())
        stats = writer.statistics()

    assert stats == QueueStats(depth=0, max_depth=10_000, written=3, batches=1)
    assert len(await repo.audit_log()) == 1
    assert await repo.fills_since(0) == [fill("T-1")]


async def test_batches_are_cut_at_max_batch(repo: SqlRepository) -> None:
    """Five queued records with max_batch=2 are written in three transactions."""
    writer = BatchingWriter(repo, max_batch=2)
    writer.start()
    for i in range(5):
        writer.submit_nowait(fill(f"T-{i}"))

    await writer.aclose()

    assert writer.statistics() == QueueStats(depth=0, max_depth=10_000, written=5, batches=3)
    assert len(await repo.fills_since(0)) == 5


async def test_full_queue_raises_instead_of_dropping(repo: SqlRepository) -> None:
    """submit_nowait on a full queue raises StorageError; the queued records are still written."""
    writer = BatchingWriter(repo, max_depth=2)
    writer.start()
    writer.submit_nowait(fill("T-1"))
    writer.submit_nowait(fill("T-2"))

    with pytest.raises(StorageError, match="queue full"):
        writer.submit_nowait(fill("T-3"))
    await writer.aclose()

    assert [f.trade_id for f in await repo.fills_since(0)] == ["T-1", "T-2"]


async def test_submit_waits_for_room_when_full(repo: SqlRepository) -> None:
    """await submit on a full queue waits for the drain task instead of raising."""
    writer = BatchingWriter(repo, max_depth=1)
    writer.start()
    writer.submit_nowait(fill("T-1"))

    await writer.submit(fill("T-2"))
    await writer.aclose()

    assert writer.statistics().written == 2


async def test_aclose_flushes_queued_records(repo: SqlRepository) -> None:
    """Closing the writer commits what is still queued, then refuses new records."""
    writer = BatchingWriter(repo)
    writer.start()
    writer.submit_nowait(fill("T-1"))

    await writer.aclose()

    assert await repo.fills_since(0) == [fill("T-1")]
    with pytest.raises(StorageError, match="not running"):
        writer.submit_nowait(fill("T-2"))


async def test_failed_batch_fails_the_intent_and_stops_the_writer(repo: SqlRepository) -> None:
    """A batch that can never commit (a constraint violation) fails the intent, later calls, aclose."""
    writer = BatchingWriter(repo)
    writer.start()
    writer.submit_nowait(OrderEventRecord("O-404", 1, "OrderSubmitted", "{}"))

    with pytest.raises(StorageError):
        await writer.record_order_intent(intent())
    with pytest.raises(StorageError, match="stopped after an error"):
        writer.submit_nowait(fill("T-1"))
    with pytest.raises(StorageError):
        await writer.aclose()

    assert await repo.load_open_orders() == []


def test_writer_rejects_a_zero_sized_queue() -> None:
    """max_depth below 1 is refused at construction with ConfigError."""
    with pytest.raises(ConfigError, match="max_depth"):
        BatchingWriter(None, max_depth=0)  # type: ignore[arg-type]
