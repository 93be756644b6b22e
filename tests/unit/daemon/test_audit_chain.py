"""The daemon's start-up check of the hash chain on a real SQLite journal: an intact
chain is an info line; a tampered row is an error line and a DEGRADED health report
naming the row."""

from __future__ import annotations

from pathlib import Path

from genesis.daemon.audit import verify_at_start
from genesis.daemon.health import HealthMonitor, Level
from genesis.storage import open_repository
from genesis.testing.builders import RecordingLog


async def _journal(tmp_path: Path) -> None:
    repo = await open_repository(None, tmp_path)
    try:
        await repo.append_audit(1, "daemon", "session_started", '{"mode": "paper"}')
        await repo.append_audit(2, "api", "kill_switch_engaged", '{"reason": "manual"}')
    finally:
        await repo.close()


async def test_intact_chain_logs_verified_and_stays_healthy(tmp_path: Path) -> None:
    """Two audit rows, no order events: audit_chain_verified, health untouched."""
    await _journal(tmp_path)
    log, health = RecordingLog(), HealthMonitor()
    repo = await open_repository(None, tmp_path)
    try:
        found = await verify_at_start(repo, log, health)
    finally:
        await repo.close()

    assert [s.ok for s in found] == [True, True]
    assert log.events() == ["audit_chain_verified"]
    assert health.snapshot().level is Level.HEALTHY


async def test_tampered_row_logs_an_error_and_degrades_health(tmp_path: Path) -> None:
    """The kill-switch row's reason edited in the file: error naming id 2, DEGRADED."""
    await _journal(tmp_path)
    repo = await open_repository(None, tmp_path)
    async with repo._transaction() as tx:
        await tx.run('UPDATE audit_log SET detail_json = \'{"reason": "test"}\' WHERE id = 2')
    log, health = RecordingLog(), HealthMonitor()
    try:
        await verify_at_start(repo, log, health)
    finally:
        await repo.close()

    assert log.records == [
        (
            "error",
            "audit_chain_broken",
            {
                "table": "audit_log",
                "row_id": 2,
                "reason": "row_hash does not match the row's content (edited)",
                "rows": 2,
            },
        )
    ]
    assert health.snapshot().reasons == (
        "audit: audit_log: BROKEN at id 2: row_hash does not match the row's content (edited)",
    )
    assert health.snapshot().level is Level.DEGRADED
