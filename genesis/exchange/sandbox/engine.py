"""The exchange core: Binance orders around the kernel's ``SimulatedVenue`` (sans-I/O).

Theory of operation
===================

One ``SimulatedVenue`` (the account of the configured key) does the matching
and keeps the balances: it is fed every book change and public trade the
sandbox publishes (``MarketListener``), so it matches against exactly the book
the clients see. This module adds what Binance has and the venue has not:
per-symbol integer order and trade ids, Binance statuses and expiry reasons,
the §8.3 checks that need state (duplicate client id, balance, LIMIT_MAKER,
trigger-immediately), executionReports and outboundAccountPosition events.

Conditional orders (STOP_LOSS*, TAKE_PROFIT*) are held here, not in the
venue: Binance triggers them on the *last trade price* in a direction that
depends on the type (a TAKE_PROFIT buy triggers when the price falls), while
the venue triggers stops only upward for buys and on its book mid. Held
orders lock their funds in the venue's account directly; on trigger the lock
is released and the order goes to the venue as MARKET or LIMIT. OCO lists
(``oco.py``) build on the same pieces.

Every call runs to completion synchronously: the venue has zero latency
(``deliver_until`` right after ``execute``), so a response always reflects
the fills the order produced, and the user-stream events are emitted before
the REST answer is written (as Binance may do).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

from genesis.core.commands import CancelOrder, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    BookDelta,
    BookSnapshot,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    TradeTick,
)
from genesis.exchange.fills import FeeModel
from genesis.exchange.sandbox.errors import ApiError, unknown_order
from genesis.exchange.sandbox.ledger import Ledger
from genesis.exchange.sandbox.market import MarketData
from genesis.exchange.sandbox.oco import cancel_list, leg_executed, leg_triggered
from genesis.exchange.sandbox.orders import BinanceOrder, OrderList
from genesis.exchange.sandbox.symbols import ExchangeInfo, fmt
from genesis.exchange.sandbox.validate import Placement
from genesis.exchange.simulated import SimulatedVenue

__all__ = ["Engine"]

Emit = Callable[[dict[str, Any]], None]
Publish = Callable[[str, dict[str, Any]], None]
_ZERO = Decimal(0)
_EXPIRY = {"IOC": "UNFILLED_IOC_QUANTITY_EXPIRED", "FOK": "UNFILLED_FOK_ORDER_EXPIRED"}
_INSUFFICIENT = "Account has insufficient balance for requested action."


class Engine:
    """Orders, lists, trades and balances of the one sandbox account."""

    def __init__(
        self,
        info: ExchangeInfo,
        balances: Mapping[str, Decimal],
        *,
        maker_bps: Decimal,
        taker_bps: Decimal,
        seed: int,
        now_ms: Callable[[], int],
        emit: Emit,
        publish: Publish,
    ) -> None:
        self.info = info
        self.fees = FeeModel(maker_bps=maker_bps, taker_bps=taker_bps)
        self.venue = SimulatedVenue(
            instruments=lambda s: info.symbols[s].instrument(),
            balances=balances,
            fees=self.fees,
            name="SBX",
        )
        self.account = self.venue.account
        self.now_ms = now_ms
        self._emit = emit
        self._ns = 0
        self._rng = random.Random(seed)  # noqa: S311 - ids only, seeded for reproducibility
        self.market = MarketData(publish, self, self._next_ns)
        self.ledger = Ledger()
        self.orders: dict[tuple[str, int], BinanceOrder] = {}
        self.open_by_client: dict[str, BinanceOrder] = {}
        self.lists: dict[int, OrderList] = {}
        self.my_trades: list[dict[str, Any]] = []
        self._by_venue: dict[str, BinanceOrder] = {}
        self._order_seq: dict[str, int] = {}
        self._list_seq = 0
        self._exec_seq = 0
        self._venue_ref: dict[str, Decimal] = {}
        self._cancelling: set[str] = set()
        self._dirty: set[str] = set()
        self.assets: set[str] = set(balances)
        self._sent_positions: dict[str, tuple[Decimal, Decimal]] = self.positions()
        self.update_time = 0
        self.on_first_fill: Callable[[], None] = lambda: None

    # --- market listener -----------------------------------------------------

    def _next_ns(self) -> int:
        self._ns += 1
        return self._ns

    def book_event(self, event: BookSnapshot | BookDelta) -> None:
        events = self.venue.process(event)
        m = self.market.market(event.instrument_id)
        if (mid := m.book.mid()) is not None:
            self._venue_ref[event.instrument_id] = mid
        self._handle(events, self.now_ms())

    def trade_event(self, event: TradeTick) -> None:
        self._venue_ref[event.instrument_id] = event.price
        self._dirty.add(event.instrument_id)
        self._handle(self.venue.process(event), self.now_ms())

    # --- prices ---------------------------------------------------------------

    def last_price(self, symbol: str) -> Decimal | None:
        """Binance's trigger and reference price: the last trade, else the book mid."""
        m = self.market.market(symbol)
        return m.last_price if m.last_price is not None else m.book.mid()

    def open_counts(self, symbol: str) -> tuple[int, int]:
        mine = [o for o in self.open_by_client.values() if o.symbol == symbol]
        return len(mine), sum(1 for o in mine if not o.triggered)

    # --- placement --------------------------------------------------------------

    def new_client_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "sbx" + "".join(self._rng.choice(alphabet) for _ in range(19))

    def need(self, p: Placement, qty: Decimal) -> tuple[str, Decimal | None]:
        """What the venue will lock for this order (None: no price to value a MARKET buy)."""
        if p.side == "SELL":
            return p.spec.base, qty
        price = p.price or p.stop_price or self._venue_ref.get(p.spec.symbol)
        if price is None:
            return p.spec.quote, None
        return p.spec.quote, qty * price * (1 + self.fees.worst_rate)

    def check_placement(self, p: Placement, client_id: str) -> Decimal:
        """§8.3 steps 11-13; returns the order quantity (derived from quoteOrderQty)."""
        if client_id in self.open_by_client:
            raise ApiError(-2010, "Duplicate order sent.")
        qty = p.quantity or self._qty_for_quote(p)
        ccy, need = self.need(p, qty)
        if need is not None and need > self.account.free(ccy):
            raise ApiError(-2010, _INSUFFICIENT)
        if p.type == "LIMIT_MAKER" and self._would_take(p.spec.symbol, p.side, p.price):
            raise ApiError(-2010, "Order would immediately match and take.")
        if p.conditional and self.would_trigger(p.spec.symbol, p.type, p.side, p.stop_price):
            raise ApiError(-2010, "Order would trigger immediately.")
        return qty

    def _would_take(self, symbol: str, side: str, price: Decimal) -> bool:
        book = self.market.market(symbol).book
        best = book.best_ask() if side == "BUY" else book.best_bid()
        if best is None:
            return False
        return price >= best[0] if side == "BUY" else price <= best[0]

    def would_trigger(self, symbol: str, kind: str, side: str, stop: Decimal) -> bool:
        last = self.last_price(symbol)
        if last is None:
            return False
        upward = (side == "BUY") == kind.startswith("STOP_LOSS")
        return last >= stop if upward else last <= stop

    def _qty_for_quote(self, p: Placement) -> Decimal:
        """MARKET with quoteOrderQty: the most base quantity (on the step) the quote buys."""
        book = self.market.market(p.spec.symbol).book
        levels = book.levels(Side.SELL if p.side == "BUY" else Side.BUY)
        left, qty = p.quote_qty, _ZERO
        for price, size in levels:
            take = min(size, left / price)
            qty, left = qty + take, left - take * price
            if left <= 0:
                break
        step = Decimal(str(p.spec.filters.get("LOT_SIZE", {}).get("stepSize", "0")))
        return qty.quantize(step, ROUND_DOWN) if step > 0 else qty

    def place(
        self,
        p: Placement,
        client_id: str,
        qty: Decimal,
        *,
        list_id: int = -1,
        external: bool = False,
        via_post: bool = True,
    ) -> BinanceOrder:
        """Accept a checked order: NEW, then whatever it executes at once."""
        now = self.now_ms()
        self.assets.update((p.spec.base, p.spec.quote))
        o = self._new_order(p, client_id, qty, now, list_id, external)
        if p.conditional:
            ccy, need = self.need(p, qty)
            o.triggered, o.held_ccy, o.held = False, ccy, need or _ZERO
            if list_id == -1 and not self.account.lock(ccy, o.held):
                raise ApiError(-2010, _INSUFFICIENT)
            if list_id != -1:
                o.held = _ZERO  # the list holds the lock of its conditional legs
            self._accept(o, via_post, now)
            self.positions_changed(now)
            return o
        o.working_time = now
        if p.type == "MARKET" and self._venue_ref.get(p.spec.symbol) is None:
            self._accept(o, via_post, now)
            self._finish(o, "EXPIRED", now, reason="INSUFFICIENT_LIQUIDITY")
            return o
        events = self._submit(
            o,
            OrderType.MARKET if p.type == "MARKET" else OrderType.LIMIT,
            post_only=p.type == "LIMIT_MAKER",
        )
        rejected = [e for e in events if isinstance(e, OrderRejected)]
        if rejected:
            self._forget(o)
            reason = rejected[0].reason
            msg = (
                "Order would immediately match and take."
                if "post-only" in reason
                else _INSUFFICIENT
            )
            raise ApiError(-2010, msg)
        self._accept(o, via_post, now)
        self._handle(events, now)
        return o

    def _new_order(
        self, p: Placement, client_id: str, qty: Decimal, now: int, list_id: int, external: bool
    ) -> BinanceOrder:
        seq = self._order_seq[p.spec.symbol] = self._order_seq.get(p.spec.symbol, 0) + 1
        o = BinanceOrder(
            symbol=p.spec.symbol,
            order_id=seq,
            client_order_id=client_id,
            side=p.side,
            type=p.type,
            time_in_force=p.time_in_force or "GTC",
            orig_qty=qty,
            price=p.price,
            stop_price=p.stop_price,
            orig_quote_qty=p.quote_qty,
            time=now,
            update_time=now,
            order_list_id=list_id,
            venue_id=f"{p.spec.symbol}:{seq}",
            external=external,
        )
        self.orders[(o.symbol, o.order_id)] = o
        self.open_by_client[client_id] = o
        self._by_venue[o.venue_id] = o
        return o

    def _forget(self, o: BinanceOrder) -> None:
        self.orders.pop((o.symbol, o.order_id), None)
        self.open_by_client.pop(o.client_order_id, None)
        self._by_venue.pop(o.venue_id, None)

    def _accept(self, o: BinanceOrder, via_post: bool, now: int) -> None:
        self.ledger.order_accepted(o, via_post=via_post)
        self._report(o, "NEW", now)

    def _submit(
        self, o: BinanceOrder, kind: OrderType, *, post_only: bool = False
    ) -> list[OrderEvent]:
        ns = self._next_ns()
        tif = (
            TimeInForce.GTC if o.type in ("MARKET", "LIMIT_MAKER") else TimeInForce(o.time_in_force)
        )
        self.venue.execute(
            SubmitOrder(
                ts_init=ns,
                strategy_id="sandbox",
                instrument_id=o.symbol,
                client_order_id=o.venue_id,
                side=Side(o.side),
                order_type=kind,
                quantity=o.orig_qty - o.executed,
                price=o.price if kind is OrderType.LIMIT else None,
                time_in_force=tif,
                post_only=post_only,
            ),
            ns,
        )
        return self.venue.deliver_until(ns)

    def venue_cancel(self, o: BinanceOrder) -> None:
        """Take ``o`` off the venue (or release its held lock) without any report."""
        if not o.triggered:
            self.account.release(o.held_ccy, o.held)
            o.held = _ZERO
            return
        self._cancelling.add(o.venue_id)
        ns = self._next_ns()
        self.venue.execute(
            CancelOrder(
                ts_init=ns,
                strategy_id="sandbox",
                instrument_id=o.symbol,
                client_order_id=o.venue_id,
            ),
            ns,
        )
        self._handle(self.venue.deliver_until(ns), self.now_ms())
        self._cancelling.discard(o.venue_id)

    # --- venue events ---------------------------------------------------------------

    def _handle(self, events: list[OrderEvent], now: int) -> None:
        for ev in events:
            o = self._by_venue.get(ev.client_order_id)
            if o is None or not o.is_open:
                continue
            if isinstance(ev, OrderFilled):
                self._fill(o, ev, now)
            elif isinstance(ev, OrderExpired):
                reason = (
                    "INSUFFICIENT_LIQUIDITY"
                    if o.type == "MARKET" or not o.type.endswith(("LIMIT", "MAKER"))
                    else _EXPIRY.get(o.time_in_force, "EXCHANGE_CANCELED")
                )
                self._finish(o, "EXPIRED", now, reason=reason)
            elif isinstance(ev, OrderCanceled) and ev.client_order_id not in self._cancelling:
                self._finish(o, "EXPIRED", now, reason="EXCHANGE_CANCELED")
        self._run_triggers(now)
        self.positions_changed(now)

    def _fill(self, o: BinanceOrder, ev: OrderFilled, now: int) -> None:
        maker = ev.liquidity is LiquiditySide.MAKER
        qty, price = ev.last_qty, ev.last_px
        tid = self.market.print_trade(
            o.symbol, price, qty, (o.side == "BUY") == maker, now, feed=False
        )
        self._dirty.add(o.symbol)
        o.executed += qty
        o.cum_quote += qty * price
        o.status = "FILLED" if o.executed >= o.orig_qty else "PARTIALLY_FILLED"
        o.update_time = now
        if len(o.fills) == 0:
            self.on_first_fill()
        o.fills.append(
            {
                "price": fmt(price),
                "qty": fmt(qty),
                "commission": fmt(ev.fee),
                "commissionAsset": ev.fee_currency,
                "tradeId": tid,
            }
        )
        record = {
            "symbol": o.symbol,
            "id": tid,
            "orderId": o.order_id,
            "orderListId": o.order_list_id,
            "price": fmt(price),
            "qty": fmt(qty),
            "quoteQty": fmt(qty * price),
            "commission": fmt(ev.fee),
            "commissionAsset": ev.fee_currency,
            "time": now,
            "isBuyer": o.side == "BUY",
            "isMaker": maker,
            "isBestMatch": True,
        }
        self.my_trades.append(record)
        self.ledger.trade({**record, "clientOrderId": o.client_order_id})
        if o.status == "FILLED":
            self._close(o)
        self._report(
            o,
            "TRADE",
            now,
            last_qty=qty,
            last_price=price,
            commission=ev.fee,
            commission_asset=ev.fee_currency,
            trade_id=tid,
            maker=maker,
        )
        if o.order_list_id != -1:
            self.list_leg_executed(o, now)

    def _finish(
        self,
        o: BinanceOrder,
        status: str,
        now: int,
        *,
        reason: str = "",
        cancel_id: str | None = None,
    ) -> None:
        o.status, o.update_time = status, now
        if reason:
            o.expiry_reason = reason
        self._close(o)
        self._report(o, "CANCELED" if status == "CANCELED" else status, now, cancel_id=cancel_id)

    def _close(self, o: BinanceOrder) -> None:
        if self.open_by_client.get(o.client_order_id) is o:
            del self.open_by_client[o.client_order_id]

    def _report(self, o: BinanceOrder, exec_type: str, now: int, **kw: Any) -> None:
        self._exec_seq += 1
        self._emit(o.report(now, exec_type, self._exec_seq, **kw))

    # --- triggers ----------------------------------------------------------------------

    def _run_triggers(self, now: int) -> None:
        while self._dirty:
            symbol = self._dirty.pop()
            for o in [
                o for o in self.open_by_client.values() if o.symbol == symbol and not o.triggered
            ]:
                if (
                    o.is_open
                    and not o.triggered
                    and self.would_trigger(symbol, o.type, o.side, o.stop_price)
                ):
                    self.trigger(o, now)

    def trigger(self, o: BinanceOrder, now: int) -> None:
        if o.order_list_id != -1:
            self.list_leg_triggered(o, now)
        self.account.release(o.held_ccy, o.held)
        o.held, o.triggered, o.working_time, o.update_time = _ZERO, True, now, now
        market = o.type in ("STOP_LOSS", "TAKE_PROFIT")
        events = self._submit(o, OrderType.MARKET if market else OrderType.LIMIT)
        if any(isinstance(e, OrderRejected) for e in events):
            self._finish(o, "EXPIRED", now, reason="EXCHANGE_CANCELED")
            return
        self._handle(events, now)

    # --- lists (implemented in oco.py) ----------------------------------------------------

    def list_leg_executed(self, o: BinanceOrder, now: int) -> None:
        leg_executed(self, o, now)

    def list_leg_triggered(self, o: BinanceOrder, now: int) -> None:
        leg_triggered(self, o, now)

    def next_list_id(self) -> int:
        self._list_seq += 1
        return self._list_seq

    def emit(self, event: dict[str, Any]) -> None:
        self._emit(event)

    def expire_leg(self, o: BinanceOrder, now: int) -> None:
        self.venue_cancel(o)
        self._finish(o, "EXPIRED", now, reason="OCO_TRIGGER")

    # --- cancels and queries -----------------------------------------------------------------

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> BinanceOrder | None:
        if order_id is not None:
            o = self.orders.get((symbol, order_id))
            if o is not None and client_id is not None and o.client_order_id != client_id:
                return None
            return o
        matches = [
            o for (s, _), o in self.orders.items() if s == symbol and o.client_order_id == client_id
        ]
        open_ = [o for o in matches if o.is_open]
        best = open_ or matches
        return best[-1] if best else None

    def cancel(self, o: BinanceOrder, cancel_id: str | None) -> dict[str, Any]:
        """Cancel an open order (the whole list for an OCO leg); the DELETE /order answer."""
        if not o.is_open:
            raise unknown_order()
        now = self.now_ms()
        cid = cancel_id or self.new_client_id()
        if o.order_list_id != -1:
            cancel_list(self, self.lists[o.order_list_id], cid)
        else:
            self.venue_cancel(o)
            self._finish(o, "CANCELED", now, cancel_id=cid)
            self.positions_changed(now)
        return self.cancel_body(o, cid, now)

    @staticmethod
    def cancel_body(o: BinanceOrder, cid: str, now: int) -> dict[str, Any]:
        body = o.result(now)
        body.pop("workingTime", None)
        body.pop("expiryReason", None)
        return {
            "symbol": o.symbol,
            "origClientOrderId": o.client_order_id,
            "orderId": o.order_id,
            "orderListId": o.order_list_id,
            "clientOrderId": cid,
            **{
                k: v
                for k, v in body.items()
                if k not in ("symbol", "orderId", "orderListId", "clientOrderId")
            },
        }

    def finish_canceled(self, o: BinanceOrder, now: int, cid: str) -> None:
        self.venue_cancel(o)
        self._finish(o, "CANCELED", now, cancel_id=cid)

    # --- balances --------------------------------------------------------------------------

    def positions(self) -> dict[str, tuple[Decimal, Decimal]]:
        out = {}
        for asset in sorted(self.assets):
            total, free = self.account.total(asset), self.account.free(asset)
            out[asset] = (free, total - free)
        return out

    def positions_changed(self, now: int) -> None:
        current = self.positions()
        changed = [a for a, v in current.items() if self._sent_positions.get(a) != v]
        if not changed:
            return
        self._sent_positions = current
        self.update_time = now
        self._emit(
            {
                "e": "outboundAccountPosition",
                "E": now,
                "u": now,
                "B": [{"a": a, "f": fmt(current[a][0]), "l": fmt(current[a][1])} for a in changed],
            }
        )

    def adjust_balance(self, asset: str, delta: Decimal) -> None:
        """A deposit (> 0) or withdrawal (< 0) made outside the API (R24)."""
        if delta < 0 and -delta > self.account.free(asset):
            raise ApiError(-2010, _INSUFFICIENT)
        # SimAccount has no deposit operation: adjust its balance table directly
        balances = self.account._balances
        balances[asset] = balances.get(asset, _ZERO) + delta
        self.assets.add(asset)
        now = self.now_ms()
        self._emit({"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(delta), "T": now})
        self.positions_changed(now)

    def account_body(self) -> dict[str, Any]:
        maker, taker = self.fees.maker_bps, self.fees.taker_bps
        return {
            "makerCommission": int(maker),
            "takerCommission": int(taker),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(maker / 10_000),
                "taker": fmt(taker / 10_000),
                "buyer": fmt(_ZERO),
                "seller": fmt(_ZERO),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.update_time,
            "accountType": "SPOT",
            "balances": [
                {"asset": a, "free": fmt(f), "locked": fmt(lk)}
                for a, (f, lk) in self.positions().items()
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }
