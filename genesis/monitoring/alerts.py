"""Rule-based alerts with severities (OP-3): to the log, to notifications, to the dashboard.

An alert is a rule (``health``, ``feed_stale``, ``drawdown``, ``strategy_error``,
``error_log``, ``kill_switch``, ``journal``), a subject within the rule (a strategy,
a log event; usually empty), a severity (info, warning, critical) and a sentence.
Each rule is a small method here, fed by the daemon's callbacks and health tick;
a rule with a state (health, feed, drawdown) speaks on a change only, and its way
back to normal is an info alert that *resolves* it.

Rate limiting, per (rule, subject), every ``interval_s``:

* a problem is let through when none was in the interval, or when it is more
  severe than the one that was (an escalation is never held back);
* a recovery is let through when the last alert let through was a problem (the
  operator's last word must be the true state); a flapping feed therefore says
  "stale", then "back", and then nothing until the interval has passed;
* what is held back is counted, and the next alert let through says how many
  ("3 similar alerts suppressed") and carries ``suppressed=3``.

An alert let through is logged once (event ``alert`` with rule, severity,
message), kept for ``recent()`` (the API and dashboard) and, when it is at least
``min_severity`` (a recovery: when the problem it resolves was), queued for the
notifiers (``notify.Delivery``: off the trading loop). Held-back alerts are
logged at debug only. Messages are scrubbed of the process's secrets before they
leave: a strategy's exception text goes to a third-party service.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genesis.core.events import BreakerCleared, BreakerTripped, KillSwitchChanged, StrategyErrored
from genesis.daemon.health import Health, HealthSnapshot, Level
from genesis.logs import make_redactor
from genesis.monitoring.notify import AppriseNotifier, Delivery, Notifier

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertingLog",
    "Alerts",
    "Severity",
]

# log events with a rule of their own: never alerted a second time as an error line
_COVERED = frozenset(
    {"kill_switch_engaged", "journal_unavailable", "alert", "alert_delivery_failed"}
)


class Severity(enum.IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Severity:
        """``info`` / ``warning`` / ``critical``, any case.

        Raises:
            ValueError: another name.
        """
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"alert severity must be info, warning or critical, was {name!r}"
            ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertConfig:
    """How alerts are limited and where they go; ``urls`` and ``secrets`` are never shown."""

    urls: tuple[str, ...] = field(default=(), repr=False)
    min_severity: Severity = Severity.WARNING
    interval_s: float = 300.0  # per (rule, subject)
    drawdown_pct: Decimal = Decimal("0.05")  # of peak equity: warning; twice that: critical
    queue_size: int = 100
    timeout_s: float = 10.0  # one notification, at most
    recent_size: int = 200
    secrets: tuple[str, ...] = field(default=(), repr=False)  # scrubbed from messages


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert let through (``at``: wall-clock Unix seconds)."""

    rule: str
    subject: str
    severity: Severity
    message: str
    at: float
    suppressed: int = 0
    resolves: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Genesis {self.severity.name}: {self.rule}"

    @property
    def body(self) -> str:
        if not self.suppressed:
            return self.message
        return f"{self.message} ({self.suppressed} similar alerts suppressed)"

    @property
    def severity_name(self) -> str:
        return self.severity.label

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``at`` as ISO-8601 UTC, the severity by name."""
        return {
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity.label,
            "message": self.message,
            "suppressed": self.suppressed,
            "resolves": self.resolves,
            "fields": dict(self.fields),
        }


@dataclass(slots=True)
class _Limit:
    problem_at: float | None = None  # monotonic time of the last problem let through
    problem: Severity = Severity.INFO  # its severity
    last_resolved: bool = True  # the last alert let through was a recovery (or none yet)
    suppressed: int = 0


class Alerts:
    """The rules, the limiter, the recent list, and the delivery queue; see the module."""

    def __init__(
        self,
        config: AlertConfig,
        log: Any,
        *,
        notifier: Notifier | None = None,
        on_alert: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """``notifier`` defaults to apprise on ``config.urls`` (none without URLs);
        ``on_alert(rule, severity)`` is told of every alert raised (the metrics).

        Raises:
            ConfigError: a URL apprise does not support, or bad queue settings.
        """
        self.config = config
        self._log = log
        if notifier is None and config.urls:
            notifier = AppriseNotifier(config.urls)
        self.delivery = Delivery(
            notifier,
            log,
            queue_size=config.queue_size,
            timeout_s=config.timeout_s,
            log_interval_s=config.interval_s,
            clock=clock,
        )
        self._on_alert = on_alert
        self._clock = clock
        self._wall = wall
        self._scrub = make_redactor(config.secrets)
        self._limits: dict[tuple[str, str], _Limit] = {}
        self._recent: deque[Alert] = deque(maxlen=max(config.recent_size, 1))
        self._health = Level.HEALTHY
        self._feed = Level.HEALTHY
        self._drawdown = 0  # 0 under the threshold, 1 past it, 2 past twice it
        self._peak: Decimal | None = None

    # --- raising ----------------------------------------------------------------------

    def fire(
        self,
        rule: str,
        severity: Severity,
        message: str,
        *,
        subject: str = "",
        resolves: bool = False,
        **fields: Any,
    ) -> Alert | None:
        """Raise an alert; return it when let through, None when the limiter held it back."""
        if self._on_alert is not None:
            self._on_alert(rule, severity.label)
        clean: Any = self._scrub(None, "", {"message": message, "fields": fields})
        message, fields = str(clean["message"]), dict(clean["fields"])
        limit = self._limits.setdefault((rule, subject), _Limit())
        notify = self._admit(limit, severity, resolves)
        if notify is None:
            limit.suppressed += 1
            self._log.debug("alert_suppressed", rule=rule, subject=subject or None)
            return None
        alert = Alert(
            rule, subject, severity, message, self._wall(), limit.suppressed, resolves, fields
        )
        limit.suppressed = 0
        self._recent.append(alert)
        log = {Severity.INFO: self._log.info, Severity.WARNING: self._log.warning}
        log.get(severity, self._log.critical)(
            "alert",
            rule=rule,
            severity=severity.label,
            message=message,
            subject=subject or None,
            suppressed=alert.suppressed,
            resolves=resolves,
            **fields,
        )
        if notify:
            self.delivery.offer(alert)
        return alert

    def _admit(self, limit: _Limit, severity: Severity, resolves: bool) -> bool | None:
        """None: hold back; else whether to notify. Updates the limiter when let through."""
        now = self._clock()
        floor = self.config.min_severity
        if resolves:
            if limit.last_resolved:
                return None
            limit.last_resolved = True
            return severity >= floor or limit.problem >= floor
        recent = limit.problem_at is not None and now - limit.problem_at < self.config.interval_s
        if recent and severity <= limit.problem:
            return None
        limit.problem_at, limit.problem, limit.last_resolved = now, severity, False
        return severity >= floor

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` alerts let through, newest first (``limit`` <= 0: none; at
        most ``recent_size`` are kept)."""
        if limit <= 0:
            return []
        newest = list(self._recent)[-limit:]
        return [a.as_dict() for a in reversed(newest)]

    async def run(self, stopping: Any) -> None:
        """The delivery task (one per daemon, in its TaskGroup)."""
        await self.delivery.run(stopping)

    async def close(self) -> None:
        """Deliver what the stop raised (within one notification timeout)."""
        await self.delivery.flush()

    def watching(self, log: Any) -> AlertingLog:
        """``log``, with every error and critical line also raised as an ``error_log`` alert."""
        return AlertingLog(log, self.log_line)

    # --- the rules --------------------------------------------------------------------

    def health(self, snapshot: HealthSnapshot) -> None:
        """``health``: the overall level changed (DEGRADED warning, CRITICAL critical)."""
        level, before = snapshot.level, self._health
        if level is before:
            return
        self._health = level
        reasons = "; ".join(snapshot.reasons)
        if level is Level.HEALTHY:
            self.fire("health", Severity.INFO, f"health back to HEALTHY (was {before.name})",
                      resolves=True)  # fmt: skip
        else:
            severity = Severity.CRITICAL if level is Level.CRITICAL else Severity.WARNING
            self.fire("health", severity, f"health {level.name}: {reasons}", status=level.name)

    def feed(self, report: Health | None) -> None:
        """``feed_stale``: the market data stopped (warning) or came back (info)."""
        level = Level.HEALTHY if report is None else report.level
        if level is self._feed:
            return
        self._feed = level
        if level is Level.HEALTHY:
            self.fire("feed_stale", Severity.INFO, "market data flowing again", resolves=True)
        else:
            reason = report.reason if report is not None else ""
            self.fire("feed_stale", Severity.WARNING, f"feed stale: {reason}")

    def kill_switch(self, notice: KillSwitchChanged) -> None:
        """``kill_switch``: engaged (critical) or reset (info)."""
        source = notice.source or "unknown"
        if notice.engaged:
            how = " and flattening" if notice.flatten else ""
            message = f"kill switch engaged{how} by {source}: {notice.reason}"
            self.fire("kill_switch", Severity.CRITICAL, message, source=source)
        else:
            message = f"kill switch reset: {notice.reason}"
            self.fire("kill_switch", Severity.INFO, message, resolves=True, source=source)

    def breaker(self, notice: BreakerTripped | BreakerCleared) -> None:
        """``breaker``: a circuit breaker paused a strategy or the engine (warning; critical
        for the engine), or its cool-down ended (info)."""
        subject = notice.strategy_id or notice.scope
        if isinstance(notice, BreakerTripped):
            severity = Severity.CRITICAL if notice.scope == "engine" else Severity.WARNING
            message = f"circuit breaker {notice.code} paused {subject}: {notice.reason}"
            self.fire("breaker", severity, message, subject=subject, code=notice.code)
        else:
            message = f"circuit breaker {notice.code} cleared for {subject}"
            self.fire("breaker", Severity.INFO, message, subject=subject, resolves=True)

    def strategy_error(self, fault: StrategyErrored) -> None:
        """``strategy_error``: a strategy hook raised; the strategy is disabled (critical)."""
        self.fire(
            "strategy_error",
            Severity.CRITICAL,
            f"strategy {fault.strategy_id} raised {fault.error_type} in {fault.hook}:"
            f" {fault.message}; it is disabled (its positions keep their exits)",
            subject=fault.strategy_id,
        )

    def journal_fault(self, error: str) -> None:
        """``journal``: the database stopped committing; trading pauses (critical)."""
        self.fire("journal", Severity.CRITICAL,
                  f"journal unavailable, trading paused until it commits: {error}")  # fmt: skip

    def journal_recovered(self, outage_s: float) -> None:
        self.fire("journal", Severity.INFO, f"journal committing again after {outage_s:.1f} s",
                  resolves=True)  # fmt: skip

    def equity(self, equity: Decimal) -> None:
        """``drawdown``: equity below its peak (since the start) by the threshold (warning),
        twice the threshold (critical); resolved under half the threshold."""
        peak = self._peak = equity if self._peak is None else max(self._peak, equity)
        if peak <= 0:
            return
        threshold = self.config.drawdown_pct
        drawdown = (peak - equity) / peak
        level = 2 if drawdown >= 2 * threshold else 1 if drawdown >= threshold else 0
        if level == 0 and self._drawdown and drawdown >= threshold / 2:
            level = self._drawdown  # hysteresis: resolved only well under the threshold
        if level == self._drawdown:
            return
        text = f"drawdown {float(drawdown):.2%} from peak equity {peak} (equity {equity})"
        self._drawdown = level
        if level == 0:
            self.fire("drawdown", Severity.INFO, f"{text}: back under the threshold",
                      resolves=True)  # fmt: skip
        else:
            severity = Severity.CRITICAL if level == 2 else Severity.WARNING
            limit = f"{float(threshold * level):.2%}"
            self.fire("drawdown", severity, f"{text}, past {limit}", drawdown=float(drawdown))

    def log_line(self, level: str, event: str, fields: Mapping[str, Any]) -> None:
        """``error_log``: an error (warning) or critical (critical) log line, per event name,
        unless a rule of its own covers that event."""
        if event in _COVERED:
            return
        severity = Severity.CRITICAL if level == "critical" else Severity.WARNING
        detail = ", ".join(f"{k}={v}" for k, v in fields.items())
        message = f"{level} {event}: {detail}" if detail else f"{level} {event}"
        self.fire("error_log", severity, message[:500], subject=event)


class AlertingLog:
    """A logger that also hands its error and critical lines to a callback."""

    def __init__(self, log: Any, on_line: Callable[[str, str, Mapping[str, Any]], None]) -> None:
        self._log = log
        self._on_line = on_line

    def error(self, event: str, *args: Any, **fields: Any) -> Any:
        result = self._log.error(event, *args, **fields)
        self._on_line("error", event, fields)
        return result

    def critical(self, event: str, *args: Any, **fields: Any) -> Any:
        result = self._log.critical(event, *args, **fields)
        self._on_line("critical", event, fields)
        return result

    def exception(self, event: str, *args: Any, **fields: Any) -> Any:
        result = self._log.exception(event, *args, **fields)
        self._on_line("error", event, fields)
        return result

    def bind(self, **values: Any) -> AlertingLog:
        return AlertingLog(self._log.bind(**values), self._on_line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)
