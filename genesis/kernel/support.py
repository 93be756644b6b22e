"""The kernel's small helpers: the portfolio facade a strategy sees, event ids, commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderEvent
from genesis.core.orders import Order

__all__ = ["StrategyPortfolio", "event_ids", "order_event_types", "submit_command"]


class StrategyPortfolio:
    """The read-only portfolio facade one strategy sees."""

    __slots__ = ("_portfolio", "_strategy_id", "position_qty")

    def __init__(self, portfolio: Any, strategy_id: str) -> None:
        self._portfolio = portfolio
        self._strategy_id = strategy_id
        # bound once: strategies ask for their position on every bar
        self.position_qty: Callable[[str], Decimal] = functools.partial(
            portfolio.position_qty, strategy_id=strategy_id
        )

    def balance(self, currency: str) -> Decimal:
        balance: Decimal = self._portfolio.balance(currency)
        return balance

    def equity(self) -> Decimal:
        equity: Decimal = self._portfolio.equity()
        return equity


def event_ids(order: Order, now: int) -> dict[str, Any]:
    """The identity and time fields every event the kernel creates for ``order`` carries."""
    return {
        "ts_event": now,
        "ts_init": now,
        "client_order_id": order.client_order_id,
        "strategy_id": order.strategy_id,
        "instrument_id": order.instrument_id,
    }


def submit_command(
    order: Order, now: int, oco_group: str, reduce_only: bool, oco_emulated: str = ""
) -> SubmitOrder:
    """The command (and journaled intent) that places ``order``; ``oco_group`` names a
    venue's list, ``oco_emulated`` a list the kernel keeps itself."""
    return SubmitOrder(
        ts_init=now,
        strategy_id=order.strategy_id,
        instrument_id=order.instrument_id,
        correlation_id=order.correlation_id,
        client_order_id=order.client_order_id,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        trigger_price=order.trigger_price,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        oco_group=oco_group,
        oco_emulated=oco_emulated,
        reduce_only=reduce_only,
        stop_loss=order.stop_loss,
        take_profit=order.take_profit,
        confidence=order.confidence,
        decision_price=order.decision_price,
        display_qty=order.display_qty,
        trailing_offset=order.trailing_offset,
        trailing_bps=order.trailing_bps,
    )


def order_event_types() -> list[type[OrderEvent]]:
    from genesis.core import events

    return [
        cls
        for name in events.__all__
        if isinstance(cls := getattr(events, name), type)
        and issubclass(cls, OrderEvent)
        and cls is not OrderEvent
    ]
