"""What working orders hold back, kept up to date as orders change (SPEC RK-1 cash checks).

Pre-trade risk asks, for every new order, how much quote and base the open
orders may still consume and how many positions are held or being opened.
Answering by walking every open order made each check O(open orders); with a
journal commit in flight hundreds of orders are open at once and the walk
became the order path's largest cost. ``ReserveIndex`` keeps the answer
instead: the OMS calls ``update(order)`` after each change of an order (its
registration and every applied event), and the index moves that order's
share between running totals.

An open order that is not being cancelled holds back:

* a buy: ``leaves x price x (1 + fee)`` of its quote asset, priced at its limit,
  else its trigger; a buy with neither (a market order) is priced at the market
  when asked, so those few are kept apart and summed at the question;
* a sell: ``leaves`` of its base asset; the legs of one OCO list hold back once,
  their largest leg;
* an order on an instrument traded on margin (``Instrument.margin_rate``: FX) holds
  back no asset: it is kept by instrument instead, and ``pending`` says how many
  units its working buys and sells may still add (an OCO list's legs on one side
  once, their largest), which the margin check counts (``genesis.core.margin``).

Each venue's account is kept apart when the portfolio keeps one per venue.
The question excludes the order being checked and the other legs of its OCO
list. Totals are summed in an exact context, so adding and removing an order
returns them exactly to where they were (no drift); the answer equals the walk's
sum of the same products (a walk rounds each partial sum at 28 digits, which
only figures beyond 28 significant digits could tell apart).
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from genesis.core.enums import OPEN_STATUSES, OrderStatus, Side
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.margin import pending_units
from genesis.core.money import ZERO
from genesis.core.orders import Order

__all__ = ["ReserveIndex"]

_EXACT: Final = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[]
)


class _Share:
    """One order's place in the index: its key and what it holds back (a fixed amount,
    or None for a market buy priced at the question)."""

    __slots__ = ("amount", "group", "key", "side")

    def __init__(self, key: tuple[str, str], side: Side, amount: Decimal | None, group: str):
        self.key = key
        self.side = side
        self.amount = amount
        self.group = group

    def same(self, other: _Share) -> bool:
        return (
            self.key == other.key and self.side is other.side
            and self.amount == other.amount and self.group == other.group
        )  # fmt: skip


class ReserveIndex:
    """Running totals of what open orders hold back; see the module docstring."""

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        market_price: Callable[[str], Decimal | None],
        fee_rate: Decimal,
        per_venue: bool,
        reduce_only: set[str],
        oco_group: dict[str, str],
    ) -> None:
        self._instruments = instruments
        self._market_price = market_price
        self._fee = 1 + fee_rate
        self._per_venue = per_venue
        self._reduce_only = reduce_only
        self._oco_group = oco_group
        self._shares: dict[str, _Share] = {}
        self._quote: dict[tuple[str, str], Decimal] = {}  # (venue, asset) -> priced buys
        self._base: dict[tuple[str, str], Decimal] = {}  # (venue, asset) -> ungrouped sells
        self._counts: dict[tuple[int, str, str], int] = {}  # orders in each running total
        self._market_buys: dict[tuple[str, str], dict[str, Order]] = {}
        self._groups: dict[tuple[str, str], dict[str, dict[str, Decimal]]] = {}
        self._entries: dict[tuple[str, str], dict[str, Order]] = {}  # (strategy, instrument)
        self._orders: dict[str, Order] = {}
        self._margin: dict[str, dict[str, Order]] = {}  # margin instrument -> working orders

    # --- kept up to date by the OMS ----------------------------------------------

    def update(self, order: Order) -> None:
        """Re-file ``order`` after any change: its old share out, its new one in."""
        if self._instruments(order.instrument_id).margin_rate is not None:
            self._update_margin(order)
            return
        cid = order.client_order_id
        # get + del, not pop: mypyc compiles these two to C calls, pop to a method lookup
        old = self._shares.get(cid)
        if old is not None:
            del self._shares[cid]
        status = order.status
        if status not in OPEN_STATUSES or status is OrderStatus.PENDING_CANCEL:
            if old is not None:
                self._remove(cid, old)
            if status not in OPEN_STATUSES:  # NEW or finished: holds nothing, opens nothing
                self._forget_entry(order)
            else:  # a cancel in flight reaches the venue before any new order
                self._file_entry(order)
            return
        self._file_entry(order)
        share = self._share(order)
        if old is not None and old.same(share):  # e.g. SUBMITTED -> ACCEPTED: unchanged
            self._shares[cid] = old
            return
        if old is not None:
            self._remove(cid, old)
        self._shares[cid] = share
        self._add(cid, order, share)

    def _update_margin(self, order: Order) -> None:
        """An order on a margin instrument: kept by instrument while it may still fill."""
        cid, iid, status = order.client_order_id, order.instrument_id, order.status
        working = self._margin.get(iid)
        if status in OPEN_STATUSES and status is not OrderStatus.PENDING_CANCEL:
            if working is None:
                working = self._margin[iid] = {}
            working[cid] = order
        elif working is not None and cid in working:
            del working[cid]
            if not working:
                del self._margin[iid]
        if status in OPEN_STATUSES:
            self._file_entry(order)
        else:
            self._forget_entry(order)

    def _share(self, order: Order) -> _Share:
        inst = self._instruments(order.instrument_id)
        venue = split_instrument_id(order.instrument_id)[0] if self._per_venue else ""
        group = self._oco_group.get(order.client_order_id, "")
        if order.side is Side.BUY:
            price = order.price or order.trigger_price
            amount = None if price is None else order.leaves_qty * price * self._fee
            return _Share((venue, inst.quote), Side.BUY, amount, group)
        return _Share((venue, inst.base), Side.SELL, order.leaves_qty, group)

    def _add(self, cid: str, order: Order, share: _Share) -> None:
        key, amount = share.key, share.amount
        if share.side is Side.BUY:
            if amount is None:
                self._market_buys.setdefault(key, {})[cid] = order
            else:
                _file(self._quote, self._counts, 0, key, amount)
        elif share.group:
            assert amount is not None
            self._groups.setdefault(key, {}).setdefault(share.group, {})[cid] = amount
        else:
            assert amount is not None
            _file(self._base, self._counts, 1, key, amount)

    def _remove(self, cid: str, share: _Share) -> None:
        key, amount = share.key, share.amount
        if share.side is Side.BUY:
            if amount is None:
                self._market_buys.get(key, {}).pop(cid, None)
            else:
                _unfile(self._quote, self._counts, 0, key, amount)
        elif share.group:
            legs = self._groups[key][share.group]
            del legs[cid]
            if not legs:
                del self._groups[key][share.group]
        else:
            assert amount is not None
            _unfile(self._base, self._counts, 1, key, amount)

    def _file_entry(self, order: Order) -> None:
        self._entries.setdefault((order.strategy_id, order.instrument_id), {})[
            order.client_order_id
        ] = order

    def _forget_entry(self, order: Order) -> None:
        key = (order.strategy_id, order.instrument_id)
        entries = self._entries.get(key)
        if entries is not None:
            if order.client_order_id in entries:
                del entries[order.client_order_id]
            if not entries:
                del self._entries[key]

    # --- the questions pre-trade asks --------------------------------------------

    def reserved(
        self, inst: Instrument, exclude: str, venue: str | None
    ) -> tuple[Decimal, Decimal]:
        """Quote and base that open orders on ``inst``'s assets (on ``venue``, when each
        venue's account is kept) may still consume, ``exclude`` and its OCO legs aside."""
        v = venue if venue is not None and self._per_venue else ""
        own_group = self._oco_group.get(exclude, "")
        quote = self._sum(self._quote, (v, inst.quote))
        for cid, order in self._market_buys.get((v, inst.quote), {}).items():
            if cid != exclude and not (own_group and self._oco_group.get(cid) == own_group):
                price = self._market_price(order.instrument_id) or ZERO
                quote += order.leaves_qty * price * self._fee
        base = self._sum(self._base, (v, inst.base))
        groups = self._groups.get((v, inst.base), {})
        for group, legs in groups.items():
            if group != own_group:
                base += max(legs.values())
        quote -= self._own(exclude, own_group, Side.BUY, (v, inst.quote))
        base -= self._own(exclude, "", Side.SELL, (v, inst.base))
        return quote, base

    def pending(self, instrument_id: str, exclude: str) -> tuple[Decimal, Decimal]:
        """Units the working buys and sells of a margin instrument may still add,
        ``exclude`` and its OCO legs aside; an OCO list's legs on one side count once."""
        oco = self._oco_group
        orders = [
            (cid, oco.get(cid, ""), o.side, o.leaves_qty)
            for cid, o in self._margin.get(instrument_id, {}).items()
        ]
        return pending_units(orders, exclude, oco.get(exclude, ""))

    def margin_instruments(self) -> list[str]:
        """The margin instruments with a working order."""
        return list(self._margin)

    def _sum(self, totals: dict[tuple[str, str], Decimal], key: tuple[str, str]) -> Decimal:
        return +totals.get(key, ZERO)  # unary plus: rounded to the working context once

    def _own(self, exclude: str, own_group: str, side: Side, key: tuple[str, str]) -> Decimal:
        """What ``exclude`` (and, for buys, its OCO legs) put into the priced totals."""
        cids = [exclude]
        if own_group:
            cids += [c for c, g in self._oco_group.items() if g == own_group and c != exclude]
        total = ZERO
        for cid in cids:
            share = self._shares.get(cid)
            if share is None or share.side is not side or share.key != key:
                continue
            if share.amount is not None and not (side is Side.SELL and share.group):
                total += share.amount
        return total

    def entry_keys(self) -> set[tuple[str, str]]:
        """(strategy, instrument) of every open order that is not a reduce-only exit."""
        reduce_only = self._reduce_only
        return {
            key
            for key, orders in self._entries.items()
            if any(cid not in reduce_only for cid in orders)
        }


def _file(
    totals: dict[tuple[str, str], Decimal],
    counts: dict[tuple[int, str, str], int],
    kind: int,
    key: tuple[str, str],
    amount: Decimal,
) -> None:
    totals[key] = _EXACT.add(totals.get(key, ZERO), amount)
    count = (kind, key[0], key[1])
    counts[count] = counts.get(count, 0) + 1


def _unfile(
    totals: dict[tuple[str, str], Decimal],
    counts: dict[tuple[int, str, str], int],
    kind: int,
    key: tuple[str, str],
    amount: Decimal,
) -> None:
    count = (kind, key[0], key[1])
    left = counts[count] - 1
    if left:
        counts[count] = left
        totals[key] = _EXACT.subtract(totals[key], amount)
    else:  # the last one out: nothing held back, exactly as a walk over no orders says
        del counts[count], totals[key]
