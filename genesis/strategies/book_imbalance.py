"""``book_imbalance``: a reference strategy for L2 and tick data (top-of-book pressure).

Rule, long only, on every in-sync book update of a subscribed instrument
(or, while no in-sync book exists, on every quote with sizes):

* imbalance = (bid qty - ask qty) / (bid qty + ask qty) over the best
  ``levels`` price levels per side (``OrderBook.imbalance``), in [-1, 1];
* entry when flat with no working order: imbalance >= ``entry_threshold``.
  A market buy of ``position_pct`` of equity at the best ask (with a book, no
  more than the asks hold within ``max_slippage_bps`` of the touch: the
  liquidity sizing of ``analytics.liquidity``) is sent with a
  stop loss ``stop_loss_pct`` below and a take profit ``take_profit_pct``
  above the best ask attached (the kernel places them as an OCO pair once
  the entry is done, for the quantity that filled);
* exit when long: imbalance <= -``exit_threshold`` (the pressure reversed),
  or the position is older than ``max_hold_ms`` of event time: the exits
  are cancelled and the whole position is sold at market.

It is deliberately simple: the point is a registered strategy that trades on
real recordings (the bundled 30-second capture, the BTCUSDT stream file), so
the event backtest, paper mode and their tests exercise partial fills, OCO
exits and reversals on real depth. It is not a claim of an edge.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from genesis.analytics.liquidity import max_size_for_slippage
from genesis.core.enums import OrderType, Side
from genesis.core.events import BookDelta, BookSnapshot, QuoteTick
from genesis.errors import InvalidOrder
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.strategies.registry import register

__all__ = ["BookImbalance", "BookImbalanceParams"]

_NS_PER_MS = 1_000_000


class BookImbalanceParams(StrategyParams):
    levels: int = Field(default=1, ge=1, le=1000)
    entry_threshold: float = Field(default=0.6, gt=0, le=1)
    exit_threshold: float = Field(default=0.6, gt=0, le=1)
    position_pct: Decimal = Field(default=Decimal("0.02"), gt=0, le=1)
    stop_loss_pct: Decimal = Field(default=Decimal("0.002"), gt=0, lt=1)
    take_profit_pct: Decimal = Field(default=Decimal("0.002"), gt=0, le=10)
    max_hold_ms: int = Field(default=5_000, ge=1)
    # AN-4: never buy more than the book holds within this much slippage from the touch
    max_slippage_bps: Decimal = Field(default=Decimal(10), ge=0, le=1000)


@register("book_imbalance", tiers=(Tier.SNIPER, Tier.HUNTER, Tier.STRATEGIST), spec=("AN-4",))
class BookImbalance(Strategy[BookImbalanceParams]):
    """Buy on bid-side pressure at the top of the book; stop, target, reversal and time exits."""

    Params = BookImbalanceParams

    def on_start(self) -> None:
        self.entered_at: dict[str, int] = {}  # instrument -> event time of the entry decision
        self.signals = 0

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        book = self.ctx.market.book(update.instrument_id)
        if book is None:
            return
        best_ask = book.best_ask()
        imbalance = book.imbalance(self.params.levels)
        if best_ask is not None and imbalance is not None:
            self._decide(update.instrument_id, imbalance, best_ask[0], update.ts_init)

    def on_quote(self, quote: QuoteTick) -> None:
        if self.ctx.market.book(quote.instrument_id) is not None:
            return  # the book is the finer view; quotes only stand in when there is none
        total = quote.bid_size + quote.ask_size
        if total > 0:
            imbalance = float((quote.bid_size - quote.ask_size) / total)
            self._decide(quote.instrument_id, imbalance, quote.ask, quote.ts_init)

    def _decide(self, instrument_id: str, imbalance: float, ask: Decimal, now_ns: int) -> None:
        p = self.params
        position = self.ctx.portfolio.position_qty(instrument_id)
        working = self.ctx.open_orders(instrument_id)
        if position == 0:
            if not working and imbalance >= p.entry_threshold:
                self._enter(instrument_id, ask, now_ns, imbalance)
            return
        if position < 0 or any(o.order_type is OrderType.MARKET for o in working):
            return  # not ours to manage, or the entry / the exit is still on its way
        held_ns = now_ns - self.entered_at.get(instrument_id, now_ns)
        if imbalance <= -p.exit_threshold or held_ns >= p.max_hold_ms * _NS_PER_MS:
            self._exit(instrument_id, position)

    def _enter(self, instrument_id: str, ask: Decimal, now_ns: int, imbalance: float) -> None:
        p = self.params
        qty = self.ctx.portfolio.equity() * p.position_pct / ask
        book = self.ctx.market.book(instrument_id)
        if book is not None:  # sized by the liquidity within the slippage budget (AN-4)
            qty = min(qty, max_size_for_slippage(book, Side.BUY, p.max_slippage_bps))
        try:
            order = self.ctx.orders.market(
                instrument_id,
                Side.BUY,
                qty,
                stop_loss=ask * (1 - p.stop_loss_pct),
                take_profit=ask * (1 + p.take_profit_pct),
                confidence=min(1.0, imbalance),  # the pressure itself: in [threshold, 1]
            )
        except InvalidOrder:
            return  # too small for the instrument's step size at this equity
        self.signals += 1
        self.entered_at[instrument_id] = now_ns
        self.ctx.submit(order)

    def _exit(self, instrument_id: str, position: Decimal) -> None:
        for order in self.ctx.open_orders(instrument_id):
            self.ctx.cancel(order)
        self.ctx.submit(self.ctx.orders.market(instrument_id, Side.SELL, position))

    def _state(self) -> dict[str, Any]:
        return {"signals": self.signals, "entered_at": self.entered_at}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.on_start()
        self.signals = int(state.get("signals", 0))
        self.entered_at = {str(k): int(v) for k, v in state.get("entered_at", {}).items()}
