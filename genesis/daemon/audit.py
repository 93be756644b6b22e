"""Start-up check of the journal's hash chain (genesis.storage.chain, SPEC RK-6).

The daemon walks the chain of every chained table once, after opening the
journal and before trading. A break is logged as an error (``audit_chain_broken``,
naming the table, the first broken row's id and why: an alert like any error
line) and reported as a DEGRADED ``audit`` component, so ``/health`` carries it
until the operator has looked; trading goes on (the chain is evidence about the
past, not a risk to the next order). The result is kept for ``/health``.
"""

from __future__ import annotations

from typing import Any

from genesis.daemon.health import Health, HealthMonitor, Level
from genesis.storage.chain import ChainStatus
from genesis.storage.repository import SqlRepository

__all__ = ["verify_at_start"]


async def verify_at_start(
    repo: SqlRepository, log: Any, health: HealthMonitor
) -> list[ChainStatus]:
    """Verify every chained table; log and report what is found.

    Raises:
        StorageError: the journal cannot be read (as any start-up read).
    """
    found = await repo.verify_chain()
    broken = [s for s in found if not s.ok]
    for status in broken:
        log.error(
            "audit_chain_broken",
            table=status.table,
            row_id=status.broken_id,
            reason=status.reason,
            rows=status.rows,
        )
    if broken:
        reason = "; ".join(s.describe() for s in broken)
        health.report(Health("audit", Level.DEGRADED, reason))
    else:
        log.info(
            "audit_chain_verified",
            **{s.table: {"rows": s.rows, "legacy": s.legacy, "head": s.head} for s in found},
        )
    return found
