"""The portfolio: balances, positions per (strategy, instrument), marks and equity.

How fills move money
--------------------
``apply_fill`` treats the account as spot (or spot-margin): a buy of ``q`` at
``p`` adds ``q`` of the base asset and takes ``q * p`` of the quote asset; a
sell does the reverse; the fee is taken from ``balances[fee_currency]``, which
may be the base asset, the quote asset or a third asset such as BNB. Balances
may go negative (a short sale borrows the base asset).

The same fill goes into the ``LotBook`` of its (strategy, instrument) for P&L,
with the fee converted to quote currency:

* ``fee_currency == quote``: the fee as is;
* ``fee_currency == base``: ``fee * last_px``, exact;
* any other currency: **0**. Such fees are not in any ``ClosedLot`` and not in
  ``net_pnl``; they are tracked in native units in ``fees_by_currency()`` and
  in each ``PositionView.fees_by_currency``, and they do reduce the balance of
  that currency (so ``equity()`` sees them once that currency has a mark).

A fill is identified by ``(venue, instrument_id, trade_id)``; replaying one
already applied returns None and changes nothing (venues resend fills after a
reconnect, and recovery replays them).

Equity
------
For a spot account the base-asset balance *is* the position, so ``equity()``
values balances only and never adds positions on top: the ``base_currency``
balance, plus each other non-zero balance times the mark of the instrument
that prices it: the one its fills came from, else the session instrument
quoting it in the base currency (``price_by``: ``oanda:GBP_USD`` values GBP on
a USD account, whatever the id's format), else ``<asset><base_currency>``
(``BTC`` is valued with ``BTCUSDT``). A session instrument quoting the base
currency in the asset values it at the inverse instead (``oanda:USD_JPY``: a
JPY balance over the mark, on a USD account). When that
instrument has no mark yet, the last fill price of that instrument is used;
with neither, the asset is left out and named in ``unvalued`` (a trading path
must never raise on it). The set of non-zero,
non-base balances is maintained on every balance change, so ``equity()`` is
O(number of such balances) and ``mark()`` is one dict store.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from genesis.core.enums import AccountingMethod, Side
from genesis.core.events import OrderFilled
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.money import ZERO
from genesis.errors import ConfigError, DataError
from genesis.portfolio.accounting import ClosedLot, LotBook

__all__ = ["USD_PEGGED", "InstrumentSource", "Portfolio", "PositionView"]

InstrumentSource = Callable[[str], Instrument] | Mapping[str, Instrument]

_BookKey = tuple[str, str]  # (strategy_id, instrument_id)


# dollars and the dollar stablecoins: valued 1:1 against each other (Portfolio.equity)
_GUARD_MARGIN: Final = Decimal("1e-12")
USD_PEGGED: Final = frozenset({"USD", "USDT", "USDC", "BUSD", "TUSD", "FDUSD", "DAI", "USDP"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    """A read-only picture of one position, taken when it was asked for.

    Attributes:
        instrument_id: the instrument.
        strategy_id: the owning strategy, or None for the aggregate of all strategies.
        qty: signed quantity in base units (> 0 long, < 0 short).
        avg_open_px: net open cost / ``qty`` in quote currency, 0 when flat. For an
            aggregate of opposite positions this is the break-even price, so that
            ``unrealized_pnl == qty * (mark_px - avg_open_px)`` always holds.
        realized_pnl: gross realised P&L in quote currency (before fees).
        unrealized_pnl: gross P&L of the open quantity at ``mark_px``, quote currency.
        mark_px: the last mark, else the last fill price, else None (never traded).
        fees_by_currency: every fee paid by this position, in native units.
    """

    instrument_id: str
    strategy_id: str | None
    qty: Decimal
    avg_open_px: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    mark_px: Decimal | None
    fees_by_currency: Mapping[str, Decimal] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )


class Portfolio:
    """Balances and positions of one account, fed by fills and marks.

    Args:
        instruments: a function or mapping from instrument id (venue symbol) to
            Instrument, used to learn each instrument's base and quote assets.
        method: the lot accounting method of every position.
        balances: starting balances by asset (exact Decimals).
        base_currency: the currency ``equity()`` is measured in.
        closed_lot_sink: when given, closed lots are handed to it as they close
            instead of being kept (``closed_lots()`` is then empty): a long
            backtest streams its trades to disk with flat memory.
        dedup_window: when given, only the newest this-many trade keys are
            remembered for duplicate detection (bounded memory); None keeps all.

    Raises:
        ConfigError: a balance is not a finite Decimal, or ``base_currency`` is empty.
    """

    def __init__(
        self,
        instruments: InstrumentSource,
        *,
        method: AccountingMethod = AccountingMethod.FIFO,
        balances: Mapping[str, Decimal],
        base_currency: str = "USDT",
        closed_lot_sink: Callable[[ClosedLot], None] | None = None,
        dedup_window: int | None = None,
        venue_balances: Mapping[str, Mapping[str, Decimal]] | None = None,
    ) -> None:
        if not base_currency:
            raise ConfigError("portfolio base_currency must be a non-empty asset name, was ''")
        self._source = instruments
        self._method = method
        self._base = base_currency
        self._instruments: dict[str, Instrument] = {}
        self._balances: dict[str, Decimal] = {}
        self._valued: dict[str, str] = {}  # non-zero, non-base asset -> valuation symbol
        self._pricer: dict[str, str] = {}  # asset -> the instrument id its fills priced it by
        # asset -> the session instrument quoting it in the base currency (price_by)
        self._listed: dict[str, str] = {}
        # asset -> the session instrument quoting the base currency in it: valued at 1/mark
        self._inverse: dict[str, str] = {}
        # the instrument ids equity reads a mark of: a mark of any other moves nothing
        self._pricing: frozenset[str] = frozenset()
        self.unvalued: tuple[str, ...] = ()  # assets the last equity() could not value
        self._books: dict[_BookKey, LotBook] = {}
        self._book_fees: dict[_BookKey, dict[str, Decimal]] = {}
        self._keys_by_instrument: dict[str, list[_BookKey]] = {}
        self._applied: set[tuple[str, str, str]] = set()  # membership only, never iterated
        # with a window, only the newest trade keys are remembered (bounded memory)
        self._applied_order: deque[tuple[str, str, str]] | None = (
            deque() if dedup_window is not None else None
        )
        self._dedup_window = dedup_window or 0
        self._closed: list[ClosedLot] = []
        self._sink = closed_lot_sink
        self._fees: dict[str, Decimal] = {}
        self._financing: dict[str, Decimal] = {}  # FX rollover entries, by currency
        self._marks: dict[str, Decimal] = {}
        self._last_px: dict[str, Decimal] = {}
        # equity() until a balance, a mark or a fill price changes (checked after every event)
        self._equity: Decimal | None = None
        # (floor, instrument id, price): while that instrument's mark is above the price,
        # equity is above the floor (one asset held long; see equity_above)
        self._guard: tuple[Decimal, str, Decimal] | None = None
        for asset, amount in balances.items():
            if not (isinstance(amount, Decimal) and amount.is_finite()):
                raise ConfigError(f"balance of {asset}: expected a finite Decimal, was {amount!r}")
            self._credit(asset, amount)
        # several venues: each venue's own account too (venue -> asset -> amount), so what
        # one venue holds never funds an order on another
        self._by_venue: dict[tuple[str, str], Decimal] | None = (
            None
            if venue_balances is None
            else {(v, a): amt for v, held in venue_balances.items() for a, amt in held.items()}
        )

    # --- inputs --------------------------------------------------------------

    def apply_fill(self, fill: OrderFilled) -> list[ClosedLot] | None:
        """Apply one fill to balances and to its (strategy, instrument) position.

        Returns:
            The lots the fill closed (possibly empty), or None when a fill with the
            same ``(venue, instrument_id, trade_id)`` was already applied; a
            duplicate changes nothing.

        Raises:
            ConfigError: the instrument is unknown.
            DataError: ``last_qty``/``last_px`` not > 0 or ``fee`` not finite; nothing changes.
        """
        key = (fill.venue, fill.instrument_id, fill.trade_id)
        if key in self._applied:
            return None
        instrument, fees, closed = self._book_fill(fill)
        sign = 1 if fill.side is Side.BUY else -1
        self._credit(instrument.base, sign * fill.last_qty)
        self._credit(instrument.quote, -sign * fill.last_qty * fill.last_px)
        if fill.fee:
            self._charge_fee(fill.fee_currency, fill.fee, fees)
        if self._by_venue is not None:
            self._credit_venue(fill, instrument, sign)
        self._remember(key)
        if self._sink is None:
            self._closed.extend(closed)
        else:
            for lot in closed:
                self._sink(lot)
        return closed

    def restore_fill(self, fill: OrderFilled) -> list[ClosedLot] | None:
        """A fill from before a restart (live): its lot, position and P&L, but not its cash
        and asset movements, which the account's balances (read from the venue) already hold.

        Returns:
            The lots the fill closed, or None when a fill with the same
            ``(venue, instrument_id, trade_id)`` is known (nothing changes).

        Raises:
            ConfigError / DataError: as ``apply_fill``; nothing changes.
        """
        key = (fill.venue, fill.instrument_id, fill.trade_id)
        if key in self._applied:
            return None
        closed = self._book_fill(fill)[2]
        self._closed.extend(closed)
        self._remember(key)
        return closed

    def _book_fill(
        self, fill: OrderFilled
    ) -> tuple[Instrument, dict[str, Decimal], list[ClosedLot]]:
        """Validate ``fill`` and book its lot; the instrument, the book's fees, closed lots."""
        _check_fill(fill)
        instrument = self._instrument(fill.instrument_id)
        fee_quote = self._fee_in_quote(fill, instrument)
        book, fees = self._book(fill.strategy_id, fill.instrument_id)
        closed = book.apply(fill.ts_event, fill.side, fill.last_qty, fill.last_px, fee_quote)
        self._last_px[fill.instrument_id] = fill.last_px
        self._equity = None
        if instrument.quote == self._base and instrument.base not in self._pricer:
            self._pricer[instrument.base] = fill.instrument_id
            self._reprice()
        return instrument, fees, closed

    def mark(self, instrument_id: str, price: Decimal) -> None:
        """Record the latest price of ``instrument_id`` (quote currency); O(1).

        Raises:
            DataError: ``price`` is not > 0.
        """
        if price <= 0:
            raise DataError(f"mark of {instrument_id}: price must be > 0, was {price}")
        if self._marks.get(instrument_id) is not price:  # equal but not the same: 101.50
            self._marks[instrument_id] = price  # is kept as given, as equity prints it
            if instrument_id in self._pricing:
                self._equity = None

    def price_by(self, instrument_ids: Iterable[str]) -> None:
        """Value currencies with the session's instruments, whatever their ids' format: one
        quoting an asset in the base currency prices that asset (``oanda:GBP_USD``: GBP on
        a USD account; an id equal to ``<asset><base_currency>`` is preferred, then the
        first), one quoting the base currency in an asset prices it at the inverse
        (``oanda:USD_JPY``: JPY). A pricer a fill set comes first; an unknown id is skipped
        (the strategy naming it is refused elsewhere)."""
        for instrument_id in instrument_ids:
            try:
                inst = self._instrument(instrument_id)
            except ConfigError:
                continue
            if inst.quote == self._base and inst.base != self._base:
                if inst.base not in self._listed or instrument_id == inst.base + self._base:
                    self._listed[inst.base] = instrument_id
                    self._inverse.pop(inst.base, None)  # a direct quote comes first
            elif inst.base == self._base != inst.quote and inst.quote not in self._listed:
                self._inverse.setdefault(inst.quote, instrument_id)
        for asset in self._valued:
            self._valued[asset] = self._symbol(asset)
        self._reprice()
        self._equity = None

    # --- queries -------------------------------------------------------------

    def equity(self) -> Decimal:
        """Return every balance valued in ``base_currency`` (exact Decimal).

        Non-base assets are valued at the mark of the instrument that prices them in the
        base currency (``<asset><base_currency>``, or the venue-qualified instrument a fill
        of it came from, e.g. ``bybit:BTCUSD``), or at its last fill price when it has no
        mark. An asset with neither (a fee paid in BNB with no BNB price seen) is left out
        and named in ``unvalued``: the equity never raises on a trading path. USD and
        the dollar stablecoins (``USD_PEGGED``) count at par against each other, so a
        session trading BTCUSDT beside BTCUSD has one equity (a depeg is not modelled).
        An asset priced by an instrument quoting the base currency in it (``price_by``)
        counts ``balance / mark``, not rounded.
        """
        if self._equity is not None:
            return self._equity
        total = self._balances.get(self._base, ZERO)
        unvalued: list[str] = []
        pegged = self._base in USD_PEGGED
        for asset, symbol in self._valued.items():
            if pegged and asset in USD_PEGGED:
                total += self._balances[asset]  # a dollar is a dollar (no depeg modelled)
                continue
            filled = self._pricer.get(asset)
            if filled is not None:
                symbol = filled
            price = self._marks.get(symbol)
            if price is None:
                price = self._last_px.get(symbol)
                if price is None:
                    unvalued.append(asset)
                    continue
            if filled is None and asset in self._inverse:
                total += self._balances[asset] / price  # USD_JPY prices JPY at 1/mark
            else:
                total += self._balances[asset] * price
        self.unvalued = tuple(unvalued)
        self._equity = total
        return total

    def equity_above(self, floor: Decimal) -> bool:
        """``equity() > floor``, often without valuing the account.

        The kernel asks after every market event (the daily-loss limit). When the account
        holds one asset besides cash, long, equity is ``cash + held * mark``: above the
        floor while the mark is above ``(floor - cash) / held``. That price, raised by a
        trillionth (more than any 28-digit rounding of the sum), is kept until a balance
        or the floor changes; a mark above it answers with one comparison.
        """
        if self._equity is not None:
            return self._equity > floor
        guard = self._guard
        if guard is not None and guard[0] is floor:
            mark = self._marks.get(guard[1])
            if mark is not None and mark > guard[2]:
                return True
        above = self.equity() > floor
        self._guard = self._guard_for(floor)
        return above

    def _guard_for(self, floor: Decimal) -> tuple[Decimal, str, Decimal] | None:
        if len(self._valued) != 1 or self.unvalued or not floor.is_finite():
            return None
        [(asset, symbol)] = self._valued.items()
        held = self._balances[asset]
        if held <= 0 or (self._base in USD_PEGGED and asset in USD_PEGGED):
            return None
        if asset in self._inverse and asset not in self._pricer:
            return None  # valued at 1/mark: equity falls as the mark rises
        cash = self._balances.get(self._base, ZERO)
        price = (floor - cash) / held
        price += (abs(price) + abs(floor) / held) * _GUARD_MARGIN
        return floor, self._pricer.get(asset, symbol), price

    def mark_price(self, instrument_id: str) -> Decimal | None:
        """Return the last mark, else the last fill price, else None."""
        price = self._marks.get(instrument_id)
        return self._last_px.get(instrument_id) if price is None else price

    def position(self, instrument_id: str, strategy_id: str | None = None) -> PositionView:
        """Return one strategy's position, or with ``strategy_id=None`` all strategies summed.

        A position never traded is returned flat (all zeros), not refused.
        """
        if strategy_id is None:
            keys = self._keys_by_instrument.get(instrument_id, [])
        else:
            key = (strategy_id, instrument_id)
            keys = [key] if key in self._books else []
        return self._view(instrument_id, strategy_id, keys)

    def positions(self, strategy_id: str | None = None) -> list[PositionView]:
        """Return positions sorted by instrument id, including flat ones once traded.

        Args:
            strategy_id: None for one aggregate per instrument; else that strategy's.
        """
        if strategy_id is None:
            return [self.position(iid) for iid in sorted(self._keys_by_instrument)]
        iids = sorted(iid for sid, iid in self._books if sid == strategy_id)
        return [self.position(iid, strategy_id) for iid in iids]

    def gross_exposure(self, excluding: str) -> Decimal:
        """Every instrument's aggregate position, but ``excluding``'s, at its mark (or last
        fill price) in its quote currency, summed as absolute values; an instrument with
        no price yet counts nothing; one whose base is the base currency counts its units
        (USD_JPY on a USD account). (Pre-trade's leverage input, per order: no views.)"""
        gross = ZERO
        for instrument_id in self._keys_by_instrument:
            if instrument_id == excluding:
                continue
            qty = self.position_qty(instrument_id)
            inst = self._instruments[instrument_id]  # booked: its fills looked it up
            if qty != 0 and inst.base == self._base != inst.quote:
                gross += abs(qty)
            elif qty != 0:
                mark = self.mark_price(instrument_id)
                if mark is not None:
                    gross += abs(qty) * mark
        return gross

    def has_open_positions(self) -> bool:
        """Whether any (strategy, instrument) position is not flat (no set built)."""
        return any(book.qty != 0 for book in self._books.values())

    def open_position_keys(self) -> set[tuple[str, str]]:
        """``(strategy, instrument)`` of every non-flat position."""
        return {key for key, book in self._books.items() if book.qty != 0}

    def closed_lots(
        self, *, strategy_id: str | None = None, instrument_id: str | None = None
    ) -> list[ClosedLot]:
        """Return closed lots in the order they closed, optionally filtered."""
        return [
            lot
            for lot in self._closed
            if (strategy_id is None or lot.strategy_id == strategy_id)
            and (instrument_id is None or lot.instrument_id == instrument_id)
        ]

    def balances(self) -> dict[str, Decimal]:
        """Return a copy of every balance by asset, zeros included."""
        return dict(self._balances)

    def position_qty(self, instrument_id: str, strategy_id: str | None = None) -> Decimal:
        """Return the signed open quantity; O(1) per strategy (the per-bar hot path).

        With ``strategy_id=None`` the quantities of every strategy are summed.
        """
        if strategy_id is not None:
            book = self._books.get((strategy_id, instrument_id))
            return ZERO if book is None else book.qty
        return sum(
            (self._books[k].qty for k in self._keys_by_instrument.get(instrument_id, ())), ZERO
        )

    def balance(self, asset: str, venue: str | None = None) -> Decimal:
        """Return the balance of ``asset`` (0 when never held): on every venue together, or,
        for a portfolio that keeps venue accounts, on ``venue`` alone."""
        if venue is not None and self._by_venue is not None:
            return self._by_venue.get((venue, asset), ZERO)
        return self._balances.get(asset, ZERO)

    @property
    def base_currency(self) -> str:
        """The currency ``equity()`` is measured in."""
        return self._base

    @property
    def per_venue(self) -> bool:
        """Whether each venue's account is kept (a multi-venue session)."""
        return self._by_venue is not None

    def _credit_venue(self, fill: OrderFilled, instrument: Instrument, sign: int) -> None:
        assert self._by_venue is not None
        venue = split_instrument_id(fill.instrument_id)[0]
        moves = [
            (instrument.base, sign * fill.last_qty),
            (instrument.quote, -sign * fill.last_qty * fill.last_px),
            (fill.fee_currency, -fill.fee),
        ]
        for asset, amount in moves:
            key = (venue, asset)
            self._by_venue[key] = self._by_venue.get(key, ZERO) + amount

    def fees_by_currency(self) -> dict[str, Decimal]:
        """Return every fee paid, by fee currency, in native units."""
        return dict(self._fees)

    def book_financing(self, currency: str, amount: Decimal) -> None:
        """Credit ``amount`` of ``currency`` (negative: charge) as a financing entry: an FX
        position held over the daily rollover (``genesis.portfolio.financing``).

        Raises:
            DataError: ``amount`` is not a finite Decimal; nothing changes.
        """
        if not (isinstance(amount, Decimal) and amount.is_finite()):
            raise DataError(f"financing of {currency}: expected a finite Decimal, was {amount!r}")
        self._credit(currency, amount)
        self._financing[currency] = self._financing.get(currency, ZERO) + amount

    def financing_by_currency(self) -> dict[str, Decimal]:
        """Every financing entry booked, summed by currency (empty: none)."""
        return dict(self._financing)

    def book(self, instrument_id: str, strategy_id: str) -> LotBook | None:
        """Return the live LotBook of one position, or None; callers must not mutate it."""
        return self._books.get((strategy_id, instrument_id))

    # --- internals -------------------------------------------------------------

    def _remember(self, key: tuple[str, str, str]) -> None:
        self._applied.add(key)
        order = self._applied_order
        if order is not None:
            order.append(key)
            if len(order) > self._dedup_window:
                self._applied.discard(order.popleft())

    def _instrument(self, instrument_id: str) -> Instrument:
        instrument = self._instruments.get(instrument_id)
        if instrument is None:
            try:
                if isinstance(self._source, Mapping):
                    instrument = self._source[instrument_id]
                else:
                    instrument = self._source(instrument_id)
            except KeyError:
                raise ConfigError(f"portfolio: unknown instrument {instrument_id!r}") from None
            self._instruments[instrument_id] = instrument
        return instrument

    def _fee_in_quote(self, fill: OrderFilled, instrument: Instrument) -> Decimal:
        if fill.fee_currency == instrument.quote:
            return fill.fee
        if fill.fee_currency == instrument.base:
            return fill.fee * fill.last_px
        return ZERO  # a third currency: tracked in fees_by_currency, kept out of P&L

    def _book(self, strategy_id: str, instrument_id: str) -> tuple[LotBook, dict[str, Decimal]]:
        key = (strategy_id, instrument_id)
        book = self._books.get(key)
        if book is None:
            book = LotBook(self._method, instrument_id=instrument_id, strategy_id=strategy_id)
            self._books[key] = book
            self._book_fees[key] = {}
            self._keys_by_instrument.setdefault(instrument_id, []).append(key)
        return book, self._book_fees[key]

    def _charge_fee(self, currency: str, fee: Decimal, book_fees: dict[str, Decimal]) -> None:
        self._credit(currency, -fee)
        book_fees[currency] = book_fees.get(currency, ZERO) + fee
        self._fees[currency] = self._fees.get(currency, ZERO) + fee

    def _credit(self, asset: str, amount: Decimal) -> None:
        balance = self._balances.get(asset, ZERO) + amount
        self._balances[asset] = balance
        self._equity = self._guard = None
        if asset == self._base:
            return
        if balance:
            if asset not in self._valued:
                self._valued[asset] = self._symbol(asset)
                self._reprice()
        elif self._valued.pop(asset, None) is not None:
            self._reprice()

    def _symbol(self, asset: str) -> str:
        """The session instrument pricing ``asset`` (``price_by``), else ``<asset><base>``."""
        listed = self._listed.get(asset)
        if listed is None:
            listed = self._inverse.get(asset)
        return asset + self._base if listed is None else listed

    def _reprice(self) -> None:
        """After the valued assets or their pricers changed: which marks equity reads."""
        self._pricing = frozenset(
            self._pricer.get(asset, symbol) for asset, symbol in self._valued.items()
        )
        self._guard = None

    def _view(
        self, instrument_id: str, strategy_id: str | None, keys: list[_BookKey]
    ) -> PositionView:
        mark = self.mark_price(instrument_id)
        qty = cost = realized = unrealized = ZERO
        fees: dict[str, Decimal] = {}
        for key in keys:
            book = self._books[key]
            qty += book.qty
            cost += book.open_cost
            realized += book.realized_pnl
            if mark is not None:
                unrealized += book.unrealized_pnl(mark)
            for currency, amount in self._book_fees[key].items():
                fees[currency] = fees.get(currency, ZERO) + amount
        return PositionView(
            instrument_id=instrument_id,
            strategy_id=strategy_id,
            qty=qty,
            avg_open_px=cost / qty if qty else ZERO,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            mark_px=mark,
            fees_by_currency=MappingProxyType(dict(sorted(fees.items()))),
        )


def _check_fill(fill: OrderFilled) -> None:
    for name, value in (("last_qty", fill.last_qty), ("last_px", fill.last_px)):
        if not (value.is_finite() and value > 0):
            raise DataError(
                f"fill {fill.trade_id} on {fill.instrument_id}: {name} must be > 0, was {value}"
            )
    if not fill.fee.is_finite():
        raise DataError(
            f"fill {fill.trade_id} on {fill.instrument_id}: fee must be finite, was {fill.fee}"
        )
