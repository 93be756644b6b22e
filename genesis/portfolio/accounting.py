"""Lot accounting for one (strategy, instrument): FIFO, LIFO or average cost, in exact Decimal.

Theory of operation
-------------------
A ``LotBook`` holds the open lots of one position. All open lots share one
direction: long lots after buys, short lots after sells. A fill on the same
side opens a lot (FIFO/LIFO append one; AVERAGE merges into its single pooled
lot). A fill on the opposite side first *closes* open lots, oldest first
(FIFO, and the one pooled lot of AVERAGE) or newest first (LIFO), producing
one ``ClosedLot`` per lot touched; whatever quantity is left after the book is
flat opens a lot on the other side (a position flip).

Each lot carries its remaining quantity, its remaining *cost* (quantity times
entry price, in quote currency) and its remaining *unallocated entry fee*.
Closing ``q`` of a lot takes a share of both:

* the cost share of a FIFO/LIFO lot is ``entry_px * q``, which is exact;
* the cost share of the AVERAGE pool and every fee share are pro rata,
  ``total * q / lot_qty``, rounded to a quantum fine enough (``1e-12`` or the
  total's own exponent, whichever is finer) that ``total - share`` stays exact
  in 28 digits;
* the last close of a lot takes exactly what is left, and the last piece of a
  fill takes what is left of the fill's fee.

So nothing is lost to Decimal dust: the fees of all closed lots plus the
unallocated fees of open lots equal the fees paid, to the last digit, and the
realised P&L of every close plus ``unrealized_pnl(mark)`` equals the cash flow
of the fills plus the open quantity valued at ``mark``, exactly. The price of
this exactness is that an AVERAGE close's ``gross_pnl`` may differ from
``(exit_px - entry_px) * quantity`` in the last places, because ``entry_px``
(the pool's average) is a rounded quotient while the cost share is not.

Running totals (open quantity, open cost, open fees, realised P&L) are kept so
that ``qty``, ``avg_open_px`` and ``unrealized_pnl`` are O(1).
"""

from __future__ import annotations

from collections import deque
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Final, Literal

import msgspec

from genesis.core.enums import AccountingMethod, Side
from genesis.core.money import ZERO
from genesis.errors import DataError

__all__ = ["ClosedLot", "Direction", "LotBook"]

Direction = Literal["LONG", "SHORT"]

# Wide enough that ``total * part`` never rounds before the final quantize.
_WIDE: Final = Context(prec=60, rounding=ROUND_HALF_EVEN)
_PREC: Final = 28  # the default Decimal context precision the rest of Genesis uses
_FINEST_EXP: Final = -12  # pro-rata shares are kept to 12 decimals (finer than any venue)


