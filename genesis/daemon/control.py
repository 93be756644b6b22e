"""The durable kill switch (P10, RK-2): ``genesis kill``, ``genesis reset``, ``genesis status``.

An operator's request is an audit-log row in the daemon's journal, written
by these commands before anything else happens, so it is durable even while
the daemon is down. The daemon polls for requests it has not handled and
applies them between two market events:

* ``kill_requested``: engage the kill switch (new exposure is denied with
  ``KILL_SWITCH``; cancels and exits still flow), cancel every working order,
  optionally flatten; journaled as ``kill_switch_engaged`` with the event
  index, so a restart rebuilds it at the same point and comes up still
  killed;
* ``reset_requested``: the only way to clear it (also one engaged by the
  daily-loss monitor); journaled as ``kill_switch_reset``.

Each request carries an id; the daemon's ``kill_switch_*`` rows name the
request they handled, so every request is applied exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from genesis.errors import ConfigError, StorageError
from genesis.settings import load_settings
from genesis.storage import open_repository
from genesis.storage.factory import DEFAULT_SQLITE_NAME, LIVE_SQLITE_NAME
from genesis.storage.repository import AuditRecord, Repository

__all__ = [
    "ControlRequest",
    "KillState",
    "RequestPoller",
    "add_parser",
    "kill_state",
    "pending_requests",
    "refused_requests",
    "run",
    "venue_kills",
]

KILL, RESET = "kill_requested", "reset_requested"
ENGAGED, CLEARED = "kill_switch_engaged", "kill_switch_reset"
TRADE = "strategy_trade"  # audit row: a strategy's completed round trip and its figures
TCA = "parent_order_tca"  # audit row: a parent order's post-trade analysis
REFUSED = "kill_switch_reset_refused"  # a reset the daemon could not apply: handled, not pending
# one venue's kill switch (a request with "account"): its own rows, so the global state,
# the paper rebuild's replay and ``genesis status`` never mistake it for the global one
VENUE_ENGAGED, VENUE_CLEARED = "venue_kill_engaged", "venue_kill_reset"


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """An operator's kill or reset, as read from the audit log (or the venue's own kill:
    ``source="venue"`` when it refuses the key)."""

    action: str  # KILL or RESET
    request_id: str
    reason: str
    flatten: bool = False
    source: str = "operator"
    account: str = ""  # a venue key: that venue's kill switch only; "" the global one


@dataclass(frozen=True, slots=True)
class KillState:
    engaged: bool
    reason: str
    source: str  # "operator", "daily_loss" or ""
    pending: tuple[ControlRequest, ...]


def _detail(record: AuditRecord) -> dict[str, Any]:
    try:
        detail = json.loads(record.detail_json)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def pending_requests(audits: list[AuditRecord]) -> list[ControlRequest]:
    """Requests in the log that no ``kill_switch_*`` row has handled yet, oldest first."""
    done = (ENGAGED, CLEARED, REFUSED, VENUE_ENGAGED, VENUE_CLEARED)
    handled = {_detail(a).get("request_id") for a in audits if a.action in done} - {None}
    out = []
    for audit in audits:
        if audit.action not in (KILL, RESET):
            continue
        detail = _detail(audit)
        request_id = str(detail.get("request_id", ""))
        if request_id and request_id not in handled:
            reason = str(detail.get("reason", ""))
            flatten, account = bool(detail.get("flatten")), str(detail.get("account") or "")
            out.append(ControlRequest(audit.action, request_id, reason, flatten, account=account))
    return out


def kill_state(audits: list[AuditRecord]) -> KillState:
    """Whether the last handled action left the kill switch engaged, and what is pending."""
    engaged, reason, source = False, "", ""
    for audit in audits:
        if audit.action == ENGAGED:
            detail = _detail(audit)
            engaged, reason = True, str(detail.get("reason", ""))
            source = str(detail.get("source", ""))
        elif audit.action == CLEARED:
            engaged, reason, source = False, "", ""
    return KillState(engaged, reason, source, tuple(pending_requests(audits)))


class RequestPoller:
    """The control part: finds the operator's new requests in the journal and queues them.

    Each request is queued once (``seen``); the daemon applies it between two
    events and journals what it did, naming the request, so it is never
    applied again after a restart.
    """

    def __init__(
        self,
        repo: Repository,
        put: Callable[[ControlRequest], Awaitable[None]],
        log: Any,
        poll_s: float = 0.5,
    ) -> None:
        self.repo = repo
        self._put = put
        self.log = log
        self.poll_s = poll_s
        self.seen: set[str] = set()

    async def take_pending(self) -> list[ControlRequest]:
        """Requests not handled yet (written while the daemon was down), marked as seen."""
        found = [r for r in pending_requests(await self.repo.audit_log(0)) if self._new(r)]
        return found

    def _new(self, request: ControlRequest) -> bool:
        if request.request_id in self.seen:
            return False
        self.seen.add(request.request_id)
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Poll until ``stopping``; a journal fault is reported by the writer, not here."""
        while not stopping.is_set():
            try:
                audits = await self.repo.audit_log(0)
            except StorageError:
                audits = []
            for request in pending_requests(audits):
                if self._new(request):
                    self.log.warning(
                        "control_request_received", action=request.action,
                        request_id=request.request_id, reason=request.reason,
                    )  # fmt: skip
                    await self._put(request)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.poll_s)


