"""The fence around user strategy code: an exception disables that strategy only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis.core.events import StrategyErrored
from genesis.strategies.base import Strategy

__all__ = ["StrategyGuard"]


class StrategyGuard:
    """Tracks which strategies are enabled and turns their exceptions into events."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self.disabled: dict[str, StrategyErrored] = {}

    def is_enabled(self, strategy: Strategy[Any]) -> bool:
        return strategy.id not in self.disabled

    def call(
        self, strategy: Strategy[Any], hook: Callable[..., None], *args: Any
    ) -> StrategyErrored | None:
        """Run ``hook(*args)`` unless the strategy is disabled.

        Returns:
            The ``StrategyErrored`` event when the hook raised (the strategy is
            now disabled), else None.
        """
        if strategy.id in self.disabled:
            return None
        try:
            hook(*args)
        except Exception as exc:
            return self.fault(strategy, hook.__name__, exc)
        return None

    def fault(self, strategy: Strategy[Any], hook: str, exc: Exception) -> StrategyErrored:
        """Disable ``strategy`` after ``exc`` escaped ``hook``; log and return the event."""
        now = strategy.ctx.clock.now_ns()
        event = StrategyErrored(
            ts_event=now,
            ts_init=now,
            strategy_id=strategy.id,
            hook=hook,
            error_type=type(exc).__name__,
            message=str(exc),
        )
        self.disabled[strategy.id] = event
        self._log.error(
            "strategy_disabled",
            strategy_id=strategy.id,
            hook=hook,
            error_type=event.error_type,
            error=event.message,
        )
        return event
