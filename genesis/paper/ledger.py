"""The operator's side of promotions: list, approve, reject; and the live allocation file.

The journal's audit log is the only state (``promotion.fold``). Approval and
rejection are written by the operator alone, through the API (actor ``api``) or
``genesis promotion`` (actor ``operator``); a promotion is never approved by the
code. What an approval changes, besides its audit row:

* the live allocation file (``$GENESIS_DATA_DIR/live-allocations.json``) gets the
  strategy's entry: its promotion, granted step, fraction and amount of the target
  (quote currency, exact decimal strings); the monitor rewrites it at each later
  step; a rejection of an approved promotion removes the entry (revoked). The file
  is replaced atomically (write, fsync, rename), so a reader never sees half of it.

One ``asyncio.Lock`` per ledger orders the daemon's own writers (the API and the
monitor) so a step and a rejection never interleave; the CLI in another process
writes one row (a race with a step written in the same instant leaves both rows,
and ``fold`` applies them in journal order).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genesis.errors import GenesisError
from genesis.paper.promotion import (
    APPROVED,
    REJECTED,
    Decision,
    Promotion,
    Status,
    fold,
)
from genesis.storage.repository import AuditRecord, Repository

__all__ = ["ALLOCATIONS_FILE", "PromotionLedger", "PromotionRefused", "read_allocations"]

ALLOCATIONS_FILE = "live-allocations.json"


class PromotionRefused(GenesisError):
    """An operator's decision that cannot apply: ``status`` (HTTP) and ``code`` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def read_allocations(path: Path) -> dict[str, Any]:
    """The live allocation file as a mapping (empty when it does not exist)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


class PromotionLedger:
    """Reads promotions from ``repo`` and records decisions; see the module docstring."""

    def __init__(self, repo: Repository, allocations: Path) -> None:
        self.repo = repo
        self.allocations = allocations
        self.lock = asyncio.Lock()

    async def promotions(self) -> list[Promotion]:
        """Every promotion, oldest proposal first."""
        found = fold(await self.repo.audit_log(0))
        return sorted(found.values(), key=lambda p: (p.proposed_ns, p.promotion_id))

    async def approve(self, promotion_id: str, actor: str, reason: str, ts_ns: int) -> Promotion:
        """Grant step 1 of a proposed promotion and write its live allocation.

        Raises:
            PromotionRefused: 422 empty reason, 404 unknown id, 409 not PROPOSED.
        """
        async with self.lock:
            promotion = await self._proposal(promotion_id, reason, {Status.PROPOSED})
            first = promotion.steps[0]
            detail = {"promotion_id": promotion_id, "strategy_id": promotion.strategy_id,
                      "reason": reason.strip(), **first.fields()}  # fmt: skip
            await self._write(ts_ns, actor, [Decision(APPROVED, detail)])
            return await self._after(promotion_id)

    async def reject(self, promotion_id: str, actor: str, reason: str, ts_ns: int) -> Promotion:
        """Reject a proposal, or revoke an approved one (its allocation entry is removed).

        Raises:
            PromotionRefused: 422 empty reason, 404 unknown id, 409 already rejected or
                completed.
        """
        open_ = {Status.PROPOSED, Status.APPROVED, Status.HELD}
        async with self.lock:
            promotion = await self._proposal(promotion_id, reason, open_)
            detail = {"promotion_id": promotion_id, "strategy_id": promotion.strategy_id,
                      "reason": reason.strip(), "revoked_step": promotion.step}  # fmt: skip
            await self._write(ts_ns, actor, [Decision(REJECTED, detail)])
            return await self._after(promotion_id)

    async def record(self, ts_ns: int, actor: str, decisions: Sequence[Decision]) -> None:
        """Write the monitor's rows (proposals, steps, holds) and refresh the allocations.
        The caller holds ``lock`` across its read and this write."""
        await self._write(ts_ns, actor, decisions)

    async def _proposal(self, promotion_id: str, reason: str, allowed: set[Status]) -> Promotion:
        if not reason.strip():
            raise PromotionRefused(422, "reason_required", "a decision needs a non-empty reason")
        found = fold(await self.repo.audit_log(0)).get(promotion_id)
        if found is None:
            raise PromotionRefused(404, "unknown_promotion", f"no promotion {promotion_id!r}")
        if found.status not in allowed:
            raise PromotionRefused(
                409, "promotion_not_open",
                f"promotion {promotion_id!r} is {found.status.value}; nothing changed",
            )  # fmt: skip
        return found

    async def _write(self, ts_ns: int, actor: str, decisions: Sequence[Decision]) -> None:
        records = [
            AuditRecord(ts_ns, actor, d.action, json.dumps(d.detail, sort_keys=True))
            for d in decisions
        ]
        await self.repo.write_batch(records)
        self.write_allocations(await self.promotions())

    async def _after(self, promotion_id: str) -> Promotion:
        return next(p for p in await self.promotions() if p.promotion_id == promotion_id)

    def write_allocations(self, promotions: Sequence[Promotion]) -> None:
        """Rewrite the allocation file from the promotions: one entry per strategy with a
        granted step (the newest promotion of each wins)."""
        entries: dict[str, Any] = {}
        for p in promotions:
            granted = p.granted
            if granted is None or p.status == Status.REJECTED:
                entries.pop(p.strategy_id, None)
                continue
            entries[p.strategy_id] = {
                "promotion_id": p.promotion_id, "status": p.status.value,
                "step": granted.index, "of_steps": len(p.steps),
                "fraction": str(granted.fraction), "amount": str(granted.amount),
                "target": p.criteria.get("target"),
            }  # fmt: skip
        if not entries and not self.allocations.exists():
            return
        _replace(self.allocations, json.dumps(entries, indent=2, sort_keys=True) + "\n")


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable where possible
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
