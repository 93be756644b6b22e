"""The daemon's structured log lines for the order chain and its state (ENG-3, ENG-7).

Every line of an order's chain carries the correlation id of the signal that
caused it, bound with structlog's context variables, and names its venue and
instrument. Quantities and prices are rendered as plain decimals (never
``0E-8``). ``status_line`` is the periodic summary an operator tails.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog

from genesis.core.commands import Command, SubmitOrder
from genesis.core.events import (
    OrderEvent,
    OrderFilled,
    ParentOrderDone,
    RegimeSwitched,
    TradeCompleted,
)
from genesis.core.orders import Order
from genesis.kernel.kernel import Kernel

__all__ = [
    "log_command",
    "log_order_event",
    "log_strategy_notice",
    "log_trade",
    "plain",
    "status_fields",
]


def plain(value: Decimal | None) -> str | None:
    """A Decimal as plain text, no trailing zeros: ``0E-8`` -> ``0``, ``40.00`` -> ``40``."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _correlation(kernel: Kernel, client_order_id: str) -> str:
    order = kernel.oms.get(client_order_id)
    return order.correlation_id if order is not None else client_order_id


def log_command(log: Any, command: Command, venue: str) -> None:
    """``order_submitted`` for an order sent to ``venue`` (other commands are not logged)."""
    if not isinstance(command, SubmitOrder):
        return
    with structlog.contextvars.bound_contextvars(correlation_id=command.correlation_id):
        log.info(
            "order_submitted",
            client_order_id=command.client_order_id,
            venue=venue,
            instrument=command.instrument_id,
            strategy_id=command.strategy_id,
            side=command.side.value,
            order_type=command.order_type.value,
            quantity=plain(command.quantity),
            price=plain(command.price),
            trigger_price=plain(command.trigger_price),
            confidence=command.confidence,
            decision_price=plain(command.decision_price),
            reduce_only=command.reduce_only,
        )


def log_order_event(log: Any, kernel: Kernel, event: OrderEvent, venue: str) -> None:
    """``order_filled`` (with the position it left) or ``order_event``."""
    with structlog.contextvars.bound_contextvars(
        correlation_id=_correlation(kernel, event.client_order_id)
    ):
        if isinstance(event, OrderFilled):
            position = kernel.portfolio.position(event.instrument_id, event.strategy_id)
            order = kernel.oms.get(event.client_order_id)
            log.info(
                "order_filled",
                client_order_id=event.client_order_id,
                venue=venue,
                instrument=event.instrument_id,
                strategy_id=event.strategy_id,
                trade_id=event.trade_id,
                side=event.side.value,
                quantity=plain(event.last_qty),
                price=plain(event.last_px),
                fee=plain(event.fee),
                fee_currency=event.fee_currency,
                position=plain(position.qty),
                realized_pnl=plain(position.realized_pnl),
                slippage_bps=_slippage_bps(event, order),
            )
        else:
            log.info(
                "order_event",
                event_type=type(event).__name__,
                venue=venue,
                instrument=event.instrument_id,
                client_order_id=event.client_order_id,
                strategy_id=event.strategy_id,
            )


def _slippage_bps(fill: OrderFilled, order: Order | None) -> float | None:
    """How much worse than the decision price the fill was, in basis points (< 0: better)."""
    decision = None if order is None else order.decision_price
    if not decision:
        return None
    return round(float((fill.last_px - decision) * fill.side.sign / decision) * 10_000, 3)


def log_strategy_notice(
    log: Any, kernel: Kernel, notice: TradeCompleted | ParentOrderDone | RegimeSwitched
) -> None:
    """``strategy_trade``, ``parent_order_tca`` or ``strategy_regime``."""
    if isinstance(notice, TradeCompleted):
        log_trade(log, kernel, notice)
    elif isinstance(notice, ParentOrderDone):
        log.info("parent_order_tca", **notice.fields)
    else:
        log.info(
            "strategy_regime",
            strategy_id=notice.strategy_id,
            instrument=notice.instrument_id,
            active=notice.active,
            regime=notice.regime or None,
            confidence=round(notice.confidence, 3),
        )


def log_trade(log: Any, kernel: Kernel, trade: TradeCompleted) -> None:
    """``strategy_trade``: one round trip done, with the strategy's running figures."""
    log.info(
        "strategy_trade",
        strategy_id=trade.strategy_id,
        instrument=trade.instrument_id,
        net_pnl=plain(trade.net_pnl),
        fills=trade.fills,
        held_s=round((trade.ts_event - trade.opened_ns) / 1e9, 3),
        performance=kernel.performance.of(trade.strategy_id).as_fields(),
    )


def status_fields(kernel: Kernel) -> dict[str, Any]:
    """Equity, open positions, working orders and per-strategy P&L, for ``daemon_status``."""
    portfolio = kernel.portfolio
    positions: dict[str, str | None] = {}
    pnl: dict[str, str | None] = {}
    for sid in sorted(kernel.strategies):
        total = Decimal(0)
        for p in portfolio.positions(sid):
            total += p.realized_pnl + p.unrealized_pnl
            if p.qty != 0:
                positions[f"{sid}:{p.instrument_id}"] = plain(p.qty)
        pnl[sid] = plain(total)
    try:
        equity = plain(portfolio.equity())
    except Exception:
        equity = None
    return {
        "equity": equity,
        "open_positions": positions,
        "working_orders": len(kernel.oms.open_orders()),
        "strategy_pnl": pnl,
        "strategy_performance": {
            sid: _brief(kernel.performance.of(sid).as_fields()) for sid in sorted(kernel.strategies)
        },
        "kill_switch": kernel.risk.kill_switch,
    }


def _brief(fields: dict[str, Any]) -> dict[str, Any]:
    keys = ("trades", "win_rate", "expectancy", "max_drawdown", "avg_slippage_bps")
    return {k: fields[k] for k in keys}
