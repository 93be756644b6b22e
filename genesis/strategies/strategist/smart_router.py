"""``smart_router`` (Strategist, SPEC ST-X5): work one parent order across venues.

The parent is ``side``, ``quantity`` (base units) and ``horizon_s`` (seconds
from the first event); the instruments are one symbol on several venues
(``binance:BTCUSD``, ``bybit:BTCUSD``), optionally with a dark pool among
them (a venue named in ``dark_venues``, e.g. ``dark:BTCUSD``:
``genesis.exchange.darkpool``).

Schedule. The horizon is cut into ``N = ceil(horizon_s / step_s)`` steps;
step ``k`` (0-based) is a timer just after ``first event + k * step_s`` (1 ns
after, so the quotes stamped at the grid point are in), run when the next
event arrives; steps missed in a gap of the data fold into the one that
runs. Its slice is what keeps the parent on a straight line: ``quantity *
(k + 1) / N`` minus what has filled and what is still working. So a child
that did not fill is carried into the next step, and the last step asks for
everything left. Filled plus working never exceeds the line.

Routing, each step:

1. *dark first* (every step but the last, when a dark venue is configured and
   ``dark_fraction`` > 0): ``dark_fraction`` of the slice (to the nearest lot,
   half up) is offered to the pool as an IOC midpoint order, its limit the best
   lit all-in touch price
   net of the pool's fee, so a dark fill never costs more all-in than the lit
   market would. Skipped when the pool's reference mid is already past that
   limit. The pool shows nothing: what does not fill comes back in the next
   slice;
2. *lit*: the rest of the slice is split by ``genesis.execution.router.route``
   over every lit venue whose quote (or in-sync book, ``book_levels`` a
   side) is at most ``max_quote_age_s`` old, by price, depth and each
   venue's taker fee (``venue_fee_bps``, else ``fee_bps``). Each child is an
   IOC limit at the worst price of its share of the walk. A quote size of 0
   (unknown depth) is taken to carry the slice.

Every child carries confidence 1.0 (an execution algorithm does not weigh a
signal: the parent is the decision) and ``correlation_id`` = the parent id
(``ctx.start_parent``, opened at the first step on the first lit instrument,
so its arrival price is known): the kernel's TCA adds them all up. The
parent is finished when filled; at the end of the horizon (or of the
session) an incomplete parent is finished with the reason: filled so far,
and the latest cause (a risk denial, a venue rejection, depth short in whole
lots, no fresh lit quote at a step, or children that expired unfilled).

Sizes are the venues' as recorded: in backtests of the bundled BTCUSD quote
bars, contracts taken as base units, as the simulated venues fill them. A
sell needs base on the venues (backtests seed quote only).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from pydantic import Field, field_validator, model_validator

from genesis.core.enums import Side, TimeInForce
from genesis.core.events import (
    BookDelta,
    BookSnapshot,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    TimerFired,
)
from genesis.core.instruments import split_instrument_id
from genesis.core.money import ZERO, quantize
from genesis.errors import ConfigError
from genesis.execution.router import VenueLiquidity, all_in_price, route
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["SmartRouterParams", "SmartRouterStrategy"]

_NS_PER_S: Final = 1_000_000_000
_BPS: Final = Decimal(10_000)
_TIMER: Final = "step"


class SmartRouterParams(StrategyParams):
    side: Side  # BUY or SELL (any case)
    quantity: Decimal = Field(gt=0)
    horizon_s: int = Field(gt=0)
    step_s: int = Field(default=60, gt=0)
    fee_bps: Decimal = Field(default=Decimal(10), ge=0, le=1_000)  # a venue not listed below
    venue_fee_bps: dict[str, Decimal] = Field(default_factory=dict)  # venue -> taker fee
    dark_venues: tuple[str, ...] = ("dark",)
    dark_fraction: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    max_quote_age_s: int = Field(default=120, gt=0)
    book_levels: int = Field(default=20, ge=1, le=5_000)

    @field_validator("side", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("venue_fee_bps", mode="before")
    @classmethod
    def _fees_from_text(cls, value: Any) -> Any:
        """``--param venue_fee_bps=binance:5,bybit:6`` on the command line."""
        if isinstance(value, str):
            pairs = [item.partition(":") for item in value.split(",") if item.strip()]
            return {venue.strip(): fee.strip() for venue, _, fee in pairs}
        return value

    @field_validator("dark_venues", mode="before")
    @classmethod
    def _venues_from_text(cls, value: Any) -> Any:
        """``--param dark_venues=dark`` (comma-separated; empty: no dark venue)."""
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @model_validator(mode="after")
    def _step_within_horizon(self) -> SmartRouterParams:
        if self.step_s > self.horizon_s:
            raise ValueError(f"step_s {self.step_s} exceeds horizon_s {self.horizon_s}")
        if any(fee < 0 for fee in self.venue_fee_bps.values()):
            raise ValueError(f"venue_fee_bps {self.venue_fee_bps} holds a negative fee")
        return self


class _VenueFills:
    """One venue's share of the parent so far."""

    __slots__ = ("fees", "fills", "notional", "qty")

    def __init__(self, state: list[str] | None = None) -> None:
        qty, notional, fees, fills = state or ("0", "0", "0", "0")
        self.qty, self.notional, self.fees = Decimal(qty), Decimal(notional), Decimal(fees)
        self.fills = int(fills)

    def add(self, fill: OrderFilled) -> None:
        self.qty += fill.last_qty
        self.notional += fill.last_qty * fill.last_px
        self.fees += fill.fee
        self.fills += 1

    def state(self) -> list[str]:
        return [str(self.qty), str(self.notional), str(self.fees), str(self.fills)]


