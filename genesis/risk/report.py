"""``Kernel.risk_report()``: the kernel's state gathered for ``measures.risk_report``.

Kept apart from the kernel module so the kernel only forwards; it reads the
kernel's public parts (portfolio, OMS, market view, instruments, risk engine,
clock) and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genesis.core.enums import Side
from genesis.core.instruments import split_instrument_id
from genesis.risk.measures import Holding, risk_report

__all__ = ["benchmark_of", "kernel_risk_report"]

_BENCHMARK_SYMBOL = "BTCUSDT"


def kernel_risk_report(kernel: Any) -> dict[str, Any]:
    """The RK-4 report of ``kernel`` now (see ``genesis.risk.measures``)."""
    portfolio, risk = kernel.portfolio, kernel.risk
    equity: Decimal = portfolio.equity()
    holdings = [
        Holding(view.instrument_id, kernel.instruments(view.instrument_id).base, view.qty, mark)
        for view in portfolio.positions()
        if view.qty != 0 and (mark := view.mark_px) is not None
    ]
    sampler = risk.sampler
    return risk_report(
        now_ns=kernel.clock.now_ns(),
        equity=equity,
        currency=risk.currency,
        holdings=holdings,
        locked=_locked(kernel),
        sampler=sampler,
        benchmark=benchmark_of(risk.measures.benchmark, kernel.market.last_price),
        limits=risk.limits,
        breakers=risk.breakers.status() if risk.breakers is not None else [],
        kill_switch=risk.kill_switch,
    )


def benchmark_of(configured: str, priced: Any) -> str | None:
    """The configured benchmark, else BTCUSDT on the first venue (sorted) that prices it."""
    if configured:
        return configured
    for instrument_id in sorted(priced):
        if split_instrument_id(instrument_id)[1] == _BENCHMARK_SYMBOL:
            return str(instrument_id)
    return None


def _locked(kernel: Any) -> Decimal:
    """What working orders lock, valued in quote at their price (buys, with the worst
    fee) or at the mark (sells: the base they hold back)."""
    total = Decimal(0)
    for order in kernel.oms.open_orders():
        mark = kernel.market.price(order.instrument_id) or Decimal(0)
        if order.side is Side.BUY:
            price = order.price or order.trigger_price or mark
            total += order.leaves_qty * price * (1 + kernel.fee_rate)
        else:
            total += order.leaves_qty * mark
    return total
