"""The daemon's operator controls: the durable kill switch (P10) and journal faults (R17).

Mixed into the daemon. Kill and reset requests come from the journal (see
``genesis.daemon.control``) and are applied between two market events; a
recovery rebuild re-applies the handled ones at the event index where they
happened, so a restart comes up exactly as killed as it went down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from genesis.config.models import StrategyConfig
from genesis.core.commands import Command
from genesis.daemon.control import CLEARED, ENGAGED, KILL, ControlRequest, pending_requests
from genesis.daemon.health import Health, HealthMonitor, Level
from genesis.errors import StorageError
from genesis.storage.repository import AuditRecord

if TYPE_CHECKING:
    from genesis.kernel.driver import Replay
    from genesis.engine.daemon import DaemonConfig, Inbound
    from genesis.kernel.kernel import Kernel
    from genesis.daemon.queues import BoundedQueue
    from genesis.risk.monitor import DailyLossMonitor
    from genesis.storage.repository import SqlRepository
    from genesis.storage.writer import BatchingWriter

__all__ = ["DaemonControl", "recovery_actions"]


def recovery_actions(
    audits: list[AuditRecord],
) -> tuple[dict[str, Any], list[tuple[int, AuditRecord]]]:
    """The session's starting configs and the (event index, action)s to re-apply, in order.

    Automatic kill-switch engagements are left out: the rebuild re-derives them.
    """
    start: dict[str, Any] = {}
    actions: list[tuple[int, int, AuditRecord]] = []
    for n, audit in enumerate(audits):
        detail = json.loads(audit.detail_json)
        if audit.action == "session_started":
            start = start or detail["configs"]
        elif audit.action == ENGAGED and detail.get("source") != "operator":
            continue
        elif "event_index" in detail:
            actions.append((int(detail["event_index"]), n, audit))
    actions.sort(key=lambda a: a[:2])
    return start, [(index, a) for index, _, a in actions]


class DaemonControl:
    """Kill/reset requests and journal-fault reporting; see the module docstring."""

    config: DaemonConfig
    log: Any
    kernel: Kernel
    replay: Replay
    health: HealthMonitor
    stopping: asyncio.Event
    inbound: BoundedQueue[Inbound]
    journal: BatchingWriter | None
    daily_loss: DailyLossMonitor
    events: int
    _repo: SqlRepository | None
    _requests_seen: set[str]

    def _audit(self, action: str, detail: dict[str, Any]) -> None: ...
    def _checkpoint(self) -> None: ...
    async def _send_outbox(self) -> None: ...
    def _set_params(self, config: StrategyConfig) -> None: ...

    async def _control_task(self) -> None:
        """Queue the kill/reset requests written into the journal by ``genesis kill|reset``."""
        if self._repo is None:
            return
        while not self.stopping.is_set():
            try:
                audits = await self._repo.audit_log(0)
            except StorageError:
                audits = []  # the journal is down: its fault is reported by the writer
            for request in pending_requests(audits):
                if request.request_id not in self._requests_seen:
                    self._requests_seen.add(request.request_id)
                    self.log.warning(
                        "control_request_received", action=request.action,
                        request_id=request.request_id, reason=request.reason,
                    )  # fmt: skip
                    await self.inbound.put(request)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.config.control_poll_s)

    async def _control(self, request: ControlRequest) -> None:
        """Apply a request between two events and journal it with the event index."""
        detail: dict[str, Any] = {"reason": request.reason}
        if request.action == KILL:
            commands = self._engage(f"operator: {request.reason}", request.flatten)
            self.replay.send(commands)
            await self._send_outbox()
            action = ENGAGED
            detail.update(source="operator", flatten=request.flatten)
            self.health.report(Health("risk", Level.CRITICAL, f"kill switch: {request.reason}"))
            self.log.critical(
                action, request_id=request.request_id, cancels=len(commands), **detail
            )
        else:
            self._reset_kill_switch()
            action = CLEARED
            self.health.report(Health("risk", Level.HEALTHY))
            self.log.warning(action, request_id=request.request_id, **detail)
        # before the strategies started (a request written while the daemon was down) the
        # rebuild must apply it before on_start too: index -1
        index = self.events if self.replay.started else -1
        self._audit(action, {**detail, "request_id": request.request_id, "event_index": index})
        if self.replay.started:
            self._checkpoint()  # a restart must rebuild to (at least) here, so it stays killed
        if self.journal is not None:
            await self.journal.flush()  # handled once: durable before the next event

    async def _apply_pending_requests(self, repo: SqlRepository) -> None:
        """Kills and resets written while the daemon was down: applied before trading starts."""
        for request in pending_requests(await repo.audit_log(0)):
            if request.request_id not in self._requests_seen:
                self._requests_seen.add(request.request_id)
                await self._control(request)

    def _engage(self, reason: str, flatten: bool) -> list[Command]:
        self.kernel.risk.engage_kill_switch(reason)
        return list(self.kernel.flatten() if flatten else self.kernel.cancel_all())

    def _reset_kill_switch(self) -> None:
        self.kernel.risk.reset_kill_switch()
        self.daily_loss.rebase(self.kernel.portfolio.equity())

    def _journal_fault(self, exc: StorageError) -> None:
        """Fail closed (R17): orders wait for their intent's commit, so trading pauses."""
        self.health.report(Health("journal", Level.CRITICAL, f"journal unavailable: {exc}"))
        self.log.critical("journal_unavailable", error=str(exc), trading="paused until it commits")

    def _journal_recovered(self, outage_s: float) -> None:
        self.health.report(Health("journal", Level.HEALTHY))
        self.log.warning("journal_recovered", outage_s=round(outage_s, 3))

    def _replay_action(self, audit: AuditRecord) -> None:
        """Re-apply one journaled config change, kill or reset during a recovery rebuild."""
        detail = json.loads(audit.detail_json)
        if audit.action == "config_applied":
            self._set_params(StrategyConfig.model_validate(detail["config"]))
        elif audit.action == ENGAGED:
            self.replay.send(self._engage(f"operator: {detail['reason']}", detail["flatten"]))
            self._execute_outbox_now()
            self.health.report(Health("risk", Level.CRITICAL, f"kill switch: {detail['reason']}"))
        elif audit.action == CLEARED:
            self._reset_kill_switch()
            self.health.report(Health("risk", Level.HEALTHY))

    def _execute_outbox_now(self) -> None:
        while self.replay.outbox:
            self.replay.execute(self.replay.outbox.pop(0))
