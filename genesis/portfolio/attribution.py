"""P&L attribution by strategy and component, correlation between strategies (SPEC PF-3),
and the one performance report that gathers EX-6, PF-3 and PF-4.

Theory of operation
-------------------
*Components.* For each (strategy, instrument) position, in the instrument's
quote currency, exact ``Decimal``, from the portfolio's own lot books:

* ``realized`` - gross P&L of every closed lot (before fees);
* ``unrealized`` - the open lots at the current mark (before fees);
* ``fees`` - every fee the position paid, converted to quote (a fee in a third
  currency, e.g. BNB, is not in P&L: it is listed apart, native units);
* ``total`` = realized + unrealized - fees.

The same total is also split by *cause*: ``decision`` (what the trades would
have made had every fill been at its decision price: realized + unrealized +
slippage cost), ``slippage`` (minus the slippage cost versus decision, from
``execution.quality``) and ``fees`` (minus the fees), so
``decision + slippage + fees == total`` exactly: every per-fill slippage cost
is quantized to 1e-12, so no sum rounds. A strategy's figures are summed per
quote currency (a strategy trading BTC and USDT pairs gets two columns, never
one meaningless sum), and so is the portfolio's.

*Correlation.* Each strategy's return series is its realised net P&L per
event-time bucket (``interval_ns``, an hour by default): each completed round
trip (``PerformanceBook.completed``) counts in the bucket it closed in, buckets
without a close are 0, every series spans the same buckets (the first to the
last close of any strategy). The kernel keeps no per-strategy marks over time,
so open positions do not move the series until they close: stated, not hidden.
A strategy with fewer than ``min_buckets`` buckets holding P&L, or a constant
series, is listed under ``insufficient`` with the reason, never as NaN; the
matrix (Pearson, floats) covers the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from genesis.core.instruments import Instrument
from genesis.core.money import ZERO
from genesis.portfolio.capacity import estimate_capacity
from genesis.portfolio.performance import StrategyPerformance, TradeRecord
from genesis.portfolio.positions import Portfolio

if TYPE_CHECKING:
    from genesis.kernel.kernel import Kernel

__all__ = [
    "HOUR_NS",
    "attribute",
    "capacity_report",
    "correlation_matrix",
    "performance_report",
]

HOUR_NS: Final = 3_600_000_000_000
_MIN_BUCKETS: Final = 5
_COMPONENTS: Final = ("realized", "unrealized", "fees", "total", "decision", "slippage")

SlippageCost = Callable[[str, str], Decimal]  # (strategy, instrument) -> cost, quote currency


def attribute(
    portfolio: Portfolio,
    instruments: Callable[[str], Instrument],
    strategies: Iterable[str],
    slippage_cost: SlippageCost,
) -> dict[str, Any]:
    """P&L of each strategy by component and instrument, and the portfolio's sum.

    Args:
        portfolio: the account (lot books, marks).
        instruments: instrument id -> Instrument (its base and quote currencies).
        strategies: the strategy ids to report (one with no position reports zeros).
        slippage_cost: the slippage cost versus decision of (strategy, instrument),
            quote currency (``FillQuality.slippage_cost``).

    Returns:
        ``{"strategies": {sid: {"by_quote": {ccy: components}, "instruments": {iid:
        components | {"quote": ccy}}, "other_fees": {ccy: amount}}}, "portfolio":
        {ccy: components}}``; every amount as exact decimal text.
    """
    out: dict[str, Any] = {}
    overall: dict[str, dict[str, Decimal]] = {}
    for sid in sorted(set(strategies)):
        by_quote: dict[str, dict[str, Decimal]] = {}
        positions: dict[str, Any] = {}
        other: dict[str, Decimal] = {}
        for view in portfolio.positions(sid):
            iid = view.instrument_id
            inst = instruments(iid)
            quote, parts = inst.quote, _components(portfolio, sid, iid, slippage_cost(sid, iid))
            _add(by_quote.setdefault(quote, _zero()), parts)
            _add(overall.setdefault(quote, _zero()), parts)
            positions[iid] = {"quote": quote, **_texts(parts)}
            for ccy, fee in view.fees_by_currency.items():
                if ccy not in (inst.base, inst.quote):
                    other[ccy] = other.get(ccy, ZERO) + fee
        out[sid] = {
            "by_quote": {q: _texts(p) for q, p in sorted(by_quote.items())},
            "instruments": positions,
            "other_fees": {c: _plain(a) for c, a in sorted(other.items())},
        }
    return {
        "strategies": out,
        "portfolio": {q: _texts(p) for q, p in sorted(overall.items())},
    }


def _components(portfolio: Portfolio, sid: str, iid: str, slippage: Decimal) -> dict[str, Decimal]:
    """The components of one position (module docstring)."""
    view = portfolio.position(iid, sid)
    book = portfolio.book(iid, sid)
    fees = ZERO if book is None else book.fees_paid
    realized, unrealized = view.realized_pnl, view.unrealized_pnl
    total = realized + unrealized - fees
    parts = {
        "realized": realized,
        "unrealized": unrealized,
        "fees": -fees,
        "total": total,
        "decision": realized + unrealized + slippage,
        "slippage": -slippage,
    }
    return parts


def _zero() -> dict[str, Decimal]:
    return dict.fromkeys(_COMPONENTS, ZERO)


def _add(into: dict[str, Decimal], parts: dict[str, Decimal]) -> None:
    for name, value in parts.items():
        into[name] += value


def _texts(parts: dict[str, Decimal]) -> dict[str, str]:
    return {name: _plain(parts[name]) for name in _COMPONENTS}


# --- correlation ------------------------------------------------------------------


def correlation_matrix(
    trades: Iterable[TradeRecord],
    strategies: Sequence[str],
    *,
    interval_ns: int = HOUR_NS,
    min_buckets: int = _MIN_BUCKETS,
) -> dict[str, Any]:
    """Pearson correlation of the strategies' realised P&L per event-time bucket.

    Args:
        trades: completed round trips (``PerformanceBook.completed``).
        strategies: the strategies to correlate (one without trades is insufficient).
        interval_ns: the bucket width, ns of event time (> 0).
        min_buckets: buckets holding P&L a strategy needs to be correlated (>= 2).

    Returns:
        ``{"interval_ns", "buckets", "min_buckets", "strategies": [correlated ids],
        "matrix": {a: {b: r}}, "insufficient": {sid: reason}}``.

    Raises:
        ValueError: ``interval_ns`` <= 0 or ``min_buckets`` < 2.
    """
    if interval_ns <= 0 or min_buckets < 2:
        raise ValueError(
            f"correlation: interval_ns must be > 0 and min_buckets >= 2,"
            f" were {interval_ns} and {min_buckets}"
        )
    pnl: dict[str, dict[int, float]] = {sid: {} for sid in strategies}
    for trade in trades:
        cells = pnl.get(trade.strategy_id)
        if cells is not None:
            bucket = trade.closed_ns // interval_ns
            cells[bucket] = cells.get(bucket, 0.0) + float(trade.net_pnl)
    used = [b for cells in pnl.values() for b in cells]
    first, last = (min(used), max(used)) if used else (0, -1)
    series: dict[str, list[float]] = {}
    insufficient: dict[str, str] = {}
    for sid in sorted(pnl):
        cells = pnl[sid]
        active = sum(1 for v in cells.values() if v != 0.0)
        values = [cells.get(b, 0.0) for b in range(first, last + 1)]
        if active < min_buckets:
            insufficient[sid] = f"{active} buckets with P&L, {min_buckets} needed"
        elif _spread(values) == 0.0:
            insufficient[sid] = "constant P&L per bucket: no correlation is defined"
        else:
            series[sid] = values
    ids = sorted(series)
    matrix = {a: {b: round(_pearson(series[a], series[b]), 6) for b in ids} for a in ids}
    return {
        "interval_ns": interval_ns,
        "buckets": last - first + 1,
        "min_buckets": min_buckets,
        "strategies": ids,
        "matrix": matrix,
        "insufficient": insufficient,
    }


def _spread(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values)


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = math.fsum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    value = cov / math.sqrt(_spread(a) * _spread(b))
    return max(-1.0, min(1.0, value))  # rounding may step past 1 on identical series


# --- the report ---------------------------------------------------------------------


def capacity_report(kernel: Kernel) -> dict[str, dict[str, Any]]:
    """PF-4 for every strategy and each instrument it trades or has traded:
    ``{sid: {iid: CapacityEstimate.as_fields()}}``."""
    keys = set(kernel.edges.keys())
    for sid, strategy in kernel.strategies.items():
        keys.update((sid, iid) for iid in strategy.instruments)
    out: dict[str, dict[str, Any]] = {}
    for sid, iid in sorted(keys):
        estimate = estimate_capacity(
            sid,
            iid,
            kernel.instruments(iid),
            kernel.edges.of(sid, iid),
            book=kernel.market.book(iid),
            fills=kernel.quality.size_slippage(sid, iid),
        )
        out.setdefault(sid, {})[iid] = estimate.as_fields()
    return out


def performance_report(
    kernel: Kernel, *, interval_ns: int = HOUR_NS, min_buckets: int = _MIN_BUCKETS
) -> dict[str, Any]:
    """Everything a user asks of a session's performance, JSON-able (Decimals as text).

    Keys: ``as_of_ns`` (the kernel's clock), ``strategies`` (each strategy's
    ``PerformanceBook`` figures), ``attribution`` (``attribute``), ``correlation``
    (``correlation_matrix``), ``capacity`` (``capacity_report``) and
    ``execution_quality`` (``FillQuality.summary``). Read-only: it changes nothing.

    Raises:
        ValueError: ``interval_ns`` <= 0 or ``min_buckets`` < 2.
    """
    booked = kernel.performance.strategies()
    sids = sorted(set(kernel.strategies) | set(booked))
    # ``of`` would create an empty entry for a strategy without fills: read, never write
    figures = {
        sid: (kernel.performance.of(sid) if sid in booked else StrategyPerformance(sid))
        for sid in sids
    }
    return {
        "as_of_ns": kernel.clock.now_ns(),
        "strategies": {sid: perf.as_fields() for sid, perf in figures.items()},
        "attribution": attribute(
            kernel.portfolio, kernel.instruments, sids, kernel.quality.slippage_cost
        ),
        "correlation": correlation_matrix(
            kernel.performance.completed, sids, interval_ns=interval_ns, min_buckets=min_buckets
        ),
        "capacity": capacity_report(kernel),
        "execution_quality": kernel.quality.summary(),
    }


def _plain(value: Decimal) -> str:
    """Exact decimal text without exponent ("0" for any zero)."""
    if not value:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