class ClosedLot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One closed (or partly closed) lot: a realised round trip (a Struct, as events are:
    made on every closing fill, and a frozen dataclass's ``__init__`` is interpreted
    Python even in the compiled build).

    Attributes:
        instrument_id: the instrument traded.
        strategy_id: the strategy that owned the lot.
        direction: ``"LONG"`` (bought, then sold) or ``"SHORT"`` (sold, then bought).
        quantity: closed quantity in base units (always > 0).
        entry_ts / exit_ts: fill times, ns since the epoch (AVERAGE: the pool's first fill).
        entry_px / exit_px: prices in quote currency (AVERAGE: the pool's average).
        gross_pnl: realised P&L before fees, in quote currency.
        fees: entry fee pro rata to ``quantity`` plus the exit fill's fee pro rata,
            in quote currency.
        net_pnl: ``gross_pnl - fees``.
    """

    instrument_id: str
    strategy_id: str
    direction: Direction
    quantity: Decimal
    entry_ts: int
    entry_px: Decimal
    exit_ts: int
    exit_px: Decimal
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal


class _Lot:
    """An open lot; mutable, private to LotBook."""

    __slots__ = ("cost", "fee", "px", "qty", "ts")

    def __init__(self, ts: int, qty: Decimal, px: Decimal, fee: Decimal) -> None:
        self.ts = ts
        self.qty = qty  # remaining quantity, > 0
        self.px = px  # entry price (AVERAGE: the pool's average price)
        self.cost = qty * px  # remaining cost in quote currency
        self.fee = fee  # entry fee not yet allocated to a ClosedLot


def _pro_rata(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """Return ``total * part / whole``, rounded so that ``total - result`` is exact.

    The quantum is the finer of ``1e-12`` and ``total``'s own exponent, but never
    finer than 28 significant digits of ``total`` allow. ``part == whole``
    returns ``total`` itself.
    """
    if part == whole or not total:
        return total
    exponent = total.as_tuple().exponent
    assert isinstance(exponent, int)
    quantum_exp = min(exponent, max(_FINEST_EXP, total.adjusted() - _PREC + 1))
    share = _WIDE.divide(_WIDE.multiply(total, part), whole)
    return share.quantize(Decimal(1).scaleb(quantum_exp), context=_WIDE)


class LotBook:
    """Open lots and realised P&L of one (strategy, instrument) position.

    Args:
        method: FIFO (default), LIFO or AVERAGE cost.
        instrument_id: copied into every ClosedLot.
        strategy_id: copied into every ClosedLot.
    """

    __slots__ = (
        "_cost",
        "_fees_paid",
        "_instrument_id",
        "_lots",
        "_method",
        "_open_fees",
        "_pick_newest",
        "_qty",
        "_realized",
        "_sign",
        "_strategy_id",
    )

    def __init__(
        self,
        method: AccountingMethod = AccountingMethod.FIFO,
        *,
        instrument_id: str = "",
        strategy_id: str = "",
    ) -> None:
        self._method = method
        self._pick_newest = method is AccountingMethod.LIFO
        self._instrument_id = instrument_id
        self._strategy_id = strategy_id
        self._lots: deque[_Lot] = deque()
        self._sign = 0  # +1 long, -1 short, 0 flat
        self._qty = ZERO  # open quantity, unsigned
        self._cost = ZERO  # open cost, unsigned, quote currency
        self._open_fees = ZERO
        self._realized = ZERO
        self._fees_paid = ZERO

    # --- queries -------------------------------------------------------------

    @property
    def method(self) -> AccountingMethod:
        """The accounting method chosen at construction."""
        return self._method

    @property
    def qty(self) -> Decimal:
        """Signed open quantity in base units: > 0 long, < 0 short, 0 flat."""
        return self._qty if self._sign >= 0 else -self._qty

    @property
    def open_cost(self) -> Decimal:
        """Signed cost of the open lots in quote currency (``qty * avg_open_px``, exact)."""
        return self._cost if self._sign >= 0 else -self._cost

    @property
    def avg_open_px(self) -> Decimal:
        """Quantity-weighted average entry price of the open lots; 0 when flat.

        The quotient is rounded to the context precision (28 digits).
        """
        return self._cost / self._qty if self._qty else ZERO

    @property
    def realized_pnl(self) -> Decimal:
        """Sum of ``gross_pnl`` of every lot closed so far, quote currency (before fees)."""
        return self._realized

    @property
    def open_fees(self) -> Decimal:
        """Entry fees (quote currency) carried by open lots, not yet in any ClosedLot."""
        return self._open_fees

    @property
    def fees_paid(self) -> Decimal:
        """Every fee (quote currency) passed to ``apply`` so far."""
        return self._fees_paid

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """P&L of the open lots if closed at ``mark``, before fees, quote currency; O(1)."""
        if self._sign > 0:
            return self._qty * mark - self._cost
        if self._sign < 0:
            return self._cost - self._qty * mark
        return ZERO

    def open_lots(self) -> list[tuple[int, Decimal, Decimal]]:
        """Open lots oldest first as ``(entry_ts, signed qty, entry_px)``."""
        return [(lot.ts, lot.qty if self._sign > 0 else -lot.qty, lot.px) for lot in self._lots]

    # --- the one mutator -----------------------------------------------------

    def apply(
        self, ts_ns: int, side: Side, qty: Decimal, px: Decimal, fee_quote: Decimal
    ) -> list[ClosedLot]:
        """Apply one fill: close opposite lots first, then open any remainder.

        Args:
            ts_ns: fill time, ns since the epoch.
            side: BUY or SELL.
            qty: filled quantity in base units, > 0.
            px: fill price in quote currency, > 0.
            fee_quote: the fill's fee in quote currency (negative for a rebate).

        Returns:
            The lots this fill closed, in closing order (empty when it only opened).

        Raises:
            DataError: ``qty`` or ``px`` is not a finite positive number; nothing changes.
        """
        _check_positive(self._instrument_id, "qty", qty)
        _check_positive(self._instrument_id, "px", px)
        self._fees_paid += fee_quote
        closed: list[ClosedLot] = []
        remaining, fee_left = qty, fee_quote
        while remaining and self._sign == -side.sign:
            lot = self._lots[-1] if self._pick_newest else self._lots[0]
            close_qty = min(remaining, lot.qty)
            exit_fee = fee_left if close_qty == remaining else _pro_rata(fee_quote, close_qty, qty)
            closed.append(self._close(lot, close_qty, ts_ns, px, exit_fee))
            remaining -= close_qty
            fee_left -= exit_fee
        if remaining:
            self._open(ts_ns, side.sign, remaining, px, fee_left)
        return closed

    # --- internals -------------------------------------------------------------

    def _open(self, ts_ns: int, sign: int, qty: Decimal, px: Decimal, fee: Decimal) -> None:
        self._sign = sign
        self._qty += qty
        self._open_fees += fee
        if self._method is AccountingMethod.AVERAGE and self._lots:
            pool = self._lots[0]
            pool.qty += qty
            pool.cost += qty * px
            pool.fee += fee
            pool.px = pool.cost / pool.qty
            self._cost += qty * px
            return
        lot = _Lot(ts_ns, qty, px, fee)
        self._lots.append(lot)
        self._cost += lot.cost

    def _close(
        self, lot: _Lot, qty: Decimal, ts_ns: int, px: Decimal, exit_fee: Decimal
    ) -> ClosedLot:
        sign = self._sign
        if qty == lot.qty:
            cost, entry_fee = lot.cost, lot.fee
            self._remove(lot)
        else:
            pooled = self._method is AccountingMethod.AVERAGE
            cost = _pro_rata(lot.cost, qty, lot.qty) if pooled else lot.px * qty
            entry_fee = _pro_rata(lot.fee, qty, lot.qty)
            lot.qty -= qty
            lot.cost -= cost
            lot.fee -= entry_fee
        gross = (qty * px - cost) if sign > 0 else (cost - qty * px)
        fees = entry_fee + exit_fee
        self._qty -= qty
        self._cost -= cost
        self._open_fees -= entry_fee
        self._realized += gross
        if not self._qty:
            self._sign = 0
        return ClosedLot(
            instrument_id=self._instrument_id,
            strategy_id=self._strategy_id,
            direction="LONG" if sign > 0 else "SHORT",
            quantity=qty,
            entry_ts=lot.ts,
            entry_px=lot.px,
            exit_ts=ts_ns,
            exit_px=px,
            gross_pnl=gross,
            fees=fees,
            net_pnl=gross - fees,
        )

    def _remove(self, lot: _Lot) -> None:
        if self._pick_newest:
            self._lots.pop()
        else:
            self._lots.popleft()


def _check_positive(instrument_id: str, name: str, value: Decimal) -> None:
    if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
        raise DataError(
            f"fill on {instrument_id or '?'}: {name} must be a finite Decimal > 0, was {value!r}"
        )
