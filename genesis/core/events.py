"""Immutable events: market data, timers, order lifecycle, strategy faults.

Every event carries ``ts_event`` (when it happened, ns since the Unix epoch)
and ``ts_init`` (when Genesis created the object, ns). They are msgspec
Structs (frozen, slotted, keyword-only, no GC tracking): created on every
tick, they must be cheap. Events are named in the past tense.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from genesis.core.enums import LiquiditySide, Side

__all__ = [
    "Bar",
    "BookDelta",
    "BookSnapshot",
    "DailyLossBaseline",
    "Event",
    "KillSwitchChanged",
    "MarketEvent",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderModifyRejected",
    "OrderPendingCancel",
    "OrderPendingUpdate",
    "OrderRejected",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderUpdated",
    "ParentOrderDone",
    "PriceLevels",
    "QuoteTick",
    "RegimeSwitched",
    "StrategyErrored",
    "TimerFired",
    "TradeCompleted",
    "TradeTick",
]

PriceLevels = tuple[tuple[Decimal, Decimal], ...]


class Event(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    ts_event: int
    ts_init: int


class TimerFired(Event, frozen=True, gc=False, kw_only=True):
    name: str


# --- market data -------------------------------------------------------------


class MarketEvent(Event, frozen=True, gc=False, kw_only=True):
    instrument_id: str


class Bar(MarketEvent, frozen=True, gc=False, kw_only=True):
    """An OHLCV bar. ``ts_event`` is the bar's close time, ``ts_open`` its open time.

    The bar's content is known only once it has closed, so it is delivered at
    ``ts_event``; ``ts_open`` is the label most files use.
    """

    ts_open: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class TradeTick(MarketEvent, frozen=True, gc=False, kw_only=True):
    price: Decimal
    size: Decimal
    aggressor_side: Side | None
    trade_id: str


class QuoteTick(MarketEvent, frozen=True, gc=False, kw_only=True):
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal


class BookSnapshot(MarketEvent, frozen=True, gc=False, kw_only=True):
    """A full L2 book (e.g. REST ``/depth``): levels best first."""

    last_update_id: int
    bids: PriceLevels
    asks: PriceLevels


class BookDelta(MarketEvent, frozen=True, gc=False, kw_only=True):
    """A diff of L2 levels covering update ids ``first_update_id..last_update_id``.

    A level with quantity 0 is deleted. ``prev_update_id`` is the venue's
    previous final update id when it sends one (Binance futures ``pu``), else -1.
    """

    first_update_id: int
    last_update_id: int
    prev_update_id: int = -1
    bids: PriceLevels = ()
    asks: PriceLevels = ()


# --- order lifecycle ---------------------------------------------------------


class OrderEvent(Event, frozen=True, gc=False, kw_only=True):
    client_order_id: str
    strategy_id: str
    instrument_id: str


class OrderDenied(OrderEvent, frozen=True, gc=False, kw_only=True):
    """Local risk refused the order; it never left the process."""

    code: str
    reason: str


class OrderSubmitted(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderAccepted(OrderEvent, frozen=True, gc=False, kw_only=True):
    venue_order_id: str


class OrderRejected(OrderEvent, frozen=True, gc=False, kw_only=True):
    reason: str
    code: str = ""


class OrderTriggered(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderPendingCancel(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderPendingUpdate(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderCanceled(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderExpired(OrderEvent, frozen=True, gc=False, kw_only=True):
    pass


class OrderCancelRejected(OrderEvent, frozen=True, gc=False, kw_only=True):
    reason: str


class OrderModifyRejected(OrderEvent, frozen=True, gc=False, kw_only=True):
    """The modify was refused (by local risk, or by the venue); the order keeps its terms.

    ``code`` is the machine code: a risk check's (``INSUFFICIENT_CASH``...), the venue's
    error code, or "" when the venue gave none.
    """

    reason: str
    code: str = ""


class OrderUpdated(OrderEvent, frozen=True, gc=False, kw_only=True):
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None


class OrderFilled(OrderEvent, frozen=True, gc=False, kw_only=True):
    """One execution. ``fee`` is charged in ``fee_currency`` (not always the quote)."""

    venue: str
    trade_id: str
    side: Side
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: LiquiditySide
    venue_order_id: str = ""


# --- faults ------------------------------------------------------------------


class StrategyErrored(Event, frozen=True, gc=False, kw_only=True):
    """A strategy hook raised; the strategy has been disabled."""

    strategy_id: str
    hook: str
    error_type: str
    message: str


# --- risk --------------------------------------------------------------------


class KillSwitchChanged(Event, frozen=True, gc=False, kw_only=True):
    """The kill switch was engaged (new exposure denied) or reset (RK-2).

    ``source`` says who: ``operator``, ``daily_loss``, ``reconciliation`` or
    ``venue``; ``request_id`` names the operator request it handled, if any.
    """

    engaged: bool
    reason: str
    source: str
    request_id: str = ""
    flatten: bool = False


class DailyLossBaseline(Event, frozen=True, gc=False, kw_only=True):
    """The equity the day's loss is measured from was set: a new UTC day, a reset's
    rebase, or a restored journaled baseline."""

    day: int
    day_start_equity: Decimal


class TradeCompleted(Event, frozen=True, gc=False, kw_only=True):
    """A strategy's position on one instrument came back to zero: one round trip done.

    ``net_pnl`` is the round trip's P&L after fees, quote currency; the running
    figures of the strategy are in the kernel's ``PerformanceBook``.
    """

    strategy_id: str
    instrument_id: str
    opened_ns: int
    net_pnl: Decimal
    fills: int


class RegimeSwitched(Event, frozen=True, gc=False, kw_only=True):
    """A regime-gated strategy was switched on or off for one instrument (ST-H4):
    ``regime`` is the instrument's regime now ("" while it is unknown)."""

    strategy_id: str
    instrument_id: str
    regime: str
    active: bool
    confidence: float


class ParentOrderDone(Event, frozen=True, gc=False, kw_only=True):
    """A parent order was finished; ``fields`` is its TCA (``execution.tca.TcaRecord``)."""

    strategy_id: str
    parent_id: str
    instrument_id: str
    fields: dict[str, Any]


class BreakerTripped(Event, frozen=True, gc=False, kw_only=True):
    """A circuit breaker paused a strategy or the engine until ``until_ns`` (RK-3): its
    entries are refused with ``code`` meanwhile (exits pass). ``scope`` is ``strategy``
    (``strategy_id`` names it) or ``engine`` (every strategy; ``strategy_id`` is "")."""

    scope: str
    strategy_id: str
    code: str
    reason: str
    until_ns: int


class BreakerCleared(Event, frozen=True, gc=False, kw_only=True):
    """A circuit breaker's cool-down ended: entries of its scope pass again."""

    scope: str
    strategy_id: str
    code: str
    reason: str
