"""Health: HEALTHY / DEGRADED / CRITICAL from component reports, with reasons (ENG-6).

Components (feeds, venue client, risk monitor, queues) report their own level
and a reason; the process is as healthy as its worst component. Reports are
plain data, so the monitor is testable without an event loop; the daemon's
health task feeds it and exposes ``snapshot()`` to logs, API and systemd.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Health", "HealthMonitor", "HealthSnapshot", "Level", "queue_health"]


class Level(enum.IntEnum):
    HEALTHY = 0
    DEGRADED = 1
    CRITICAL = 2


@dataclass(frozen=True, slots=True)
class Health:
    component: str
    level: Level
    reason: str = ""


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    level: Level
    reasons: tuple[str, ...]  # "component: reason" of every component not HEALTHY

    @property
    def status(self) -> str:
        return self.level.name


class HealthMonitor:
    """The latest report of every component; the worst decides the whole."""

    def __init__(self) -> None:
        self._reports: dict[str, Health] = {}

    def report(self, health: Health) -> bool:
        """Record ``health``; return True when the overall level changed."""
        before = self.snapshot().level
        self._reports[health.component] = health
        return self.snapshot().level is not before

    def report_of(self, component: str) -> Health | None:
        """The latest report of ``component``, or None before its first."""
        return self._reports.get(component)

    def forget(self, component: str) -> None:
        self._reports.pop(component, None)

    def snapshot(self) -> HealthSnapshot:
        """Overall level and the reasons behind it, worst first, then by component name."""
        bad = sorted(
            (h for h in self._reports.values() if h.level is not Level.HEALTHY),
            key=lambda h: (-h.level, h.component),
        )
        level = bad[0].level if bad else Level.HEALTHY
        return HealthSnapshot(level, tuple(f"{h.component}: {h.reason}" for h in bad))


def queue_health(name: str, depth: int, maxsize: int) -> Health:
    """DEGRADED past 80% full, CRITICAL when full (a backlog the loop cannot drain)."""
    if depth >= maxsize:
        return Health(name, Level.CRITICAL, f"queue full ({depth}/{maxsize})")
    if depth * 5 >= maxsize * 4:
        return Health(name, Level.DEGRADED, f"queue backlog {depth}/{maxsize}")
    return Health(name, Level.HEALTHY)
