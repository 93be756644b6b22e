"""The strategy surface: typed params, a few hooks, and a context to act through.

A strategy never talks to a venue, a clock or a database directly. It reads
market and portfolio state and places orders through ``self.ctx``; the kernel
calls its hooks through a guard (``guard.py``) so a bug disables that strategy
only. Hooks return nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from genesis.core.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    OrderEvent,
    OrderFilled,
    QuoteTick,
    TimerFired,
    TradeTick,
)
from genesis.strategies.params import StrategyParams

if TYPE_CHECKING:
    from genesis.strategies.context import StrategyContext

__all__ = ["Strategy"]

P = TypeVar("P", bound=StrategyParams)


class Strategy(Generic[P]):
    """Base class for every strategy.

    Subclasses set ``Params`` to their ``StrategyParams`` model and override the
    hooks they need. ``snapshot``/``restore`` carry whatever state must survive
    a restart (default: nothing).
    """

    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(
        self, strategy_id: str, params: P, ctx: StrategyContext, instruments: tuple[str, ...]
    ) -> None:
        self.id = strategy_id
        self.params = params
        self.ctx = ctx
        self.instruments = instruments

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_bar(self, bar: Bar) -> None:
        """Called on every bar of a subscribed instrument."""

    def on_trade(self, trade: TradeTick) -> None:
        """Called on every trade print of a subscribed instrument."""

    def on_quote(self, quote: QuoteTick) -> None:
        """Called on every top-of-book change of a subscribed instrument."""

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        """Called after the data engine applied a book update (``ctx.market.book``)."""

    def on_fill(self, fill: OrderFilled) -> None:
        """Called for each fill of this strategy's orders, after the portfolio saw it."""

    def on_order(self, event: OrderEvent) -> None:
        """Called for every other lifecycle event of this strategy's orders."""

    def on_timer(self, timer: TimerFired) -> None:
        """Called when a timer set through ``ctx.set_timer`` fires."""

    def on_stop(self) -> None:
        """Called once after the last event."""

    def snapshot(self) -> bytes:
        """Serialise the state needed to resume after a restart."""
        return json.dumps(self._state()).encode()

    def restore(self, data: bytes) -> None:
        """Restore the state written by ``snapshot``."""
        self._load_state(json.loads(data))

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        return None
