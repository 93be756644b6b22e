"""Strategy capacity (SPEC PF-4): the order size at which expected slippage eats the edge.

Theory of operation
-------------------
*Edge.* ``EdgeBook`` is fed every closed lot (the kernel's ``edges``). A closed
lot is one trade, as in the backtest's trade list; its *gross return* is its
gross P&L over its entry notional (``entry_px x quantity``), in bps. The
strategy's realised edge is the mean gross return per trade. That figure is
already net of the slippage the strategy paid at its current sizes, so the
edge a size competes for is the edge at *decision* prices::

    edge_bps = mean gross return per trade + 2 x mean slippage per fill vs decision

(a trade has an entry and an exit fill, each paying about the mean slippage;
the approximation is stated, not hidden). Fees are not in the edge: capacity
answers "how large before slippage alone eats it", the issue's definition.

*Slippage curve.* Each leg of a round trip may cost half the edge, so the
budget per order is ``edge_bps / 2``:

* from book depth (``method = "book"``) when an L2 book of the instrument is in
  sync: the largest quantity whose walk of the visible book stays within the
  budget from the mid (``analytics.liquidity.max_size_for_slippage``), for a
  buy and for a sell; the smaller of the two, rounded down to the instrument's
  step. When a side's whole visible depth fits in the budget, the estimate is
  a lower bound (``bounded_by_visible_depth``);
* without a book (``method = "fills"``), from the strategy's own fills on the
  instrument: a least-squares line ``slippage_bps = a + b x notional`` over
  its recent fills (at least ``MIN_FILLS``, two sizes at least); the capacity
  is the notional where the line reaches the budget, ``(budget - a) / b``.
  A line that does not rise with size (``b <= 0``) gives no estimate.

*No estimate* comes with a reason, never a made-up number: ``no_trades`` (no
closed trade), ``no_edge`` (edge <= 0), ``spread_exceeds_edge`` (the budget is
below half the spread: capacity 0), ``too_few_fills`` / ``slippage_flat``
(no book and the fills cannot draw a curve), ``no_market`` (no book, no fills).

Quantities and notionals are Decimals (capacity in quote currency, rounded
down to 8 decimals); the bps figures and the fitted line are floats (analytics).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final

from genesis.analytics.liquidity import Reference, max_size_for_slippage
from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO, quantize
from genesis.data.book import OrderBook
from genesis.portfolio.accounting import ClosedLot

__all__ = ["MIN_FILLS", "CapacityEstimate", "Edge", "EdgeBook", "estimate_capacity"]

MIN_FILLS: Final = 5  # fills needed to fit a slippage-versus-size line
_BPS: Final = 10_000.0
_NOTIONAL_QUANTUM: Final = Decimal("1e-8")


@dataclass(slots=True)
class Edge:
    """Closed trades of one (strategy, instrument) and their gross returns."""

    trades: int = 0
    gross_pnl: Decimal = ZERO  # quote currency
    entry_notional: Decimal = ZERO  # quote currency
    return_bps_sum: float = 0.0

    @property
    def mean_return_bps(self) -> float | None:
        """Mean gross return per trade, bps of entry notional; None before a trade."""
        return None if self.trades == 0 else self.return_bps_sum / self.trades


class EdgeBook:
    """Every (strategy, instrument)'s ``Edge``, fed by closed lots (O(1) per lot)."""

    def __init__(self) -> None:
        self._edges: dict[tuple[str, str], Edge] = {}

    def on_closed(self, lots: Iterable[ClosedLot]) -> None:
        """Count each closed lot as one trade of its strategy on its instrument."""
        for lot in lots:
            key = (lot.strategy_id, lot.instrument_id)
            edge = self._edges.get(key)
            if edge is None:
                edge = self._edges[key] = Edge()
            notional = lot.entry_px * lot.quantity
            edge.trades += 1
            edge.gross_pnl += lot.gross_pnl
            edge.entry_notional += notional
            if notional:
                edge.return_bps_sum += float(lot.gross_pnl / notional) * _BPS

    def of(self, strategy_id: str, instrument_id: str) -> Edge | None:
        return self._edges.get((strategy_id, instrument_id))

    def keys(self) -> list[tuple[str, str]]:
        """Every (strategy, instrument) with a closed trade, sorted."""
        return sorted(self._edges)


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityEstimate:
    """The capacity of one strategy on one instrument, with the inputs behind it.

    Attributes:
        capacity_quote: the order notional (quote currency) at which expected
            slippage eats the edge; None when it cannot be estimated.
        capacity_base: the same in base units (book method only), rounded down
            to the instrument's step.
        method: ``"book"``, ``"fills"`` or ``"none"``.
        reason: why there is no estimate (or why it is 0); None otherwise.
        inputs: the figures that produced it (edge, budget, curve).
    """

    strategy_id: str
    instrument_id: str
    capacity_quote: Decimal | None
    capacity_base: Decimal | None
    method: str
    reason: str | None
    inputs: dict[str, Any]

    def as_fields(self) -> dict[str, Any]:
        """Plain JSON-ready values (Decimals as text)."""
        return {
            "strategy": self.strategy_id,
            "instrument": self.instrument_id,
            "capacity_quote": _text(self.capacity_quote),
            "capacity_base": _text(self.capacity_base),
            "method": self.method,
            "reason": self.reason,
            "inputs": dict(self.inputs),
        }


