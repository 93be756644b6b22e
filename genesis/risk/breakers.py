"""Circuit breakers and tilt protection (SPEC RK-3), in event time.

Four breakers, each with its limit and cool-down in ``BreakerLimits``:

* ``BREAKER_LOSS_STREAK``: a run of losing round trips of one strategy (net
  P&L after fees < 0; a trade at or above zero ends it) at least ``loss_streak``
  long and less likely than ``loss_streak_odds`` at the strategy's loss rate
  before the run began, ``(losses + 10) / (trades + 20)`` (a 50% prior worth 20
  trades), pauses that strategy: tilt is a streak its own record cannot explain;
* ``BREAKER_DRAWDOWN_VELOCITY``: equity at a sample is ``drawdown_velocity_pct``
  below the highest equity sampled within the last ``drawdown_window_s``
  (samples are the ``EventSampler``'s, one per interval of event time): the
  whole engine pauses;
* ``BREAKER_ORDER_RATE``: more than ``max_orders`` orders of one strategy
  approved within ``order_window_s`` pause it (the order over the limit is
  refused; exits count too, since they are orders sent, but are never refused);
* ``BREAKER_REJECTION_RATE``: more than ``max_rejections`` refusals of one
  strategy's orders (by the risk checks or by the venue) within
  ``rejection_window_s`` pause it. Refusals by a breaker or the kill switch do
  not count: a paused strategy must not keep itself paused.

A pause lasts its cool-down, measured on the kernel's clock, so a backtest
pauses exactly where paper and live would. Meanwhile the scope's entries are
refused with the breaker's code; exits always pass. A trip and its end come
out as ``BreakerTripped`` / ``BreakerCleared`` notices (the daemon journals
them); a live restart ``restore``s the pauses still running from the journal.
Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from genesis.core.events import BreakerCleared, BreakerTripped, Event
from genesis.risk.limits import BreakerLimits

__all__ = ["ENGINE", "STRATEGY", "CircuitBreakers", "Trip"]

ENGINE, STRATEGY = "engine", "strategy"
_NS = 1_000_000_000
_NEVER: Final = 2**63 - 1
_UNCOUNTED = frozenset({"KILL_SWITCH"})  # and every BREAKER_* code
_PRIOR_LOSSES, _PRIOR_TRADES = 10, 20  # a 50% loss rate worth 20 trades


@dataclass(frozen=True, slots=True)
class Trip:
    """One running pause."""

    scope: str
    strategy_id: str  # "" for the engine
    code: str
    reason: str
    since_ns: int
    until_ns: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: scope, strategy, code, reason, since_ns, until_ns."""
        return {
            "scope": self.scope,
            "strategy": self.strategy_id or None,
            "code": self.code,
            "reason": self.reason,
            "since_ns": self.since_ns,
            "until_ns": self.until_ns,
        }


