"""``CcxtVenue``: the ``LiveVenue`` interface over any ``ccxt.async_support`` exchange.

Theory of operation
-------------------
``execute`` validates a command synchronously (instrument known, order type
supported, quantity and price on the instrument's grid) and schedules one
task per request; it never blocks and never raises for venue trouble.

Placement. Every order carries its Genesis client order id (ccxt's unified
``clientOrderId``; ccxt's binance class sends it as ``newClientOrderId``).
A definitive refusal becomes ``OrderRejected`` with the venue's code. An
unknown outcome (timeout, dropped connection, 5xx, unparseable answer,
duplicate id) leaves the order in flight: the venue queries it by client
order id every ``resolve_interval_s`` and adopts what it finds. "Not found"
proves absence only after ``settle_s`` from the send (Binance: after
timestamp + recvWindow no request can still reach the matching engine);
only then is the order rejected with code ``ABSENT``. It is never resent.

Streams or polling, chosen once at construction (``UserStreams``, logged as
``ccxt_user_data_mode``). Where the exchange's ``has`` declares
``watchMyTrades`` / ``watchOrders`` (ccxt.pro), fills and order states come
from those streams; elsewhere they are polled: ``fetch_my_trades`` per
symbol with live orders every ``poll_interval_s``, and right after a
placement or cancel whose answer shows filled quantity. Orders that leave
the open set without our asking (IOC remainder expired, cancelled in the
venue's UI) are found by comparing ``fetch_open_orders`` with the orders we
track, then querying the missing ones. A stream that failed or reconnected
is covered by polling until it is proven again, then backfilled by one pass
of the polling path (``WatchLoop``, ``Reconciler.backfill``).

Modify (``modify.py``): the exchange's own ``editOrder`` where ccxt declares one,
else cancel, then replace once the cancel is confirmed (never two live orders).

Both paths share one intake (``Reconciler``): each ``(symbol, trade id)`` is
delivered once, whichever path brought it first. A terminal event
(canceled, expired) is emitted only once the trades covering the order's
filled quantity have been delivered, so the OMS never sees a fill after a
close.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import structlog

from genesis.core.commands import CancelAllOrders, CancelOrder, Command, ModifyOrder, SubmitOrder
from genesis.core.enums import OrderType
from genesis.core.events import (
    OrderCancelRejected,
    OrderEvent,
    OrderRejected,
)
from genesis.core.instruments import Instrument
from genesis.errors import (
    InvalidOrder,
    OrderRejectedByVenue,
    OrderStatusUnknown,
    VenueError,
)
from genesis.exchange.ccxt.errors import AuthError, OrderNotFound
from genesis.exchange.ccxt.feed import CcxtMarketFeed, FeedKind
from genesis.exchange.ccxt.market import CcxtMarketSource
from genesis.exchange.ccxt.modify import code_of, modify, order_params
from genesis.exchange.ccxt.reconcile import Reconciler
from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.snapshot import take_snapshot
from genesis.exchange.ccxt.tracking import Tracked
from genesis.exchange.ccxt.watch import STREAM_BACKOFF
from genesis.exchange.live import EventSink, VenueSnapshot
from genesis.retry import BackoffPolicy

__all__ = ["CcxtVenue"]

log = structlog.get_logger(__name__)


class CcxtVenue:
    """A live venue over a ccxt exchange object (see the module docstring).

    Args:
        exchange: a ``ccxt.async_support`` or ``ccxt.pro`` exchange with credentials
            set; the venue owns it from now on (``number`` becomes ``str``, its logger
            is replaced by a scrubbing one, ``close`` closes it). A ``ccxt.pro`` one
            whose ``has`` declares ``watchMyTrades``/``watchOrders`` streams those.
        name: the venue name in events (default: the ccxt id, upper case).
        market_types: ccxt market types traded (default spot only).
        poll_interval_s: fill and order-state polling interval.
        resolve_interval_s: interval between queries for an unknown outcome.
        settle_s: seconds after a send after which "not found" proves absence;
            None derives it from ccxt's ``recvWindow`` option (+1 s), else 10 s.
        reconcile_interval_s: with both user streams live, the interval of a full poll.
        backoff / seed: the reconnect delays of a stream (jitter seeded).
        clock: wall clock in ns for ``ts_init``.
        sleep: every wait of the poller and the streams goes through it.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        name: str | None = None,
        market_types: tuple[str, ...] = ("spot",),
        poll_interval_s: float = 1.0,
        resolve_interval_s: float = 0.5,
        settle_s: float | None = None,
        reconcile_interval_s: float = 30.0,
        backoff: BackoffPolicy = STREAM_BACKOFF,
        seed: int = 0,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = name or str(exchange.id).upper()
        self._session = CcxtSession(exchange, self.name)
        self._types, self._resolve_s = market_types, resolve_interval_s
        self._settle_s = settle_s if settle_s is not None else self._session.default_settle_s()
        self._clock, self._sleep = clock, sleep
        self._sink: EventSink | None = None
        self._instruments: dict[str, Instrument] = {}
        self._orders: dict[str, Tracked] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self.stats: Counter[str] = Counter()
        self._rec = Reconciler(
            self._session,
            self.name,
            self._orders,
            emit=self._emit,
            clock=clock,
            stats=self.stats,
            market_type=market_types[0],
            poll_s=poll_interval_s,
            reconcile_s=reconcile_interval_s,
            backoff=backoff,
            seed=seed,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"CcxtVenue(name={self.name!r}, orders={len(self._orders)})"

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Load markets (building instruments), start the user streams and the poller.

        Raises:
            VenueError: markets could not be loaded (mapped, scrubbed).
        """
        self._instruments = await self._session.load_instruments(self._types)
        self._sink = sink
        self._loops = [asyncio.create_task(self._rec.poll_forever(), name=f"{self.name}-poll")]
        self._loops += [
            asyncio.create_task(loop.run(), name=f"{self.name}-{loop.method}")
            for loop in self._rec.streams.loops()
        ]
        log.info(
            "ccxt_venue_started",
            venue=self.name,
            instruments=len(self._instruments),
            **self._rec.streams.mode,
        )

    async def close(self) -> None:
        """Stop streams, polling and pending requests, close the ccxt session.

        Orders stay at the venue.
        """
        tasks = [*self._tasks, *self._loops]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._loops = []
        await self._session.close()

    def known_client_ids(self) -> set[str]:
        """Client ids of every order this venue object placed or resumed."""
        return set(self._orders)

    def instruments(self) -> dict[str, Instrument]:
        """Instruments built from the venue's ccxt markets, by market id."""
        return dict(self._instruments)

    def statistics(self) -> dict[str, int]:
        """Counters (fills by path: ``fill_stream``/``fill_rest``, their ``fill_duplicate_*``,
        order outcomes, polls) and the user streams' figures (``UserStreams.statistics``)."""
        return {**self.stats, **self._rec.streams.statistics()}

    def market_data(
        self,
        instrument_ids: list[str],
        kinds: tuple[FeedKind, ...],
        interval_s: float = 1.0,
        timeframe: str = "1m",
    ) -> CcxtMarketFeed:
        """A polling-only market data iterator over this venue's session (see ``market_source``)."""
        return CcxtMarketFeed(
            self._session,
            instrument_ids,
            kinds,
            interval_s=interval_s,
            timeframe=timeframe,
            market_types=self._types,
            clock=self._clock,
        )

    def market_source(
        self,
        symbols: Sequence[str],
        kinds: tuple[FeedKind, ...] = ("book", "trades"),
        *,
        venue: str | None = None,
        **options: Any,
    ) -> CcxtMarketSource:
        """Market events for ``symbols`` over this venue's session, streamed where ccxt.pro can.

        Args:
            symbols: venue market ids (``BTCUSDT``), ``venue:ID`` ids or unified symbols.
            kinds: what to deliver (see ``CcxtMarketSource``).
            venue: the lower-case venue name of the instrument ids (default: this
                venue's name in lower case).
            options: further ``CcxtMarketSource`` settings (``book_depth``, ``queue_size``...).
        """
        return CcxtMarketSource(
            self._session,
            venue or self.name.lower(),
            symbols,
            kinds,
            market_types=self._types,
            clock=self._clock,
            **options,
        )

    async def snapshot(
        self, instruments: list[str], since_trade_ids: dict[str, int]
    ) -> VenueSnapshot:
        """Open orders, balances and own fills after ``since_trade_ids`` (start-up reconciliation).

        Raises:
            VenueError: a query failed (mapped, scrubbed).
        """
        return await take_snapshot(
            self._session, self._types, instruments, since_trade_ids, self._orders, self._clock
        )

    # --- commands ------------------------------------------------------------------------

    def execute(self, command: Command, now_ns: int) -> None:
        """Validate ``command`` and schedule its request; never blocks or raises for venue trouble.

        Raises:
            RuntimeError: the venue was not started.
        """
        if self._sink is None:
            raise RuntimeError(f"{self.name}: execute before start")
        if isinstance(command, SubmitOrder):
            self._submit(command)
        elif isinstance(command, CancelOrder):
            self._spawn(self._cancel(command.client_order_id, command))
        elif isinstance(command, CancelAllOrders):
            self._spawn(self._cancel_all(command))
        elif isinstance(command, ModifyOrder):
            self._spawn(modify(self, command))
        else:
            self.stats["command_unknown"] += 1
            log.error("ccxt_command_unknown", venue=self.name, type=type(command).__name__)

    def _submit(self, cmd: SubmitOrder) -> None:
        symbol = self._session.unified(cmd.instrument_id, self._types)
        problem = self._check(cmd, symbol)
        if problem is not None:
            self.stats["order_invalid"] += 1
            self._emit(
                OrderRejected(
                    **self._ids(cmd, cmd.client_order_id), code=problem[0], reason=problem[1]
                )
            )
            return
        assert symbol is not None
        tracked = Tracked(
            cmd=cmd, symbol=symbol, sent_mono=time.monotonic(), sent_ms=self._clock() // 1_000_000
        )
        self._orders[cmd.client_order_id] = tracked
        self._spawn(self._place(tracked))

    def recover(self, cmd: SubmitOrder, timestamp_ms: int | None = None) -> None:
        """Resume an order journaled before a restart: found by its client id (and adopted,
        its fills and state then flow as for any order) or, once absence is proven, ended as
        rejected ``ABSENT``. Never sent again: the decision to send it is stale."""
        symbol = self._session.unified(cmd.instrument_id, self._types)
        if symbol is None or cmd.client_order_id in self._orders:
            return
        sent_ms = timestamp_ms if timestamp_ms is not None else self._clock() // 1_000_000
        tracked = Tracked(
            cmd=cmd, symbol=symbol, sent_mono=time.monotonic() - self._settle_s, sent_ms=sent_ms
        )
        self._orders[cmd.client_order_id] = tracked
        self._spawn(self._resolve(tracked))

    def _check(self, cmd: SubmitOrder, symbol: str | None) -> tuple[str, str] | None:
        if symbol is None:
            return "UNKNOWN_INSTRUMENT", f"{cmd.instrument_id} is not a {self.name} market"
        if cmd.client_order_id in self._orders:
            return "DUPLICATE_CLIENT_ID", f"client order id {cmd.client_order_id} already used"
        if cmd.order_type not in (OrderType.MARKET, OrderType.LIMIT) or cmd.oco_group:
            return "UNSUPPORTED", "the ccxt venue places MARKET and LIMIT orders only (no OCO)"
        if cmd.order_type is OrderType.LIMIT and cmd.price is None:
            return "INVALID_ORDER", "a LIMIT order needs a price"
        instrument = self._instruments.get(cmd.instrument_id)
        try:
            if instrument is not None:
                price = cmd.price if cmd.order_type is OrderType.LIMIT else None
                instrument.validate_order(price, cmd.quantity)
        except InvalidOrder as exc:
            return "INVALID_ORDER", str(exc)
        return None

    # --- placement and resolution ----------------------------------------------------------

    async def _place(self, t: Tracked) -> None:
        cmd = t.cmd
        price = None
        if cmd.order_type is OrderType.LIMIT:
            assert cmd.price is not None
            price = format(cmd.price, "f")
        try:
            order = await self._session.call(
                "create_order",
                t.symbol,
                cmd.order_type.value.lower(),
                cmd.side.value.lower(),
                format(cmd.quantity, "f"),
                price,
                order_params(t),
                is_order=True,
            )
        except OrderStatusUnknown as exc:
            self.stats["order_unknown"] += 1
            log.warning(
                "ccxt_order_unknown",
                venue=self.name,
                client_order_id=cmd.client_order_id,
                error=str(exc),
            )
            if not t.accepted:  # else the order stream already reported it
                await self._resolve(t)
            return
        except VenueError as exc:
            self._reject(t, exc)
            return
        await self._rec.adopt(t, order)

    def _reject(self, t: Tracked, exc: VenueError) -> None:
        code = code_of(exc)
        self.stats[f"order_rejected_{code}"] += 1
        if isinstance(exc, AuthError):
            log.critical("ccxt_auth_refused", venue=self.name, error=str(exc))
        t.state = "done"
        t.settled.set()
        self._emit(
            OrderRejected(**self._ids(t.cmd, t.cmd.client_order_id), code=code, reason=str(exc))
        )

    async def _resolve(self, t: Tracked) -> None:
        """Query by client order id until found, or until absence is proven (never resend)."""
        t.state = "unknown"
        while not t.accepted:  # the order stream may report it first
            await self._sleep(self._resolve_s)
            try:
                order = await self._session.find_order(
                    t.symbol, t.cmd.client_order_id, t.sent_ms - 60_000
                )
            except OrderNotFound:
                if time.monotonic() - t.sent_mono >= self._settle_s:
                    self.stats["order_absent"] += 1
                    self._reject(
                        t,
                        OrderRejectedByVenue(
                            f"order {t.cmd.client_order_id} absent {self._settle_s:g} s after "
                            "its send: it never reached the venue",
                            "ABSENT",
                        ),
                    )
                    return
                continue
            except VenueError as exc:
                self.stats["resolve_query_failed"] += 1
                log.warning(
                    "ccxt_resolve_query_failed",
                    venue=self.name,
                    client_order_id=t.cmd.client_order_id,
                    error=str(exc),
                )
                continue
            self.stats["order_resolved"] += 1
            await self._rec.adopt(t, order)

    # --- cancels -------------------------------------------------------------------------------

    async def _cancel(self, client_order_id: str, cmd: Command) -> None:
        t = self._orders.get(client_order_id)
        if t is None:
            self._emit(
                OrderCancelRejected(
                    **self._ids(cmd, client_order_id), reason="unknown client order id"
                )
            )
            return
        await t.settled.wait()  # an order in flight is resolved before it can be cancelled
        if t.state == "done":
            self._emit(
                OrderCancelRejected(
                    **self._ids(t.cmd, client_order_id), reason="the order is closed"
                )
            )
            return
        try:
            order = await self._session.call(
                "cancel_order",
                t.venue_order_id or None,
                t.symbol,
                {"clientOrderId": client_order_id},
                is_order=True,
            )
        except VenueError as exc:
            await self._cancel_failed(t, exc)
            return
        await self._rec.apply(t, order)

    async def _cancel_failed(self, t: Tracked, exc: VenueError) -> None:
        """A cancel that failed says nothing certain: query the order and report what it is."""
        self.stats["cancel_failed"] += 1
        with contextlib.suppress(VenueError):
            await self._rec.apply(
                t,
                await self._session.find_order(t.symbol, t.cmd.client_order_id, t.sent_ms - 60_000),
            )
        if t.state != "done":
            self._emit(
                OrderCancelRejected(**self._ids(t.cmd, t.cmd.client_order_id), reason=str(exc))
            )

    async def _cancel_all(self, cmd: CancelAllOrders) -> None:
        """A strategy's open orders on the instrument; for ``operator`` (a kill switch) every
        open order the venue holds there, this process's or not (P10)."""
        mine = [
            cid
            for cid, t in self._orders.items()
            if (cmd.strategy_id == "operator" or t.cmd.strategy_id == cmd.strategy_id)
            and t.cmd.instrument_id == cmd.instrument_id
            and t.state != "done"
        ]
        await asyncio.gather(*(self._cancel(cid, cmd) for cid in mine))
        if cmd.strategy_id == "operator":
            await self._cancel_foreign(cmd)

    async def _cancel_foreign(self, cmd: CancelAllOrders) -> None:
        """Cancel the venue's open orders on the instrument that this process did not place."""
        symbol = self._session.unified(cmd.instrument_id, self._types)
        if symbol is None:
            return
        try:
            rows = await self._session.call("fetch_open_orders", symbol)
            for row in rows:
                cid = str(row.get("clientOrderId") or "")
                if cid not in self._orders:
                    await self._session.call("cancel_order", row.get("id"), symbol, is_order=True)
                    log.warning(
                        "ccxt_foreign_order_cancelled", venue=self.name, client_order_id=cid
                    )
        except VenueError as exc:
            log.error("ccxt_cancel_all_failed", venue=self.name, error=str(exc))

    # --- plumbing ----------------------------------------------------------------------------

    def _ids(self, cmd: Command, client_order_id: str) -> dict[str, Any]:
        now = self._clock()
        return {
            "ts_event": now,
            "ts_init": now,
            "client_order_id": client_order_id,
            "strategy_id": cmd.strategy_id,
            "instrument_id": cmd.instrument_id,
        }

    def _emit(self, event: OrderEvent) -> None:
        assert self._sink is not None
        self.stats[f"event_{type(event).__name__}"] += 1
        self._sink(event)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except VenueError as exc:
            self.stats["task_venue_error"] += 1
            log.warning("ccxt_task_failed", venue=self.name, error=str(exc))
        except Exception as exc:  # a bug must not kill the venue; the text is scrubbed
            self.stats["task_crashed"] += 1
            log.error(
                "ccxt_task_crashed",
                venue=self.name,
                error_type=type(exc).__name__,
                error=self._session.scrub(str(exc)),
            )