def estimate_capacity(
    strategy_id: str,
    instrument_id: str,
    instrument: Instrument,
    edge: Edge | None,
    *,
    book: OrderBook | None = None,
    fills: Sequence[tuple[float, float]] = (),
) -> CapacityEstimate:
    """Estimate how large an order of ``strategy_id`` on ``instrument`` can be before the
    expected slippage of a round trip equals its edge (module docstring).

    Args:
        strategy_id: the strategy.
        instrument_id: the instrument as the strategy trades it (venue-qualified or not).
        instrument: its definition (the step rounds the book estimate).
        edge: the strategy's closed trades there, or None (no trade yet).
        book: an in-sync L2 book of the instrument, or None.
        fills: recent fills as ``(notional in quote, slippage bps vs decision)``.

    Returns:
        The estimate, or one with ``capacity_quote`` None and a reason.
    """
    key = (strategy_id, instrument_id)
    gross = None if edge is None else edge.mean_return_bps
    if edge is None or gross is None:
        return _none(key, "no_trades", {"trades": 0})
    paid = _mean([s for _, s in fills])
    edge_bps = gross + 2.0 * (paid or 0.0)
    inputs: dict[str, Any] = {
        "trades": edge.trades,
        "mean_gross_return_bps": round(gross, 4),
        "mean_fill_slippage_bps": None if paid is None else round(paid, 4),
        "edge_bps": round(edge_bps, 4),
        "budget_per_order_bps": round(edge_bps / 2.0, 4),
    }
    if edge_bps <= 0:
        return _none(key, "no_edge", inputs)
    if book is not None and book.mid() is not None:
        return _from_book(key, instrument, book, edge_bps / 2.0, inputs)
    return _from_fills(key, fills, edge_bps / 2.0, inputs)


def _from_book(
    key: tuple[str, str],
    instrument: Instrument,
    book: OrderBook,
    budget_bps: float,
    inputs: dict[str, Any],
) -> CapacityEstimate:
    mid = book.mid()
    assert mid is not None
    budget = Decimal(repr(budget_bps))
    sizes = [max_size_for_slippage(book, s, budget, reference=Reference.MID) for s in Side]
    depth = [sum((q for _, q in book.levels(s.opposite)), ZERO) for s in Side]
    base = quantize(min(sizes), instrument.step_size, ROUND_DOWN)
    quote = (base * mid).quantize(_NOTIONAL_QUANTUM, rounding=ROUND_DOWN)
    fields = {
        **inputs,
        "mid": _text(mid),
        "max_buy_qty": _text(sizes[0]),
        "max_sell_qty": _text(sizes[1]),
        "bounded_by_visible_depth": any(s >= d for s, d in zip(sizes, depth, strict=True)),
    }
    reason = "spread_exceeds_edge" if base == 0 else None
    return CapacityEstimate(
        strategy_id=key[0], instrument_id=key[1], capacity_quote=quote, capacity_base=base,
        method="book", reason=reason, inputs=fields,
    )  # fmt: skip


def _from_fills(
    key: tuple[str, str], fills: Sequence[tuple[float, float]], budget_bps: float,
    inputs: dict[str, Any],
) -> CapacityEstimate:  # fmt: skip
    if not fills:
        return _none(key, "no_market", inputs)
    if len(fills) < MIN_FILLS or len({n for n, _ in fills}) < 2:
        return _none(key, "too_few_fills", {**inputs, "fills": len(fills), "min": MIN_FILLS})
    intercept, slope = _fit(fills)
    fields = {
        **inputs,
        "fills": len(fills),
        "intercept_bps": round(intercept, 6),
        "slope_bps_per_quote": slope,
    }
    if slope <= 0:
        return _none(key, "slippage_flat", fields)
    notional = max((budget_bps - intercept) / slope, 0.0)
    quote = Decimal(repr(notional)).quantize(_NOTIONAL_QUANTUM, rounding=ROUND_DOWN)
    return CapacityEstimate(
        strategy_id=key[0], instrument_id=key[1], capacity_quote=quote, capacity_base=None,
        method="fills", reason="spread_exceeds_edge" if quote == 0 else None, inputs=fields,
    )  # fmt: skip


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b x``; (a, b). Needs two distinct x."""
    n = float(len(points))
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return mean_y - slope * mean_x, slope


def _none(key: tuple[str, str], reason: str, inputs: dict[str, Any]) -> CapacityEstimate:
    return CapacityEstimate(
        strategy_id=key[0], instrument_id=key[1], capacity_quote=None, capacity_base=None,
        method="none", reason=reason, inputs=inputs,
    )  # fmt: skip


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _text(value: Decimal | None) -> str | None:
    """Plain decimal text (no exponent), cut to 10 decimals."""
    if value is None:
        return None
    if value.as_tuple().exponent < -10:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-10"), rounding=ROUND_DOWN)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
