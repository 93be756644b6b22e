"""``OandaVenue``: the ``LiveVenue`` of an OANDA v20 account (FX, netting, units).

``execute`` never blocks: it builds the v20 body locally (a bad order becomes
``OrderRejected`` at once) and schedules one task per command. The client
order id travels as the order's ``clientExtensions.id``, so every order can be
found again with the ``@id`` specifier. Rules of an order request:

* 201 -> ``OrderAccepted``; its ORDER_FILL -> ``OrderFilled``; an immediate
  ORDER_CANCEL (FOK/IOC/bounds) -> ``OrderExpired``;
* 400 with a reject transaction -> ``OrderRejected`` with OANDA's errorCode;
* an unknown outcome (5xx, timeout, lost connection) -> the order stays in
  flight and is resolved by ``GET /orders/@id``: found -> its state is
  applied; absent on ``absent_checks`` queries ``absent_delay_s`` apart ->
  ``OrderRejected`` code ``NOT_PLACED``. OANDA executes an order inside the
  request, so absence after the answer is lost is proof; nothing is resent.

Fills arrive from the order answer, the transaction stream and its backfills;
each ORDER_FILL transaction id is delivered once. A ``ModifyOrder`` is an order
replace (``replace``: the replacement's client id is ``X-rN``, reported as
``X``); ``recover`` resumes a journaled order after a restart by its client id
following the venue's replace chain (``chain``), never resending it; an order
whose fate cannot be read is left ``unresolved`` (CRITICAL), never guessed. An
operator's ``CancelAllOrders`` (a kill) cancels every pending entry order of the
instrument by its OANDA id, placed here or not, and reads the list again until
none is left, retrying failures with a capped backoff (``kill_unconfirmed``,
CRITICAL meanwhile); a ``CancelOrder`` waits for a replace in flight to resolve.
The kernel keeps exits itself (``SubmitOrder.stop_loss`` / ``take_profit`` are
submitted by the kernel once the entry fills), so no on-fill orders are attached here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any

import structlog

from genesis.core.commands import CancelAllOrders, CancelOrder, Command, ModifyOrder, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from genesis.errors import InvalidOrder, OrderRejectedByVenue, OrderStatusUnknown, VenueError
from genesis.exchange.live import EventSink, VenueBalance, VenueOrder, VenueSnapshot
from genesis.exchange.oanda.chain import ChainUnknown, follow, read_order
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda.orders import OrderTerms, order_request
from genesis.exchange.oanda.replace import adopt_replacement, local_id, replace
from genesis.exchange.oanda.rest import OandaClient
from genesis.exchange.oanda.streams import TransactionStream
from genesis.exchange.oanda.tracked import Tracked as _Tracked

__all__ = ["OandaVenue", "oanda_name"]

log = structlog.get_logger(__name__)
_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP",
    OrderType.MARKET_IF_TOUCHED: "MARKET_IF_TOUCHED",
}


def oanda_name(instrument_id: str) -> str:
    """``OANDA:GBP_USD`` / ``GBP_USD`` / ``GBPUSD`` -> ``GBP_USD``."""
    symbol = instrument_id.rpartition(":")[2].upper()
    if "_" not in symbol and len(symbol) == 6:
        symbol = f"{symbol[:3]}_{symbol[3:]}"
    return symbol


class OandaVenue:
    """A live OANDA account as the daemon sees it (see the module docstring)."""

    def __init__(
        self,
        client: OandaClient,
        name: str = "OANDA",
        *,
        absent_checks: int = 2,
        absent_delay_s: float = 0.5,
        query_tries: int = 4,
        kill_retry_s: float = 0.5,
        kill_retry_max_s: float = 30.0,
    ) -> None:
        self.name = name
        self.client = client
        self.absent_checks = absent_checks
        self.absent_delay_s = absent_delay_s
        self.query_tries = query_tries  # a failing order query, retried (``chain.read_order``)
        self.kill_retry_s, self.kill_retry_max_s = kill_retry_s, kill_retry_max_s
        self.unresolved: dict[str, str] = {}  # client id -> why its fate is unknown (CRITICAL)
        self.kill_unconfirmed: dict[str, str] = {}  # instrument -> why its kill is not done
        self._sink: EventSink | None = None
        self._orders: dict[str, _Tracked] = {}  # client order id -> order
        self._wire: dict[str, str] = {}  # a replacement's client id -> the kernel's
        self._fills_seen: set[str] = set()  # ORDER_FILL transaction ids delivered
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream: TransactionStream | None = None
        self.currency = "USD"

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if not self.client.account_id:
            await self.client.use_first_account()
        await self.client.load_instruments()
        summary = await self.client.summary()
        self.currency = str(summary.get("currency", "USD"))
        self._stream = TransactionStream(self.client, str(summary["lastTransactionID"]))
        self._spawn(self._follow(self._stream))

    def execute(self, command: Command, now_ns: int) -> None:
        if type(command) is SubmitOrder:
            self._submit(command)
        elif type(command) is CancelOrder:
            self._spawn(self._cancel(command.client_order_id))
        elif type(command) is CancelAllOrders:
            if command.strategy_id == "operator":  # a kill: every pending order of it
                self._spawn(self._cancel_instrument(command.instrument_id))
                return
            for cid, t in list(self._orders.items()):
                same = (t.cmd.strategy_id, t.cmd.instrument_id)
                if not t.done and same == (command.strategy_id, command.instrument_id):
                    self._spawn(self._cancel(cid))
        elif type(command) is ModifyOrder:
            self._spawn(replace(self, command))

    def recover(self, cmd: SubmitOrder, timestamp_ms: int | None = None) -> None:
        """Resume an order journaled before a restart, by its client id, never resent: the
        venue's own replace chain is followed (``chain.follow``) and its live end becomes
        the order (a replacement, or the order itself); absent on every check, it ends as
        rejected ``NOT_PLACED``; unreadable, it is left unresolved (``unresolved``)."""
        if cmd.client_order_id in self._orders:
            return
        self._orders[cmd.client_order_id] = _Tracked(cmd)
        self._spawn(self._recover(cmd))

    async def _recover(self, cmd: SubmitOrder) -> None:
        t = self._orders[cmd.client_order_id]
        try:
            chain = await follow(self.client, f"@{cmd.client_order_id}", tries=self.query_tries,
                                 delay_s=self.absent_delay_s)  # fmt: skip
        except ChainUnknown as exc:
            self._unresolved_order(t, str(exc))
            return
        if chain is None:
            await self._resolve(cmd)
        elif len(chain) == 1:
            await self._adopt(cmd, chain[0])
        elif not await adopt_replacement(self, t, chain[-1]):
            self._unresolved_order(t, f"its replacement {chain[-1].get('id')} is unreadable")

    def _unresolved_order(self, t: _Tracked, reason: str) -> None:
        """What became of ``t`` at the venue cannot be read: nothing is guessed. It is no
        longer a known order (a reset is refused while the venue holds it) and the venue's
        health is CRITICAL until an operator explains it."""
        cid = t.cmd.client_order_id
        self.unresolved[cid] = reason
        log.error("oanda_order_unresolved", client_order_id=cid, reason=reason,
                  hint="the order is neither adopted nor ended; check the OANDA account,"
                  " `genesis kill --live` cancels every pending order")  # fmt: skip

    @property
    def stream(self) -> TransactionStream | None:
        """The transaction stream, once started."""
        return self._stream

    def known_client_ids(self) -> set[str]:
        """Client ids of every order this venue object placed or resumed (not those left
        unresolved)."""
        return set(self._orders) - set(self.unresolved)

    def ids(self, cmd: Command) -> dict[str, Any]:
        return _ids(cmd)

    def body_of(self, cmd: SubmitOrder) -> dict[str, Any]:
        """The v20 body of ``cmd``; raises ``InvalidOrder``."""
        return order_request(_terms(cmd), self.client.instrument(oanda_name(cmd.instrument_id)))

    async def snapshot(
        self, instruments: list[str], since_trade_ids: dict[str, int]
    ) -> VenueSnapshot:
        """Pending orders with client ids, the account's margin and own fills since an id."""
        names = {oanda_name(i): i for i in instruments}
        orders = []
        for o in await self.client.pending_orders():
            cid = (o.get("clientExtensions") or {}).get("id")
            if cid and o.get("instrument") in names:  # a replacement is its order's
                orders.append(_venue_order(o, names[o["instrument"]], local_id(str(cid))))
        summary = await self.client.summary()
        balance = VenueBalance(self.currency, Decimal(summary["marginAvailable"]),
                               Decimal(summary["marginUsed"]))  # fmt: skip
        since = min((since_trade_ids.get(i, 0) for i in instruments), default=0)
        fills = []
        for tx in await self.client.transactions_since(str(max(since, 0))):
            cid = str(tx.get("clientOrderID", ""))
            if tx.get("type") == "ORDER_FILL" and cid and tx.get("instrument") in names:
                cmd = SubmitOrder(ts_init=0, strategy_id="", client_order_id=local_id(cid),
                                  instrument_id=names[tx["instrument"]], side=Side.BUY,
                                  order_type=OrderType.MARKET, quantity=Decimal(1))  # fmt: skip
                fills.append(self._fill_event(_Tracked(cmd), tx))
        return VenueSnapshot(tuple(orders), {self.currency: balance}, tuple(fills), self.currency)

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()

    # --- plumbing -----------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("oanda_venue_task_failed", error=repr(task.exception()))

    def _emit(self, event: OrderEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def _submit(self, cmd: SubmitOrder) -> None:
        try:
            body = order_request(_terms(cmd), self.client.instrument(oanda_name(cmd.instrument_id)))
        except InvalidOrder as exc:
            self._emit(OrderRejected(**_ids(cmd), reason=str(exc), code="INVALID_ORDER"))
            return
        self._orders[cmd.client_order_id] = _Tracked(cmd)
        self._spawn(self._place(cmd, body))

    async def _place(self, cmd: SubmitOrder, body: dict[str, Any]) -> None:
        try:
            answer = await self.client.create_order(body)
        except OrderRejectedByVenue as exc:
            self._orders[cmd.client_order_id].done = True
            self._emit(OrderRejected(**_ids(cmd), reason=str(exc), code=str(exc.code)))
            return
        except (OrderStatusUnknown, VenueError) as exc:
            log.warning("oanda_order_unknown", client_order_id=cmd.client_order_id, error=str(exc))
            await self._resolve(cmd)
            return
        self._apply_answer(cmd, answer)

    def _apply_answer(self, cmd: SubmitOrder, answer: dict[str, Any]) -> None:
        t = self._orders[cmd.client_order_id]
        created = answer.get("orderCreateTransaction") or {}
        t.venue_order_id = str(created.get("id", ""))
        self._emit(OrderAccepted(**_ids(cmd), venue_order_id=t.venue_order_id))
        fill = answer.get("orderFillTransaction")
        if fill is not None:
            self._deliver_fill(t, fill)
        if answer.get("orderCancelTransaction") is not None:
            t.done = True
            self._emit(OrderExpired(**_ids(cmd)))
        self._replay_early(t)

    def _replay_early(self, t: _Tracked) -> None:
        early, t.early = t.early, []
        for tx in early:
            self._on_order_tx(t, tx)

    async def _resolve(self, cmd: SubmitOrder) -> None:
        """Find the order by client id; absent on every check -> NOT_PLACED; a query that
        keeps failing proves nothing: the order is left unresolved."""
        for attempt in range(self.absent_checks):
            await asyncio.sleep(self.absent_delay_s * (attempt + 1))
            try:
                order = await read_order(
                    self.client, f"@{cmd.client_order_id}", tries=self.query_tries,
                    delay_s=self.absent_delay_s)  # fmt: skip
            except ChainUnknown as exc:
                self._unresolved_order(self._orders[cmd.client_order_id], str(exc))
                return
            if order is None:
                continue
            await self._adopt(cmd, order)
            return
        self._orders[cmd.client_order_id].done = True
        reason = "the order request's answer was lost and the order is not on the venue"
        self._emit(OrderRejected(**_ids(cmd), code="NOT_PLACED", reason=reason))

    async def _adopt(self, cmd: SubmitOrder, order: dict[str, Any]) -> None:
        t = self._orders[cmd.client_order_id]
        t.venue_order_id = str(order["id"])
        self._emit(OrderAccepted(**_ids(cmd), venue_order_id=t.venue_order_id))
        await self._apply_state(t, order)
        self._replay_early(t)

    async def _apply_state(self, t: _Tracked, order: dict[str, Any]) -> None:
        """A queried order's end, if it has one: its fill, or its cancel (read for why)."""
        state, key = order.get("state"), ""
        if state == "FILLED":
            key = "fillingTransactionID"
        elif state == "CANCELLED":
            key = "cancellingTransactionID"
        if not key or not str(order.get(key, "")).isdigit():
            return
        txs = await self.client.transactions_since(str(int(order[key]) - 1))
        for tx in txs[:1]:
            if state == "FILLED":
                self._deliver_fill(t, tx)
            elif not t.done:
                self._end(t, tx)

    def _end(self, t: _Tracked, cancel: dict[str, Any]) -> None:
        """The order's ORDER_CANCEL: cancelled at our request, else expired."""
        t.done = True
        if cancel.get("reason") == "CLIENT_REQUEST":
            self._emit(OrderCanceled(**_ids(t.cmd)))
        else:
            self._emit(OrderExpired(**_ids(t.cmd)))

    async def _cancel_instrument(self, instrument_id: str) -> None:
        """A kill: cancel every pending entry order of the instrument at the venue, ours or
        not, by the OANDA id listed, then read the list again until it holds none (a replace
        in flight may create one meanwhile). A failed read or cancel is retried with a
        capped backoff; until done, ``kill_unconfirmed`` names the instrument (CRITICAL)."""
        name, delay, rounds = oanda_name(instrument_id), 0.0, 0
        while True:
            if delay:
                await asyncio.sleep(delay)
            rounds += 1
            try:
                pending = [o for o in await self.client.pending_orders()
                           if o.get("instrument") == name and not o.get("tradeID")]  # fmt: skip
            except VenueError as exc:
                error = f"pending orders unreadable: {type(exc).__name__}: {exc}"
            else:
                if not pending:
                    if self.kill_unconfirmed.pop(instrument_id, None) is not None:
                        log.warning("oanda_cancel_all_confirmed", instrument=instrument_id,
                                    rounds=rounds)  # fmt: skip
                    return
                error = await self._cancel_listed(pending)
            if error:
                self.kill_unconfirmed[instrument_id] = error
                log.error("oanda_cancel_all_failed", instrument=instrument_id, error=error,
                          retry_in_s=max(delay * 2, self.kill_retry_s))  # fmt: skip
                delay = min(max(delay * 2, self.kill_retry_s), self.kill_retry_max_s)
            else:  # all cancelled: the next read confirms, at once the first time
                delay = 0.0 if rounds == 1 else min(max(delay, self.kill_retry_s),
                                                    self.kill_retry_max_s)  # fmt: skip

    async def _cancel_listed(self, pending: list[dict[str, Any]]) -> str:
        """Cancel each listed order by its OANDA id; a tracked one, cancelled as it stands,
        ends as cancelled (else the stream says what ended it). The first error, or ""."""
        error = ""
        for o in pending:
            oid = str(o.get("id", ""))
            wire = str((o.get("clientExtensions") or {}).get("id", ""))
            try:
                await self.client.cancel_order(oid)
            except OandaNotFound:
                continue  # gone meanwhile (filled, cancelled or replaced): the next read says
            except VenueError as exc:
                log.error("oanda_cancel_failed", order_id=oid, error=str(exc))
                error = error or f"cancel of order {oid} failed: {type(exc).__name__}: {exc}"
                continue
            t = self._orders.get(self._wire.get(wire) or wire)
            if t is not None and t.venue_order_id == oid and not t.replacing and not t.done:
                t.done = True
                self._emit(OrderCanceled(**_ids(t.cmd)))
        return error

    async def _cancel(self, cid: str) -> None:
        t = self._orders.get(cid)
        if t is None:
            return
        while t.replacing and t.settled is not None:  # cancel what the replace leaves live
            await t.settled.wait()
        try:
            spec = f"@{t.wire}" if t.wire else (t.venue_order_id or f"@{cid}")
            await self.client.cancel_order(spec)
        except VenueError as exc:
            self._emit(OrderCancelRejected(**_ids(t.cmd), reason=str(exc)))
            return
        if not t.done:  # the stream's copy of the cancel may have ended it already
            t.done = True
            self._emit(OrderCanceled(**_ids(t.cmd)))

    # --- the transaction stream --------------------------------------------

    async def _follow(self, stream: TransactionStream) -> None:
        async for tx in stream.transactions():
            cid = str(tx.get("clientOrderID", ""))
            t = self._orders.get(self._wire.get(cid, cid))
            if t is None:
                continue
            if not t.venue_order_id or t.replacing:  # the order's own answer has not come yet
                t.early.append(tx)
                continue
            self._on_order_tx(t, tx)

    def _on_order_tx(self, t: _Tracked, tx: dict[str, Any]) -> None:
        if tx.get("type") == "ORDER_FILL":
            self._deliver_fill(t, tx)
        elif (
            tx.get("type") == "ORDER_CANCEL"
            and tx.get("reason") != "CLIENT_REQUEST_REPLACED"  # the replacement goes on
            and str(tx.get("orderID", "")) == t.venue_order_id
            and not t.done
        ):
            self._end(t, tx)  # expired (GTD), cancelled by the venue or by hand (UI, API)

    def _deliver_fill(self, t: _Tracked, tx: dict[str, Any]) -> None:
        tx_id = str(tx.get("id", ""))
        if not tx_id or tx_id in self._fills_seen:
            return
        self._fills_seen.add(tx_id)
        event = self._fill_event(t, tx)
        t.filled += event.last_qty
        t.done = t.done or t.filled >= t.cmd.quantity
        self._emit(event)

    def _fill_event(self, t: _Tracked, tx: dict[str, Any]) -> OrderFilled:
        units = Decimal(str(tx["units"]))
        inst = self.client.instrument(oanda_name(t.cmd.instrument_id))
        return OrderFilled(
            **_ids(t.cmd),
            venue=self.name,
            trade_id=str(tx["id"]),
            side=Side.BUY if units > 0 else Side.SELL,
            last_qty=abs(units),
            last_px=Decimal(str(tx["price"])).quantize(inst.tick),
            fee=Decimal(str(tx.get("commission", "0"))),
            fee_currency=self.currency,
            liquidity=LiquiditySide.TAKER,
            venue_order_id=str(tx.get("orderID", t.venue_order_id)),
        )


def _ids(cmd: Command) -> dict[str, Any]:
    cid = getattr(cmd, "client_order_id", "")
    now = time.time_ns()
    return {"ts_event": now, "ts_init": now, "client_order_id": cid,
            "strategy_id": cmd.strategy_id, "instrument_id": cmd.instrument_id}  # fmt: skip


def _terms(cmd: SubmitOrder) -> OrderTerms:
    kind = _TYPES.get(cmd.order_type)
    if kind is None:
        raise InvalidOrder(f"OANDA has no {cmd.order_type.value} entry order")
    tif = cmd.time_in_force.value
    if kind == "MARKET" and cmd.time_in_force is TimeInForce.GTC:
        tif = "FOK"
    units = cmd.quantity if cmd.side is Side.BUY else -cmd.quantity
    price = cmd.trigger_price if kind in ("STOP", "MARKET_IF_TOUCHED") else cmd.price
    return OrderTerms(type=kind, instrument=oanda_name(cmd.instrument_id), units=units,
                      price=price, time_in_force=tif, client_id=cmd.client_order_id,
                      position_fill="REDUCE_ONLY" if cmd.reduce_only else "DEFAULT")  # fmt: skip


def _venue_order(o: dict[str, Any], instrument_id: str, cid: str) -> VenueOrder:
    units = Decimal(str(o.get("units", "0")))
    kinds = {v: k for k, v in _TYPES.items()}
    price = o.get("price")
    return VenueOrder(
        instrument_id=instrument_id,
        client_order_id=cid,
        venue_order_id=str(o["id"]),
        side=Side.BUY if units > 0 else Side.SELL,
        order_type=kinds.get(str(o.get("type")), OrderType.LIMIT),
        quantity=abs(units),
        filled_qty=Decimal(0),
        price=Decimal(str(price)) if price is not None else None,
        status=str(o.get("state", "PENDING")),
    )
