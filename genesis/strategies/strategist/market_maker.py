"""``market_maker`` (Strategist, SPEC ST-X4): Avellaneda-Stoikov quotes on an L2 book.

Theory of operation
-------------------
Avellaneda & Stoikov (2008, "High-frequency trading in a limit order book")
quote around a *reservation price* that leans away from the inventory held,
with a spread set by risk aversion and by how fast the market's orders thin
out with distance from the mid. This is the **rolling-horizon** form: the
time left ``T - t`` is a constant ``tau = horizon_s`` (at every step the
maker acts as if its session ended ``horizon_s`` from now), so the quotes
do not collapse towards a session end the strategy cannot know::

    q     = (position - target_inventory) / order_qty     (lots, signed)
    r     = s - q * gamma * sigma2 * tau                   (reservation price)
    delta = gamma * sigma2 * tau + (2 / gamma) * ln(1 + gamma / k)
    delta = delta * (1 + inventory_widening * |q| / q_max)
    bid   = r - delta / 2  rounded down to the tick, at most best ask - tick
    ask   = r + delta / 2  rounded up to the tick,   at least best bid + tick

Units: ``s`` is the book's mid (USDT), ``sigma2`` the mid's variance per
second (USDT² / s), ``tau`` seconds, ``gamma`` 1 / USDT per lot, ``k`` 1 / USDT.
``q_max`` is the larger of the two inventory bounds in lots. The explicit
widening term is ours, not the paper's: A-S only *shifts* both quotes with
inventory (the skew) and keeps their distance; the term also widens them, so
a maker loaded with inventory asks more for taking on more.

Estimates, both from the replayed data and both in the snapshot:

* ``sigma2``: an EWMA (span ``sigma_span`` steps) of ``ln(s_i / s_{i-1})² /
  dt_i``, the squared log return of the mid between two quoting steps per
  second of event time between them, times ``s²``; ready after
  ``warmup_steps`` returns.
* ``k``: a parameter, or (``k`` unset, the default) estimated from trade
  arrivals. A-S take the intensity of market orders reaching depth ``d``
  from the mid as ``A exp(-k d)``, so the depths trades print at are
  exponential with mean ``1 / k``: ``k = 1 / EWMA(|trade price - mid|)``
  (span ``k_span`` trades, the mid of the book as the trade arrives), ready
  after ``k_warmup_trades`` trades.

Quoting. Every ``step_ms`` of event time (a one-shot timer re-armed from
the time it fires, so a gap in the data costs one step, not thousands), after
each fill, and when the mid has moved ``requote_move_bps`` since the last
step, each side is brought to its model price: a working quote within
``requote_tolerance`` of the half spread of it stays (no queue is lost for
nothing), others are
cancelled, and a new post-only limit of ``order_qty`` goes out when the
inventory bound allows it. Quotes carry confidence 1.0 (an execution
strategy: the decision is the price, not a signal) and one correlation id per
step.

Inventory bounds, ``min_inventory <= position <= max_inventory`` at every
fill: a side is quoted only if the position plus every open order on that
side (cancels in flight included: they may still fill) plus the new quote
stays inside. On spot ``min_inventory`` is 0: the maker sells only what it
bought. A quote the risk engine refuses (the tier's position size on a small
account) is not tried again on that side until the position changes.

Risk cap: the mark-to-market P&L (cash paid and received for its fills, fees
included, plus the position at the mid) is checked at every step and fill;
at ``-max_loss`` the maker cancels its quotes, sells (or buys) the position
back at market once they are gone, and quotes no more (``halted``). Quotes
need no stop loss: a quote is a resting offer to trade, the cap is the stop.

Venue model it is tested against (``exchange/simulated.py``): a resting
limit fills at its own price, as maker, when a trade prints at or through it
(for the smaller of the trade's size and what is left) or when the book's
opposite best reaches it; queue position is not modelled (optimistic:
no one ahead of us at our price), and our fills do not consume the
recorded liquidity. Post-only orders that would cross on arrival are
rejected, as Binance rejects LIMIT_MAKER.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pydantic import Field, model_validator

from genesis.analytics.market_making import (
    ASQuote,
    MidVariance,
    TradeDepth,
    avellaneda_stoikov,
)
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import (
    BookDelta,
    BookSnapshot,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    TimerFired,
    TradeTick,
)
from genesis.core.orders import Order
from genesis.data.book import OrderBook
from genesis.errors import InvalidOrder
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["ASQuote", "MarketMaker", "MarketMakerParams", "avellaneda_stoikov"]

_NS_PER_MS = 1_000_000
_TIMER = "requote"
_ZERO = Decimal(0)
_STATE_VERSION = 1


class MarketMakerParams(StrategyParams):
    order_qty: Decimal = Field(default=Decimal("0.001"), gt=0)  # base units per quote
    max_inventory: Decimal = Field(default=Decimal("0.01"))  # base units, position <= this
    min_inventory: Decimal = Field(default=Decimal(0))  # base units; 0 on spot
    target_inventory: Decimal = Field(default=Decimal(0))  # the skew pulls towards this
    gamma: float = Field(default=0.05, gt=0)  # risk aversion, 1 / USDT per lot
    horizon_s: float = Field(default=5.0, gt=0)  # tau = T - t, rolling
    k: float | None = Field(default=None, gt=0)  # 1 / USDT; None: estimated from trades
    k_span: int = Field(default=500, ge=1)
    k_warmup_trades: int = Field(default=50, ge=1)
    sigma_span: int = Field(default=100, ge=1)
    warmup_steps: int = Field(default=20, ge=1)
    inventory_widening: float = Field(default=1.0, ge=0)
    step_ms: int = Field(default=100, ge=1)
    requote_tolerance: float = Field(default=0.1, ge=0, lt=1)  # of the half spread
    requote_move_bps: float = Field(default=1.0, gt=0)
    max_loss: Decimal = Field(default=Decimal(25), gt=0)  # quote currency, mark to market

    @model_validator(mode="after")
    def _bounds(self) -> MarketMakerParams:
        if not self.min_inventory <= self.target_inventory <= self.max_inventory:
            raise ValueError(
                "inventory bounds must satisfy min_inventory <= target_inventory <="
                f" max_inventory, were {self.min_inventory}, {self.target_inventory},"
                f" {self.max_inventory}"
            )
        if self.max_inventory - self.min_inventory < self.order_qty:
            raise ValueError(
                f"max_inventory - min_inventory must hold one order_qty ({self.order_qty}),"
                f" was {self.max_inventory - self.min_inventory}"
            )
        return self


@register("market_maker", tiers=(Tier.STRATEGIST,), spec=("ST-X4",))
class MarketMaker(Strategy[MarketMakerParams]):
    """Two-sided post-only quotes around the A-S reservation price, within inventory bounds."""

    Params = MarketMakerParams

    def on_start(self) -> None:
        p = self.params
        self.instrument_id = self.instruments[0]
        self.inst = self.ctx.instrument(self.instrument_id)
        self.tick = self.inst.tick_size
        self.variance = MidVariance(p.sigma_span, p.warmup_steps)
        self.depth = TradeDepth(p.k_span, p.k_warmup_trades)
        self.cash_flow = Decimal(0)  # quote paid (-) and received (+) by fills, fees included
        self.steps = self.quotes = self.cancels = self.fills = self.rejected = 0
        self.halting = self.halted = self.held_back = False
        # side -> the position at which risk refused a quote on it (not retried until it moves)
        self.refused: dict[Side, Decimal] = {}
        self.quoted_mid: float | None = None  # the mid of the last step
        self.next_step_ns = self.ctx.clock.now_ns() + p.step_ms * _NS_PER_MS
        self._lots = float(p.order_qty)
        self._tick = float(self.tick)
        q_bounds = (p.max_inventory - p.target_inventory, p.target_inventory - p.min_inventory)
        self._q_max = float(max(q_bounds) / p.order_qty)
        self.ctx.set_timer(_TIMER, self.next_step_ns)

    # --- hooks -------------------------------------------------------------------

    def on_timer(self, timer: TimerFired) -> None:
        if self.halted:
            return
        now = self.ctx.clock.now_ns()
        self.next_step_ns = now + self.params.step_ms * _NS_PER_MS
        self.ctx.set_timer(_TIMER, self.next_step_ns)
        if self.halting:
            self._halt_progress()
            return
        book = self.ctx.market.book(self.instrument_id)
        mid = _mid(book)
        if book is None or mid is None:
            return  # no in-sync book: nothing to price against, quotes stay as they are
        self.variance.update(float(mid), now)
        self._step(book, mid)

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        if self.quoted_mid is None or self.halting or self.halted:
            return
        book = self.ctx.market.book(self.instrument_id)
        mid = _mid(book)
        if book is not None and mid is not None:
            moved_bps = abs(float(mid) / self.quoted_mid - 1.0) * 10_000.0
            if moved_bps >= self.params.requote_move_bps:
                self._step(book, mid)

    def on_trade(self, trade: TradeTick) -> None:
        book = self.ctx.market.book(self.instrument_id)
        mid = _mid(book)
        if mid is not None:
            self.depth.update(abs(float(trade.price - mid)))

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills += 1
        self.cash_flow -= fill.side.sign * fill.last_qty * fill.last_px
        if fill.fee_currency == self.inst.quote:
            self.cash_flow -= fill.fee
        self._react()  # the inventory changed: so did the reservation price

    def on_order(self, event: OrderEvent) -> None:
        kind = type(event)
        if kind is OrderRejected:
            self.rejected += 1  # a post-only quote the book had reached on arrival
        if self.halting:
            self._halt_progress()
        elif kind is OrderCanceled and self.held_back:
            self.held_back = False
            self._react()  # a side held back while its old quote was in flight may go now

    def _react(self) -> None:
        if self.halted:
            return
        if self.halting:
            self._halt_progress()
            return
        book = self.ctx.market.book(self.instrument_id)
        mid = _mid(book)
        if book is not None and mid is not None and self.quoted_mid is not None:
            self._step(book, mid)

    # --- pricing and quoting ----------------------------------------------------------

    def pnl(self, mid: Decimal, position: Decimal | None = None) -> Decimal:
        """Mark-to-market P&L of the strategy's own fills at ``mid`` (quote currency), with
        ``position`` when the caller has just read it."""
        if position is None:
            position = self.ctx.position(self.instrument_id)
        return self.cash_flow + position * mid

    def model(self, mid: Decimal, position: Decimal) -> ASQuote | None:
        """The A-S quotes at ``mid`` for ``position``; None while an estimate warms up."""
        p = self.params
        sigma2 = self.variance.sigma2(float(mid))
        k = p.k if p.k is not None else self.depth.k(float(self.tick) / 2)
        if sigma2 is None or k is None:
            return None
        q = float(position - p.target_inventory) / self._lots
        return avellaneda_stoikov(
            float(mid), q, sigma2, gamma=p.gamma, k=k, tau=p.horizon_s,
            q_max=self._q_max, widening=p.inventory_widening,
        )  # fmt: skip

    def _step(self, book: OrderBook, mid: Decimal) -> None:
        self.quoted_mid = float(mid)
        position = self.ctx.position(self.instrument_id)
        if self.pnl(mid, position) <= -self.params.max_loss:
            self._halt(mid)
            return
        quote = self.model(mid, position)
        best_bid, best_ask = book.best_bid(), book.best_ask()
        if quote is None or best_bid is None or best_ask is None:
            return
        self.steps += 1
        bid = min(self.inst.price(quote.bid, ROUND_FLOOR), best_ask[0] - self.tick)
        ask = max(self.inst.price(quote.ask, ROUND_CEILING), best_bid[0] + self.tick)
        tolerance = int(quote.spread / 2 * self.params.requote_tolerance / self._tick) * self.tick
        working = self.ctx.open_orders(self.instrument_id)
        self._quote_side(Side.BUY, bid, tolerance, position, working)
        self._quote_side(Side.SELL, ask, tolerance, position, working)

    def _quote_side(
        self,
        side: Side,
        price: Decimal,
        tolerance: Decimal,
        position: Decimal,
        working: list[Order],
    ) -> None:
        """Keep one working quote within ``tolerance`` of ``price``, cancel the rest, place
        one if none is left and the inventory bound allows it."""
        committed, kept = self._sort_out(side, price, tolerance, working)
        if kept or price <= 0 or self.refused.get(side) == position:
            return  # kept, or risk refused this side at this very inventory: wait for a fill
        if not self._room(side, position, committed):
            # a quote in flight may yet fill: wait for its cancel before replacing it
            self.held_back = self.held_back or committed > 0
            return
        try:
            order = self.ctx.orders.limit(
                self.instrument_id, side, self.params.order_qty, price, post_only=True,
                confidence=1.0, correlation_id=f"{self.id}-step-{self.steps}",
            )  # fmt: skip
        except InvalidOrder:
            return  # e.g. below the instrument's minimum notional at this price
        self.quotes += 1
        self.ctx.submit(order)
        if order.status is not OrderStatus.SUBMITTED:  # risk refused it (e.g. position size)
            self.refused[side] = position

    def _sort_out(
        self, side: Side, price: Decimal, tolerance: Decimal, working: list[Order]
    ) -> tuple[Decimal, bool]:
        """Cancel ``side``'s quotes but one within ``tolerance`` of ``price``; return what all
        of them may still fill (cancels in flight included) and whether one was kept."""
        committed, kept = _ZERO, False
        for order in working:
            if order.side is not side:
                continue
            committed += order.leaves_qty
            if order.status is OrderStatus.PENDING_CANCEL:
                continue
            assert order.price is not None  # quotes are limits
            if not kept and abs(order.price - price) <= tolerance:
                kept = True
            else:
                self.ctx.cancel(order)
                self.cancels += 1
        return committed, kept

    def _room(self, side: Side, position: Decimal, committed: Decimal) -> bool:
        """Whether one more quote on ``side`` keeps every possible fill inside the bounds."""
        p = self.params
        if side is Side.BUY:
            return position + committed + p.order_qty <= p.max_inventory
        return position - committed - p.order_qty >= p.min_inventory

    # --- the loss cap ----------------------------------------------------------------

    def _halt(self, mid: Decimal) -> None:
        """Stop quoting for good: cancel every quote; flatten once they are gone."""
        self.halting = True
        self.ctx.log.warning(
            "market_maker_max_loss", strategy_id=self.id, instrument=self.instrument_id,
            pnl=str(self.pnl(mid)), max_loss=str(self.params.max_loss),
        )  # fmt: skip
        for order in self.ctx.open_orders(self.instrument_id):
            self.ctx.cancel(order)
            self.cancels += 1
        self._halt_progress()

    def _halt_progress(self) -> None:
        working = self.ctx.open_orders(self.instrument_id)
        if any(o.order_type is not OrderType.MARKET for o in working):
            return  # quotes still being cancelled: the position is not final yet
        if working:
            return  # the closing order is on its way
        position = self.ctx.position(self.instrument_id)
        if position == 0:
            self.halting, self.halted = False, True
            return
        side = Side.SELL if position > 0 else Side.BUY
        self.ctx.trade(self.instrument_id, side, abs(position), confidence=1.0, reason="max_loss")

    # --- state -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        v, d = self.variance, self.depth
        return {
            "version": _STATE_VERSION,
            "params": self.params.version_id(),
            "variance": {"prev_mid": v.prev_mid, "prev_ns": v.prev_ns, "rate": v.rate,
                         "count": v.count},
            "depth": {"mean": d.mean, "count": d.count},
            "cash_flow": str(self.cash_flow),
            "counts": [self.steps, self.quotes, self.cancels, self.fills, self.rejected],
            "flags": [self.halting, self.halted, self.held_back],
            "quoted_mid": self.quoted_mid,
            "next_step_ns": self.next_step_ns,
        }  # fmt: skip

    def _load_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != _STATE_VERSION:
            return  # an unknown layout: start afresh (the estimates warm up again)
        self.cash_flow = Decimal(state["cash_flow"])
        self.steps, self.quotes, self.cancels, self.fills, self.rejected = state["counts"]
        self.halting, self.halted, self.held_back = (bool(f) for f in state["flags"])
        self.quoted_mid = state["quoted_mid"]
        if state["params"] == self.params.version_id():  # the estimates fit these spans
            v, d = state["variance"], state["depth"]
            self.variance.prev_mid, self.variance.prev_ns = v["prev_mid"], int(v["prev_ns"])
            self.variance.rate, self.variance.count = float(v["rate"]), int(v["count"])
            self.depth.mean, self.depth.count = float(d["mean"]), int(d["count"])
        due = max(int(state["next_step_ns"]), self.ctx.clock.now_ns())
        self.next_step_ns = due
        self.ctx.set_timer(_TIMER, due)


def _mid(book: OrderBook | None) -> Decimal | None:
    return None if book is None else book.mid()
