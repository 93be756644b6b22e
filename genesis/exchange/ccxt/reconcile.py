"""``Reconciler``: the venue's view of each tracked order, brought to the OMS once and in order.

Everything the venue learns about an order (a placement or cancel answer, a
query, a ``watch_orders`` update, a trade from ``watch_my_trades`` or
``fetch_my_trades``) goes through here: ``adopt`` emits ``OrderAccepted``
once, ``take_trade`` emits each fill once whichever path brought it first
(the other path's copy is counted in ``fill_duplicate_<path>``), and
``apply`` emits a terminal event only once the fills covering the order's
filled quantity are out. A streamed trade that beats the placement answer is
parked until the order's venue id is known. Fill paths: ``stream`` (a
``watch_my_trades`` result), ``cache`` (ccxt.pro's trade cache, read after
each result and at each adoption: frames ccxt read without waking us) and
``rest``.

Fills are synced by REST on an answer showing new fills only while the
trade stream is not live; otherwise the stream brings them, and an order
that closed at the venue with fills still missing is chased by the poller
after ``poll_interval_s``. The poller polls every symbol with live orders
while either stream is not live, else only at ``reconcile_interval_s``.
After a stream gap ``backfill`` runs one pass of the polling path.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import structlog

from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderRejected,
)
from genesis.errors import VenueError
from genesis.exchange.ccxt.mapping import opt_dec
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.tracking import FillBook, Tracked
from genesis.exchange.ccxt.userdata import UserStreams
from genesis.retry import BackoffPolicy

__all__ = ["Reconciler"]

log = structlog.get_logger(__name__)

_TERMINAL = {"canceled": OrderCanceled, "cancelled": OrderCanceled, "expired": OrderExpired}


class Reconciler:
    """Tracked orders, the fill book and the user streams of one ccxt venue.

    Args:
        session: the venue's guarded ccxt session.
        venue: the venue name in events.
        orders: the venue's tracked orders by client order id (shared, not copied).
        emit: the venue's sink (counts and delivers one event).
        clock: wall clock in ns for ``ts_event``/``ts_init``.
        stats: the venue's counters (shared).
        market_type: the ccxt market type of the user stream.
        poll_s / reconcile_s: the poller's interval and, with both streams live, the
            interval of a full pass.
        backoff / seed: each stream's reconnect delays and jitter seed.
        sleep: every wait goes through it.
    """

    def __init__(
        self,
        session: CcxtSession,
        venue: str,
        orders: dict[str, Tracked],
        *,
        emit: Callable[[OrderEvent], None],
        clock: Callable[[], int],
        stats: Counter[str],
        market_type: str,
        poll_s: float,
        reconcile_s: float,
        backoff: BackoffPolicy,
        seed: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._venue = venue
        self.orders = orders
        self._emit = emit
        self._clock = clock
        self.stats = stats
        self._poll_s = poll_s
        self._reconcile_s = reconcile_s
        self._next_poll = self._next_reconcile = 0.0
        self._sleep = sleep
        self._by_venue_id: dict[str, Tracked] = {}
        # venue order ids an edit replaced (editOrder as cancel-replace): their cancel is
        # the edit's, not the end of our order, which lives on under the new id
        self.retired: set[str] = set()
        self._order_marks: dict[str, tuple[str, str]] = {}  # last streamed (status, filled)
        self._fills = FillBook()
        self.streams = UserStreams(
            session,
            market_type,
            on_trades=self.on_stream_trades,
            on_orders=self.on_stream_orders,
            on_live=self.backfill,
            backoff=backoff,
            seed=seed,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"Reconciler(venue={self._venue!r}, orders={len(self.orders)}, {self.streams!r})"

    def _ids(self, t: Tracked) -> dict[str, Any]:
        now = self._clock()
        return {
            "ts_event": now,
            "ts_init": now,
            "client_order_id": t.cmd.client_order_id,
            "strategy_id": t.cmd.strategy_id,
            "instrument_id": t.cmd.instrument_id,
        }

    # --- order states ----------------------------------------------------------------------

    async def adopt(self, t: Tracked, order: Any) -> None:
        """Take the venue's view of an order: accepted once, then fills, then any terminal state."""
        if not t.accepted:
            t.accepted = True
            t.venue_order_id = str(order.get("id") or "")
            if t.venue_order_id:
                self._by_venue_id[t.venue_order_id] = t
            t.state = "open"
            t.settled.set()
            self._emit(OrderAccepted(**self._ids(t), venue_order_id=t.venue_order_id))
            for trade in self._fills.unpark(t.venue_order_id):
                self.take_trade(trade, "stream")
            for trade in self._session.cached("watch_my_trades") or ():
                self.take_trade(trade, "cache")
        await self.apply(t, order)

    async def apply(self, t: Tracked, order: Any) -> None:
        venue_order_id = str(order.get("id") or "")
        if venue_order_id and venue_order_id in self.retired:
            return  # a venue order a modify replaced: its state is no longer ours
        filled = opt_dec(order.get("filled"), Decimal(0)) or Decimal(0)
        if t.carried and venue_order_id == t.venue_order_id:
            filled += t.carried  # the order's whole fill, the replaced orders' included
        if filled > t.filled and not self.streams.fills_live():
            await self.sync_fills(t.symbol)
        status = str(order.get("status") or "")
        if status in ("open", "") or t.state == "done":
            return
        if t.filled < filled:  # the trades still missing close it when they arrive
            if t.state != "closing":
                t.state, t.closing_mono = "closing", time.monotonic()
            t.close_status, t.close_filled = status, filled
            return
        self.close(t, status)

    def close(self, t: Tracked, status: str) -> None:
        t.state = "done"
        event = _TERMINAL.get(status)
        if event is not None:
            self._emit(event(**self._ids(t)))
        elif status == "rejected":
            self._emit(
                OrderRejected(
                    **self._ids(t),
                    code="REJECTED",
                    reason="the venue rejected the order",
                )
            )

    # --- fills: one intake for the stream and REST --------------------------------------

    def take_trade(self, trade: Any, source: str) -> None:
        """Deliver ``trade`` (from ``stream``, ``cache`` or ``rest``) once; close an order it
        completes. Copies from ``cache`` are expected, so they are not counted duplicates."""
        venue_order_id = str(trade.get("order") or "")
        t = self._by_venue_id.get(venue_order_id)
        if t is None:
            if source == "stream":  # may beat the placement answer; else not ours
                self.stats["fill_parked"] += 1
                self._fills.park(venue_order_id, trade)
            return
        if self._fills.seen(t.symbol, trade):
            if source != "cache":
                self.stats[f"fill_duplicate_{source}"] += 1
            return
        fill = self._fills.take(trade, t, self._venue, self._clock())
        if fill is None:
            self.stats["fill_malformed"] += 1
            return
        self.stats[f"fill_{source}"] += 1
        t.filled += fill.last_qty
        self._emit(fill)
        if t.state == "closing" and t.filled >= t.close_filled:
            self.close(t, t.close_status)

    async def on_stream_trades(self, trades: Any, source: str) -> None:
        for trade in trades or ():
            self.take_trade(trade, source)

    def rebind(self, t: Tracked, venue_order_id: str) -> None:
        """``t`` is now the venue order ``venue_order_id`` (a modify replaced it); trades of
        it the stream brought before are delivered now."""
        t.venue_order_id = venue_order_id
        self._by_venue_id[venue_order_id] = t
        for trade in self._fills.unpark(venue_order_id):
            self.take_trade(trade, "stream")

    async def on_stream_orders(self, orders: Any, source: str) -> None:
        for order in orders or ():
            if str(order.get("id") or "") in self.retired:
                continue  # the replaced order of an edit: not our order's state
            t = self.orders.get(str(order.get("clientOrderId") or "")) or self._by_venue_id.get(
                str(order.get("id") or "")
            )
            if t is None:
                if source == "stream":  # not ours (placed elsewhere); snapshot reports those
                    self.stats["stream_order_foreign"] += 1
                continue
            mark = (str(order.get("status")), str(order.get("filled")))
            if self._order_marks.get(t.cmd.client_order_id) == mark:
                continue  # already applied (ccxt's cache is read again after each result)
            self._order_marks[t.cmd.client_order_id] = mark
            self.stats["stream_order_update"] += 1
            await self.adopt(t, order)

    async def sync_fills(self, symbol: str) -> None:
        live = [t for t in self.orders.values() if t.symbol == symbol and t.state != "done"]
        since = min((t.sent_ms for t in live), default=self._clock() // 1_000_000) - 1_000
        for trade in await self._session.call("fetch_my_trades", symbol, since):
            self.take_trade(trade, "rest")

    # --- polling and backfill ------------------------------------------------------------------

    async def backfill(self) -> None:
        """One pass of the polling path over every symbol with live orders (a stream gap).

        Raises:
            VenueError: a query failed; the stream stays unproven and tries again.
        """
        self.stats["backfill"] += 1
        for symbol in sorted({t.symbol for t in self.orders.values() if t.active}):
            await self.poll_symbol(symbol)

    async def poll_forever(self) -> None:
        while True:
            await self._sleep(min(self._poll_s, self._reconcile_s))
            for symbol in self.due_symbols():
                try:
                    await self.poll_symbol(symbol)
                except VenueError as exc:
                    self.stats["poll_failed"] += 1
                    log.warning(
                        "ccxt_poll_failed", venue=self._venue, symbol=symbol, error=str(exc)
                    )

    def due_symbols(self) -> list[str]:
        """Every symbol with live orders each ``poll_interval_s`` while a stream is not live;
        with both live, all each ``reconcile_interval_s`` and in between only the symbols of
        orders closed at the venue whose fills are missing for ``poll_interval_s``."""
        now = time.monotonic()
        full = now >= (self._next_reconcile if self.streams.all_live() else self._next_poll)
        if full:
            self._next_poll, self._next_reconcile = now + self._poll_s, now + self._reconcile_s
        return sorted(
            {
                t.symbol
                for t in self.orders.values()
                if t.active
                and (full or (t.closing_mono is not None and now - t.closing_mono >= self._poll_s))
            }
        )

    async def poll_symbol(self, symbol: str) -> None:
        self.stats["poll_symbol"] += 1
        await self.sync_fills(symbol)
        open_ids = {
            o.get("clientOrderId") for o in await self._session.call("fetch_open_orders", symbol)
        }
        for t in list(self.orders.values()):
            if t.symbol == symbol and t.active and t.cmd.client_order_id not in open_ids:
                await self.apply(
                    t,
                    await self._session.find_order(
                        symbol, t.cmd.client_order_id, t.sent_ms - 60_000
                    ),
                )
