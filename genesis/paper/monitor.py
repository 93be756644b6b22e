"""The paper daemon's promotion part: evaluates each strategy's criteria continuously.

Every ``poll_s`` of wall time (never inside a market event) it reads the
promotions from the journal, evaluates every strategy whose running config has
a ``promotion:`` section on the kernel's completed trades at the kernel's clock
(event time), and writes what ``promotion.decide`` calls for: a proposal with its
evidence and schedule, a granted step, or a hold. Rows are written with the event
time and actor ``paper``; each is a log line, and a proposal, a hold and a
regression are alerts (``promotion`` and ``regression`` rules). Nothing here
approves anything: that is the operator's (``ledger``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from genesis.config.models import StrategyConfig
from genesis.errors import StorageError
from genesis.monitoring.alerts import Severity
from genesis.paper.ledger import PromotionLedger
from genesis.paper.promotion import (
    HELD,
    PROPOSED,
    REGRESSION,
    STEP,
    Decision,
    decide,
    evaluate,
    regression,
)
from genesis.portfolio.performance import TradeRecord

__all__ = ["PromotionMonitor"]

ACTOR = "paper"


class PromotionMonitor:
    """See the module docstring. ``alerts``: the daemon's ``Alerts`` (``fire``)."""

    def __init__(self, ledger: PromotionLedger, alerts: Any, log: Any, poll_s: float = 1.0):
        self.ledger = ledger
        self.alerts = alerts
        self.log = log
        self.poll_s = poll_s
        self.regressed: dict[str, str] = {}  # strategy -> why, while it stays regressed

    async def check(
        self,
        configs: Mapping[str, StrategyConfig],
        trades: Sequence[TradeRecord],
        now_ns: int,
    ) -> list[Decision]:
        """One pass over every strategy with criteria; return the rows it wrote."""
        judged = {sid: c.promotion for sid, c in sorted(configs.items()) if c.promotion}
        if not judged:
            return []
        trades = list(trades)  # the kernel appends while this awaits the journal
        decisions: list[Decision] = []
        async with self.ledger.lock:
            promotions = await self.ledger.promotions()
            for sid, criteria in judged.items():
                evaluation = evaluate([t for t in trades if t.strategy_id == sid], criteria, now_ns)
                decisions += decide(sid, promotions, evaluation, criteria)
                decisions += self._regression(sid, regression(evaluation, criteria), evaluation)
            if decisions:
                await self.ledger.record(now_ns, ACTOR, decisions)
        for decision in decisions:
            self._announce(decision)
        return decisions

    def _regression(self, sid: str, why: str | None, evaluation: Any) -> list[Decision]:
        if why is None:
            if self.regressed.pop(sid, None) is not None:
                self.alerts.fire("regression", Severity.INFO, f"strategy {sid} is back within"
                                 " its backtest interval", subject=sid, resolves=True)  # fmt: skip
            return []
        if sid in self.regressed:
            return []  # said once while it lasts
        self.regressed[sid] = why
        detail = {"strategy_id": sid, "reason": why, "evidence": evaluation.evidence.fields()}
        return [Decision(REGRESSION, detail)]

    def _announce(self, d: Decision) -> None:
        sid = d.detail["strategy_id"]
        pid = d.detail.get("promotion_id")
        self.log.info(d.action, **{k: v for k, v in d.detail.items() if k != "criteria"})
        if d.action == PROPOSED:
            self.alerts.fire("promotion", Severity.INFO, f"strategy {sid} meets its promotion"
                             f" criteria: approve with `genesis promotion approve {pid}`",
                             subject=sid)  # fmt: skip
        elif d.action == STEP:
            self.alerts.fire("promotion", Severity.INFO, f"promotion {pid}: step"
                             f" {d.detail['step']} granted, allocation {d.detail['amount']}",
                             subject=sid)  # fmt: skip
        elif d.action == HELD:
            failures = "; ".join(d.detail["failures"])
            self.alerts.fire("promotion", Severity.WARNING, f"promotion {pid} held at step"
                             f" {d.detail['step']}: {failures}", subject=sid)  # fmt: skip
        elif d.action == REGRESSION:
            self.alerts.fire("regression", Severity.WARNING, f"strategy {sid} regressed:"
                             f" {d.detail['reason']}", subject=sid)  # fmt: skip

    async def run(self, daemon: Any, stopping: asyncio.Event) -> None:
        """Check every ``poll_s`` until ``stopping``; a journal fault is the writer's to
        report (the next pass tries again). ``daemon``: the ``genesis.daemon.Daemon``
        (typed loosely: the daemon imports this module)."""
        while not stopping.is_set():
            if not daemon.quiet and daemon.driver.started and daemon.halted is None:
                kernel = daemon.kernel
                with contextlib.suppress(StorageError):
                    await self.check(daemon.versions, kernel.performance.completed,
                                     kernel.clock.now_ns())  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)