@register("smart_router", tiers=(Tier.STRATEGIST,), spec=("ST-X5",))
class SmartRouterStrategy(Strategy[SmartRouterParams]):
    """Work a parent order across venues: dark first, then the cheapest lit split."""

    Params = SmartRouterParams

    def on_start(self) -> None:
        p = self.params
        self._lit, self._dark = _venues(self.instruments, p.dark_venues)
        self._side = p.side
        self._steps = math.ceil(p.horizon_s / p.step_s)
        self._qty = self.ctx.instrument(self._lit[0]).quantity(p.quantity)
        self._t0: int | None = None  # the first event's time: the schedule starts there
        self._step = 0
        self._pid: str | None = None
        self._done = False
        self._why = ""  # the latest reason a slice did not go out whole (the finish's reason)
        self._seen: dict[str, int] = {}
        self.fills: dict[str, _VenueFills] = {i: _VenueFills() for i in self.instruments}

    # --- market data: only when each venue was last updated ---------------------

    def on_quote(self, quote: QuoteTick) -> None:
        self._saw(quote.instrument_id, quote.ts_init)

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        self._saw(update.instrument_id, update.ts_init)

    def _saw(self, instrument_id: str, ts: int) -> None:
        self._seen[instrument_id] = ts
        if self._t0 is None:
            self._t0 = ts
            self._arm()

    # --- the schedule ---------------------------------------------------------------

    def on_timer(self, timer: TimerFired) -> None:
        if self._done or self._t0 is None or not timer.name.endswith(f":{_TIMER}"):
            return
        # the latest step due: after a gap in the data, the missed steps are one (the
        # straight-line target catches up)
        due = (self.ctx.clock.now_ns() - self._t0 - 1) // (self.params.step_s * _NS_PER_S)
        self._step = max(self._step, min(due, self._steps))
        if self._step >= self._steps:
            self._finish(f"horizon ended: {_num(self.filled)} of {_num(self._qty)} filled")
            return
        if self._pid is None:
            self._pid = self.ctx.start_parent(
                self._lit[0], self._side, self._qty,
                algo="sor", horizon_s=self.params.horizon_s,
            )  # fmt: skip
        self._why = self._work(self._step) or self._why
        self._step += 1
        self._arm()

    def _arm(self) -> None:
        assert self._t0 is not None
        self.ctx.set_timer(_TIMER, self._t0 + 1 + self._step * self.params.step_s * _NS_PER_S)

    def _work(self, k: int) -> str:
        """Send step ``k``'s children; why the slice could not all go out ("" when it did)."""
        last = k == self._steps - 1
        target = self._qty if last else self._qty * (k + 1) / self._steps
        slice_qty = target - self.filled - self._working()
        if slice_qty <= 0:
            return ""
        lits = self._liquidity(slice_qty)
        if not lits:
            return f"no lit venue quoted within {self.params.max_quote_age_s} s at step {k}"
        touches = [all_in_price(v.levels[0][0], v.fee_bps, self._side) for v in lits]
        best = min(touches) if self._side is Side.BUY else max(touches)
        lit_qty = slice_qty
        if self._dark and self.params.dark_fraction > 0 and not last:
            lit_qty -= self._send_dark(slice_qty, best, k)
        if lit_qty <= 0:
            return ""
        found = route(self._side, lit_qty, lits)
        for child in found.children:
            self._child(child.venue, child.qty, child.limit, f"lit step {k}")
        if found.unfilled > 0:
            return (
                f"the visible depth (in whole lots) was short by {_num(found.unfilled)} at step {k}"
            )
        return ""

    @property
    def filled(self) -> Decimal:
        return sum((f.qty for f in self.fills.values()), ZERO)

    def _working(self) -> Decimal:
        return sum(
            (o.leaves_qty for i in self.instruments for o in self.ctx.open_orders(i)
             if o.correlation_id == self._pid),
            ZERO,
        )  # fmt: skip

    def _liquidity(self, slice_qty: Decimal) -> list[VenueLiquidity]:
        """The fresh lit venues' levels on the side the parent takes from."""
        now, max_age = self.ctx.clock.now_ns(), self.params.max_quote_age_s * _NS_PER_S
        out = []
        for iid in self._lit:
            seen = self._seen.get(iid)
            if seen is None or now - seen > max_age:
                continue
            levels = self._levels(iid, slice_qty)
            if levels:
                step = self.ctx.instrument(iid).step_size
                out.append(
                    VenueLiquidity(venue=iid, levels=levels, fee_bps=self._fee(iid), step=step)
                )
        return out

    def _levels(self, iid: str, slice_qty: Decimal) -> tuple[tuple[Decimal, Decimal], ...]:
        book_side = self._side.opposite
        book = self.ctx.market.book(iid)
        if book is not None:
            return tuple(book.levels(book_side, self.params.book_levels))
        quote = self.ctx.market.last_quote.get(iid)
        if quote is None:
            return ()
        if self._side is Side.BUY:
            return ((quote.ask, quote.ask_size or slice_qty),)
        return ((quote.bid, quote.bid_size or slice_qty),)

    def _fee(self, iid: str) -> Decimal:
        venue = split_instrument_id(iid)[0]
        return self.params.venue_fee_bps.get(venue, self.params.fee_bps)

    # --- children ---------------------------------------------------------------------

    def _send_dark(self, slice_qty: Decimal, best_lit: Decimal, k: int) -> Decimal:
        """Offer ``dark_fraction`` of the slice to the dark venues (split evenly, to the
        nearest lot, half up), each capped at the best lit all-in price net of its fee;
        return what was sent."""
        offer = slice_qty * self.params.dark_fraction / len(self._dark)
        sent = ZERO
        for iid in self._dark:
            rate = self._fee(iid) / _BPS
            cap = best_lit / (1 + rate) if self._side is Side.BUY else best_lit / (1 - rate)
            mid = self.ctx.market.mid(iid)
            if mid is None or (mid > cap if self._side is Side.BUY else mid < cap):
                continue  # the pool's mid is no better than the lit market: nothing to seek
            step = self.ctx.instrument(iid).step_size
            share = min(quantize(offer, step, ROUND_HALF_UP), quantize(slice_qty - sent, step))
            if share > 0 and self._child(iid, share, cap, f"dark step {k}") is not None:
                sent += share
        return sent

    def _child(self, iid: str, qty: Decimal, limit: Decimal, reason: str) -> Any:
        return self.ctx.trade(
            iid, self._side, qty, price=limit, time_in_force=TimeInForce.IOC,
            confidence=1.0, correlation_id=self._pid, reason=reason,
        )  # fmt: skip

    # --- order events -------------------------------------------------------------------

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.setdefault(fill.instrument_id, _VenueFills()).add(fill)
        if not self._done and self.filled >= self._qty:
            self._finish("")

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderDenied):
            self._why = f"risk denied a child ({event.code}: {event.reason})"
        elif isinstance(event, OrderRejected):
            self._why = f"{event.instrument_id} rejected a child ({event.reason})"

    def on_stop(self) -> None:
        if not self._done and self._pid is not None:
            self._finish(f"session ended: {_num(self.filled)} of {_num(self._qty)} filled")

    def _finish(self, reason: str) -> None:
        self._done = True
        if reason:
            reason = f"{reason}; {self._why or 'the last children expired unfilled'}"
        if self._pid is not None:
            self.ctx.finish_parent(self._pid, reason)
        self.ctx.log.info(
            "parent_finished", strategy_id=self.id, parent_id=self._pid,
            filled=str(self.filled), reason=reason or None,
        )  # fmt: skip

    # --- state ---------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "t0": self._t0, "step": self._step, "pid": self._pid, "done": self._done,
            "why": self._why,
            "fills": {i: f.state() for i, f in self.fills.items()},
        }  # fmt: skip

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        t0 = state.get("t0")
        self._t0, self._step = (None if t0 is None else int(t0)), int(state["step"])
        self._pid, self._done = state.get("pid"), bool(state.get("done"))
        self._why = str(state.get("why", ""))
        self.fills = {i: _VenueFills(s) for i, s in state.get("fills", {}).items()}
        if not self._done and self._t0 is not None:
            self._arm()


def _venues(
    instruments: tuple[str, ...], dark_venues: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """(lit, dark) instrument ids: one symbol, distinct venues, at least one lit venue."""
    split = [split_instrument_id(i) for i in instruments]
    venues = {venue for venue, _ in split}
    symbols = {symbol for _, symbol in split}
    lit = [i for i, (v, _) in zip(instruments, split, strict=True) if v not in dark_venues]
    dark = [i for i, (v, _) in zip(instruments, split, strict=True) if v in dark_venues]
    if len(symbols) != 1 or len(venues) != len(instruments) or not lit:
        raise ConfigError(
            "smart_router needs one symbol on distinct venues, at least one of them lit,"
            f" was {', '.join(instruments)}"
        )
    return lit, dark


def _num(value: Decimal) -> str:
    """``10.000`` as ``10``, for reasons people read."""
    return format(value.normalize(), "f")