class CircuitBreakers:
    """The breakers' counters and running pauses; ``notify`` receives every notice."""

    def __init__(
        self, limits: BreakerLimits, notify: Callable[[Event], None] | None = None
    ) -> None:
        self.limits = limits
        self.notify: Callable[[Event], None] = notify or (lambda _: None)
        self.on_trip: Callable[[Trip], None] = lambda _: None  # the kernel cancels entries
        self.trips: dict[tuple[str, str, str], Trip] = {}  # (scope, strategy, code) -> pause
        self.next_expiry_ns = _NEVER
        self._streaks: dict[str, int] = {}
        self._record: dict[str, tuple[int, int]] = {}  # strategy -> (trades, losses) before
        self._orders: dict[str, deque[int]] = {}
        self._rejections: dict[str, deque[int]] = {}
        self._drawdown_from_ns = 0  # samples before a cleared drawdown pause are not re-read

    # --- the gate -----------------------------------------------------------

    def refusal(self, strategy_id: str, now_ns: int, expire: bool = True) -> tuple[str, str] | None:
        """The (code, sentence) refusing an entry of ``strategy_id`` now, or None.

        ``expire=False`` (a what-if) ends no pause: an ended one is only skipped."""
        if expire and now_ns >= self.next_expiry_ns:
            self.expire(now_ns)
        if not self.trips:
            return None
        for trip in self.trips.values():  # insertion order: the oldest pause speaks
            if trip.until_ns <= now_ns:
                continue  # ended (a what-if leaves it for the next real check to clear)
            if trip.scope == ENGINE or trip.strategy_id == strategy_id:
                who = "the engine" if trip.scope == ENGINE else f"strategy {strategy_id}"
                return (
                    trip.code,
                    f"{who} is paused until {_utc(trip.until_ns)} (event time): {trip.reason};"
                    " exits still pass",
                )
        return None

    # --- what the kernel tells it --------------------------------------------

    def on_approved(self, strategy_id: str, now_ns: int) -> tuple[str, str] | None:
        """An order of ``strategy_id`` passed every check; the one that takes the count
        over ``max_orders`` in the window trips the breaker and is itself refused."""
        limit = self.limits.max_orders
        if limit <= 0:
            return None
        count = _count(self._orders, strategy_id, now_ns, self.limits.order_window_s)
        if count <= limit:
            return None
        self._orders[strategy_id].clear()
        window, cool = self.limits.order_window_s, self.limits.order_cooldown_s
        reason = f"{count} orders within {window}s, more than the {limit} allowed"
        self._trip(STRATEGY, strategy_id, "BREAKER_ORDER_RATE", reason, now_ns, cool)
        return self.refusal(strategy_id, now_ns)

    def on_rejected(self, strategy_id: str, code: str, now_ns: int) -> None:
        """An order of ``strategy_id`` was refused (risk or venue) with ``code``."""
        limit = self.limits.max_rejections
        if limit <= 0 or code in _UNCOUNTED or code.startswith("BREAKER_"):
            return
        count = _count(self._rejections, strategy_id, now_ns, self.limits.rejection_window_s)
        if count > limit:
            self._rejections[strategy_id].clear()
            window, cool = self.limits.rejection_window_s, self.limits.rejection_cooldown_s
            reason = f"{count} orders refused within {window}s, more than the {limit} allowed"
            self._trip(STRATEGY, strategy_id, "BREAKER_REJECTION_RATE", reason, now_ns, cool)

    def on_trade(self, strategy_id: str, net_pnl: Decimal, now_ns: int) -> None:
        """A round trip of ``strategy_id`` completed with ``net_pnl`` (after fees)."""
        limit = self.limits.loss_streak
        if limit <= 0:
            return
        trades, losses = self._record.get(strategy_id, (0, 0))
        if net_pnl >= 0:
            streak = self._streaks.pop(strategy_id, 0)
            self._record[strategy_id] = (trades + streak + 1, losses + streak)
            return
        streak = self._streaks[strategy_id] = self._streaks.get(strategy_id, 0) + 1
        rate = (losses + _PRIOR_LOSSES) / (trades + _PRIOR_TRADES)
        odds = rate**streak
        if streak >= limit and odds < self.limits.loss_streak_odds:
            self._streaks.pop(strategy_id)
            self._record[strategy_id] = (trades + streak, losses + streak)
            reason = (
                f"{streak} losing round trips in a row: {odds:.2e} likely at its loss rate"
                f" {rate:.0%} before the streak (limit {self.limits.loss_streak_odds:.0e})"
            )
            cool = self.limits.loss_streak_cooldown_s
            self._trip(STRATEGY, strategy_id, "BREAKER_LOSS_STREAK", reason, now_ns, cool)

    def on_sample(self, now_ns: int, times: Sequence[int], equity: Sequence[float]) -> None:
        """After the sampler took a sample: the drawdown velocity over the window."""
        pct = float(self.limits.drawdown_velocity_pct)
        if pct <= 0 or not equity or (ENGINE, "", "BREAKER_DRAWDOWN_VELOCITY") in self.trips:
            return
        start = max(now_ns - self.limits.drawdown_window_s * _NS, self._drawdown_from_ns)
        peak = max((e for t, e in zip(times, equity, strict=True) if t >= start), default=0.0)
        now_equity = equity[-1]
        if peak <= 0 or (peak - now_equity) / peak < pct:
            return
        reason = (
            f"equity fell {(peak - now_equity) / peak:.2%} (from {peak:.2f} to"
            f" {now_equity:.2f}) within {self.limits.drawdown_window_s}s; the limit is {pct:.2%}"
        )
        cool = self.limits.drawdown_cooldown_s
        self._trip(ENGINE, "", "BREAKER_DRAWDOWN_VELOCITY", reason, now_ns, cool)

    # --- pauses ---------------------------------------------------------------

    def expire(self, now_ns: int) -> None:
        """Clear every pause whose cool-down has ended (a ``BreakerCleared`` each)."""
        for key, trip in list(self.trips.items()):
            if trip.until_ns <= now_ns:
                del self.trips[key]
                if trip.code == "BREAKER_DRAWDOWN_VELOCITY":
                    self._drawdown_from_ns = now_ns
                self.notify(
                    BreakerCleared(
                        ts_event=now_ns, ts_init=now_ns, scope=trip.scope,
                        strategy_id=trip.strategy_id, code=trip.code,
                        reason=f"cool-down ended: {trip.reason}",
                    )
                )  # fmt: skip
        self.next_expiry_ns = min((t.until_ns for t in self.trips.values()), default=_NEVER)

    def restore(self, trip: Trip, now_ns: int) -> None:
        """A live restart continues a journaled pause (state only, no trip notice); one
        whose cool-down ended meanwhile is cleared (with its notice)."""
        self.trips[(trip.scope, trip.strategy_id, trip.code)] = trip
        self.next_expiry_ns = min(self.next_expiry_ns, trip.until_ns)
        if now_ns >= self.next_expiry_ns:
            self.expire(now_ns)

    def status(self) -> list[dict[str, Any]]:
        """The running pauses, oldest first, as JSON-able dicts."""
        return [trip.as_dict() for trip in self.trips.values()]

    def _trip(
        self, scope: str, strategy_id: str, code: str, reason: str, now_ns: int, cool_s: int
    ) -> None:
        until = now_ns + cool_s * _NS
        trip = Trip(scope, strategy_id, code, reason, now_ns, until)
        self.trips[(scope, strategy_id, code)] = trip
        self.next_expiry_ns = min(self.next_expiry_ns, until)
        self.notify(
            BreakerTripped(
                ts_event=now_ns, ts_init=now_ns, scope=scope, strategy_id=strategy_id,
                code=code, reason=reason, until_ns=until,
            )
        )  # fmt: skip
        self.on_trip(trip)


def _count(windows: dict[str, deque[int]], key: str, now_ns: int, window_s: int) -> int:
    """Append ``now_ns`` to ``key``'s window, drop what fell out of it; the count left."""
    times = windows.get(key)
    if times is None:
        times = windows[key] = deque()
    times.append(now_ns)
    start = now_ns - window_s * _NS
    while times and times[0] <= start:
        times.popleft()
    return len(times)


def _utc(ns: int) -> str:
    """ns since the epoch as ``YYYY-MM-DDTHH:MM:SSZ``, without reading any clock."""
    stamp = datetime.datetime.fromtimestamp(ns // _NS, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
