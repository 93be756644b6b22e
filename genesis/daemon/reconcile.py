"""Start-up reconciliation of a live session (P5) and paper/live isolation (R23).

Pure functions over what the journal and the venue hold. Before a strategy
may trade, the daemon takes the venue's snapshot (open orders, balances, own
trades since the last journaled trade id per instrument) and:

* journals every venue fill the journal lacks (saving a fill is idempotent by
  ``(venue, symbol, trade id)``, so a repeated backfill changes nothing);
* journals the venue's balances;
* names the open orders no journaled intent placed (``unknown_orders``) and
  the halt reason they give: the daemon's own orders are known by their
  journaled intents and taken over (``genesis.daemon.recovery.LiveRecovery``),
  anything else halts the start until an operator explains it.

Across restarts the daily-loss monitor continues the day's baseline journaled
as ``daily_loss_baseline`` audit rows (a restart must not rebase the limit),
and the circuit breakers' pauses still running (``breaker_tripped`` rows not
followed by their ``breaker_cleared``) continue until their cool-down ends.

A journal holds one mode only: a live session refuses a journal that holds a
paper session, and the other way round (R23).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.core.events import BreakerCleared, BreakerTripped
from genesis.daemon.records import fill_record
from genesis.errors import ConfigError
from genesis.exchange.live import VenueOrder, VenueSnapshot
from genesis.risk.breakers import Trip
from genesis.storage.repository import AuditRecord, BalanceRecord, FillRecord

__all__ = [
    "BASELINE",
    "BREAKER_CLEARED",
    "BREAKER_TRIPPED",
    "LIVE",
    "PAPER",
    "Reconciliation",
    "baseline_detail",
    "breaker_detail",
    "check_session_mode",
    "journaled_baseline",
    "journaled_breakers",
    "last_trade_ids",
    "reconcile",
    "session_mode",
]

LIVE, PAPER = "live", "paper"
BASELINE = "daily_loss_baseline"  # audit action: the daily-loss monitor's (day, day_start)
BREAKER_TRIPPED = "breaker_tripped"  # audit action: a circuit breaker paused a scope (RK-3)
BREAKER_CLEARED = "breaker_cleared"  # audit action: its cool-down ended
_SHOWN = 5  # open orders named in a halt reason, at most


def session_mode(audits: list[AuditRecord]) -> str | None:
    """The mode of the journal's session: None for a new journal.

    Sessions journaled before modes were recorded were paper sessions.
    """
    for audit in audits:
        if audit.action == "session_started":
            try:
                detail = json.loads(audit.detail_json)
            except ValueError:
                detail = {}
            mode = detail.get("mode", PAPER) if isinstance(detail, dict) else PAPER
            return str(mode)
    return None


def check_session_mode(audits: list[AuditRecord], mode: str) -> None:
    """Refuse to run ``mode`` on a journal that holds a session of the other mode (R23).

    Raises:
        ConfigError: the journal holds the other mode's session.
    """
    held = session_mode(audits)
    if held is not None and held != mode:
        raise ConfigError(
            f"this database holds a {held} session; {mode} trading refuses to share it"
            f" (paper and live state never mix): point GENESIS_DATABASE_URL elsewhere"
        )


def last_trade_ids(fills: list[FillRecord], venue: str) -> dict[str, int]:
    """The highest journaled numeric trade id per symbol at ``venue`` (the backfill's start)."""
    last: dict[str, int] = {}
    for fill in fills:
        if fill.venue == venue and fill.trade_id.isdigit():
            last[fill.symbol] = max(last.get(fill.symbol, -1), int(fill.trade_id))
    return last


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What the start-up check found and what it journals."""

    fills: tuple[FillRecord, ...]  # venue fills the journal lacked (journaled, idempotent)
    balances: tuple[BalanceRecord, ...]
    unknown_orders: tuple[VenueOrder, ...]
    halt_reason: str | None

    @property
    def start_balances(self) -> dict[str, Decimal]:
        return {b.asset: b.free + b.locked for b in self.balances}


def reconcile(
    snapshot: VenueSnapshot,
    journaled: list[FillRecord],
    known_orders: set[str],
    venue: str,
    now_ns: int,
) -> Reconciliation:
    """Compare the venue's snapshot with the journal; see the module docstring."""
    have = {(f.venue, f.symbol, f.trade_id) for f in journaled}
    missing = tuple(
        record
        for record in (fill_record(f) for f in snapshot.fills)
        if (record.venue, record.symbol, record.trade_id) not in have
    )
    balances = tuple(
        BalanceRecord(venue, b.asset, b.free, b.locked, now_ns)
        for _, b in sorted(snapshot.balances.items())
    )
    unknown = tuple(o for o in snapshot.open_orders if o.client_order_id not in known_orders)
    return Reconciliation(missing, balances, unknown, _halt_reason(unknown))


def _halt_reason(unknown: tuple[VenueOrder, ...]) -> str | None:
    if not unknown:
        return None
    named = ", ".join(_describe(o) for o in unknown[:_SHOWN])
    more = f" and {len(unknown) - _SHOWN} more" if len(unknown) > _SHOWN else ""
    return (
        f"venue holds {len(unknown)} open order(s) this process does not know: {named}{more};"
        " cancel them (genesis kill) and reset"
    )


def _describe(order: VenueOrder) -> str:
    price = "" if order.price is None else f" @ {format(order.price, 'f')}"
    return (
        f"{order.client_order_id} ({order.instrument_id} {order.side.value}"
        f" {format(order.quantity, 'f')}{price} {order.status})"
    )


def baseline_detail(day: int, day_start: Decimal) -> dict[str, Any]:
    """The ``daily_loss_baseline`` audit detail (the equity as an exact decimal string)."""
    return {"day": day, "day_start": format(day_start, "f")}


def journaled_baseline(audits: list[AuditRecord], day: int) -> Decimal | None:
    """The last journaled baseline's day-start equity if it is for ``day``, else None.

    Malformed rows are skipped: they never change the monitor.
    """
    found: tuple[int, Decimal] | None = None
    for audit in audits:
        if audit.action != BASELINE:
            continue
        try:
            detail = json.loads(audit.detail_json)
            at, start = int(detail["day"]), Decimal(str(detail["day_start"]))
        except (ValueError, TypeError, KeyError, InvalidOperation):
            continue
        if isinstance(detail["day"], int) and start.is_finite() and start > 0:
            found = (at, start)
    return found[1] if found is not None and found[0] == day else None


def breaker_detail(notice: BreakerTripped | BreakerCleared, event_index: int) -> dict[str, Any]:
    """The ``breaker_tripped`` / ``breaker_cleared`` audit detail: the pause's status
    fields (``CircuitBreakers.status()``'s shape) and the event index."""
    detail: dict[str, Any] = {
        "scope": notice.scope,
        "strategy": notice.strategy_id or None,
        "code": notice.code,
        "reason": notice.reason,
        "event_index": event_index,
    }
    if isinstance(notice, BreakerTripped):
        detail.update(since_ns=notice.ts_event, until_ns=notice.until_ns)
    return detail


def journaled_breakers(audits: list[AuditRecord]) -> list[Trip]:
    """The pauses the journal says are running: each ``breaker_tripped`` not followed by
    its ``breaker_cleared``, oldest first. Malformed rows are skipped."""
    running: dict[tuple[str, str, str], Trip] = {}
    for audit in audits:
        if audit.action not in (BREAKER_TRIPPED, BREAKER_CLEARED):
            continue
        try:
            detail = json.loads(audit.detail_json)
            key = (str(detail["scope"]), str(detail["strategy"] or ""), str(detail["code"]))
            if audit.action == BREAKER_CLEARED:
                running.pop(key, None)
                continue
            since, until = int(detail["since_ns"]), int(detail["until_ns"])
        except (ValueError, TypeError, KeyError):
            continue
        running.pop(key, None)  # a re-trip replaces the pause, at the end of the order
        running[key] = Trip(*key, str(detail.get("reason", "")), since, until)
    return list(running.values())


def _plain(quantity: Decimal) -> str:
    """40.00000000 as "40", never in exponent notation."""
    text = format(quantity, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