def venue_kills(audits: list[AuditRecord]) -> dict[str, str]:
    """Each venue whose own kill switch the log leaves engaged, with its reason."""
    engaged: dict[str, str] = {}
    for audit in audits:
        if audit.action in (VENUE_ENGAGED, VENUE_CLEARED):
            detail = _detail(audit)
            venue = str(detail.get("account", ""))
            if audit.action == VENUE_ENGAGED:
                engaged[venue] = str(detail.get("reason", ""))
            else:
                engaged.pop(venue, None)
    return engaged


def refused_requests(audits: list[AuditRecord]) -> set[str]:
    """Ids of resets the daemon refused: handled, never applied later."""
    return {str(_detail(a).get("request_id")) for a in audits if a.action == REFUSED}


# --- command line -----------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """Register ``kill``, ``reset`` and ``status``."""
    k = sub.add_parser("kill", help="engage the kill switch of the running (or next) daemon")
    k.add_argument("--reason", required=True, help="why; kept in the audit log")
    k.add_argument("--flatten", action="store_true", help="also close every position at market")
    r = sub.add_parser("reset", help="clear the kill switch (the only way to)")
    r.add_argument("--reason", required=True, help="why it is safe to trade again")
    st = sub.add_parser("status", help="kill switch state and pending requests, as JSON")
    for p in (k, r):
        p.add_argument(
            "--account", default="", metavar="VENUE",
            help="one venue's kill switch (e.g. binance) instead of the global one",
        )  # fmt: skip
    for p in (k, r, st):
        p.add_argument(
            "--live", action="store_true",
            help="the live daemon's journal (genesis-live.db) instead of the paper one",
        )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Write the request into the journal (durable at once) or print the state."""
    settings = load_settings()
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return asyncio.run(_run(args, url, settings.data_dir))


async def _run(args: argparse.Namespace, url: str | None, data_dir: Any) -> int:
    name = LIVE_SQLITE_NAME if args.live else DEFAULT_SQLITE_NAME
    repo = await open_repository(url, data_dir, name)
    try:
        if args.command == "status":
            audits = await repo.audit_log(0)
            status = {
                **_state_json(kill_state(audits)),
                "venue_kill_switches": venue_kills(audits),
                "strategies": _performance(audits),
            }
            print(json.dumps(status, sort_keys=True))
            return 0
        reason = args.reason.strip()
        if not reason:
            raise ConfigError(f"genesis {args.command}: --reason must not be empty")
        if not any(a.action == "session_started" for a in await repo.audit_log(0)):
            which = "live" if args.live else "paper"
            hint = "" if args.live else "; for the live daemon add --live"
            raise ConfigError(
                f"no daemon session in the {which} journal ({_location(repo)}): nothing would "
                f"apply this request{hint}"
            )
        request_id = f"{args.command}-{time.time_ns()}-{secrets.token_hex(3)}"
        detail = {"request_id": request_id, "reason": reason}
        if args.command == "kill":
            detail["flatten"] = bool(args.flatten)
        if args.account:
            detail["account"] = args.account.strip().lower()
        action = KILL if args.command == "kill" else RESET
        record = AuditRecord(time.time_ns(), "operator", action, json.dumps(detail, sort_keys=True))
        await repo.write_batch([record])
    finally:
        await repo.close()
    print(json.dumps({"requested": args.command, **detail}, sort_keys=True))
    print(
        f"genesis {args.command}: recorded; the daemon applies it within a second", file=sys.stderr
    )
    return 0


def _location(repo: Any) -> str:
    """The SQLite file or the PostgreSQL URL with its password redacted."""
    return str(getattr(repo, "path", None) or getattr(repo, "where", "the database"))


def _performance(audits: list[AuditRecord]) -> dict[str, Any]:
    """Each strategy's running figures as its last completed trade left them."""
    latest: dict[str, Any] = {}
    for audit in audits:
        if audit.action == TRADE:
            detail = json.loads(audit.detail_json)
            latest[detail["strategy_id"]] = {**detail["performance"], "last_trade_ns": audit.ts_ns}
    return latest


def _state_json(state: KillState) -> dict[str, Any]:
    return {
        "kill_switch": "engaged" if state.engaged else "clear",
        "reason": state.reason,
        "source": state.source,
        "pending": [
            {"action": p.action, "request_id": p.request_id, "reason": p.reason}
            for p in state.pending
        ],
    }
