"""Liquidity of an L2 book for sizing (SPEC AN-4): slippage of a size, size for a slippage.

Definitions. ``side`` is always the *order* side, as in
:meth:`OrderBook.vwap_to_size`: a buy walks the asks, a sell the bids. The
slippage of a quantity ``q`` is how much worse its average fill price
``vwap(q)`` is than a reference price, in basis points of that reference::

    buy:  (vwap(q) - ref) / ref * 10_000        sell: (ref - vwap(q)) / ref * 10_000

The reference is the touch (the best price on the walked side: slippage
starts at 0) or the mid (slippage starts at half the spread).

The largest size within a budget ``b`` bps is exact, not searched. Let ``L =
ref * (1 + b/10_000)`` for a buy (``ref * (1 - b/10_000)`` for a sell) be
the worst acceptable VWAP. Walking the levels best first, with ``Q`` and
``C`` the quantity and cost taken so far, a level at price ``p`` within ``L``
is taken whole. A level beyond ``L`` can still be taken, but only up to
``x = (L*Q - C) / (p - L)`` (for a sell ``(C - L*Q) / (L - p)``), where the
VWAP reaches ``L`` exactly: if the level holds less than ``x`` it is taken
whole and the walk goes on, else the walk stops at ``Q + x`` (a VWAP only
worsens with more size). That division rounds toward zero, so the answer
never exceeds the budget. Cost: O(levels walked); levels are read from the book in
growing chunks, never copied whole.

Prices and quantities stay the venue's Decimals (the result feeds
``Instrument.quantity``, which rounds it down to the step); only the bps
figures are floats. Visible depth is all there is: when the whole visible
side fits in the budget, the answer is that depth.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Final

from genesis.core.enums import Side
from genesis.data.book import Level, OrderBook

__all__ = [
    "ExecutionCost",
    "Reference",
    "execution_cost",
    "expected_slippage_bps",
    "max_size_for_slippage",
]

_ZERO: Final = Decimal(0)
_BPS: Final = Decimal(10_000)
_FIRST_CHUNK: Final = 16  # levels read first; each later read asks for 4x more


class Reference(enum.Enum):
    """The price slippage is measured from."""

    TOUCH = "touch"  # the best price on the side the order takes from
    MID = "mid"  # (best bid + best ask) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionCost:
    """What filling ``qty`` at once against the visible book costs.

    Attributes:
        qty: the quantity filled (base units).
        vwap: its average price (quote per base).
        notional: ``qty * vwap`` in quote currency, before fees.
        reference: the price slippage is measured from.
        slippage_bps: adverse distance of ``vwap`` from ``reference``, bps (>= 0 from the touch).
        levels: price levels touched, at least 1.
    """

    qty: Decimal
    vwap: Decimal
    notional: Decimal
    reference: Decimal
    slippage_bps: float
    levels: int


def execution_cost(
    book: OrderBook, side: Side, qty: Decimal, *, reference: Reference = Reference.TOUCH
) -> ExecutionCost | None:
    """Walk the book for ``qty`` and return the fill's VWAP, notional and slippage.

    Returns:
        None when the visible depth is below ``qty`` or the reference is
        unknown (an empty side; for the mid, either side empty).

    Raises:
        ValueError: ``qty`` is not a positive finite Decimal.
    """
    if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0:
        raise ValueError(f"invalid `qty` {qty!r}; expected a finite Decimal > 0")
    ref = _reference(book, side, reference)
    if ref is None:
        return None
    remaining, cost = qty, _ZERO
    for levels, (price, available) in enumerate(_walk(book, side), 1):
        take = min(available, remaining)
        cost += price * take
        remaining -= take
        if not remaining:
            vwap = cost / qty
            return ExecutionCost(
                qty=qty, vwap=vwap, notional=cost, reference=ref,
                slippage_bps=_slippage_bps(side, vwap, ref), levels=levels,
            )  # fmt: skip
    return None


def expected_slippage_bps(
    book: OrderBook, side: Side, qty: Decimal, *, reference: Reference = Reference.TOUCH
) -> float | None:
    """Slippage in bps of filling ``qty`` at once; None when the visible depth is short.

    Raises:
        ValueError: ``qty`` is not a positive finite Decimal.
    """
    cost = execution_cost(book, side, qty, reference=reference)
    return None if cost is None else cost.slippage_bps


def max_size_for_slippage(
    book: OrderBook,
    side: Side,
    max_slippage_bps: float | Decimal,
    *,
    reference: Reference = Reference.TOUCH,
) -> Decimal:
    """The largest quantity whose VWAP stays within ``max_slippage_bps`` of the reference.

    Exact walk of the levels (module essay); the last partial level is
    rounded toward zero. Not yet rounded to the instrument's step: pass the
    result through ``Instrument.quantity``.

    Returns:
        The quantity in base units; 0 when the side is empty, the reference
        is unknown, or (mid reference) the budget is below half the spread.

    Raises:
        ValueError: ``max_slippage_bps`` is negative or not finite.
    """
    budget = Decimal(str(max_slippage_bps))
    if not budget.is_finite() or budget < 0:
        raise ValueError(f"invalid `max_slippage_bps` {max_slippage_bps!r}; expected >= 0")
    ref = _reference(book, side, reference)
    if ref is None:
        return _ZERO
    if side is Side.BUY:
        return _size_within(_walk(book, side), ref * (1 + budget / _BPS), sign=1)
    return _size_within(_walk(book, side), ref * (1 - budget / _BPS), sign=-1)


def _size_within(levels: Iterator[Level], limit: Decimal, sign: int) -> Decimal:
    # ``sign`` 1: a buy, acceptable while price <= limit; -1: a sell, while price >= limit.
    # Multiplying both sides by ``sign`` turns the sell's inequalities into the buy's.
    qty, cost = _ZERO, _ZERO
    for price, available in levels:
        if sign * price > sign * limit:
            with localcontext() as ctx:
                ctx.rounding = ROUND_DOWN
                partial = (limit * qty - cost) / (price - limit)  # signs cancel for a sell
            if partial < available:
                return qty + max(partial, _ZERO)
        qty += available
        cost += price * available
    return qty


def _reference(book: OrderBook, side: Side, reference: Reference) -> Decimal | None:
    if reference is Reference.MID:
        return book.mid()
    best = book.best_ask() if side is Side.BUY else book.best_bid()
    return None if best is None else best[0]


def _slippage_bps(side: Side, vwap: Decimal, ref: Decimal) -> float:
    return float(side.sign * (vwap - ref) / ref * _BPS)


def _walk(book: OrderBook, side: Side) -> Iterator[Level]:
    """The levels an order of ``side`` takes from, best first, read in growing chunks."""
    book_side = side.opposite
    total = book.level_count(book_side)
    start, n = 0, _FIRST_CHUNK
    while start < total:
        chunk = book.levels(book_side, min(n, total))
        yield from chunk[start:]
        start, n = len(chunk), n * 4
