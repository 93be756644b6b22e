"""An FX account in its account currency, as OANDA keeps one (exact Decimal).

The kernel's portfolio keeps an FX position the spot way: a long GBPUSD is GBP
held and USD spent, valued at the mark. ``FxLedger`` keeps the same trading as a
broker's FX account does, in one currency, the *account currency*:

* ``balance``: the starting cash plus every realised P&L, fee and financing entry,
  each converted into the account currency when it happens
  (``genesis.core.fx.to_account``: exact when the pair is quoted in the account
  currency, else divided by the pair's price at that moment and rounded half-even
  to 0.0001);
* the open position: signed units and its lots (``LotBook``, FIFO by default), whose
  unrealised P&L at the mid is converted at that mid;
* ``nav(mid) = balance + unrealized(mid)``, OANDA's NAV; ``margin_used(mid)``.

Realised P&L of a closing fill is converted at the fill's own price (the rate of
that moment); fees, charged by the venue in the quote currency, likewise. When
the account currency is the quote currency nothing is rounded, and ``nav(mid)``
equals the kernel portfolio's equity at the same mid (the FX backtest checks it).
"""

from __future__ import annotations

from decimal import Decimal

from genesis.core.enums import AccountingMethod, Side
from genesis.core.fx import FxPair, to_account
from genesis.core.money import ZERO
from genesis.portfolio.accounting import ClosedLot, LotBook
from genesis.portfolio.financing import FinancingEntry, financing

__all__ = ["FxLedger"]


class FxLedger:
    """One pair's FX account in ``account`` currency (module docstring).

    Raises:
        ConfigError: ``account`` is neither currency of ``pair``.
    """

    def __init__(
        self,
        pair: FxPair,
        instrument_id: str,
        account: str,
        cash: Decimal,
        method: AccountingMethod = AccountingMethod.FIFO,
    ) -> None:
        to_account(ZERO, pair, Decimal(1), account)  # a currency it cannot convert: now
        self.pair = pair
        self.instrument_id = instrument_id
        self.account = account
        self.cash = cash
        self.balance = cash
        self.realized = ZERO  # gross realised P&L, account currency
        self.fees = ZERO  # account currency
        self.financing = ZERO  # account currency
        self.entries: list[FinancingEntry] = []
        self._book = LotBook(method, instrument_id=instrument_id, strategy_id="fx")

    @property
    def units(self) -> Decimal:
        """The signed open position (> 0 long)."""
        return self._book.qty

    def fill(
        self, ts_ns: int, side: Side, units: Decimal, price: Decimal, fee: Decimal = ZERO
    ) -> list[ClosedLot]:
        """Book one fill of ``units`` (> 0) at ``price``; ``fee`` in the quote currency.

        Returns:
            The lots it closed (their P&L in the quote currency, as the kernel's).
        """
        closed = self._book.apply(ts_ns, side, units, price, fee)
        pair, account = self.pair, self.account
        for lot in closed:
            pnl = to_account(lot.gross_pnl, pair, price, account)
            self.realized += pnl
            self.balance += pnl
        if fee:
            charged = to_account(fee, pair, price, account)
            self.fees += charged
            self.balance -= charged
        return closed

    def rollover(self, rollover_ns: int, mid: Decimal) -> FinancingEntry | None:
        """Finance the open position over the rollover at ``rollover_ns`` (None: flat)."""
        units = self._book.qty
        if units == 0:
            return None
        entry = financing(self.pair, self.instrument_id, units, mid, rollover_ns, self.account)
        self.financing += entry.amount
        self.balance += entry.amount
        self.entries.append(entry)
        return entry

    def unrealized(self, mid: Decimal) -> Decimal:
        """The open position's P&L at ``mid``, in the account currency."""
        if self._book.qty == 0:
            return ZERO
        return to_account(self._book.unrealized_pnl(mid), self.pair, mid, self.account)

    def nav(self, mid: Decimal) -> Decimal:
        """Balance plus unrealised P&L at ``mid`` (OANDA's NAV)."""
        return self.balance + self.unrealized(mid)

    def margin_used(self, mid: Decimal) -> Decimal:
        """Margin the open position needs at ``mid``, in the account currency."""
        if self._book.qty == 0:
            return ZERO
        return self.pair.margin(self._book.qty, mid, self.account)
