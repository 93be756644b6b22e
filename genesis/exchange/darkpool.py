"""A simulated dark pool: midpoint fills against hidden liquidity drawn from a seeded model.

The model (SPEC ST-X5), stated so that tests can check it:

* **Reference.** The pool prices off a lit market it is given as its own
  market data: the events of its instruments (``dark:BTCUSD``) are a lit
  venue's quotes or L2 book, relabelled (a backtest names them ``--data
  dark:BTCUSD=<lit venue's recording>``). The reference mid is ``(bid + ask)
  / 2`` of the latest quote, or of the book while it is in sync. Trades and
  bars are not a reference and are ignored.
* **Steps.** A reference update at least ``step_ms`` after the previous step
  starts a new step (with 1-minute quote bars and the default 1 s, every bar
  is a step). Each step, for each side independently (hidden sellers first,
  then hidden buyers), hidden contra interest arrives with probability ``p``;
  its size is ``u * max_fraction`` of the lit top-of-book size on that side
  (the ask size for hidden sellers, the bid size for hidden buyers), ``u``
  uniform in (0, 1] at a resolution of 10^-6, rounded down to the
  instrument's step. It lasts one step: what is not matched leaves when the
  next step starts. The draws use one ``random.Random`` per instrument, seeded
  with ``"<seed>:<instrument id>"``, and are made on every step whether or not
  orders rest: the hidden liquidity is a function of the seed and the
  reference feed only, never of what we send.
* **Matching.** At the start of a step, resting orders (GTC) match the new
  contra interest in time priority (maker); an order arriving during a step
  (any time in force) first matches what is left of that step's interest
  (taker), then rests (GTC) or expires (IOC; FOK fills completely or
  expires). Every fill is at the reference mid at that moment, exactly (it may
  fall between two ticks), for ``min(leaves, interest left)``, and only when
  that is at least ``min_fill_qty`` (the pool's minimum execution size): a
  smaller match does not happen. A buy limit fills only while the mid is at or
  below it (a sell at or above); a market order is pegged to the mid without a
  cap. Stop orders are rejected.
* **No pre-trade transparency.** The pool publishes nothing: ``book()`` is
  always None and the hidden sizes are never shown. The kernel sees the
  reference feed (public lit data), not the pool's interest. ``statistics()``
  counts steps, arrivals and fills after the fact.
* **Account and fees.** As ``SimulatedVenue``: the pool keeps its own
  ``SimAccount`` (a buy locks ``qty * (limit or mid) * (1 + worst fee)`` on
  arrival, a fill it can no longer settle cancels the order) and charges the
  ``FeeModel`` on the fill notional. Commands arrive after the latency model's
  delay; ``name``, ``execute``, ``process``, ``next_arrival_ns``,
  ``deliver_until``, ``account`` and ``rejected`` are what the driver, the
  backtest and the paper daemon use.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    BookDelta,
    BookSnapshot,
    MarketEvent,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    QuoteTick,
)
from genesis.core.instruments import Instrument
from genesis.core.money import ROUND_DOWN, ZERO, quantize
from genesis.data.book import BookSync, OrderBook
from genesis.exchange.account import SimAccount
from genesis.exchange.fills import FeeModel, InFlight, LatencyModel
from genesis.exchange.simulated import SimulatedVenue

__all__ = [
    "DARK_VENUES",
    "DarkPoolModel",
    "DarkPoolStats",
    "DarkPoolVenue",
    "HiddenLiquidity",
    "simulated_venue",
]

DARK_VENUES: Final = frozenset({"dark"})
"""Venue names simulated as a dark pool (``dark:BTCUSD``) in backtest and paper sessions."""

_RESOLUTION: Final = 1_000_000  # u is k / 10^6, k uniform in 1..10^6: no float enters a Decimal
_NS_PER_MS: Final = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class DarkPoolModel:
    """The hidden-liquidity model's parameters (module docstring).

    Attributes:
        p: probability that contra interest arrives on one side in one step.
        max_fraction: the largest arrival as a fraction of the lit top-of-book size.
        min_fill_qty: the pool's minimum execution size, base units.
        step_ms: the shortest time between two steps.
        seed: seeds every instrument's draws.

    Raises:
        ValueError: a parameter out of its range.
    """

    p: float = 0.3
    max_fraction: Decimal = Decimal("0.5")
    min_fill_qty: Decimal = ZERO
    step_ms: int = 1_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ValueError(f"invalid `p` {self.p}, expected 0 <= p <= 1")
        if not self.max_fraction >= 0:
            raise ValueError(f"invalid `max_fraction` {self.max_fraction}, expected >= 0")
        if not self.min_fill_qty >= 0:
            raise ValueError(f"invalid `min_fill_qty` {self.min_fill_qty}, expected >= 0")
        if self.step_ms < 0:
            raise ValueError(f"invalid `step_ms` {self.step_ms}, expected >= 0")


class HiddenLiquidity:
    """The seeded draws of one instrument: ``draw(top_size, step)`` once per side a step."""

    __slots__ = ("_model", "_rng")

    def __init__(self, model: DarkPoolModel, instrument_id: str) -> None:
        self._model = model
        self._rng = random.Random(f"{model.seed}:{instrument_id}")  # noqa: S311 (a model, not crypto)

    def draw(self, top_size: Decimal, step: Decimal) -> Decimal:
        """Hidden contra interest arriving this step: 0, or ``u * max_fraction * top_size``
        rounded down to ``step``. Two draws every call, so the sequence never depends on
        whether interest arrived."""
        arrives = self._rng.random() < self._model.p
        u = Decimal(self._rng.randint(1, _RESOLUTION)) / _RESOLUTION
        if not arrives or top_size <= 0:
            return ZERO
        return quantize(top_size * self._model.max_fraction * u, step, ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class DarkPoolStats:
    """What happened in the pool, after the fact: steps, arrivals, hidden and filled size."""

    steps: int
    arrivals: int
    hidden_qty: Decimal
    fills: int
    filled_qty: Decimal


class _Resting:
    __slots__ = ("cmd", "leaves", "lock_ccy", "locked", "venue_order_id")

    def __init__(
        self, cmd: SubmitOrder, venue_order_id: str, lock_ccy: str, locked: Decimal
    ) -> None:
        self.cmd = cmd
        self.venue_order_id = venue_order_id
        self.leaves = cmd.quantity
        self.lock_ccy = lock_ccy
        self.locked = locked


class _Reference:
    """One instrument's lit reference and this step's hidden interest, by order side."""

    __slots__ = ("ask_size", "bid_size", "interest", "last_step_ns", "mid", "sync")

    def __init__(self) -> None:
        self.mid: Decimal | None = None
        self.bid_size = ZERO
        self.ask_size = ZERO
        self.sync: BookSync | None = None
        self.last_step_ns: int | None = None
        # what an order of each side can still match this step (hidden sellers for a buy)
        self.interest: dict[Side, Decimal] = {Side.BUY: ZERO, Side.SELL: ZERO}


class DarkPoolVenue:
    """A dark pool venue port; ``execute`` commands, ``process`` the reference feed."""

    def __init__(
        self,
        *,
        instruments: Callable[[str], Instrument],
        balances: Mapping[str, Decimal],
        fees: FeeModel,
        model: DarkPoolModel | None = None,
        latency: LatencyModel | None = None,
        name: str = "DARK",
    ) -> None:
        self.name = name
        self.account = SimAccount(balances)
        self.model = model or DarkPoolModel()
        self.rejected = 0
        self._instruments = instruments
        self._fees = fees
        self._inflight = InFlight(latency)
        self._order_seq = 0
        self._trade_seq = 0
        self._refs: dict[str, _Reference] = {}
        self._draws: dict[str, HiddenLiquidity] = {}
        self._resting: dict[str, _Resting] = {}  # client order id -> order, time priority
        self._steps = self._arrivals = self._fills = 0
        self._hidden_qty = self._filled_qty = ZERO

    # --- the venue port ------------------------------------------------------

    def execute(self, command: Command, now_ns: int) -> None:
        """Send ``command``; it reaches the pool after the latency delay."""
        self._inflight.send(command, now_ns)

    def next_arrival_ns(self) -> int | None:
        return self._inflight.next_arrival_ns()

    def has_work(self) -> bool:
        return bool(self._inflight or self._resting)

    def open_order_ids(self) -> list[str]:
        return list(self._resting)

    def book(self, instrument_id: str) -> OrderBook | None:
        """Always None: a dark pool shows no book."""
        return None

    def deliver_until(self, ts_ns: int) -> list[OrderEvent]:
        """Deliver the commands due by ``ts_ns``; arrivals match this step's interest."""
        out: list[OrderEvent] = []
        self._arrive_until(ts_ns, out)
        return out

    def process(self, event: MarketEvent) -> list[OrderEvent]:
        """Deliver commands due by ``event``, update the reference and, on a new step, draw
        the hidden interest and match the resting orders against it."""
        out: list[OrderEvent] = []
        self._arrive_until(event.ts_init, out)
        ref = self._reference(event)
        if ref is None or ref.mid is None:
            return out
        step_ns = self.model.step_ms * _NS_PER_MS
        if ref.last_step_ns is None or event.ts_init - ref.last_step_ns >= step_ns:
            ref.last_step_ns = event.ts_init
            self._new_step(event.instrument_id, ref)
            iid = event.instrument_id
            for order in [o for o in self._resting.values() if o.cmd.instrument_id == iid]:
                self._match(order, ref, event.ts_init, LiquiditySide.MAKER, out)
        return out

    def statistics(self) -> DarkPoolStats:
        return DarkPoolStats(
            self._steps, self._arrivals, self._hidden_qty, self._fills, self._filled_qty
        )

    # --- the reference and the draws -------------------------------------------

    def _reference(self, event: MarketEvent) -> _Reference | None:
        if isinstance(event, QuoteTick):
            ref = self._refs.setdefault(event.instrument_id, _Reference())
            ref.mid = (event.bid + event.ask) / 2
            ref.bid_size, ref.ask_size = event.bid_size, event.ask_size
            return ref
        if isinstance(event, BookSnapshot | BookDelta):
            ref = self._refs.setdefault(event.instrument_id, _Reference())
            if ref.sync is None:
                ref.sync = BookSync(event.instrument_id)
            ref.sync.apply(event)
            book = ref.sync.book
            bid, ask = book.best_bid(), book.best_ask()
            if not ref.sync.valid or bid is None or ask is None:
                ref.mid = None  # no trustworthy lit market: the pool does not match
                return ref
            ref.mid, ref.bid_size, ref.ask_size = (bid[0] + ask[0]) / 2, bid[1], ask[1]
            return ref
        return None

    def _new_step(self, instrument_id: str, ref: _Reference) -> None:
        draws = self._draws.get(instrument_id)
        if draws is None:
            draws = self._draws[instrument_id] = HiddenLiquidity(self.model, instrument_id)
        step = self._instruments(instrument_id).step_size
        self._steps += 1
        # hidden sellers (the contra of our buys) scale with the lit ask size, buyers with the bid
        for side, top in ((Side.BUY, ref.ask_size), (Side.SELL, ref.bid_size)):
            size = draws.draw(top, step)
            ref.interest[side] = size
            if size > 0:
                self._arrivals += 1
                self._hidden_qty += size

    # --- arrivals ----------------------------------------------------------------

    def _arrive_until(self, ts: int, out: list[OrderEvent]) -> None:
        for arrival, command in self._inflight.due(ts):
            if isinstance(command, SubmitOrder):
                self._arrive_order(command, arrival, out)
            elif isinstance(command, CancelOrder):
                self._arrive_cancel(command, arrival, out)

    def _arrive_order(self, cmd: SubmitOrder, ts: int, out: list[OrderEvent]) -> None:
        ref = self._refs.get(cmd.instrument_id)
        refusal = self._refusal(cmd, ref)
        if refusal is not None:
            self._reject(cmd, ts, refusal, out)
            return
        assert ref is not None
        assert ref.mid is not None
        inst = self._instruments(cmd.instrument_id)
        if cmd.side is Side.BUY:
            ccy = inst.quote
            amount = cmd.quantity * (cmd.price or ref.mid) * (1 + self._fees.worst_rate)
        else:
            ccy, amount = inst.base, cmd.quantity
        if not self.account.lock(ccy, amount):
            reason = f"insufficient balance: {amount} {ccy} needed, {self.account.free(ccy)} free"
            self._reject(cmd, ts, reason, out)
            return
        self._order_seq += 1
        order = _Resting(cmd, f"{self.name}-O{self._order_seq}", ccy, amount)
        out.append(OrderAccepted(venue_order_id=order.venue_order_id, **_ids(cmd, ts)))
        self._resting[cmd.client_order_id] = order
        if cmd.time_in_force is TimeInForce.FOK and self._matchable(order, ref) < cmd.quantity:
            self._expire(order, ts, out)
            return
        self._match(order, ref, ts, LiquiditySide.TAKER, out)
        if order.cmd.client_order_id in self._resting and cmd.time_in_force is not TimeInForce.GTC:
            self._expire(order, ts, out)

    def _refusal(self, cmd: SubmitOrder, ref: _Reference | None) -> str | None:
        if cmd.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            return (
                f"the dark pool takes midpoint orders (market or limit), not {cmd.order_type.value}"
            )
        if ref is None or ref.mid is None:
            return "no reference mid to peg to"
        if cmd.quantity < self.model.min_fill_qty:
            return f"quantity {cmd.quantity} is below the minimum fill {self.model.min_fill_qty}"
        return None

    def _arrive_cancel(self, cmd: CancelOrder, ts: int, out: list[OrderEvent]) -> None:
        order = self._resting.get(cmd.client_order_id)
        if order is None:
            out.append(OrderCancelRejected(reason="unknown or finished order", **_ids(cmd, ts)))
            return
        self._close(order)
        out.append(OrderCanceled(**_ids(cmd, ts)))

    def _reject(self, cmd: SubmitOrder, ts: int, reason: str, out: list[OrderEvent]) -> None:
        self.rejected += 1
        out.append(OrderRejected(reason=reason, code="-2010", **_ids(cmd, ts)))

    # --- matching ----------------------------------------------------------------

    def _matchable(self, order: _Resting, ref: _Reference) -> Decimal:
        """What ``order`` would fill now: 0 when the mid is past its limit or below the minimum."""
        assert ref.mid is not None
        limit, side = order.cmd.price, order.cmd.side
        if limit is not None and (ref.mid > limit if side is Side.BUY else ref.mid < limit):
            return ZERO
        qty = min(order.leaves, ref.interest[side])
        return qty if qty > 0 and qty >= self.model.min_fill_qty else ZERO

    def _match(
        self,
        order: _Resting,
        ref: _Reference,
        ts: int,
        liquidity: LiquiditySide,
        out: list[OrderEvent],
    ) -> None:
        qty = self._matchable(order, ref)
        if not qty:
            return
        assert ref.mid is not None
        cmd, price = order.cmd, ref.mid
        inst = self._instruments(cmd.instrument_id)
        fee = self._fees.fee(price * qty, liquidity)
        share = order.locked * qty / order.leaves
        if not self.account.can_settle(inst, cmd.side, qty, price, fee, share):
            self._close(order)
            out.append(OrderCanceled(**_ids(cmd, ts)))
            return
        ref.interest[cmd.side] -= qty
        self.account.release(order.lock_ccy, share)
        order.locked -= share
        self.account.settle(inst, cmd.side, qty, price, fee)
        order.leaves -= qty
        self._trade_seq += 1
        self._fills += 1
        self._filled_qty += qty
        trade_id = f"{self.name}-T{self._trade_seq}"
        fill = OrderFilled(
            venue=self.name, trade_id=trade_id, side=cmd.side, last_qty=qty, last_px=price,
            fee=fee, fee_currency=inst.quote, liquidity=liquidity,
            venue_order_id=order.venue_order_id, **_ids(cmd, ts),
        )  # fmt: skip
        out.append(fill)
        if order.leaves <= 0:
            self._close(order)

    def _expire(self, order: _Resting, ts: int, out: list[OrderEvent]) -> None:
        self._close(order)
        out.append(OrderExpired(**_ids(order.cmd, ts)))

    def _close(self, order: _Resting) -> None:
        self.account.release(order.lock_ccy, order.locked)
        order.locked = ZERO
        self._resting.pop(order.cmd.client_order_id, None)


def _ids(cmd: Command, ts: int) -> dict[str, Any]:
    return {
        "ts_event": ts,
        "ts_init": ts,
        "client_order_id": cmd.client_order_id,  # type: ignore[attr-defined]
        "strategy_id": cmd.strategy_id,
        "instrument_id": cmd.instrument_id,
    }


def simulated_venue(
    venue: str,
    *,
    instruments: Callable[[str], Instrument],
    balances: Mapping[str, Decimal],
    fees: FeeModel,
    name: str,
    books: Callable[[str], BookSync] = BookSync,
) -> SimulatedVenue | DarkPoolVenue:
    """The simulated port of ``venue`` (lower case): a dark pool with the default model for
    the names in ``DARK_VENUES``, else the matching engine (its L2 books from ``books``)."""
    if venue in DARK_VENUES:
        return DarkPoolVenue(instruments=instruments, balances=balances, fees=fees, name=name)
    return SimulatedVenue(
        instruments=instruments, balances=balances, fees=fees, name=name, book_factory=books
    )
