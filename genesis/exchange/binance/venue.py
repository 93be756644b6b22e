"""``BinanceVenue``: the ``LiveVenue`` of Binance spot (REST orders, WS API user data).

``execute`` never blocks: it validates locally, then schedules one task per
command. The rules of an order request (§4.3, P2, P3):

* definitive rejection -> ``OrderRejected`` (code + machine reason + sentence);
* -1021 (never reached the engine) -> resync the clock, re-sign, resend with
  the *same* client id (once);
* 429 -> wait Retry-After (up to ``max_rate_limit_wait_s``) and resend; 418 or
  a longer wait -> rejected, nothing sent;
* auth errors -> rejected and ``on_auth_error`` (the daemon halts);
* unknown outcome (timeout, 5xx, -1000/-1001/-1006/-1007/-1008, transport
  error, unparsable body) -> the order stays in flight and is resolved by
  querying its client id until found, or until a query sent after
  ``timestamp + recvWindow + margin`` proves it absent (``resolve``); only
  then is it resent (same client id, at most ``max_resends`` times) or
  rejected as ``NOT_PLACED``.

Events from the REST answers, the user stream and the backfills all pass
through ``OrderTracker``, which delivers each fill once (P4).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog

from genesis.core.commands import CancelAllOrders, CancelOrder, Command, ModifyOrder, SubmitOrder
from genesis.core.events import OrderCancelRejected, OrderEvent, OrderFilled
from genesis.core.instruments import Instrument, instrument_from_binance
from genesis.errors import (
    ConfigError,
    InvalidOrder,
    OrderRejectedByVenue,
    RateLimited,
    VenueError,
)
from genesis.exchange.binance.backfill import row_events, trades_after
from genesis.exchange.binance.errors import (
    AuthError,
    DuplicateOrder,
    IpBanned,
    OrderNotFound,
    TimestampRejected,
    WafBlocked,
    machine_reason,
)
from genesis.exchange.binance.orderparams import oco_params, order_params, venue_order
from genesis.exchange.binance.parse import (
    Malformed,
    parse_account_positions,
    parse_execution_report,
    strict_decimal,
)
from genesis.exchange.binance.replace import cancel_replace, find_replacement, wire_id
from genesis.exchange.binance.resolve import AbsenceCheck, Verdict
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Param
from genesis.exchange.binance.tracker import OrderTracker, Tracked
from genesis.exchange.live import EventSink, VenueBalance, VenueSnapshot

__all__ = ["BinanceVenue", "VenueConfig"]

log = structlog.get_logger(__name__)

_UNKNOWN: Final = object()  # the placement's outcome is unknown: resolve by query
_DONE: Final = object()  # the placement ended (rejected); events already emitted


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueConfig:
    """Order-path policy; delays are configurable so tests run fast."""

    skew_margin_ms: float = 1000.0
    query_backoff_s: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0, 2.0)
    max_resends: int = 1
    max_rate_limit_wait_s: float = 10.0
    backfill_limit: int = 1000


class BinanceVenue:
    """Binance spot as a ``LiveVenue`` (see the module docstring for the rules).

    Args:
        rest: the signed REST client (its clock and rate limiter are used).
        exchange_info: the ``exchangeInfo`` response (instruments and symbol status);
            None to fetch it in ``start``.
        user_stream_factory: builds the user stream given the venue's callbacks
            (``on_event``, ``on_resync``, ``has_open_orders``, ``on_auth_error``);
            None for no stream (REST answers and backfills only).
        config: order-path policy.
        on_auth_error: called once when the venue refuses the key (halt trading).
        wall_ns: local wall clock (ns) for ``ts_init``.
    """

    name = "BINANCE"

    def __init__(
        self,
        rest: BinanceRest,
        *,
        exchange_info: Mapping[str, Any] | None = None,
        user_stream_factory: Callable[[BinanceVenue], Any] | None = None,
        config: VenueConfig | None = None,
        on_auth_error: Callable[[AuthError], None] = lambda _exc: None,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.rest = rest
        self.config = config or VenueConfig()
        self.tracker = OrderTracker(wall_ns, self.name)
        self._on_auth_error = on_auth_error
        self._stream_factory = user_stream_factory
        self._stream: Any = None
        self._sink: EventSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._instruments: dict[str, Instrument] = {}
        self._status: dict[str, str] = {}
        self._oco_pending: dict[str, SubmitOrder] = {}
        self._used_ids: set[str] = set()
        self._refreshing: dict[str, bool] = {}  # client id -> asked again while in flight
        self.balances: dict[str, VenueBalance] = {}
        self.auth_failed: AuthError | None = None
        self.duplicates_refused = 0
        self.user_events_rejected = 0  # malformed user-stream payloads, each changing nothing
        self.resends = 0
        self.canceled_unplaced = 0  # proven never placed and a cancel asked: ended canceled
        self.can_trade: bool | None = None  # the last account answer's ``canTrade``
        self._snapshot_pending = False  # start(snapshot_follows=True) until snapshot() begins
        if exchange_info is not None:
            self._load_exchange_info(exchange_info)

    def __repr__(self) -> str:
        return f"BinanceVenue({self.rest.base_url!r}, orders={len(self.tracker.orders)})"

    # --- LiveVenue --------------------------------------------------------------------

    async def start(self, sink: EventSink, *, snapshot_follows: bool = False) -> None:
        """Sync the clock, load instruments, start the user stream (see ``resync``)."""
        self._sink, self._snapshot_pending = sink, snapshot_follows
        await self.rest.sync_clock()
        if not self._instruments:
            self._load_exchange_info(await self.rest.exchange_info())
        if self._stream_factory is not None:
            self._stream = self._stream_factory(self)
            await self._stream.start()

    def execute(self, command: Command, now_ns: int) -> None:
        """Validate ``command`` locally and schedule it; never blocks, never raises."""
        if isinstance(command, SubmitOrder):
            self._submit(command)
        elif isinstance(command, CancelOrder):
            self._spawn(self._cancel(command))
        elif isinstance(command, CancelAllOrders):
            self._spawn(self._cancel_all(command))
        elif isinstance(command, ModifyOrder):
            self._spawn(cancel_replace(self, command))

    async def snapshot(
        self, instruments: list[str], since_trade_ids: dict[str, int]
    ) -> VenueSnapshot:
        """Open orders, balances and own fills after ``since_trade_ids`` (start-up check)."""
        self._snapshot_pending = False  # a subscription from now on backfills as usual
        orders = []
        fills: list[OrderFilled] = []
        for symbol in instruments:
            orders += [venue_order(o) for o in await self.rest.open_orders(symbol)]
            rows = await trades_after(self.rest, symbol, since_trade_ids.get(symbol, -1),
                                      self.config.backfill_limit)  # fmt: skip
            events = await row_events(self.rest, self.tracker, symbol, rows, foreign=True)
            fills += [e for e in events if isinstance(e, OrderFilled)]
        await self.refresh_balances()
        return VenueSnapshot(open_orders=tuple(orders), balances=dict(self.balances),
                             fills=tuple(fills))  # fmt: skip

    async def close(self) -> None:
        """Stop the user stream and pending tasks; working orders are left alone."""
        if self._stream is not None:
            await self._stream.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- plumbing -------------------------------------------------------------------------

    def _load_exchange_info(self, info: Mapping[str, Any]) -> None:
        for raw in info.get("symbols", ()):
            symbol = raw.get("symbol")
            self._status[symbol] = str(raw.get("status", ""))
            with contextlib.suppress(ConfigError):
                self._instruments[symbol] = instrument_from_binance(raw, self.name)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("binance_venue_task_failed", error=type(exc).__name__)

    def _emit(self, events: Sequence[OrderEvent]) -> None:
        if self._sink is None:
            raise RuntimeError("BinanceVenue.start() was not called")
        for event in events:
            self._sink(event)

    def has_open_orders(self) -> bool:
        return self.tracker.has_open()

    # --- submit ----------------------------------------------------------------------------

    def _submit(self, cmd: SubmitOrder) -> None:
        cid = cmd.client_order_id
        if cid in self._used_ids:  # R5: refused before the wire; the first order is untouched
            self.duplicates_refused += 1
            log.error("binance_duplicate_client_id_refused", client_order_id=cid)
            return
        self._used_ids.add(cid)
        tracked = self.tracker.track(cmd)
        if cmd.oco_group:
            first = self._oco_pending.pop(cmd.oco_group, None)
            if first is None:
                self._oco_pending[cmd.oco_group] = cmd
                return
            self._place_list(cmd.oco_group, [first, cmd])
            return
        try:
            params = order_params(cmd, self._instruments.get(cmd.instrument_id),
                                  self._status.get(cmd.instrument_id, "UNKNOWN"))  # fmt: skip
        except InvalidOrder as exc:
            self._emit(self.tracker.rejected(tracked, "LOCAL", f"INVALID_ORDER: {exc}"))
            return
        self._spawn(self._place(tracked, params, oco=False))

    def _place_list(self, group: str, legs: list[SubmitOrder]) -> None:
        symbol = legs[0].instrument_id
        try:
            params = oco_params(legs, self._instruments.get(symbol),
                                self._status.get(symbol, "UNKNOWN"), group)  # fmt: skip
        except InvalidOrder as exc:
            for leg in legs:
                tracked = self.tracker.orders[leg.client_order_id]
                self._emit(self.tracker.rejected(tracked, "LOCAL", f"INVALID_ORDER: {exc}"))
            return
        both = [self.tracker.orders[leg.client_order_id] for leg in legs]
        self._spawn(self._place(both[0], params, oco=True, legs=both))

    def recover(
        self, cmd: SubmitOrder, timestamp_ms: int | None = None, *, resend: bool = True
    ) -> None:
        """Resume an intent that was in flight when the previous process died (P2, R2).

        The journal knows the intent and its client id, not whether the request left.
        It is resolved like an unknown outcome: adopted when the query by
        ``origClientOrderId`` finds it, sent again (same client id) only once a query
        after ``timestamp + recvWindow + margin`` proves it absent. Without a journaled
        ``timestamp_ms`` now is used: the lost request was signed no later than now.
        With ``resend=False`` (a restart: the decision is stale) proven absence ends it as
        rejected ``NOT_PLACED`` instead.
        """
        cid = cmd.client_order_id
        if cid in self._used_ids:
            self.duplicates_refused += 1
            log.error("binance_duplicate_client_id_refused", client_order_id=cid)
            return
        self._used_ids.add(cid)
        tracked = self.tracker.track(cmd)
        now_ms = self.rest.clock.now_ms()
        tracked.timestamp_ms = now_ms if timestamp_ms is None else timestamp_ms
        try:
            params: list[Param] | None = order_params(
                cmd, self._instruments.get(cmd.instrument_id),
                self._status.get(cmd.instrument_id, "UNKNOWN"))  # fmt: skip
        except InvalidOrder:  # not sendable now, but the old request may have been
            params = None
        self._spawn(self._recover(tracked, params if resend else None))

    async def _recover(self, tracked: Tracked, params: list[Param] | None) -> None:
        """A journaled order may have been replaced (a modify) before the restart: the
        replacement is found first and becomes the order; the original is never resent."""
        if await find_replacement(self, tracked):
            params = None
        await self._place(tracked, params, oco=False, sent=True)

    async def _place(
        self, tracked: Tracked, params: list[Param] | None, *, oco: bool,
        legs: list[Tracked] | None = None, sent: bool = False,
    ) -> None:  # fmt: skip
        """Place, then honour a cancel that arrived while the outcome was open.

        A cancel racing an unresolved placement can find nothing (-2011) and the
        order still land, or be proven absent and (P2) be resent: the cancel is
        recorded (``cancel_wanted``) and applied here once the outcome is known.
        """
        legs = legs or [tracked]
        for leg in legs:
            leg.placing = True
        try:
            placed = await self._place_until_known(tracked, params, oco, legs, sent)
        finally:
            for leg in legs:
                leg.placing = False
        for leg in legs if placed else ():
            if leg.cancel_wanted and not leg.done:  # it landed after its cancel: again, now
                log.warning("binance_cancel_resent_after_placement",
                            client_order_id=leg.cmd.client_order_id)  # fmt: skip
                await self._cancel_order(leg.cmd.instrument_id, leg.cmd.client_order_id,
                                         leg.cmd.strategy_id)  # fmt: skip

    async def _place_until_known(
        self, tracked: Tracked, params: list[Param] | None, oco: bool, legs: list[Tracked],
        sent: bool,
    ) -> bool:  # fmt: skip
        """Send and resolve an unknown outcome; True when the venue has the order.

        ``sent``: a request may already be out.
        """
        resent = 0
        while True:
            if not sent and params is not None:
                answer = await self._send_order(params, legs, oco)
                if answer is _DONE:
                    return False
                if answer is not _UNKNOWN:
                    await self._adopt_answer(answer, oco)
                    return True
            sent = False
            if await self._resolve_all(legs):
                return True
            if self._cancel_unplaced(legs):
                return False
            if resent >= self.config.max_resends or params is None:
                self._reject(legs, "NOT_PLACED", "NOT_PLACED: proven absent at the venue")
                return False
            resent += 1
            self.resends += 1
            cid = tracked.cmd.client_order_id
            log.warning("binance_order_resent", client_order_id=cid)

    def _cancel_unplaced(self, legs: list[Tracked]) -> bool:
        """End as canceled, never (re)send, an order not at the venue whose cancel was asked.

        Only called where every earlier request of the order is proven not placed.
        """
        if not any(leg.cancel_wanted for leg in legs):
            return False
        for leg in legs:  # a cancel of one OCO leg cancels the whole list
            events = self.tracker.canceled(leg)
            self.canceled_unplaced += len(events)
            log.warning("binance_order_canceled_unplaced", client_order_id=leg.cmd.client_order_id)
            self._emit(events)
        return True

    async def _send_order(self, params: list[Param], legs: list[Tracked], oco: bool) -> Any:
        """One placement: the answer, ``_UNKNOWN`` (resolve by query) or ``_DONE`` (rejected)."""
        clock_retry = 0
        while not self._cancel_unplaced(legs):  # nothing sent so far reached the engine
            ts = self.rest.clock.now_ms()
            for leg in legs:
                leg.timestamp_ms = ts
            try:
                send = self.rest.place_oco if oco else self.rest.place_order
                return await send(params, ts)
            except TimestampRejected:  # never reached the engine: same client id again
                if clock_retry:
                    return self._reject(legs, "-1021", "INVALID_TIMESTAMP: clock still off")
                clock_retry += 1
                await self._resync_clock()
            except RateLimited as exc:  # not sent (429 answer, or held back locally)
                if (
                    isinstance(exc, IpBanned)
                    or exc.retry_after_s > self.config.max_rate_limit_wait_s
                ):
                    return self._reject(legs, "RATE_LIMITED", f"RATE_LIMITED: {exc}")
                await asyncio.sleep(exc.retry_after_s)
            except DuplicateOrder:
                return _UNKNOWN  # an open order has this id: adopt it through the query
            except (AuthError, WafBlocked, OrderRejectedByVenue) as exc:
                return self._definitive(legs, exc)
            except VenueError as exc:  # OrderStatusUnknown and friends
                cid = legs[0].cmd.client_order_id
                log.warning("binance_order_outcome_unknown", client_order_id=cid,
                            error=type(exc).__name__)  # fmt: skip
                return _UNKNOWN
        return _DONE

    def _definitive(self, legs: list[Tracked], exc: VenueError) -> object:
        if isinstance(exc, AuthError):
            self._auth_failed(exc)
            self._reject(legs, str(exc.code), f"AUTH: {exc}")
        elif isinstance(exc, WafBlocked):
            self._reject(legs, "403", f"WAF_BLOCKED: {exc}")
        elif isinstance(exc, OrderRejectedByVenue):
            msg = str(exc).partition(f"code {exc.code}: ")[2]  # "Filter failure: X" keeps its ": "
            code = exc.code if isinstance(exc.code, int) else None
            self._reject(legs, str(exc.code), f"{machine_reason(code, msg)}: {msg}")
        return _DONE

    def _reject(self, legs: list[Tracked], code: str, reason: str) -> object:
        for leg in legs:
            self._emit(self.tracker.rejected(leg, code, reason))
        return _DONE

    def _auth_failed(self, exc: AuthError) -> None:
        if self.auth_failed is None:
            self.auth_failed = exc
            log.critical("binance_auth_failed", code=exc.code)
            self._on_auth_error(exc)

    async def _resync_clock(self) -> None:
        with contextlib.suppress(VenueError):
            await self.rest.sync_clock()

    async def _adopt_answer(self, answer: Any, oco: bool) -> None:
        reports = answer.get("orderReports", []) if oco and isinstance(answer, dict) else [answer]
        for report in reports:
            if isinstance(report, dict):
                await self._apply_order(report)

    async def _apply_order(self, data: Mapping[str, Any]) -> None:
        """Events for one REST order object, fetching the fills the object implies first."""
        try:
            self._emit(self.tracker.on_order_json(data, terminal=False))
            if self.tracker.missing_qty(data) > 0 and type(data.get("orderId")) is int:
                symbol = str(data.get("symbol"))
                rows = await self.rest.request(
                    "GET", "/api/v3/myTrades",
                    [("symbol", symbol), ("orderId", str(data["orderId"]))], signed=True, weight=5,
                )  # fmt: skip
                for row in rows if isinstance(rows, list) else []:
                    self._emit(self.tracker.on_trade_row(row))
            self._emit(self.tracker.on_order_terminal(data))
        except Malformed as exc:
            log.error("binance_order_answer_rejected", reason=str(exc))
        except VenueError as exc:  # the fills will come from the stream or the next backfill
            log.warning("binance_order_trades_fetch_failed", error=type(exc).__name__)

    # --- unknown outcome ----------------------------------------------------------------

    async def _resolve_all(self, legs: list[Tracked]) -> bool:
        """Query every leg; True when the venue has them, False when proven absent."""
        found = False
        for leg in legs:
            found = await self._resolve(leg) or found
        return found

    async def _resolve(self, t: Tracked) -> bool:
        margin = self.config.skew_margin_ms + min(self.rest.clock.uncertainty_ms, 5000.0)
        check = AbsenceCheck(t.timestamp_ms, self.rest.recv_window_ms, margin)
        delays, attempt = self.config.query_backoff_s, 0
        while True:
            sent_ms = self.rest.clock.now_ms()
            try:
                data = await self.rest.query_order(t.cmd.instrument_id, wire_id(t))
            except OrderNotFound:
                if check.on_not_found(sent_ms) is Verdict.ABSENT:
                    return False
            except AuthError as exc:
                self._auth_failed(exc)
            except VenueError as exc:
                log.warning("binance_order_query_failed", error=type(exc).__name__)
            else:
                await self._apply_order(data)
                return True
            await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            attempt += 1

    # --- cancel -----------------------------------------------------------------------------

    async def _cancel(self, cmd: CancelOrder) -> None:
        await self._cancel_order(cmd.instrument_id, cmd.client_order_id, cmd.strategy_id)

    async def _cancel_order(self, symbol: str, cid: str, strategy_id: str) -> None:
        tracked = self.tracker.orders.get(cid)
        racing = tracked is not None and tracked.placing and not tracked.done
        if racing and tracked is not None:  # the placement task honours it (see _place)
            tracked.cancel_wanted = True
        wire = cid if tracked is None else wire_id(tracked)  # a replaced order: its new id
        try:
            answer = await self.rest.cancel_order(symbol, wire)
        except VenueError as exc:
            if isinstance(exc, AuthError):
                self._auth_failed(exc)
            if racing:  # not refused: applied once the placement's outcome is known
                log.info("binance_cancel_awaits_placement", client_order_id=cid,
                         error=type(exc).__name__)  # fmt: skip
                return
            # -2011 is not proof of a cancel, and an unknown outcome is unknown: query.
            if tracked is not None:
                with contextlib.suppress(VenueError):
                    await self._apply_order(await self.rest.query_order(symbol, wire))
            if tracked is None or not tracked.done:
                now = self.tracker._now_ns()
                self._emit([OrderCancelRejected(
                    reason=f"CANCEL_REJECTED: {exc}", client_order_id=cid,
                    strategy_id=strategy_id, instrument_id=symbol,
                    ts_event=now, ts_init=now)])  # fmt: skip
            return
        await self._apply_order(answer)

    async def _cancel_all(self, cmd: CancelAllOrders) -> None:
        """``DELETE openOrders`` cancels every order of the symbol, whatever its strategy;
        so does it for the orders whose placement is still unresolved (see ``_place``)."""
        for t in self.tracker.orders.values():
            if t.placing and not t.done and t.cmd.instrument_id == cmd.instrument_id:
                t.cancel_wanted = True
        try:
            answer = await self.rest.cancel_open_orders(cmd.instrument_id)
        except VenueError as exc:
            log.error("binance_cancel_all_failed", symbol=cmd.instrument_id, error=str(exc))
            await self.resync("cancel_all_failed")
            return
        for item in answer if isinstance(answer, list) else []:
            reports = item.get("orderReports", [item]) if isinstance(item, dict) else []
            for report in reports:
                await self._apply_order(report)

    # --- user stream and backfill -------------------------------------------------------------

    def on_user_event(self, payload: Mapping[str, Any]) -> None:
        """One user-stream event payload (called by ``BinanceUserStream``)."""
        kind = payload.get("e")
        try:
            if kind == "executionReport":
                report = parse_execution_report(payload)
                self._emit(self.tracker.on_execution_report(report))
                t = self.tracker.orders.get(self.tracker.local_id(report.client_order_id))
                if t is not None and report.cum_qty > t.filled:  # z ahead of the fills we have
                    self._spawn_refresh(t)
            elif kind == "outboundAccountPosition":
                self._apply_positions(payload.get("B"))
        except Malformed as exc:
            self.user_events_rejected += 1
            log.warning("binance_user_event_rejected", kind=str(kind)[:40], reason=str(exc))

    def _spawn_refresh(self, t: Tracked) -> None:
        """One order query at a time per order (every report behind a lost fill asks for
        it); a request made while one is in flight runs once more after it."""
        cid = t.cmd.client_order_id
        if cid in self._refreshing:
            self._refreshing[cid] = True
            return
        self._refreshing[cid] = False
        self._spawn(self._coalesced_refresh(t))

    async def _coalesced_refresh(self, t: Tracked) -> None:
        cid = t.cmd.client_order_id
        try:
            await self._refresh_order(t)
            while self._refreshing.get(cid):
                self._refreshing[cid] = False
                await self._refresh_order(t)
        finally:
            self._refreshing.pop(cid, None)

    async def _refresh_order(self, t: Tracked) -> None:
        with contextlib.suppress(VenueError):
            await self._apply_order(await self.rest.query_order(t.cmd.instrument_id,
                                                                wire_id(t)))  # fmt: skip

    def _apply_positions(self, rows: object) -> None:
        """All rows validated first, then applied together: a bad row changes nothing (P12)."""
        parsed = parse_account_positions(rows)
        self.balances.update((a, VenueBalance(a, f, lk)) for a, (f, lk) in parsed.items())

    def resync(self, reason: str) -> Awaitable[None]:
        """The backfill after a (re)subscription or silence (P6); a skip is decided now."""
        if reason == "subscribed" and self._snapshot_pending:  # start(snapshot_follows=True)
            log.info("binance_backfill_skipped", reason=reason, covered_by="start-up snapshot")
            return asyncio.sleep(0)
        return self._backfill(reason)

    async def _backfill(self, reason: str) -> None:
        log.info("binance_backfill", reason=reason)
        try:
            for symbol in self.tracker.open_symbols():
                for data in await self.rest.open_orders(symbol):
                    await self._apply_order(data)
                for t in list(self.tracker.orders.values()):
                    if t.cmd.instrument_id == symbol and not t.done and t.accepted:
                        await self._refresh_order(t)
            symbols = self.tracker.last_trade_id.keys() | set(self.tracker.open_symbols())
            for symbol in sorted(symbols):
                last = self.tracker.last_trade_id.get(symbol, -1)
                rows = await trades_after(self.rest, symbol, last, self.config.backfill_limit)
                self._emit(await row_events(self.rest, self.tracker, symbol, rows, foreign=False))
            await self.refresh_balances()
        except (VenueError, Malformed) as exc:
            log.warning("binance_backfill_failed", reason=reason, error=type(exc).__name__)

    async def refresh_balances(self) -> None:
        """Replace the balance cache (and ``can_trade``) from ``GET /api/v3/account``."""
        data = await self.rest.account()
        self.can_trade = not (isinstance(data, dict) and data.get("canTrade") is False)
        balances = {}
        for row in data.get("balances", ()) if isinstance(data, dict) else ():
            free = strict_decimal(row["free"], "free")
            locked = strict_decimal(row["locked"], "locked")
            if free or locked:
                balances[row["asset"]] = VenueBalance(row["asset"], free, locked)
        self.balances = balances
