"""Hot reload of strategy parameters: what may change live, and how refusals are reported."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genesis.config.models import StrategyConfig

__all__ = ["ConfigChange", "refusal", "where"]


_FIXED_WHILE_RUNNING = ("strategy", "tier", "instruments", "enabled", "requires_stop_loss")


def refusal(old: StrategyConfig | None, new: StrategyConfig) -> dict[str, str] | None:
    """Why a valid file cannot be applied to the running daemon, or None."""
    if old is None:
        return {"field": "id", "reason": f"{new.id!r} is not running; new instances need a restart"}
    changed = [f for f in _FIXED_WHILE_RUNNING if getattr(old, f) != getattr(new, f)]
    if changed:
        return {"field": ",".join(changed), "reason": "only params change while running"}
    return None


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A validated parameter edit, queued to be applied between market events."""

    config: StrategyConfig
    path: str


_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<rest>.*)$", re.DOTALL)


def where(message: str, path: Path) -> dict[str, Any]:
    """Split the loader's ``file:line: field: reason`` message into log fields."""
    match = _WHERE.match(message)
    if match is None:
        return {"file": str(path), "line": None, "field": None, "reason": message}
    field_name, _, reason = match["rest"].partition(": ")
    return {
        "file": match["file"],
        "line": int(match["line"]),
        "field": field_name,
        "reason": reason,
    }
