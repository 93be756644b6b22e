"""The simulated venue's own spot account: balances, locks, settlement (exact Decimal)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO

__all__ = ["SimAccount"]


class SimAccount:
    """Balances and the part of them locked by open orders.

    A buy locks quote (its price times quantity plus the worst-case fee), a sell
    locks the base it sells; fills release the lock pro rata and settle at the
    actual price. This is the venue's ledger: the kernel's portfolio must agree
    with it (reconciliation compares the two).
    """

    __slots__ = ("_balances", "_locked")

    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self._balances: dict[str, Decimal] = dict(balances)
        self._locked: dict[str, Decimal] = {}

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
