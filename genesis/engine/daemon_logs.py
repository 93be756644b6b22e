"""The daemon's structured log lines, one place for their names and fields (ENG-7).

Every line of an order's chain carries the correlation id of the signal that
caused it (ENG-3), bound with structlog's context variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from genesis.core.commands import Command, SubmitOrder
from genesis.core.events import OrderEvent, OrderFilled

if TYPE_CHECKING:
    from genesis.kernel.driver import Replay
    from genesis.engine.daemon import DaemonConfig
    from genesis.kernel.kernel import Kernel

__all__ = ["DaemonLogs"]


class DaemonLogs:
    """Mixed into the daemon: start/stop summaries and the order chain's lines."""

    config: DaemonConfig
    log: Any
    kernel: Kernel
    replay: Replay
    events: int
    _quiet: bool

    def _log_start(self) -> None:
        cfg = self.config
        self.log.info(
            "daemon_started", mode="paper", tier=cfg.tier.value, data=str(cfg.data),
            symbol=cfg.symbol, speed_events_per_s=cfg.speed, cash=cfg.cash,
            strategies=[s.id for s in cfg.strategies],
        )  # fmt: skip

    def _log_stop(self) -> None:
        portfolio = self.kernel.portfolio
        self.log.info(
            "daemon_stopped", events=self.events, fills=self.replay.stats.fills,
            denied=self.kernel.denied, equity=portfolio.equity(), balances=portfolio.balances(),
        )  # fmt: skip

    def _correlation(self, client_order_id: str) -> str:
        order = self.kernel.oms.get(client_order_id)
        return order.correlation_id if order is not None else client_order_id

    def _log_command(self, command: Command) -> None:
        if isinstance(command, SubmitOrder) and not self._quiet:
            with structlog.contextvars.bound_contextvars(correlation_id=command.correlation_id):
                self.log.info(
                    "order_submitted", client_order_id=command.client_order_id,
                    strategy_id=command.strategy_id, side=command.side.value,
                    order_type=command.order_type.value, quantity=command.quantity,
                    price=command.price, trigger_price=command.trigger_price,
                )  # fmt: skip

    def _log_order_event(self, event: OrderEvent) -> None:
        correlation = self._correlation(event.client_order_id)
        with structlog.contextvars.bound_contextvars(correlation_id=correlation):
            if isinstance(event, OrderFilled):
                position = self.kernel.portfolio.position(event.instrument_id, event.strategy_id)
                self.log.info(
                    "order_filled", client_order_id=event.client_order_id, trade_id=event.trade_id,
                    side=event.side.value,
                    quantity=event.last_qty, price=event.last_px, fee=event.fee,
                    position=position.qty, realized_pnl=position.realized_pnl,
                )  # fmt: skip
            else:
                self.log.info(
                    "order_event", event_type=type(event).__name__,
                    client_order_id=event.client_order_id, strategy_id=event.strategy_id,
                )  # fmt: skip
