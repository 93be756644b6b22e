"""The simulated venue's own account: balances, locks, settlement (exact Decimal); spot,
and margin for the instruments traded on it (FX)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.core.margin import exposure_units
from genesis.core.money import ZERO

__all__ = ["SimAccount"]


class SimAccount:
    """Balances and the part of them locked by open orders.

    A buy locks quote (its price times quantity plus the worst-case fee), a sell
    locks the base it sells; fills release the lock pro rata and settle at the
    actual price. This is the venue's ledger: the kernel's portfolio must agree
    with it (reconciliation compares the two).

    An instrument traded on margin (``Instrument.margin_rate``: FX) locks nothing and
    needs no asset held: its fills settle as a spot fill does (a short leaves the base
    negative) and its net units are kept (``units``); an order on it is checked
    against ``margin_free`` instead (``SimulatedVenue``).
    """

    __slots__ = ("_balances", "_locked", "_units")

    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self._balances: dict[str, Decimal] = dict(balances)
        self._locked: dict[str, Decimal] = {}
        self._units: dict[str, Decimal] = {}  # margin instrument id -> net units

    def total(self, currency: str) -> Decimal:
        return self._balances.get(currency, ZERO)

    def free(self, currency: str) -> Decimal:
        return self.total(currency) - self._locked.get(currency, ZERO)

    def balances(self) -> dict[str, Decimal]:
        """Non-zero total balances, sorted by currency."""
        return {c: v for c, v in sorted(self._balances.items()) if v != 0}

    def lock(self, currency: str, amount: Decimal) -> bool:
        """Lock ``amount`` if that much is free; return whether it was locked."""
        if amount > self.free(currency):
            return False
        self._locked[currency] = self._locked.get(currency, ZERO) + amount
        return True

    def release(self, currency: str, amount: Decimal) -> None:
        self._locked[currency] = self._locked.get(currency, ZERO) - amount

    def can_settle(
        self,
        inst: Instrument,
        side: Side,
        qty: Decimal,
        px: Decimal,
        fee: Decimal,
        own_lock: Decimal,
    ) -> bool:
        """Whether the free balance plus this order's own lock covers the fill."""
        if side is Side.BUY:
            return qty * px + fee <= self.free(inst.quote) + own_lock
        return qty <= self.free(inst.base) + own_lock and fee <= self.free(inst.quote) + qty * px

    def credit(self, currency: str, amount: Decimal) -> None:
        """Add ``amount`` (negative: take it) to ``currency``: a financing entry (FX rollover)."""
        self._balances[currency] = self._balances.get(currency, ZERO) + amount

    def settle(self, inst: Instrument, side: Side, qty: Decimal, px: Decimal, fee: Decimal) -> None:
        """Move the assets of one fill; the fee is charged in quote."""
        notional = qty * px
        sign = side.sign
        b = self._balances
        b[inst.base] = b.get(inst.base, ZERO) + sign * qty
        b[inst.quote] = b.get(inst.quote, ZERO) - sign * notional - fee

    # --- margin (FX) -----------------------------------------------------------

    def units(self, instrument_id: str) -> Decimal:
        """The net position (> 0 long) of a margin instrument."""
        return self._units.get(instrument_id, ZERO)

    def book_units(self, instrument_id: str, side: Side, qty: Decimal) -> None:
        """A fill of a margin instrument moves its net position (after ``settle``)."""
        self._units[instrument_id] = self._units.get(instrument_id, ZERO) + side.sign * qty

    def margin_free(
        self,
        currency: str,
        instruments: Callable[[str], Instrument],
        prices: Mapping[str, Decimal],
        pending: Mapping[str, tuple[Decimal, Decimal]],
    ) -> Decimal:
        """The margin available in ``currency``: its balance plus the value at ``prices``
        of the positions of the margin instruments quoted in it (their NAV), less their
        margin (positions and the ``pending`` (buys, sells) units of working orders,
        netted: ``genesis.core.margin``). An instrument with no price counts nothing."""
        free = self.total(currency)
        for iid in sorted(set(self._units) | set(pending)):
            inst = instruments(iid)
            rate, price = inst.margin_rate, prices.get(iid)
            if rate is None or price is None or inst.quote != currency:
                continue
            units = self._units.get(iid, ZERO)
            buys, sells = pending.get(iid, (ZERO, ZERO))
            free += units * price - rate * price * exposure_units(units, buys, sells)
        return free
