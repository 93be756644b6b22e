"""Hot reload of strategy parameters (R19): what may change live, the watcher, refusals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import watchfiles

from genesis.config.loader import load_strategy_config
from genesis.config.models import StrategyConfig
from genesis.errors import ConfigError

__all__ = ["ConfigChange", "ConfigWatcher", "refusal", "where"]


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


class ConfigWatcher:
    """The config watcher part: validates edited files and queues accepted changes.

    A refused edit is logged and audited and the running version stays; an
    accepted one is put on the inbound queue, so the daemon applies it between
    two market events, never inside one.
    """

    def __init__(
        self,
        directory: Path | None,
        versions: dict[str, StrategyConfig],
        put: Callable[[ConfigChange], Awaitable[None]],
        on_rejected: Callable[[dict[str, Any]], None],
        overlay: Path | None = None,
    ) -> None:
        """``overlay``: the environment's directory (``genesis.config.overlay``), merged
        over each file and watched too (an edit there reloads the strategy it overlays)."""
        self.directory = directory
        self.overlay = overlay
        self.versions = (
            versions  # the running version of each strategy id (shared, updated on apply)
        )
        self._put = put
        self._rejected = on_rejected

    async def run(self, stopping: asyncio.Event) -> None:
        """Watch until ``stopping`` is set (returns at once without a directory)."""
        if self.directory is None:
            return
        watched = [self.directory]
        if self.overlay is not None and self.overlay.is_dir():
            watched.append(self.overlay)
        async for changes in watchfiles.awatch(*watched, stop_event=stopping, debounce=200):
            for change, name in sorted(changes):
                if change is not watchfiles.Change.deleted and name.endswith((".yaml", ".yml")):
                    await self.reload(self._base_of(Path(name)))

    def _base_of(self, path: Path) -> Path:
        """An overlay file's strategy file (same name in the strategies directory)."""
        overlay, directory = self.overlay, self.directory
        if overlay is None or directory is None or path.parent.resolve() != overlay.resolve():
            return path
        return directory / path.name

    async def reload(self, path: Path) -> None:
        """Validate an edited file; queue a parameter change, or report why it is refused."""
        try:
            new = load_strategy_config(path, self.overlay)
        except ConfigError as exc:
            self._rejected(where(str(exc), path))
            return
        old = self.versions.get(new.id)
        refused = refusal(old, new)
        if refused is not None:
            self._rejected({"file": str(path), "line": 1, **refused})
        elif old is not None and old.version_id() != new.version_id():
            await self._put(ConfigChange(new, str(path)))
