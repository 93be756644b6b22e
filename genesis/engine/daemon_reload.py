"""Hot reload of strategy parameters (R19): watch the files, validate, apply between events.

Mixed into the daemon. An edited file is validated first; a refused edit is
logged and audited and the running version stays. An accepted one is queued
on the inbound queue, so it is applied between two market events, never
inside one, and journaled with the event index for a recovery rebuild.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import watchfiles

from genesis.config.loader import load_strategy_config
from genesis.config.models import StrategyConfig
from genesis.daemon.reload import ConfigChange, refusal, where
from genesis.errors import ConfigError
from genesis.strategies import registry

if TYPE_CHECKING:
    from genesis.engine.daemon import DaemonConfig, Inbound
    from genesis.kernel.kernel import Kernel
    from genesis.daemon.queues import BoundedQueue

__all__ = ["DaemonReload"]


class DaemonReload:
    """The config watcher task and the application of a validated change."""

    config: DaemonConfig
    log: Any
    kernel: Kernel
    stopping: asyncio.Event
    inbound: BoundedQueue[Inbound]
    events: int
    _versions: dict[str, StrategyConfig]

    def _audit(self, action: str, detail: dict[str, Any]) -> None: ...
    def _store_version(self, config: StrategyConfig) -> None: ...

    async def _config_task(self) -> None:
        directory = self.config.strategies_dir
        if directory is None:
            return
        async for changes in watchfiles.awatch(directory, stop_event=self.stopping, debounce=200):
            for change, name in sorted(changes):
                if change is not watchfiles.Change.deleted and name.endswith((".yaml", ".yml")):
                    await self._reload(Path(name))

    async def _reload(self, path: Path) -> None:
        """Validate an edited file; queue a parameter change, or log why it is refused."""
        try:
            new = load_strategy_config(path)
        except ConfigError as exc:
            self._rejected(where(str(exc), path))
            return
        old = self._versions.get(new.id)
        refused = refusal(old, new)
        if refused is not None:
            self._rejected({"file": str(path), "line": 1, **refused})
        elif old is not None and old.version_id() != new.version_id():
            await self.inbound.put(ConfigChange(new, str(path)))

    def _rejected(self, detail: dict[str, Any]) -> None:
        """Log a refused edit and keep it in the audit log (R19); the running version stays."""
        self.log.warning("config_rejected", **detail)
        self._audit("config_rejected", detail)

    def _apply(self, change: ConfigChange) -> None:
        new = change.config
        spec = registry.get(new.strategy)
        params = registry.parse_params(spec, new.params, source=change.path)
        old = self._versions[new.id]
        self.kernel.replace_params(new.id, params)
        self._versions[new.id] = new
        detail = {"event_index": self.events, "config": new.model_dump(mode="json")}
        self._audit("config_applied", {**detail, "sha256": new.version_id()})
        self._store_version(new)
        self.log.info(
            "config_applied", strategy_id=new.id, file=change.path,
            old_version=old.version_id(), new_version=new.version_id(), params=new.params,
        )  # fmt: skip
