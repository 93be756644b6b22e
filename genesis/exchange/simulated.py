"""The simulated venue: a deterministic matching engine for backtest and paper.

Commands arrive after the latency model's delay. Market data drives matching:

* bars use the OHLC path of ``fills.bar_path``: an order that arrived before
  the bar opened and is marketable at the open takes the open (taker, plus
  slippage); resting limit orders fill at their limit price when the path
  reaches it (maker); stops trigger where the path crosses the trigger price
  (or at the open on a gap) and then fill as market (stop-market) or become a
  limit (stop-limit). Bars carry no depth, so a bar fill is for the whole
  remaining quantity;
* L2 books, quotes and trades: a taker order walks the visible levels of the
  book as it stood when the order arrived (one fill per level, partial fills,
  the rest expires for market/IOC, rests for GTC limits); resting limit
  orders fill at their price, as maker, when the opposite best price or a
  trade reaches them (queue position is not modelled: optimistic). Our own
  fills do not deplete the recorded liquidity (a known limitation of replay).

Orders sharing an ``oco_group`` form a one-cancels-the-other list: they
share one lock (a later leg locks only what the earlier legs do not cover)
and the first execution of one leg cancels the others.

Which orders an event visits: an order that may act on any event (not yet matched,
a stop waiting for its trigger, a market order) is *eager* and visited every time;
a limit resting at its price is visited only when the event's reach can cross the
best resting price on its side (``_Resting``: the highest buy and lowest sell limit,
kept conservatively and made exact by every full pass). A grid of thousands of
resting orders costs a tick nothing until the price comes to it; the orders an event
does visit are taken in arrival order, as one pass over all of them would.

Post-only orders that would take liquidity on arrival are rejected, as
Binance rejects LIMIT_MAKER. FOK fills completely on arrival or expires; IOC
fills what it can on arrival and expires the rest. The venue keeps its own
account (``SimAccount``); an order the account cannot pay for is rejected on
arrival (Binance -2010), and a resting order that can no longer be settled
is cancelled. An instrument traded on margin (``Instrument.margin_rate``: FX) is
paid for with margin instead of an asset held: an order is accepted, and later
filled, while the margin it adds (``genesis.core.margin``, at the instrument's last
price, positions and working orders netted) is at most the account's margin free
(``SimAccount.margin_free``); a sell without the base opens a short.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from genesis.core.commands import CancelOrder, Command, ModifyOrder, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    MarketEvent,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
    QuoteTick,
    TradeTick,
)
from genesis.core.instruments import Instrument
from genesis.core.margin import order_margin, pending_units
from genesis.core.money import ZERO
from genesis.data.book import BookSync, OrderBook
from genesis.exchange.account import SimAccount
from genesis.exchange.fills import (
    FeeModel,
    InFlight,
    LatencyModel,
    SlippageModel,
    bar_path,
    first_at_or_above,
    first_at_or_below,
)

__all__ = ["SimulatedVenue"]

Level = tuple[Decimal, Decimal]
Levels = Iterable[Level]  # best first
_UNKNOWN_SIZE = Decimal("Infinity")
_RESTING = (OrderType.LIMIT, OrderType.STOP_LIMIT)  # once triggered, these rest at a price


class _Working:
    __slots__ = (
        "cmd", "fresh", "leaves", "lock_ccy", "locked", "seq", "triggered", "venue_order_id",
    )  # fmt: skip

    def __init__(
        self, cmd: SubmitOrder, venue_order_id: str, lock_ccy: str, locked: Decimal, seq: int
    ) -> None:
        self.cmd = cmd
        self.seq = seq  # arrival order: the order a pass over an instrument's orders takes
        self.venue_order_id = venue_order_id
        self.leaves = cmd.quantity
        self.triggered = cmd.order_type not in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
        self.fresh = True  # has not yet had a chance to match: taker semantics
        self.lock_ccy = lock_ccy
        self.locked = locked


def _at_rest(w: _Working) -> bool:
    """A limit resting at its price: only an event reaching that price can act on it."""
    return w.triggered and not w.fresh and w.cmd.order_type in _RESTING


def _reached(cmd: SubmitOrder, buy_reach: Decimal | None, sell_reach: Decimal | None) -> bool:
    """Whether an event reaching these prices gets to a resting limit's price."""
    limit = cmd.price
    if limit is None:
        return False
    if cmd.side is Side.BUY:
        return buy_reach is not None and buy_reach <= limit
    return sell_reach is not None and sell_reach >= limit


def _seq(w: _Working) -> int:
    return w.seq


