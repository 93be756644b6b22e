"""The hash chain over order_events and audit_log on SQLite and PostgreSQL: intact after
single appends and batches, and an edited, deleted or foreign row found by its id."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.storage import SqlRepository, open_repository
from genesis.storage.chain import GENESIS, ChainStatus, link_rows
from genesis.storage.repository import AuditRecord, OrderEventRecord, OrderRecord, WriteRecord


def _order(cid: str = "O-1") -> OrderRecord:
    return OrderRecord(
        cid, "S-1", "BINANCE", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"),
        Decimal("46319.0"), OrderStatus.SUBMITTED, Decimal(0), "", 1, 1,
    )  # fmt: skip


def _records() -> list[WriteRecord]:
    return [
        _order(),
        OrderEventRecord("O-1", 1, "SubmitOrder", '{"quantity": "0.001"}'),
        AuditRecord(2, "daemon", "config_applied", '{"sha256": "ab"}'),
        OrderEventRecord("O-1", 3, "OrderDenied", '{"code": "COMPLIANCE_SESSION"}'),
        AuditRecord(4, "api", "kill_switch_engaged", '{"reason": "manual"}'),
    ]


async def _tamper(repo: SqlRepository, sql: str, params: tuple[object, ...] = ()) -> None:
    async with repo._transaction() as tx:
        await tx.run(sql, params)


def _by_table(found: list[ChainStatus]) -> dict[str, ChainStatus]:
    return {s.table: s for s in found}


async def test_batch_and_single_appends_make_one_intact_chain(repo: SqlRepository) -> None:
    """A batch, then single appends: both tables verify, heads as computed by hand."""
    await repo.write_batch(_records())
    await repo.append_audit(5, "operator", "kill_switch_reset", "{}")
    await repo.append_order_event(OrderEventRecord("O-1", 6, "OrderCanceled", "{}"))

    found = _by_table(await repo.verify_chain())

    audit_rows = [
        (2, "daemon", "config_applied", '{"sha256": "ab"}'),
        (4, "api", "kill_switch_engaged", '{"reason": "manual"}'),
        (5, "operator", "kill_switch_reset", "{}"),
    ]
    _, audit_head = link_rows(None, "audit_log", audit_rows)
    assert found["audit_log"] == ChainStatus("audit_log", 3, 0, None, "", audit_head)
    assert found["order_events"].ok
    assert found["order_events"].rows == 3
    assert found["order_events"].head != GENESIS


async def test_one_batch_links_as_one_record_at_a_time(tmp_path: Path) -> None:
    """The same records written as one batch or one by one give the same heads."""
    one = await open_repository(None, tmp_path / "a")
    single = await open_repository(None, tmp_path / "b")
    try:
        await one.write_batch(_records())
        for record in _records():
            await single.write_batch([record])
        assert await one.verify_chain() == await single.verify_chain()
    finally:
        await one.close()
        await single.close()


async def test_an_edited_audit_row_is_found_by_its_id(repo: SqlRepository) -> None:
    """Changing the kill-switch row's reason breaks the chain at that row (id 2)."""
    await repo.write_batch(_records())

    await _tamper(repo, "UPDATE audit_log SET detail_json = ? WHERE id = 2", ('{"reason": "x"}',))
    found = _by_table(await repo.verify_chain())

    assert found["audit_log"].broken_id == 2
    assert found["audit_log"].reason == "row_hash does not match the row's content (edited)"
    assert found["order_events"].ok


async def test_a_deleted_order_event_breaks_the_next_row(repo: SqlRepository) -> None:
    """Deleting the intent row (id 1) is seen at the denial row after it (id 2)."""
    await repo.write_batch(_records())

    await _tamper(repo, "DELETE FROM order_events WHERE id = 1")
    found = _by_table(await repo.verify_chain())

    assert found["order_events"].broken_id == 2
    assert found["order_events"].reason == (
        "prev_hash does not match the row before it (a row deleted, inserted or moved)"
    )


async def test_a_row_written_outside_the_chain_is_reported(repo: SqlRepository) -> None:
    """A row inserted without hashes after chained rows is a break, not legacy."""
    await repo.write_batch(_records())

    await _tamper(
        repo, "INSERT INTO audit_log (ts_ns, actor, action, detail_json) VALUES (9, 'x', 'y', '{}')"
    )
    found = _by_table(await repo.verify_chain())

    assert found["audit_log"].broken_id == 3
    assert found["audit_log"].reason == (
        "prev_hash does not match the row before it (no hash: written outside the chain)"
    )


async def test_concurrent_writers_never_fork_the_chain(db_url: str | None, tmp_path: Path) -> None:
    """Two connections appending at once (a daemon and the operator CLI) stay one chain."""
    first = await open_repository(db_url, tmp_path)
    second = await open_repository(db_url, tmp_path)
    try:
        await asyncio.gather(
            *(first.append_audit(n, "daemon", "a", "{}") for n in range(20)),
            *(second.append_audit(n, "operator", "b", "{}") for n in range(20)),
        )
        found = _by_table(await first.verify_chain())
    finally:
        await first.close()
        await second.close()

    assert found["audit_log"].ok
    assert found["audit_log"].rows == 40
