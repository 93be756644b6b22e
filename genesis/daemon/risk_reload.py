"""Hot reload of the compliance rules (SPEC RK-6, CF-3): the risk config file, watched.

The daemon reads the risk config (``GENESIS_RISK_CONFIG``, ``config/risk.yaml``) at
start. While it runs, this part watches the file (watchfiles, as the strategy
config watcher) and, on a change, queues a re-read on the operator lane, so the
file is validated and applied between two market events, never inside one:

* the whole file is validated as at start (``parse_risk_config``); an invalid
  file changes nothing: ``risk_config_rejected`` (an error line and an audit row
  with the file, line, field and reason, and the rule set kept in force);
* the ``compliance:`` section is what applies live: when it differs from the one
  in force (by the SHA-256 of its validated, canonical JSON, so comments and
  layout do not count), the active set is put in force in the risk engine
  (``RiskEngine.set_compliance``) and ``compliance_rules_applied`` is logged and
  journaled (audit row: the rule set, the previous one, both hashes, the event
  index and the whole section, which a paper restart and a session replay
  re-apply at that index). An ``active: ""`` (or an empty set) removes the check
  from the engine's list: no compliance work at all, as at a start without one;
* ``tiers`` and ``measures`` stay what the daemon started with (the kernel's
  limits, breakers and samplers are built from them once): an edit of them is
  reported, not ignored: ``risk_config_needs_restart`` (a warning and an audit
  row naming each field that differs from the running values), and the
  compliance section of the same file still applies;
* a deleted or unreadable file is rejected the same way (the rules stay: a rule
  is never lifted by a file going missing).

The order-rate rule's window (the account's recent orders) is kept across a
reload while some rule set stays in force (``ComplianceCheck.replace``); a
reload to no rules drops it, and a later set starts counting afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import watchfiles
import yaml

from genesis.daemon.reload import where
from genesis.errors import ConfigError
from genesis.risk.config import ComplianceModel, RiskConfig, parse_risk_config

__all__ = [
    "APPLIED",
    "NEEDS_RESTART",
    "REJECTED",
    "RiskConfigWatcher",
    "compliance_sha256",
    "restart_fields",
]

APPLIED = "compliance_rules_applied"
REJECTED = "risk_config_rejected"
NEEDS_RESTART = "risk_config_needs_restart"
_START_ONLY = ("tiers", "measures")


def compliance_sha256(section: ComplianceModel) -> str:
    """SHA-256 of the validated section as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(section.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def restart_fields(running: RiskConfig, new: RiskConfig) -> list[str]:
    """The start-up-only fields (``tiers.*``, ``measures.*``) whose values differ."""
    old_doc, new_doc = running.model_dump(mode="json"), new.model_dump(mode="json")
    changed: list[str] = []
    for section in _START_ONLY:
        _diff(old_doc.get(section), new_doc.get(section), section, changed)
    return changed


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _diff(old.get(key), new.get(key), f"{path}.{key}", out)
    elif old != new:
        out.append(path)


class RiskConfigWatcher:
    """See the module docstring. ``daemon``: the ``genesis.daemon.Daemon`` (typed loosely:
    the daemon imports this module); ``path`` None: nothing is watched, but the rules in
    force are still tracked (a paper restart re-applies the journaled ones)."""

    def __init__(self, daemon: Any, path: Path | None) -> None:
        self.d = daemon
        self.path = path
        self.started: RiskConfig = daemon.config.risk or RiskConfig()  # the kernel's
        self.section = self.started.compliance  # in force
        self.sha256 = compliance_sha256(self.section)
        self._file_sha: str | None = None  # the bytes last judged (an editor saves twice)

    @property
    def rule_set(self) -> str:
        """The active rule set's name ("" for none)."""
        return self.section.active

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch the file until ``stopping``; each change is read on the trading loop."""
        path = self.path
        if path is None:
            return
        name = path.name

        def ours(_: watchfiles.Change, changed: str) -> bool:
            return Path(changed).name == name

        async for _ in watchfiles.awatch(
            path.parent, watch_filter=ours, stop_event=stopping, debounce=200
        ):
            self.d.operator_lane.append(self.reload)
            self.d.wake()

    async def reload(self) -> None:
        """Re-read the file (between two events): apply, report or reject it."""
        if self.path is None:
            return
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            self._file_sha = None
            reason = "the file is missing" if isinstance(exc, FileNotFoundError) else exc.strerror
            self._rejected({"file": str(self.path), "line": None, "field": None,
                            "reason": f"cannot read the risk config: {reason}"})  # fmt: skip
            return
        file_sha = hashlib.sha256(raw).hexdigest()
        if file_sha == self._file_sha:
            return  # judged already (a touch, or the rename's second event)
        self._file_sha = file_sha
        try:
            new = parse_risk_config(raw.decode("utf-8"), str(self.path))
        except UnicodeDecodeError as exc:
            self._rejected({"file": str(self.path), "line": None, "field": None,
                            "reason": f"not UTF-8 text: {exc.reason}"})  # fmt: skip
            return
        except ConfigError as exc:
            self._rejected(where(str(exc), self.path))
            return
        lifted = self._lifts_silently(raw)
        if lifted is not None:
            self._rejected({"file": str(self.path), "line": None, "field": "compliance",
                            "reason": lifted})  # fmt: skip
            return
        changed = restart_fields(self.started, new)
        if changed:
            self._needs_restart(changed)
        self.apply(new.compliance, str(self.path))

    def _lifts_silently(self, raw: bytes) -> str | None:
        """Why a parsed edit that would lift the rules in force is refused: an empty,
        comment-only or cut-off file (a truncating save, ``> risk.yaml``) parses as the
        defaults, which have no rules. Lifting them takes an explicit ``active: ""``."""
        if not self.rule_set:
            return None  # no rules in force: nothing to lift
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError:  # parse_risk_config accepted it: not reached
            return None
        section = document.get("compliance") if isinstance(document, dict) else None
        if isinstance(section, dict) and "active" in section:
            return None
        return (
            f"the file has no compliance.active (empty, comment-only or cut off?); rule set"
            f" {self.rule_set!r} stays in force. To lift every rule, write"
            ' compliance: {active: ""}'
        )

    def apply(self, section: ComplianceModel, source: str) -> bool:
        """Put ``section``'s active set in force, logged and journaled; False when it is
        the one in force already (nothing done)."""
        sha = compliance_sha256(section)
        if sha == self.sha256:
            return False
        previous, previous_sha = self.rule_set, self.sha256
        self.restore(section)
        detail = {
            "file": source, "rule_set": self.rule_set, "sha256": sha,
            "previous_rule_set": previous, "previous_sha256": previous_sha,
            "checked": self.d.kernel.risk.compliance is not None,
            "event_index": self.d.events, "compliance": section.model_dump(mode="json"),
        }  # fmt: skip
        self.d.log.info(APPLIED, **{k: v for k, v in detail.items() if k != "compliance"})
        self._audit(APPLIED, detail)
        return True

    def restore(self, section: ComplianceModel) -> None:
        """Put ``section`` in force silently (a rebuild re-applying the journal)."""
        self.d.kernel.risk.set_compliance(section.active_rules())
        self.section = section
        self.sha256 = compliance_sha256(section)

    def _needs_restart(self, fields: list[str]) -> None:
        detail = {
            "file": str(self.path), "fields": fields,
            "reason": "tier limits, breakers and measures are read at start-up: restart the"
            " daemon to apply them; the running values stay",
        }  # fmt: skip
        self.d.log.warning(NEEDS_RESTART, **detail)
        self._audit(NEEDS_RESTART, detail)

    def _rejected(self, detail: dict[str, Any]) -> None:
        detail = {**detail, "kept_rule_set": self.rule_set, "kept_sha256": self.sha256}
        self.d.log.error(REJECTED, **detail)
        self._audit(REJECTED, detail)

    def _audit(self, action: str, detail: dict[str, Any]) -> None:
        journal = self.d.journal
        if journal is not None and not self.d.quiet:
            journal.audit(action, detail, self.d.kernel.clock.now_ns())