class _Resting:
    """Per instrument: the eager orders (visited on every event) and bounds on the rest.

    ``max_buy``/``min_sell`` bound the resting limits from outside: an order leaving
    leaves them as they were (still safe), and ``rebuild`` makes them exact. ``eager``
    holds at least every order that is not at rest, and maybe some that came to rest
    since (``settle`` moves those into the bounds).
    """

    __slots__ = ("eager", "max_buy", "min_sell")

    def __init__(self) -> None:
        self.eager: dict[str, _Working] = {}
        self.max_buy: Decimal | None = None
        self.min_sell: Decimal | None = None

    def rest(self, w: _Working) -> None:
        limit = w.cmd.price
        if limit is None:
            return  # a resting type without a price never matches (nothing to bound)
        if w.cmd.side is Side.BUY:
            if self.max_buy is None or limit > self.max_buy:
                self.max_buy = limit
        elif self.min_sell is None or limit < self.min_sell:
            self.min_sell = limit

    def may_cross(self, buy_reach: Decimal | None, sell_reach: Decimal | None) -> bool:
        """Whether the event's reach can get to some resting limit."""
        if buy_reach is not None and self.max_buy is not None and buy_reach <= self.max_buy:
            return True
        return sell_reach is not None and self.min_sell is not None and sell_reach >= self.min_sell

    def visits(self) -> list[_Working]:
        """The eager orders, in arrival order."""
        eager = list(self.eager.values())
        if len(eager) > 1:
            eager.sort(key=_seq)
        return eager

    def settle(self, open_ids: Mapping[str, _Working]) -> None:
        """Drop the eager orders that have ended and bound those now at rest."""
        for cid, w in list(self.eager.items()):
            if cid not in open_ids:
                del self.eager[cid]
            elif _at_rest(w):
                del self.eager[cid]
                self.rest(w)

    def rebuild(self, working: Mapping[str, _Working]) -> None:
        """Exact again, from every working order of the instrument."""
        self.eager, self.max_buy, self.min_sell = {}, None, None
        for cid, w in working.items():
            if _at_rest(w):
                self.rest(w)
            else:
                self.eager[cid] = w


