"""The live daemon's allocation part: reads ``live-allocations.json`` at start and on change.

The file sits in the data directory (``genesis.paper.ledger`` writes it when the
operator approves a promotion and at each granted step). At construction the
file is read and its entries are installed as the risk engine's last check
(``genesis.risk.allocation``), before any strategy starts. The watcher task
(watchfiles, as the strategy config watcher) re-reads it on every change and
queues the new entries on the operator lane, so they apply between two market
events, never inside one:

* accepted: ``live_allocations_applied`` (a log line and an audit row: the file's
  SHA-256, each strategy's step and amount, and the governed strategies left
  without an entry, whose entries are refused: said once per change);
* deleted: the same with no entries (fail closed: an approval is what lets a
  governed strategy trade, and no file is no approval);
* unreadable or invalid: ``live_allocations_rejected`` (an error line and an
  audit row naming the file, entry and field); the previous allocations stay.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import watchfiles

from genesis.config.models import StrategyConfig
from genesis.errors import ConfigError
from genesis.risk.allocation import Allocation, LiveAllocations, parse_allocations

__all__ = ["APPLIED", "REJECTED", "AllocationWatcher"]

APPLIED = "live_allocations_applied"
REJECTED = "live_allocations_rejected"


class AllocationWatcher:
    """See the module docstring. ``daemon``: the ``genesis.daemon.Daemon`` (typed loosely:
    the daemon imports this module)."""

    def __init__(self, daemon: Any, path: Path) -> None:
        self.d = daemon
        self.path = path
        versions: Mapping[str, StrategyConfig] = daemon.versions  # the running configs
        self.cap = LiveAllocations(lambda sid: _governed(versions, sid))
        self.cap.attach(daemon.kernel.portfolio, daemon.kernel.oms.open_orders)
        self._pending: list[tuple[str, dict[str, Any]]] = []  # journaled once the task runs
        self.sha256: str | None = None  # of the bytes in force ("" no file; None: none yet)
        self._read()
        daemon.kernel.risk.add_check(self.cap.check)

    async def run(self, stopping: asyncio.Event) -> None:
        """Journal what was read at start, then watch the file until ``stopping``."""
        self._flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        name = self.path.name

        def ours(_: watchfiles.Change, changed: str) -> bool:
            return Path(changed).name == name

        async for _ in watchfiles.awatch(
            self.path.parent, watch_filter=ours, stop_event=stopping, debounce=200
        ):
            self.d.operator_lane.append(self.reload)
            self.d.wake()

    async def reload(self) -> None:
        """Re-read the file (on the trading loop, between two events) and journal it."""
        self._read()
        self._flush()

    def _read(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError) as exc:
            self._rejected(f"{self.path}: unreadable: {exc}")
            return
        sha = "" if text is None else hashlib.sha256(text.encode()).hexdigest()
        if sha == self.sha256:
            return  # what is in force already (a touch, or the rename's second event)
        try:
            entries = {} if text is None else parse_allocations(text, str(self.path))
        except ConfigError as exc:
            self._rejected(str(exc))
            return
        self.sha256 = sha
        self.cap.replace(entries)
        self._applied(entries, missing=text is None)

    def _applied(self, entries: Mapping[str, Allocation], missing: bool) -> None:
        refused = sorted(sid for sid in self.d.versions
                         if sid not in entries and self.cap.governs(sid))  # fmt: skip
        detail = {
            "file": str(self.path), "missing": missing, "sha256": self.sha256,
            "allocations": {sid: a.fields() for sid, a in entries.items()},
            "not_allocated": refused,
        }  # fmt: skip
        self.d.log.info(APPLIED, **detail)
        self._pending.append((APPLIED, detail))

    def _rejected(self, reason: str) -> None:
        kept = {sid: str(a.amount) for sid, a in self.cap.entries.items()}
        detail = {"file": str(self.path), "reason": reason, "kept": kept}
        self.d.log.error(REJECTED, **detail)
        self._pending.append((REJECTED, detail))

    def _flush(self) -> None:
        journal = self.d.journal
        rows, self._pending = self._pending, []
        if journal is not None:
            for action, detail in rows:
                journal.audit(action, detail, self.d.kernel.clock.now_ns())


def _governed(versions: Mapping[str, StrategyConfig], strategy_id: str) -> bool:
    config = versions.get(strategy_id)
    return config is not None and config.promotion is not None
