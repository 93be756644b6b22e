"""A parent order worked in child orders (SPEC EX-3): what TWAP, VWAP and IS share.

Theory of operation
-------------------
An execution algorithm is given its parent order as parameters (``side``,
``quantity`` in base units, ``horizon_s``) and works it with child orders. The
three algorithms (``twap.py``, ``vwap.py``, ``shortfall.py``) differ in one
function only: ``share(k)``, the fraction of what is still open that slice
``k`` should do. Everything else lives here.

Time. The parent starts at the first market event that brings a price (the
arrival price needs one; on the bundled streams that is the first quote, 0.15 s
after the first depth diff): ``ctx.start_parent`` records the arrival price
and the pre-trade estimate. The horizon ``H`` is cut into ``N = slices`` equal
slices; slice ``k`` begins at ``start + k H / N`` (a timer) and the horizon
ends at ``start + H`` (a timer).

Sizing. At slice ``k``, once no child is working, the target is
``open x share(k)`` with ``open = quantity - filled``; the last slice's share
is 1. As the share applies to what is still open, whatever earlier slices did
not do (a thin book, a passive child left unfilled, a refusal) is spread over
the slices left in the schedule's own proportions: the catch-up needs no rule
of its own. The target is then cut

* to what the book holds within ``max_slippage_bps`` of the touch, for an
  aggressive child (``analytics.liquidity.max_size_for_slippage``: its VWAP
  stays within the budget); the cut is carried forward like any shortfall;
* down to the instrument's step. A child below the minimum order (``min_qty``,
  ``min_notional`` at the touch) is not sent; one that would leave less than
  the minimum behind takes the rest with it, when the budget allows.

Children carry ``correlation_id`` = the parent id and confidence 1.0 (this is
execution, not a signal). An aggressive child is a limit IOC at the price of
the last level its quantity needs on the book as seen: it takes what the book
showed and no worse, even if the book moves while the order travels; what it
cannot take expires and is carried forward. In the first ``passive_fraction``
of the horizon (never in the last slice) a child is a post-only limit at the
near touch (the bid for a buy); the next slice cancels it and the unfilled
part goes back to the open quantity. Without an L2 book (bars, trades) a child
is a market order, uncapped: the depth is unknown. While a book is expected
but out of sync, the slice waits for it.

Never overshoot. A slice is sized only when no child of the parent is working
(it waits for its cancels to be confirmed) and never above ``open``: filled
plus working never exceeds the quantity.

The end. Filled completely: ``finish_parent``. At the horizon: working children
are cancelled, and once they are gone the parent is finished; short of the
quantity, ``parent_incomplete`` is logged with filled, remaining and the reason
(the last thing that cut a slice: the book within the budget, a risk refusal,
a venue rejection, the minimum order, no book, a passive child left unfilled),
and the same reason goes to ``finish_parent``. Stopped before the horizon (the
data ended, a shutdown), the parent is finished as "stopped before the horizon".

Restart. Filled comes from the strategy's position (minus the position at the
start) and working children from the OMS, so the snapshot holds only the
schedule: parent id, start, slice, flags and the algorithm's plan. A restore
resumes at the slice the clock is in; slices missed while down fold into the
open quantity and are spread over the rest, as they are after a gap in the
data longer than a slice. A restore under other parameters
finishes the old parent ("parameters changed", its children cancelled) and
starts a new one at the next event. The kernel's parent desk (TCA) does not
survive a process restart: the resumed parent keeps its id and its children
their correlation id, but its post-trade row is the one written at the stop.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar, Final, TypeVar

from pydantic import Field, field_validator

from genesis.analytics.liquidity import max_size_for_slippage
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    TimerFired,
    TradeTick,
)
from genesis.core.instruments import Instrument
from genesis.core.money import ZERO, quantize
from genesis.core.orders import Order
from genesis.data.book import OrderBook
from genesis.errors import ConfigError
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams

__all__ = ["Child", "ExecutionParams", "SlicedExecution", "min_order", "size_child"]

_NS: Final = 1_000_000_000
_LOG_QUANTUM: Final = Decimal("1e-8")
_TERMINAL: Final = (OrderCanceled, OrderExpired, OrderRejected, OrderDenied)


class ExecutionParams(StrategyParams):
    """The parent order and the settings every slicing algorithm shares."""

    side: Side
    quantity: Decimal = Field(gt=0)  # base units
    horizon_s: float = Field(gt=0, le=7 * 86_400)  # from the first priced event
    slices: int = Field(default=8, ge=1, le=10_000)
    max_slippage_bps: float = Field(default=10.0, ge=0, le=1_000)  # per child, from the touch
    passive_fraction: float = Field(default=0.0, ge=0, le=1)  # of the horizon, worked passively

    @field_validator("side", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class Child:
    """One child order to send: quantity, limit price (None: market), and how it rests."""

    qty: Decimal
    price: Decimal | None
    passive: bool


def min_order(inst: Instrument, price: Decimal) -> Decimal:
    """The smallest quantity the venue accepts at ``price``: min qty, min notional, one step."""
    by_notional = quantize(inst.min_notional / price, inst.step_size, ROUND_CEILING)
    return max(inst.min_qty, by_notional, inst.step_size)


def size_child(
    open_qty: Decimal, target: Decimal, cap: Decimal | None, inst: Instrument, price: Decimal
) -> tuple[Decimal, str]:
    """The child quantity for ``target`` (of ``open_qty``) under ``cap``, and why it is short.

    The target is rounded to the nearest step (a float share must not lose a
    step to ``0.2499999``), the cap down to it; zero when below the minimum
    order; never above ``open_qty`` (a multiple of the step) or ``cap``. A
    child that would leave less than the minimum open takes the rest too when
    the cap allows, else leaves exactly the minimum (module essay).
    """
    why = ""
    qty = quantize(min(target, open_qty), inst.step_size, ROUND_HALF_EVEN)
    if cap is not None and cap < qty:
        room = quantize(cap, inst.step_size, ROUND_DOWN)
        why = f"liquidity: the book held {_text(room)} within the budget, {_text(qty)} wanted"
        qty = room
    floor = min_order(inst, price)
    if ZERO < open_qty - qty < floor:  # no dust left behind: all of it, or leave the minimum
        qty = open_qty if cap is None or open_qty <= cap else open_qty - floor
    if qty < floor:
        return ZERO, why or f"{_text(qty)} is below the minimum order {_text(floor)}"
    return qty, why


P = TypeVar("P", bound=ExecutionParams)


class SlicedExecution(Strategy[P], abc.ABC):
    """Works one parent order on one instrument in slices; subclasses give ``share``
    (a subclass without it cannot be constructed)."""

    algo: ClassVar[str] = ""

    # --- what an algorithm provides ---------------------------------------

    @abc.abstractmethod
    def share(self, k: int) -> float:
        """Fraction in [0, 1] of the open quantity that slice ``k`` (not the last) should do.

        The one method an algorithm must define (TWAP, VWAP and shortfall do); the engine
        has no default schedule to fall back on.
        """

    def plan(self) -> None:
        """Called once when the parent starts (the schedule may be fixed here)."""

    def observe(self) -> None:
        """Called on every market event after the start (estimators update here)."""

    def plan_state(self) -> dict[str, Any]:
        """The algorithm's own part of the snapshot."""
        return {}

    def load_plan(self, state: dict[str, Any]) -> None:
        """Restore what ``plan_state`` wrote."""

    # --- hooks ------------------------------------------------------------

    def on_start(self) -> None:
        if len(self.instruments) != 1:
            raise ConfigError(f"{self.algo}: works one instrument, given {list(self.instruments)}")
        self.inst = self.instruments[0]
        self.quantity = self.ctx.instrument(self.inst).quantity(self.params.quantity)
        self.parent_id = ""
        self.start_ns = -1
        self.start_position = ZERO
        self.slice = -1
        self.children = 0
        self.pending = self.ending = self.done = False
        self.shortfall = ""  # the last thing that cut a slice short

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        self._on_market()

    def on_quote(self, quote: QuoteTick) -> None:
        self._on_market()

    def on_trade(self, trade: TradeTick) -> None:
        self._on_market()

    def on_bar(self, bar: Bar) -> None:
        self._on_market()

    def on_timer(self, timer: TimerFired) -> None:
        if self.done or self.start_ns < 0:
            return
        kind = timer.name.rpartition(":")[2]
        if kind == "slice":  # after a gap in the data, the slices missed fold into this one
            self._begin_slice(max(self.slice + 1, self._due_slice()))
        elif kind == "end":
            self._end()

    def on_fill(self, fill: OrderFilled) -> None:
        if self.done:
            return
        if self.filled() >= self.quantity:
            self._finish()
        else:
            self._after_child()

    def on_order(self, event: OrderEvent) -> None:
        if self.done or not isinstance(event, _TERMINAL):
            return
        if isinstance(event, OrderDenied):
            self.shortfall = f"risk refused a child: {event.code}: {event.reason}"
        elif isinstance(event, OrderRejected):
            self.shortfall = f"the venue rejected a child: {event.reason}"
        elif isinstance(event, OrderExpired):
            self.shortfall = "a child's rest expired (the book moved before it arrived)"
        elif not self.ending:
            self.shortfall = "a passive child was left unfilled"
        self._after_child()

    def on_stop(self) -> None:
        """Stopped with the parent open: say so (the snapshot still resumes it)."""
        if self.start_ns >= 0 and not self.done:
            self._report_short(
                self._horizon_reason() if self.ending else "stopped before the horizon"
            )

    # --- the parent -------------------------------------------------------

    def filled(self) -> Decimal:
        """Base quantity done so far: the position's move since the start, in the parent's
        direction."""
        return self.params.side.sign * (self.ctx.position(self.inst) - self.start_position)

    def working(self) -> list[Order]:
        """The parent's children still open (sent, resting, or being cancelled)."""
        return [o for o in self.ctx.open_orders(self.inst) if o.correlation_id == self.parent_id]

    def slice_ns(self, k: int) -> int:
        """When slice ``k`` begins (``k = slices``: the horizon's end)."""
        return self.start_ns + k * self.horizon_ns // self.params.slices

    def _due_slice(self) -> int:
        """The slice the clock is in."""
        elapsed = self.ctx.clock.now_ns() - self.start_ns
        return min(self.params.slices - 1, elapsed * self.params.slices // max(1, self.horizon_ns))

    @property
    def horizon_ns(self) -> int:
        return round(self.params.horizon_s * _NS)

    def _on_market(self) -> None:
        if self.done:
            return
        if self.start_ns < 0:
            if self.ctx.market.mid(self.inst) is not None:
                self._begin()
            return
        self.observe()
        if self.ending:
            if not self.working():
                self._finish()
        elif self.pending:
            self._try_slice()

    def _begin(self) -> None:
        p, ctx = self.params, self.ctx
        self.start_ns = ctx.clock.now_ns()
        self.start_position = ctx.position(self.inst)
        self.parent_id = ctx.start_parent(
            self.inst, p.side, self.quantity, algo=self.algo, horizon_s=p.horizon_s
        )
        self.plan()
        ctx.set_timer("end", self.start_ns + self.horizon_ns)
        self._begin_slice(0)

    def _begin_slice(self, k: int) -> None:
        self.slice, self.pending = k, True
        if k + 1 < self.params.slices:
            self.ctx.set_timer("slice", max(self.ctx.clock.now_ns(), self.slice_ns(k + 1)))
        self._try_slice()

    def _after_child(self) -> None:
        if self.ending:
            if not self.working():
                self._finish()
        elif self.pending:
            self._try_slice()

    def _try_slice(self) -> None:
        working = self.working()
        if working:  # resting passive children go first; IOC and market ones end by themselves
            for order in working:
                if order.time_in_force is TimeInForce.GTC and order.order_type is OrderType.LIMIT:
                    self.ctx.cancel(order)
            return
        open_qty = self.quantity - self.filled()
        if open_qty <= 0:
            self._finish()
            return
        if not self._ready():
            return  # the slice waits for a price, or for the book to come back in sync
        last = self.slice >= self.params.slices - 1
        share = 1.0 if last else min(1.0, max(0.0, self.share(self.slice)))
        target = open_qty * Decimal(repr(share))
        self.shortfall = ""  # each slice says for itself what cut it short
        self.pending = False
        child = self._child(open_qty, target, last)
        if child.qty > 0:
            self._send(child, target)

    def _ready(self) -> bool:
        market = self.ctx.market
        if market.book(self.inst) is not None:
            return True
        if self.inst in market.books:
            self.shortfall = "no book: the L2 book was out of sync"
            return False
        return market.price(self.inst) is not None

    def _child(self, open_qty: Decimal, target: Decimal, last: bool) -> Child:
        """The slice's child (quantity 0: nothing to send); ``_ready`` said it can be priced."""
        ctx, side = self.ctx, self.params.side
        book = ctx.market.book(self.inst)
        if book is None:  # bars or trades only: the depth is unknown
            last_price = ctx.market.price(self.inst)
            assert last_price is not None
            return self._sized(open_qty, target, None, last_price)
        near = _touch(book, side)
        if near is not None and not last and self._in_passive_window():
            return self._sized(open_qty, target, None, near, price=near, passive=True)
        far = _touch(book, side.opposite)
        if far is None:
            self.shortfall = "no liquidity: the book's other side is empty"
            return Child(ZERO, None, passive=False)
        cap = max_size_for_slippage(book, side, self.params.max_slippage_bps)
        child = self._sized(open_qty, target, cap, far)
        worst = _worst_price(book, side, child.qty) if child.qty else None
        return Child(child.qty, worst, passive=False)

    def _sized(
        self,
        open_qty: Decimal,
        target: Decimal,
        cap: Decimal | None,
        reference: Decimal,
        price: Decimal | None = None,
        passive: bool = False,
    ) -> Child:
        inst = self.ctx.instrument(self.inst)
        qty, why = size_child(open_qty, target, cap, inst, price or reference)
        if why:
            self.shortfall = why
            self.ctx.log.info(
                "slice_short", strategy_id=self.id, parent_id=self.parent_id,
                slice=self.slice, target=_text(target), quantity=_text(qty), reason=why,
            )  # fmt: skip
        return Child(qty, price, passive)

    def _in_passive_window(self) -> bool:
        fraction = self.params.passive_fraction
        return self.slice_ns(self.slice) < self.start_ns + fraction * self.horizon_ns

    def _send(self, child: Child, target: Decimal) -> None:
        p = self.params
        kw: dict[str, Any] = {}
        if child.price is not None:
            kw["time_in_force"] = TimeInForce.GTC if child.passive else TimeInForce.IOC
            kw["post_only"] = child.passive
        order = self.ctx.trade(
            self.inst, p.side, child.qty, price=child.price, confidence=1.0,
            correlation_id=self.parent_id, reason=f"{self.algo} slice {self.slice + 1}/{p.slices}",
            **kw,
        )  # fmt: skip
        if order is None:
            return
        self.children += 1
        self.ctx.log.info(
            "child_order", strategy_id=self.id, parent_id=self.parent_id, slice=self.slice,
            client_order_id=order.client_order_id, quantity=_text(child.qty),
            target=_text(target), price=None if child.price is None else _text(child.price),
            passive=child.passive,
        )  # fmt: skip

    def _end(self) -> None:
        self.ending, self.pending = True, False
        working = self.working()
        if working and not self.shortfall:
            self.shortfall = "the horizon ended with a child still working"
        for order in working:
            self.ctx.cancel(order)
        if not working:
            self._finish()

    def _finish(self) -> None:
        self.done, self.pending = True, False
        left = self.quantity - self.filled()
        if left > 0:
            self._report_short(self._horizon_reason())
            return
        self.ctx.log.info(
            "parent_complete", strategy_id=self.id, parent_id=self.parent_id,
            filled=_text(self.filled()), children=self.children,
        )  # fmt: skip
        self.ctx.finish_parent(self.parent_id)

    def _horizon_reason(self) -> str:
        return f"horizon ended: {self.shortfall or 'children left unfilled'}"

    def _report_short(self, reason: str) -> None:
        filled = self.filled()
        self.ctx.log.warning(
            "parent_incomplete", strategy_id=self.id, parent_id=self.parent_id,
            filled=_text(filled), remaining=_text(self.quantity - filled), reason=reason,
        )  # fmt: skip
        self.ctx.finish_parent(self.parent_id, reason)

    # --- state ------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "params": self.params.version_id(),
            "parent_id": self.parent_id,
            "start_ns": self.start_ns,
            "start_position": str(self.start_position),
            "slice": self.slice,
            "children": self.children,
            "pending": self.pending,
            "ending": self.ending,
            "done": self.done,
            "shortfall": self.shortfall,
            "plan": self.plan_state(),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        if state.get("params") != self.params.version_id():
            self._abandon(str(state.get("parent_id", "")), bool(state.get("done", True)))
            return
        self.parent_id = state["parent_id"]
        self.start_ns = int(state["start_ns"])
        self.start_position = Decimal(state["start_position"])
        self.slice, self.children = int(state["slice"]), int(state["children"])
        self.pending, self.ending = bool(state["pending"]), bool(state["ending"])
        self.done, self.shortfall = bool(state["done"]), str(state["shortfall"])
        self.load_plan(state["plan"])
        if self.start_ns >= 0 and not self.done:
            self._resume()

    def _resume(self) -> None:
        now = self.ctx.clock.now_ns()
        self.ctx.set_timer("end", max(now, self.start_ns + self.horizon_ns))
        due = self._due_slice()
        if due > self.slice:
            self.slice, self.pending = due, True
        if self.slice + 1 < self.params.slices:
            self.ctx.set_timer("slice", max(now, self.slice_ns(self.slice + 1)))

    def _abandon(self, parent_id: str, done: bool) -> None:
        """A restore under other parameters: the old parent ends here, a new one starts."""
        if not parent_id or done:
            return
        for order in self.ctx.open_orders(self.inst):
            if order.correlation_id == parent_id:
                self.ctx.cancel(order)
        self.ctx.log.warning(
            "parent_incomplete", strategy_id=self.id, parent_id=parent_id,
            reason="parameters changed",
        )  # fmt: skip
        self.ctx.finish_parent(parent_id, "parameters changed")


def _touch(book: OrderBook, book_side: Side) -> Decimal | None:
    """The best price on ``book_side`` (BUY: the best bid)."""
    best = book.best_bid() if book_side is Side.BUY else book.best_ask()
    return None if best is None else best[0]


def _worst_price(book: OrderBook, side: Side, qty: Decimal) -> Decimal | None:
    """The price of the last level an order of ``side`` for ``qty`` takes from ``book``."""
    n = 8
    while True:
        levels = book.levels(side.opposite, n)
        taken = ZERO
        for price, available in levels:
            taken += available
            if taken >= qty:
                return price
        if len(levels) < n:
            return None
        n *= 4


def _text(value: Decimal) -> str:
    """Plain text of a quantity, cut to 8 decimals (a float share's target has 19)."""
    if value.as_tuple().exponent < -8:  # type: ignore[operator]
        value = value.quantize(_LOG_QUANTUM)
    return format(value.normalize(), "f") if value else "0"
