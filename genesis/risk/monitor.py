"""The kill switch and the daily-loss limit (RK-1 max daily loss, RK-2), in event time.

The kernel owns one ``KillSwitch``. It is changed only by the kernel's
commands (``EngageKillSwitch``, ``ResetKillSwitch``) and by the daily-loss
check the kernel runs after every market event, in every mode (a backtest
with a tier trips it exactly as paper and live do). Each change returns the
events that say so (``KillSwitchChanged``, ``DailyLossBaseline``), which the
shell journals; nothing here reads a clock or does I/O, so a recovery
rebuild that replays the same events and commands reaches the same state.

The daily loss is measured from the equity at the first event of each UTC
day. Past the limit the switch engages (new exposure denied, exits allowed)
and stays engaged, across days and restarts, until an operator resets it;
the reset measures the day's loss again from the equity at the reset. A
live restart cannot replay, so it ``restore``s the day's journaled baseline:
otherwise a crash loop would re-measure the day from each restart's equity
and the limit would never trip.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from genesis.core.events import DailyLossBaseline, Event, KillSwitchChanged

__all__ = ["DailyLossMonitor", "KillSwitch", "day_end_ns", "day_of"]

_DAY_NS: Final = 86_400 * 1_000_000_000
_NO_FLOOR = Decimal("-Infinity")
_MARGIN = Decimal("1e-9")


def day_of(now_ns: int) -> int:
    """The UTC day number of a ns timestamp, as the monitor counts days."""
    return now_ns // _DAY_NS


def day_end_ns(now_ns: int) -> int:
    """The first ns of the UTC day after the one ``now_ns`` is in."""
    return (now_ns // _DAY_NS + 1) * _DAY_NS


class DailyLossMonitor:
    """The day's baseline equity and the loss limit measured from it."""

    def __init__(self, limit: Decimal, start_equity: Decimal) -> None:
        if not Decimal(0) < limit < Decimal(1):
            raise ValueError(f"daily loss limit must be a fraction in (0, 1), was {limit}")
        self.limit = limit
        self.day: int | None = None
        self.day_start = start_equity
        # the equity object last measured and its verdict: most events move nothing
        self._measured: Decimal | None = None
        self._verdict: str | None = None

    def update(self, now_ns: int, equity: Decimal) -> tuple[bool, str | None]:
        """After an event: (the baseline moved to a new day, the breach sentence or None)."""
        day = now_ns // _DAY_NS
        if day != self.day:
            self.day, self.day_start = day, equity
            self._measured = None
            return True, None
        if equity is not self._measured:
            self._measured, self._verdict = equity, self._breach(equity)
        return False, self._verdict

    def quiet_above(self) -> Decimal:
        """An equity above which ``update`` finds no breach this day: the limit's equity
        raised by a billionth of the baseline, a margin no 28-digit rounding of the loss
        can cross (so a check skipped above it decides exactly what ``update`` would)."""
        if self.day_start <= 0:
            return _NO_FLOOR  # a baseline <= 0 measures nothing: never a breach
        return self.day_start * (1 - self.limit) + self.day_start * _MARGIN

    def _breach(self, equity: Decimal) -> str | None:
        if self.day_start <= 0:
            return None
        loss = (self.day_start - equity) / self.day_start
        if loss > self.limit:
            return f"daily loss {loss:.4%} exceeds {self.limit:.2%}"
        return None

    def rebase(self, equity: Decimal) -> None:
        """After an operator's reset: today's loss counts from ``equity``, not the day's start."""
        self.day_start = equity
        self._measured = None

    def restore(self, day: int, day_start: Decimal) -> None:
        """Continue a day measured before a restart: its loss counts from ``day_start``.

        Raises:
            ValueError: ``day_start`` is not a finite equity > 0 (it divides every check).
        """
        if not day_start.is_finite() or day_start <= 0:
            raise ValueError(f"day start equity must be a finite decimal > 0, was {day_start}")
        self.day, self.day_start = day, day_start
        self._measured = None


class KillSwitch:
    """Engaged or clear, with the reason and source; optionally watching the daily loss."""

    def __init__(self, daily_loss: DailyLossMonitor | None = None) -> None:
        self.daily_loss = daily_loss
        self.reason: str | None = None  # while engaged: new exposure is blocked
        self.source = ""

    def engage(
        self, now_ns: int, reason: str, source: str, request_id: str = "", flatten: bool = False
    ) -> KillSwitchChanged:
        """Engage (again, if already engaged: the newest reason wins)."""
        self.reason, self.source = reason, source
        return KillSwitchChanged(
            ts_event=now_ns, ts_init=now_ns, engaged=True, reason=reason, source=source,
            request_id=request_id, flatten=flatten,
        )  # fmt: skip

    def reset(self, now_ns: int, reason: str, request_id: str, equity: Decimal) -> list[Event]:
        """Clear it; the day's loss counts from ``equity`` from now on."""
        self.reason, self.source = None, ""
        events: list[Event] = [
            KillSwitchChanged(
                ts_event=now_ns,
                ts_init=now_ns,
                engaged=False,
                reason=reason,
                source="operator",
                request_id=request_id,
            )
        ]
        monitor = self.daily_loss
        if monitor is not None and monitor.day is not None:
            monitor.rebase(equity)
            events.append(self._baseline(now_ns, monitor))
        return events

    def on_equity(self, now_ns: int, equity: Decimal) -> list[Event]:
        """The daily-loss check after a market event; the events it causes (usually none)."""
        monitor = self.daily_loss
        if monitor is None:
            return []
        new_day, breach = monitor.update(now_ns, equity)
        if new_day:
            return [self._baseline(now_ns, monitor)]
        if breach is None or self.reason is not None:
            return []
        return [self.engage(now_ns, breach, "daily_loss")]

    def restore_baseline(self, now_ns: int, day: int, day_start: Decimal) -> DailyLossBaseline:
        """A live restart continues the day measured before it (see the module docstring).

        Raises:
            ValueError: no daily-loss limit, or ``day_start`` is not a finite equity > 0.
        """
        if self.daily_loss is None:
            raise ValueError("no daily loss limit to restore a baseline for")
        self.daily_loss.restore(day, day_start)
        return self._baseline(now_ns, self.daily_loss)

    @staticmethod
    def _baseline(now_ns: int, monitor: DailyLossMonitor) -> DailyLossBaseline:
        assert monitor.day is not None
        return DailyLossBaseline(
            ts_event=now_ns, ts_init=now_ns, day=monitor.day, day_start_equity=monitor.day_start
        )