class SimulatedVenue:
    """Matching engine plus account; ``execute`` commands, ``process`` market events."""

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        balances: Mapping[str, Decimal],
        fees: FeeModel,
        slippage: SlippageModel | None = None,
        latency: LatencyModel | None = None,
        name: str = "SIM",
        book_factory: Callable[[str], BookSync] = BookSync,
    ) -> None:
        self.name = name
        self.account = SimAccount(balances)
        self._instruments = instruments
        self._fees = fees
        self._slippage = slippage or SlippageModel()
        self._inflight = InFlight(latency)
        self._book_factory = book_factory
        self._trade_seq = 0
        self._working: dict[str, dict[str, _Working]] = {}  # instrument -> id -> order
        self._resting: dict[str, _Resting] = {}  # instrument -> which orders an event visits
        self._by_id: dict[str, _Working] = {}
        self._last_price: dict[str, Decimal] = {}
        self._quotes: dict[str, QuoteTick] = {}
        self._books: dict[str, BookSync] = {}
        self._bar_driven: set[str] = set()  # instruments matched only by bar paths
        self._trade_driven: set[str] = set()  # instruments whose last price is a trade
        # instruments where a resting limit may be crossed by the L2 book (it then fills
        # again on each event, quotes included, as our fills take no liquidity): a superset
        self._maybe_crossed: set[str] = set()
        self._groups: dict[str, list[_Working]] = {}  # OCO group -> working legs
        self.rejected = 0

    # --- commands ---------------------------------------------------------

    def execute(self, command: Command, now_ns: int) -> None:
        """Send ``command``; it reaches the venue after the latency delay."""
        self._inflight.send(command, now_ns)

    def next_arrival_ns(self) -> int | None:
        return self._inflight.next_arrival_ns()

    def has_work(self) -> bool:
        return bool(self._inflight or self._by_id)

    def open_order_ids(self) -> list[str]:
        return list(self._by_id)

    def book(self, instrument_id: str) -> OrderBook | None:
        """The venue's L2 book of ``instrument_id`` while it is in sync, else None."""
        sync = self._books.get(instrument_id)
        return sync.book if sync is not None and sync.valid else None

    def deliver_until(self, ts_ns: int) -> list[OrderEvent]:
        """Deliver the commands due by ``ts_ns`` without new market data (a clock tick).

        Tick-driven orders match against the current book on arrival; bar-driven
        ones wait for the next bar.
        """
        out: list[OrderEvent] = []
        self._arrive_until(ts_ns, out)
        return out

    # --- market data ------------------------------------------------------

    def process(self, event: MarketEvent) -> list[OrderEvent]:
        """Deliver commands due by ``event`` and match orders against it.

        Returns:
            The order events the venue produced, in time order.
        """
        out: list[OrderEvent] = []
        if type(event) is Bar:
            self._process_bar(event, out)
            return out
        # the venue lives on the replay's clock: when the event was seen (ts_init)
        if self._inflight.next_ns <= event.ts_init:
            self._arrive_until(event.ts_init, out)
        if type(event) is QuoteTick:  # most of an L2 recording's messages
            instrument_id = event.instrument_id
            self._quotes[instrument_id] = event
            if instrument_id not in self._trade_driven:  # quotes are the only prices seen
                self._last_price[instrument_id] = (event.bid + event.ask) / 2
            if self._quote_matches(instrument_id):
                self._match_tick(event, out)
            return out
        self._update_market(event)
        self._match_tick(event, out)
        return out

    def _quote_matches(self, instrument_id: str) -> bool:
        """Whether a quote can act on a working order of ``instrument_id``.

        With an L2 book a quote changes nothing a resting limit matches against (the
        quotes are most of an L2 recording's messages), so it acts only on an order that
        has not yet matched, a stop waiting for the last price, or a limit the book
        already crosses (which fills again at every event, as on every other event).
        """
        working = self._working.get(instrument_id)
        if not working:
            return False
        if instrument_id not in self._books or instrument_id in self._maybe_crossed:
            return True  # without a book the quote is the liquidity
        by_id = self._by_id
        for cid, w in self._resting[instrument_id].eager.items():
            if (w.fresh or not w.triggered) and cid in by_id:
                return True
        return False

    def _process_bar(self, bar: Bar, out: list[OrderEvent]) -> None:
        self._bar_driven.add(bar.instrument_id)
        if self._inflight.next_ns <= bar.ts_open:
            self._arrive_until(bar.ts_open, out, reference=(bar.instrument_id, bar.open))
        working = self._working.get(bar.instrument_id)
        if working:
            path = bar_path(bar)
            # orders act in the order the price path reaches them (an OCO's nearer leg wins)
            for w in sorted(working.values(), key=lambda w: self._first_action(w, path)):
                if w.cmd.client_order_id in self._by_id:  # an earlier fill may have cancelled it
                    self._match_bar(w, bar, path, out)
        self._last_price[bar.instrument_id] = bar.close
        if self._inflight.next_ns <= bar.ts_event:
            self._arrive_until(bar.ts_event, out)

    def _update_market(self, event: MarketEvent) -> None:
        """A trade or a book event's effect on the venue's market (quotes: ``process``)."""
        instrument_id = event.instrument_id
        if type(event) is TradeTick:
            self._trade_driven.add(instrument_id)
            self._last_price[instrument_id] = event.price
        elif isinstance(event, BookSnapshot | BookDelta):
            sync = self._books.get(instrument_id)
            if sync is None:
                sync = self._books[instrument_id] = self._book_factory(instrument_id)
            sync.apply(event)
            if sync.valid and (mid := sync.book.mid()) is not None:
                self._last_price[instrument_id] = mid

    # --- arrivals ---------------------------------------------------------

    def _arrive_until(
        self, ts: int, out: list[OrderEvent], reference: tuple[str, Decimal] | None = None
    ) -> None:
        """Deliver due commands; ``reference`` is (instrument, the first price it will trade)."""
        for arrival, command in self._inflight.due(ts):
            if type(command) is SubmitOrder:
                ref = reference[1] if reference and reference[0] == command.instrument_id else None
                self._arrive_order(command, arrival, out, ref)
            elif type(command) is CancelOrder:
                self._arrive_cancel(command, arrival, out)
            elif type(command) is ModifyOrder:
                self._arrive_modify(command, arrival, out)

    def _arrive_order(
        self, cmd: SubmitOrder, ts: int, out: list[OrderEvent], reference: Decimal | None
    ) -> None:
        inst = self._instruments(cmd.instrument_id)
        price = (
            cmd.price or cmd.trigger_price or reference or self._last_price.get(cmd.instrument_id)
        )
        if price is None:
            self._reject(cmd, ts, "no market price to execute against", "-1013", out)
            return
        if cmd.post_only and self._would_take(cmd, reference):
            self._reject(cmd, ts, "post-only order would immediately match and take", "-2010", out)
            return
        ccy, amount, reason = self._arrival_lock(cmd, inst, price)
        if reason:
            self._reject(cmd, ts, reason, "-2010", out)
            return
        self._trade_seq += 1
        w = _Working(cmd, f"{self.name}-O{self._trade_seq}", ccy, amount, self._trade_seq)
        self._working.setdefault(cmd.instrument_id, {})[cmd.client_order_id] = w
        resting = self._resting.get(cmd.instrument_id)
        if resting is None:
            resting = self._resting[cmd.instrument_id] = _Resting()
        resting.eager[cmd.client_order_id] = w
        self._by_id[cmd.client_order_id] = w
        if cmd.oco_group:
            self._groups.setdefault(cmd.oco_group, []).append(w)
        if cmd.order_type is not OrderType.MARKET:
            # a market order is answered by its fills (as Binance answers one: FILLED or
            # EXPIRED, no separate NEW); everything else is acknowledged first
            out.append(OrderAccepted(venue_order_id=w.venue_order_id, **_ids(cmd, ts)))
        if reference is None and self._can_match_now(cmd.instrument_id):
            self._match_tick_order(w, ts, out)

    def _arrival_lock(
        self, cmd: SubmitOrder, inst: Instrument, price: Decimal
    ) -> tuple[str, Decimal, str]:
        """Lock what an arriving order may consume: (currency, amount, '') when locked,
        else the reason it is refused. An order on margin locks nothing ('', 0)."""
        if inst.margin_rate is not None:
            return "", ZERO, self._margin_refusal(cmd, cmd.quantity, price, "")
        if cmd.side is Side.BUY:
            ccy, amount = inst.quote, cmd.quantity * price * (1 + self._fees.worst_rate)
        else:
            ccy, amount = inst.base, cmd.quantity
        amount = max(ZERO, amount - self._group_lock(cmd.oco_group, ccy))
        if not self.account.lock(ccy, amount):
            free = self.account.free(ccy)
            return ccy, amount, f"insufficient balance: {amount} {ccy} needed, {free} free"
        return ccy, amount, ""

    def _margin_refusal(self, cmd: SubmitOrder, qty: Decimal, price: Decimal, exclude: str) -> str:
        """Why the account's margin does not cover ``qty`` more of ``cmd`` ('' when it
        does); ``exclude`` (the order itself, once working) and its OCO legs aside."""
        iid = cmd.instrument_id
        inst = self._instruments(iid)
        rate = inst.margin_rate
        assert rate is not None
        mark = self._last_price.get(iid) or price
        pending = self._margin_pending(exclude, cmd.oco_group)
        buys, sells = pending.get(iid, (ZERO, ZERO))
        position = self.account.units(iid)
        need = order_margin(rate, mark, position, buys, sells, cmd.side, qty)
        if need == 0:
            return ""
        prices = dict(self._last_price)
        prices[iid] = mark
        free = self.account.margin_free(inst.quote, self._instruments, prices, pending)
        if need <= free:
            return ""
        return f"insufficient margin: {need:.4f} {inst.quote} needed, {free:.4f} free"

    def _margin_pending(self, exclude: str, group: str) -> dict[str, tuple[Decimal, Decimal]]:
        """Per margin instrument, the (buys, sells) units its working orders may add, but
        ``exclude`` and the legs of ``group``; an OCO list's legs on one side count once."""
        pending: dict[str, tuple[Decimal, Decimal]] = {}
        for iid, working in self._working.items():
            if working and self._instruments(iid).margin_rate is not None:
                orders = [(c, w.cmd.oco_group, w.cmd.side, w.leaves) for c, w in working.items()]
                pending[iid] = pending_units(orders, exclude, group)
        return pending

    def _group_lock(self, group: str, ccy: str) -> Decimal:
        """What the working legs of ``group`` already lock in ``ccy``."""
        legs = self._groups.get(group) if group else None
        if not legs:
            return ZERO  # the usual case: no list (no generator per order)
        return sum((w.locked for w in legs if w.lock_ccy == ccy), ZERO)

    def _cancel_siblings(self, w: _Working, ts: int, out: list[OrderEvent]) -> None:
        """One leg of an OCO list executes: cancel the others, pooling their locks into it."""
        for leg in self._groups.pop(w.cmd.oco_group, ()):
            if leg is w or leg.cmd.client_order_id not in self._by_id:
                continue
            if leg.lock_ccy == w.lock_ccy:
                w.locked += leg.locked
                leg.locked = ZERO
            self._close(leg)
            out.append(OrderCanceled(**_ids(leg.cmd, ts)))

    def _arrive_cancel(self, cmd: CancelOrder, ts: int, out: list[OrderEvent]) -> None:
        w = self._by_id.get(cmd.client_order_id)
        if w is None:
            out.append(OrderCancelRejected(reason="unknown or finished order", **_ids(cmd, ts)))
            return
        # cancelling one leg of an OCO list cancels the list, as on Binance
        # (after a leg executed, the list is already dissolved: only this order remains)
        legs = list(self._groups.get(w.cmd.oco_group, ())) if w.cmd.oco_group else []
        legs = legs or [w]
        for leg in legs:
            self._close(leg)
            out.append(OrderCanceled(**_ids(leg.cmd, ts)))

    def _arrive_modify(self, cmd: ModifyOrder, ts: int, out: list[OrderEvent]) -> None:
        """Amend a working order in place: new total quantity, limit price, trigger.

        Queue priority (not modelled: resting fills are optimistic) is what a venue
        gives: a new price or a larger quantity is a new order at the back of the
        queue, and here it is matched afresh, as a taker if the new price crosses; a
        smaller quantity keeps its place. The lock follows the new terms; a modify the
        account cannot pay for, below the filled quantity, of an OCO leg or that would
        make a post-only order take is refused and changes nothing.
        """
        w = self._by_id.get(cmd.client_order_id)
        reason, code = self._modify_refusal(w, cmd)
        if w is None or reason:
            out.append(OrderModifyRejected(reason=reason, code=code, **_ids(cmd, ts)))
            return
        old = w.cmd
        filled = old.quantity - w.leaves
        new = msgspec.structs.replace(
            old, quantity=cmd.quantity, price=cmd.price if cmd.price is not None else old.price,
            trigger_price=cmd.trigger_price if cmd.trigger_price is not None else old.trigger_price,
        )  # fmt: skip
        inst = self._instruments(cmd.instrument_id)
        price = new.price or new.trigger_price or self._last_price.get(cmd.instrument_id) or ZERO
        leaves = new.quantity - filled
        amount = (
            leaves * price * (1 + self._fees.worst_rate) if w.lock_ccy == inst.quote else leaves
        )
        if inst.margin_rate is not None:
            amount = ZERO
            reason = self._margin_refusal(new, leaves, price, cmd.client_order_id)
            if reason:
                out.append(OrderModifyRejected(reason=reason, code="-2010", **_ids(cmd, ts)))
                return
        self.account.release(w.lock_ccy, w.locked)
        if not self.account.lock(w.lock_ccy, amount):
            self.account.lock(w.lock_ccy, w.locked)  # what it held before: always possible
            free = self.account.free(w.lock_ccy)
            out.append(OrderModifyRejected(
                reason=f"insufficient balance: {amount} {w.lock_ccy} needed, {free} free",
                code="-2010", **_ids(cmd, ts),
            ))  # fmt: skip
            return
        w.cmd, w.leaves, w.locked = new, leaves, amount
        w.fresh = w.fresh or new.price != old.price or new.quantity > old.quantity
        if w.fresh:  # matched afresh: visited by the next event, wherever its price is
            self._resting[cmd.instrument_id].eager[cmd.client_order_id] = w
        out.append(OrderUpdated(
            quantity=new.quantity, price=new.price, trigger_price=new.trigger_price,
            **_ids(cmd, ts),
        ))  # fmt: skip
        if w.fresh and self._can_match_now(cmd.instrument_id):
            self._match_tick_order(w, ts, out)

    def _modify_refusal(self, w: _Working | None, cmd: ModifyOrder) -> tuple[str, str]:
        """Why the venue refuses a modify ("" when it does not), with Binance's code."""
        if w is None:
            return "unknown or finished order", "-2011"
        if w.cmd.oco_group:
            return "an order of an OCO list cannot be amended", "-1013"
        if cmd.quantity <= w.cmd.quantity - w.leaves:
            return f"quantity {cmd.quantity} is not above the filled quantity", "-1013"
        if w.cmd.post_only and cmd.price is not None:
            probe = msgspec.structs.replace(w.cmd, price=cmd.price)
            if self._would_take(probe, None):
                return "post-only order would immediately match and take", "-2010"
        return "", ""

    def _reject(
        self, cmd: SubmitOrder, ts: int, reason: str, code: str, out: list[OrderEvent]
    ) -> None:
        self.rejected += 1
        out.append(OrderRejected(reason=reason, code=code, **_ids(cmd, ts)))

    def _would_take(self, cmd: SubmitOrder, reference: Decimal | None) -> bool:
        if cmd.price is None:
            return True
        best = self._best(cmd.instrument_id, cmd.side.opposite)
        opposite = reference if reference is not None else best
        if opposite is None:
            return False
        return cmd.price >= opposite if cmd.side is Side.BUY else cmd.price <= opposite

    # --- bar matching -----------------------------------------------------

    def _first_action(self, w: _Working, path: tuple[Decimal, ...]) -> int:
        """Index of the path point where ``w`` first triggers or fills (4: never)."""
        cmd = w.cmd
        if not w.triggered:
            hit = self._touch(path, cmd.trigger_price, cmd.side, 0)
        elif cmd.order_type is OrderType.MARKET or cmd.price is None:
            return 0
        else:
            hit = self._touch(path, cmd.price, cmd.side.opposite, 0)
        return 4 if hit is None else hit[0]

    def _match_bar(
        self, w: _Working, bar: Bar, path: tuple[Decimal, ...], out: list[OrderEvent]
    ) -> None:
        cmd, fresh = w.cmd, w.fresh
        w.fresh = False
        offset = 0
        if not w.triggered:
            hit = self._touch(path, cmd.trigger_price, cmd.side, 0)
            if hit is None:
                return
            offset, trigger_px = hit
            w.triggered = True
            ts = _path_ts(bar, offset)
            out.append(OrderTriggered(**_ids(cmd, ts)))
            if cmd.order_type is OrderType.STOP_MARKET:
                self._fill_at(w, trigger_px, ts, LiquiditySide.TAKER, out, slip=True)
                return
            # a triggered stop-limit is a new limit order, placed where the price now is
            path, fresh = (trigger_px, *path[offset + 1 :]), True
        if cmd.order_type is OrderType.MARKET:
            self._fill_at(w, path[0], bar.ts_open, LiquiditySide.TAKER, out, slip=True)
            return
        self._match_bar_limit(w, bar, path, offset, fresh, out)

    def _match_bar_limit(
        self,
        w: _Working,
        bar: Bar,
        path: tuple[Decimal, ...],
        offset: int,
        fresh: bool,
        out: list[OrderEvent],
    ) -> None:
        """Match a limit against ``path``, whose point i is the bar's point ``offset + i``."""
        cmd = w.cmd
        assert cmd.price is not None
        limit, side = cmd.price, cmd.side
        at_start = path[0] <= limit if side is Side.BUY else path[0] >= limit
        if fresh and at_start:
            ts = _path_ts(bar, offset)
            self._fill_at(w, path[0], ts, LiquiditySide.TAKER, out, slip=True, cap=limit)
            return
        if cmd.time_in_force is not TimeInForce.GTC and fresh:
            self._expire(w, _path_ts(bar, offset), out)
            return
        hit = self._touch(path, limit, side.opposite, 0)
        if hit is not None:
            self._fill_at(w, limit, _path_ts(bar, offset + hit[0]), LiquiditySide.MAKER, out)

    @staticmethod
    def _touch(
        path: tuple[Decimal, ...], level: Decimal | None, side: Side, start: int
    ) -> tuple[int, Decimal] | None:
        """Where a price path first reaches ``level``: upward for BUY, downward for SELL."""
        assert level is not None
        if side is Side.BUY:
            return first_at_or_above(path, level, start)
        return first_at_or_below(path, level, start)

    # --- tick / book matching ---------------------------------------------

    def _match_tick(self, event: MarketEvent, out: list[OrderEvent]) -> None:
        working = self._working.get(event.instrument_id)
        if not working:
            return
        trade = event if type(event) is TradeTick else None
        instrument_id = event.instrument_id
        buy_reach, sell_reach = self._reach(instrument_id, trade)
        by_id, ts = self._by_id, event.ts_init
        resting = self._resting[instrument_id]
        full = resting.may_cross(buy_reach, sell_reach)
        visits = list(working.values()) if full else resting.visits()
        for w in visits:
            cmd = w.cmd
            if cmd.client_order_id not in by_id:
                continue  # a sibling's fill on this event cancelled it (OCO)
            if _at_rest(w) and not _reached(cmd, buy_reach, sell_reach):
                continue  # the usual case, settled here: a resting limit out of reach
            self._match_tick_order(w, ts, out, trade=trade)
        if full:
            resting.rebuild(working)
        else:
            resting.settle(by_id)
        if trade is None and instrument_id in self._books:
            # the orders not visited rest beyond this event's reach (the bounds say so)
            self._note_crossed(instrument_id, visits, buy_reach, sell_reach)

    def _reach(
        self, instrument_id: str, trade: TradeTick | None
    ) -> tuple[Decimal | None, Decimal | None]:
        """What reaches a resting buy and a resting sell limit on this event: the print's
        price, else the opposite best (neither changes while the event's fills are made:
        ours take no liquidity)."""
        if trade is not None:
            return trade.price, trade.price
        return self._best_level(instrument_id, Side.SELL), self._best_level(instrument_id, Side.BUY)

    def _note_crossed(
        self,
        instrument_id: str,
        visited: list[_Working],
        buy_reach: Decimal | None,
        sell_reach: Decimal | None,
    ) -> None:
        """After matching on the book: whether a resting limit is still crossed by it."""
        by_id = self._by_id
        for w in visited:
            open_at_rest = w.cmd.client_order_id in by_id and _at_rest(w)
            if open_at_rest and _reached(w.cmd, buy_reach, sell_reach):
                self._maybe_crossed.add(instrument_id)
                return
        self._maybe_crossed.discard(instrument_id)

    def _match_tick_order(
        self, w: _Working, ts: int, out: list[OrderEvent], trade: TradeTick | None = None
    ) -> None:
        cmd = w.cmd
        if not w.triggered:
            last, trigger = self._last_price.get(cmd.instrument_id), cmd.trigger_price
            assert trigger is not None  # only stop orders start untriggered
            if last is None or not (last >= trigger if cmd.side is Side.BUY else last <= trigger):
                return
            w.triggered = True
            w.fresh = True
            out.append(OrderTriggered(**_ids(cmd, ts)))
        fresh, w.fresh = w.fresh, False
        if fresh or cmd.order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
            self._take(w, ts, out)
        elif trade is not None:
            self._fill_from_trade(w, trade, out)
        else:
            self._fill_resting_from_book(w, ts, out)

    def _take(self, w: _Working, ts: int, out: list[OrderEvent]) -> None:
        cmd = w.cmd
        limit = cmd.price if cmd.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
        levels = self._levels(cmd.instrument_id, cmd.side.opposite)
        if levels is None:  # only a last trade price: fill it all there, with slippage
            last = self._last_price[cmd.instrument_id]
            if limit is None or (last <= limit if cmd.side is Side.BUY else last >= limit):
                self._fill_at(w, last, ts, LiquiditySide.TAKER, out, slip=True, cap=limit)
        else:
            self._walk(w, levels, limit, ts, out)
        if w.cmd.client_order_id in self._by_id and (
            limit is None or cmd.time_in_force is not TimeInForce.GTC
        ):
            self._expire(w, ts, out)
        elif limit is not None and cmd.client_order_id in self._by_id:
            self._note_resting(cmd.instrument_id, cmd.side, limit)

    def _note_resting(self, instrument_id: str, side: Side, limit: Decimal) -> None:
        """A limit now resting: whether the book's opposite best crosses it."""
        best = self._best_level(instrument_id, side.opposite)
        if best is not None and (best <= limit if side is Side.BUY else best >= limit):
            self._maybe_crossed.add(instrument_id)

    def _walk(
        self, w: _Working, levels: Levels, limit: Decimal | None, ts: int, out: list[OrderEvent]
    ) -> None:
        usable = _reaching(levels, w.cmd.side, limit)
        if w.cmd.time_in_force is TimeInForce.FOK and sum(q for _, q in usable) < w.leaves:
            return
        for price, qty in usable:
            if w.leaves <= 0 or w.cmd.client_order_id not in self._by_id:
                break
            self._fill_at(w, price, ts, LiquiditySide.TAKER, out, qty=min(qty, w.leaves))

    def _fill_from_trade(self, w: _Working, trade: TradeTick, out: list[OrderEvent]) -> None:
        limit = w.cmd.price
        assert limit is not None
        through = trade.price <= limit if w.cmd.side is Side.BUY else trade.price >= limit
        if through:
            self._fill_at(
                w, limit, trade.ts_init, LiquiditySide.MAKER, out, qty=min(trade.size, w.leaves)
            )

    def _fill_resting_from_book(self, w: _Working, ts: int, out: list[OrderEvent]) -> None:
        limit = w.cmd.price
        if limit is None:
            return
        side = w.cmd.side
        best = self._best_level(w.cmd.instrument_id, side.opposite)
        if best is None or (best > limit if side is Side.BUY else best < limit):
            return  # the usual case on every book update: the opposite best does not reach it
        levels = self._levels(w.cmd.instrument_id, side.opposite)
        crossed = sum((q for _, q in _reaching(levels or (), side, limit)), ZERO)
        if crossed > 0:
            self._fill_at(w, limit, ts, LiquiditySide.MAKER, out, qty=min(crossed, w.leaves))

    def _can_match_now(self, instrument_id: str) -> bool:
        """Tick-driven instruments match on arrival; bar-driven ones wait for the next bar."""
        if instrument_id in self._bar_driven:
            return False
        return instrument_id in self._last_price or instrument_id in self._quotes

    def _levels(self, instrument_id: str, book_side: Side) -> Levels | None:
        """Visible levels on the side an order takes from (asks for a buy), best first."""
        sync = self._books.get(instrument_id)
        if sync is not None:
            # a book with a gap is not liquidity: nothing matches until it resyncs
            # best first and lazy: a walk reads only the levels an order reaches
            return sync.book.walk(book_side) if sync.valid else iter(())
        quote = self._quotes.get(instrument_id)
        if quote is not None:
            # a quote without sizes (size 0: e.g. FX quote files) has unknown depth: unlimited
            if book_side is Side.SELL:
                return [(quote.ask, quote.ask_size or _UNKNOWN_SIZE)]
            return [(quote.bid, quote.bid_size or _UNKNOWN_SIZE)]
        return None

    def _best(self, instrument_id: str, book_side: Side) -> Decimal | None:
        best = self._best_level(instrument_id, book_side)
        return best if best is not None else self._last_price.get(instrument_id)

    def _best_level(self, instrument_id: str, book_side: Side) -> Decimal | None:
        """The best visible price on ``book_side`` (in-sync book, else the quote), or None."""
        sync = self._books.get(instrument_id)
        if sync is not None:
            if not sync.valid:
                return None
            top = sync.book.best_bid() if book_side is Side.BUY else sync.book.best_ask()
            return None if top is None else top[0]
        quote = self._quotes.get(instrument_id)
        if quote is None:
            return None
        return quote.bid if book_side is Side.BUY else quote.ask

    # --- fills ------------------------------------------------------------

    def _fill_at(
        self,
        w: _Working,
        price: Decimal,
        ts: int,
        liquidity: LiquiditySide,
        out: list[OrderEvent],
        *,
        slip: bool = False,
        cap: Decimal | None = None,
        qty: Decimal | None = None,
    ) -> None:
        """Fill ``qty`` (default: all that is left) at ``price``, slipped but never past ``cap``."""
        cmd = w.cmd
        inst = self._instruments(cmd.instrument_id)
        if slip:
            price = self._slippage.apply(price, cmd.side, inst)
            if cap is not None:
                price = min(price, cap) if cmd.side is Side.BUY else max(price, cap)
        qty = w.leaves if qty is None else qty
        fee = self._fees.fee(price * qty, liquidity)
        # an executing OCO leg may use the list's whole lock (its siblings are cancelled)
        in_list = bool(cmd.oco_group) and cmd.oco_group in self._groups
        pooled = self._group_lock(cmd.oco_group, w.lock_ccy) if in_list else w.locked
        share = pooled * qty / w.leaves
        if inst.margin_rate is not None:
            settles = not self._margin_refusal(cmd, qty, price, cmd.client_order_id)
        else:
            settles = self.account.can_settle(inst, cmd.side, qty, price, fee, share)
        if not settles:
            self._close(w)
            out.append(OrderCanceled(**_ids(cmd, ts)))
            return
        cancels: list[OrderEvent] = []
        if cmd.oco_group:
            self._cancel_siblings(w, ts, cancels)
        share = w.locked * qty / w.leaves
        self.account.release(w.lock_ccy, share)
        w.locked -= share
        self.account.settle(inst, cmd.side, qty, price, fee)
        if inst.margin_rate is not None:
            self.account.book_units(cmd.instrument_id, cmd.side, qty)
        w.leaves -= qty
        self._trade_seq += 1
        out.append(
            OrderFilled(
                venue=self.name,
                trade_id=f"{self.name}-T{self._trade_seq}",
                side=cmd.side,
                last_qty=qty,
                last_px=price,
                fee=fee,
                fee_currency=inst.quote,
                liquidity=liquidity,
                venue_order_id=w.venue_order_id,
                **_ids(cmd, ts),
            )
        )
        out.extend(cancels)  # the fill first: the position is never seen unprotected and open
        if w.leaves <= 0:
            self._close(w)

    def _expire(self, w: _Working, ts: int, out: list[OrderEvent]) -> None:
        self._close(w)
        out.append(OrderExpired(**_ids(w.cmd, ts)))

    def _close(self, w: _Working) -> None:
        cmd = w.cmd
        self.account.release(w.lock_ccy, w.locked)
        w.locked = ZERO
        cid, working = cmd.client_order_id, self._working[cmd.instrument_id]
        if cid in self._by_id:  # in and del, not pop: C calls when compiled
            del self._by_id[cid]
        if cid in working:
            del working[cid]
        legs = self._groups.get(cmd.oco_group) if cmd.oco_group else None
        if legs is not None:
            legs[:] = [leg for leg in legs if leg is not w]
            if not legs:
                del self._groups[cmd.oco_group]


def _reaching(levels: Iterable[Level], side: Side, limit: Decimal | None) -> list[Level]:
    """The non-empty levels an order at ``limit`` reaches: a prefix of the best-first levels
    (read lazily: the levels past the limit are never looked at)."""
    if limit is None:
        return [lv for lv in levels if lv[1] > 0]
    if side is Side.BUY:
        reach = itertools.takewhile(lambda lv: lv[0] <= limit, levels)
    else:
        reach = itertools.takewhile(lambda lv: lv[0] >= limit, levels)
    return [lv for lv in reach if lv[1] > 0]


def _ids(cmd: Command, ts: int) -> dict[str, Any]:
    return {
        "ts_event": ts,
        "ts_init": ts,
        "client_order_id": cmd.client_order_id,  # type: ignore[attr-defined]
        "strategy_id": cmd.strategy_id,
        "instrument_id": cmd.instrument_id,
    }


def _path_ts(bar: Bar, index: int) -> int:
    """Nominal time of path point ``index`` (0 = open, 3 = close) inside ``bar``."""
    return bar.ts_open + (bar.ts_event - bar.ts_open) * index // 3
