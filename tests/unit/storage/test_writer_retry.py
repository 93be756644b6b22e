"""BatchingWriter retries through genesis.retry: capped delays, no overflow, injected sleep."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from genesis.core.enums import Side
from genesis.errors import ConfigError, StorageError
from genesis.storage import BatchingWriter, FillRecord
from genesis.storage.repository import WriteRecord


class FlakyRepo:
    """Fails the first ``failures`` write attempts with a transient error; keeps the rest."""

    def __init__(self, failures: int) -> None:
        self.left = failures
        self.written: list[WriteRecord] = []

    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        if self.left > 0:
            self.left -= 1
            raise StorageError("database is locked", transient=True)
        self.written.extend(records)


def fill(trade_id: str) -> FillRecord:
    return FillRecord(
        "BINANCE", "BTCUSDT", trade_id, "O-1", "V-1", Side.BUY, Decimal("46319.0"),
        Decimal("0.00001"), Decimal("0.046319"), "USDT", 10,
    )  # fmt: skip


async def test_ten_thousand_failures_wait_capped_delays_and_commit_once() -> None:
    """10,000 transient failures: delays double from the base to the cap (no overflow), then
    the record is committed exactly once and the outage counted once."""
    repo, delays = FlakyRepo(10_000), []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    writer = BatchingWriter(repo, retry_base_s=0.05, retry_cap_s=2.0, sleep=sleep)  # type: ignore[arg-type]
    async with writer:
        writer.submit_nowait(fill("T-1"))
        await writer.flush()

    assert len(delays) == 10_000
    assert delays[:7] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert max(delays) == 2.0
    assert repo.written == [fill("T-1")]
    stats = writer.statistics()
    assert (stats.failures, stats.outages, writer.fault) == (10_000, 1, None)


def test_a_bad_retry_bound_is_a_config_error() -> None:
    """retry_base_s above retry_cap_s is refused at construction."""
    with pytest.raises(ConfigError, match="writer retry"):
        BatchingWriter(FlakyRepo(0), retry_base_s=5.0, retry_cap_s=1.0)  # type: ignore[arg-type]
