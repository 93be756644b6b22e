"""The health tick's side of monitoring: read the daemon's state, refresh gauges, run rules.

Called by the daemon's health task (``tick``, once per ``health_interval_s``), once after
recovery (``baseline``: what a rebuild counted is not this process's doing; a kill switch
still engaged at the start is said again) and once at the stop (``tick``, so a scrape
after the run sees final figures). Nothing here runs per market event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from genesis.daemon.health import HealthMonitor
from genesis.kernel.kernel import Kernel
from genesis.monitoring.alerts import Alerts, Severity
from genesis.monitoring.metrics import Metrics, QueueDepth

__all__ = ["Observed", "baseline", "tick"]


class Observed(Protocol):
    """The parts of the daemon monitoring reads (the ``Daemon`` has them all)."""

    kernel: Kernel
    inbound: Any  # BoundedQueue: statistics()
    journal: Any  # Journal | None: writer.statistics()
    health: HealthMonitor
    metrics: Metrics
    alerts: Alerts
    config: Any  # DaemonConfig: instruments, instrument_ids


def baseline(daemon: Observed) -> None:
    """After recovery, before trading: counters start from the rebuilt kernel's counts."""
    kernel = daemon.kernel
    daemon.metrics.baseline(dict(kernel.risk.rejections), len(kernel.errors))
    if kernel.risk.kill_switch is not None:
        daemon.alerts.fire(
            "kill_switch",
            Severity.CRITICAL,
            f"kill switch engaged at start (from before the restart): {kernel.risk.kill_switch}",
        )
    tick(daemon)


def tick(daemon: Observed) -> None:
    """Refresh every gauge and statistics-fed counter; evaluate the state rules."""
    metrics, alerts, kernel = daemon.metrics, daemon.alerts, daemon.kernel
    snapshot = daemon.health.snapshot()
    metrics.refresh_feed(_queues(daemon), int(snapshot.level))
    metrics.refresh_rejections(kernel.risk.rejections)
    for fault in metrics.new_errors(kernel.errors):
        alerts.strategy_error(fault)
    equity = _equity(kernel)
    metrics.refresh_account(
        currency=_currency(daemon),
        equity=equity,
        pnl=_pnl(kernel),
        slippage={
            sid: kernel.performance.of(sid).average_slippage_bps
            for sid in sorted(kernel.strategies)
        },
        open_positions=len(kernel.portfolio.open_position_keys()),
        kill_switch=kernel.risk.kill_switch is not None,
    )
    metrics.refresh_risk(kernel.risk_report())
    alerts.health(snapshot)
    alerts.feed(daemon.health.report_of("feed"))
    if equity is not None:
        alerts.equity(equity)


def _queues(daemon: Observed) -> list[QueueDepth]:
    inbound = daemon.inbound.statistics()
    queues = [QueueDepth("inbound", inbound.depth, inbound.maxsize)]
    if daemon.journal is not None:
        writer = daemon.journal.writer.statistics()
        queues.append(QueueDepth("journal", writer.depth, writer.max_depth))
    return queues


def _equity(kernel: Kernel) -> Decimal | None:
    try:
        equity: Decimal = kernel.portfolio.equity()
    except Exception:  # a monitoring read never stops the health task
        return None
    return equity


def _pnl(kernel: Kernel) -> dict[str, tuple[Decimal, Decimal]]:
    """(realised, unrealised) per strategy, summed over its instruments."""
    pnl: dict[str, tuple[Decimal, Decimal]] = {}
    for sid in sorted(kernel.strategies):
        realized = unrealized = Decimal(0)
        for position in kernel.portfolio.positions(sid):
            realized += position.realized_pnl
            unrealized += position.unrealized_pnl
        pnl[sid] = (realized, unrealized)
    return pnl


def _currency(daemon: Observed) -> str:
    ids = daemon.config.instrument_ids
    return str(daemon.config.instruments.get(ids[0]).quote) if ids else "USDT"
