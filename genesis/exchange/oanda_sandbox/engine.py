"""The OANDA core: orders around the kernel's ``SimulatedVenue`` (sans-I/O).

Executions go through the simulated matching engine: a fill is a MARKET (or a
priced LIMIT with FOK/IOC) ``SubmitOrder`` against the current quote, so a buy
takes the ask and a sell the bid, a bound or a limit fills only at that price
or better, and the engine's FOK/IOC rules decide what fills. The replay does
not carry sizes, so each side of a quote shows ``QUOTE_LIQUIDITY`` units.

Pending orders (LIMIT, STOP, MARKET_IF_TOUCHED and the dependent TAKE_PROFIT,
STOP_LOSS, TRAILING_STOP_LOSS) are held here, as OANDA's are, and checked on
every quote: a buy triggers on the ask, a sell on the bid.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import OrderFilled, QuoteTick
from genesis.core.instruments import Instrument
from genesis.exchange.fills import FeeModel
from genesis.exchange.oanda_sandbox.account import ZERO, Account, Trade, Tx
from genesis.exchange.oanda_sandbox.market import InstrumentSpec, Quote, QuoteReplay
from genesis.exchange.oanda_sandbox.orders import Order, OrderRequest, Reject, parse_order
from genesis.exchange.simulated import SimulatedVenue

__all__ = ["QUOTE_LIQUIDITY", "Engine", "Response"]

QUOTE_LIQUIDITY = Decimal(10_000_000)
_HUGE = Decimal(10) ** 15  # the matching engine's own (spot) account never limits a fill
Response = tuple[int, dict[str, Any]]
_DEPENDENT = ("TAKE_PROFIT", "STOP_LOSS", "TRAILING_STOP_LOSS")


class Engine:
    """The account's orders, trades and fills on the replayed quotes of ``spec``."""

    def __init__(
        self,
        spec: InstrumentSpec,
        replay: QuoteReplay,
        balance: Decimal,
        publish: Callable[[Tx], None],
    ) -> None:
        self.spec = spec
        self.specs = {spec.name: spec}
        self.replay = replay
        self.account = Account(balance, publish)
        self.account.created_ns = replay.current.ts_ns
        self.orders: dict[str, Order] = {}
        self._instrument = Instrument(
            symbol=spec.name,
            base=spec.name.split("_")[0],
            quote=spec.name.split("_")[1],
            tick_size=spec.tick,
            step_size=Decimal(1).scaleb(-spec.trade_units_precision),
            venue="OANDA",
        )
        self.venue = SimulatedVenue(
            instruments=lambda _: self._instrument,
            balances={self._instrument.base: _HUGE, self._instrument.quote: _HUGE},
            fees=FeeModel(),
            name="OANDA-SBX",
        )
        self._ns = 0  # the matching engine's clock: monotonic even when the replay wraps
        self._seq = 0
        self._feed(replay.current)

    # --- market -------------------------------------------------------------

    @property
    def quote(self) -> Quote:
        return self.replay.current

    @property
    def now_ns(self) -> int:
        return self.replay.current.ts_ns

    def advance(self, minutes: int = 1) -> Quote:
        """Step the replay and act on the new quote (triggers, expiries)."""
        quote = self.replay.advance(minutes)
        self.on_quote()
        return quote

    def set_quote(self, bid: Decimal, ask: Decimal) -> Quote:
        quote = self.replay.set_quote(bid, ask)
        self.on_quote()
        return quote

    def on_quote(self) -> None:
        self._feed(self.quote)
        for order in sorted(self.pending(), key=lambda o: int(o.id)):
            if order.state == "PENDING":
                self.account.begin_batch()  # what one order's trigger does is one batch
                self.check_order(order)

    def _feed(self, quote: Quote) -> None:
        self._ns += 1_000_000
        self.venue.process(
            QuoteTick(
                ts_event=self._ns,
                ts_init=self._ns,
                instrument_id=self.spec.name,
                bid=quote.bid,
                ask=quote.ask,
                bid_size=QUOTE_LIQUIDITY,
                ask_size=QUOTE_LIQUIDITY,
            )
        )

    def _execute(self, units: Decimal, limit: Decimal | None, tif: str) -> tuple[Decimal, Decimal]:
        """Fill ``units`` (signed) on the matching engine; returns (filled units, price)."""
        self._seq += 1
        self._ns += 1
        cmd = SubmitOrder(
            ts_init=self._ns,
            strategy_id="oanda-sandbox",
            instrument_id=self.spec.name,
            client_order_id=f"x{self._seq}",
            side=Side.BUY if units > 0 else Side.SELL,
            order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
            quantity=abs(units),
            price=limit,
            time_in_force=TimeInForce.IOC if tif == "IOC" else TimeInForce.FOK,
        )
        self.venue.execute(cmd, self._ns)
        fills = [e for e in self.venue.deliver_until(self._ns) if isinstance(e, OrderFilled)]
        qty = sum((f.last_qty for f in fills), ZERO)
        if not qty:
            return ZERO, ZERO
        vwap = sum((f.last_qty * f.last_px for f in fills), ZERO) / qty
        return (qty if units > 0 else -qty), vwap.quantize(self.spec.tick)

    # --- queries ------------------------------------------------------------

    def pending(self) -> list[Order]:
        return [o for o in self.orders.values() if o.state == "PENDING"]

    def find_order(self, spec: str) -> Order | None:
        if spec.startswith("@"):
            # the newest holder of the id (a replacement may keep the replaced order's)
            found = (o for o in reversed(self.orders.values()) if o.client_id == spec[1:])
            return next(found, None)
        return self.orders.get(spec)

    def find_trade(self, spec: str) -> Trade | None:
        if spec.startswith("@"):
            ext = spec[1:]
            return next(
                (
                    t
                    for t in self.account.trades.values()
                    if t.client_extensions and t.client_extensions.get("id") == ext
                ),
                None,
            )
        return self.account.trades.get(spec)

    def unrealized(self, trade: Trade) -> Decimal:
        q = self.quote
        close = q.bid if trade.current_units > 0 else q.ask
        return trade.current_units * (close - trade.price)

    # --- orders -------------------------------------------------------------

    def create_order(self, body: object) -> Response:
        """POST /orders: 201 with the create (and fill/cancel) transactions, or 400."""
        acct = self.account
        acct.begin_batch()
        first = int(acct.last_id) + 1
        try:
            req = parse_order(body, self.specs, self.now_ns)
            self._check_new(req)
        except Reject as exc:
            kind = _kind_of(body)
            tx = acct.record(f"{kind}_ORDER_REJECT", self.now_ns, rejectReason=exc.reason,
                             **_echo(body))  # fmt: skip
            return 400, {
                "orderRejectTransaction": tx,
                "relatedTransactionIDs": [tx["id"]],
                "lastTransactionID": acct.last_id,
                "errorCode": exc.reason,
                "errorMessage": exc.message,
            }
        order = self._open_order(req)
        out: dict[str, Any] = {"orderCreateTransaction": order.spec["_tx"]}
        del order.spec["_tx"]
        if req.type == "MARKET" or req.tif in ("FOK", "IOC"):
            self._fill_now(order, out)
        else:
            self.check_order(order, out)
        out["relatedTransactionIDs"] = [str(i) for i in range(first, int(acct.last_id) + 1)]
        out["lastTransactionID"] = acct.last_id
        return 201, out

    def _check_new(self, req: OrderRequest, replacing: Order | None = None) -> None:
        cid = (req.client_extensions or {}).get("id")
        if cid and any(o.client_id == cid and o is not replacing for o in self.orders.values()):
            raise Reject("CLIENT_ORDER_ID_ALREADY_EXISTS", f"client order id {cid!r} is in use")
        long, short = self.account.position_units(req.instrument)
        reduces = -min(abs(req.units), abs(short if req.units > 0 else long))
        if req.position_fill == "REDUCE_ONLY" and reduces == 0:
            raise Reject("REDUCE_ONLY_VIOLATION", "REDUCE_ONLY order would open a position")
        opening = abs(req.units) + reduces
        if opening > 0 and req.type == "MARKET":
            need = opening * self.quote.mid * self.spec.margin_rate
            if need > self.margin_available():
                raise Reject(
                    "INSUFFICIENT_MARGIN",
                    f"opening {opening} units needs {need:.4f} margin, "
                    f"{self.margin_available():.4f} available",
                )

    def margin_used(self) -> Decimal:
        mid = self.quote.mid
        return sum(
            (
                abs(t.current_units) * mid * self.spec.margin_rate
                for t in self.account.open_trades()
            ),
            ZERO,
        )

    def nav(self) -> Decimal:
        return self.account.balance + sum(
            (self.unrealized(t) for t in self.account.open_trades()), ZERO
        )

    def margin_available(self) -> Decimal:
        return max(ZERO, self.nav() - self.margin_used())

    def _open_order(self, req: OrderRequest, reason: str = "CLIENT_ORDER", **extra: Any) -> Order:
        spec = {**_order_fields(req, self.spec.display_precision), **extra}
        tx = self.account.record(f"{req.type}_ORDER", self.now_ns, reason=reason, **spec)
        order = Order(
            id=tx["id"],
            type=req.type,
            instrument=req.instrument,
            units=req.units,
            price=req.price,
            tif=req.tif,
            create_ns=self.now_ns,
            spec={**spec, "_tx": tx},
            gtd_ns=req.gtd_ns,
            price_bound=req.price_bound,
            request=req,
        )
        if req.type == "MARKET_IF_TOUCHED" and req.price is not None:
            order.direction = 1 if req.price > self.quote.mid else -1
        self.orders[order.id] = order
        return order

    def _fill_now(self, order: Order, out: dict[str, Any]) -> None:
        limit = order.price if order.type == "LIMIT" else order.price_bound
        if order.type in ("STOP", "MARKET_IF_TOUCHED") and not self._triggered(order):
            self._cancel(order, "BOUNDS_VIOLATION", out)
            return
        self.fill_order(order, order.units, limit, order.tif, out)

    def fill_order(
        self,
        order: Order,
        units: Decimal,
        limit: Decimal | None,
        tif: str,
        out: dict[str, Any] | None = None,
        **close: Any,
    ) -> bool:
        """Execute ``order``; records the ORDER_FILL (or ORDER_CANCEL if nothing filled)."""
        filled, price = self._execute(units, limit, tif)
        if not filled:
            reason = "BOUNDS_VIOLATION" if limit is not None else "INSUFFICIENT_LIQUIDITY"
            self._cancel(order, reason, out)
            return False
        q = self.quote
        req = order.request
        tx, opened, closed = self.account.fill(
            instrument=order.instrument,
            units=filled,
            price=price,
            ts_ns=self.now_ns,
            order_id=order.id,
            reason=_FILL_REASON[order.type],
            bid=q.bid,
            ask=q.ask,
            precision=self.spec.display_precision,
            margin_rate=self.spec.margin_rate,
            client_order_id=order.client_id,
            trade_client_extensions=req.trade_client_extensions if req else None,
            **close,
        )
        order.state = "FILLED"
        order.outcome = {"fillingTransactionID": tx["id"], "filledTime": tx["time"]}
        if opened is not None:
            order.outcome["tradeOpenedID"] = opened.id
        if out is not None:
            out["orderFillTransaction"] = tx
        if filled != units and tif == "IOC":  # the rest of an IOC is cancelled
            self._record_cancel(order, "INSUFFICIENT_LIQUIDITY", out, keep_state=True)
        for trade in closed:
            self._cancel_dependents(trade)
        if opened is not None and req is not None:
            self._on_fill_orders(req, opened)
        return True

    def _cancel(
        self, order: Order, reason: str, out: dict[str, Any] | None = None, **extra: Any
    ) -> Tx:
        order.state = "CANCELLED"
        return self._record_cancel(order, reason, out, **extra)

    def _record_cancel(
        self,
        order: Order,
        reason: str,
        out: dict[str, Any] | None,
        keep_state: bool = False,
        **extra: Any,
    ) -> Tx:
        fields: dict[str, Any] = {"orderID": order.id, "reason": reason, **extra}
        if order.client_id:
            fields["clientOrderID"] = order.client_id
        tx = self.account.record("ORDER_CANCEL", self.now_ns, **fields)
        if not keep_state:
            order.outcome = {"cancellingTransactionID": tx["id"], "cancelledTime": tx["time"],
                             **extra}  # fmt: skip
        if out is not None:
            out["orderCancelTransaction"] = tx
        return tx

    def cancel_order(self, spec: str) -> Response:
        """PUT /orders/{spec}/cancel: 200 with the ORDER_CANCEL, or 404."""
        self.account.begin_batch()
        order = self.find_order(spec)
        if order is None or order.state != "PENDING":
            why = "does not exist" if order is None else f"is {order.state}, not PENDING"
            tx = self.account.record(
                "ORDER_CANCEL_REJECT", self.now_ns, orderID=spec, rejectReason="ORDER_DOESNT_EXIST"
            )
            return 404, {
                "orderCancelRejectTransaction": tx,
                "relatedTransactionIDs": [tx["id"]],
                "lastTransactionID": self.account.last_id,
                "errorCode": "ORDER_DOESNT_EXIST",
                "errorMessage": f"The order {spec} {why}",
            }
        tx = self._cancel(order, "CLIENT_REQUEST")
        if order.trade_id is not None:
            self.account.trades[order.trade_id].orders.pop(order.type, None)
        return 200, {
            "orderCancelTransaction": tx,
            "relatedTransactionIDs": [tx["id"]],
            "lastTransactionID": self.account.last_id,
        }

    def replace_order(self, spec: str, body: object) -> Response:
        """PUT /orders/{spec}: cancel a pending entry order and create its replacement in
        one batch (201: ``orderCancelTransaction`` reason CLIENT_REQUEST_REPLACED with
        ``replacedByOrderID``, ``orderCreateTransaction`` reason REPLACEMENT with
        ``replacesOrderID``, then what the new order did at once: its fill, or its cancel
        as ``replacingOrderCancelTransaction``); 400 with the reject (the order stands);
        404 when no such pending order exists. The replacement may reuse the replaced
        order's client id."""
        acct = self.account
        acct.begin_batch()
        first = int(acct.last_id) + 1
        old = self.find_order(spec)
        if old is None or old.state != "PENDING" or old.trade_id is not None:
            why = "does not exist" if old is None else "is not a pending entry order"
            tx = acct.record("ORDER_CANCEL_REJECT", self.now_ns, orderID=spec,
                             rejectReason="ORDER_DOESNT_EXIST")  # fmt: skip
            return 404, {"orderCancelRejectTransaction": tx, "relatedTransactionIDs": [tx["id"]],
                         "lastTransactionID": acct.last_id, "errorCode": "ORDER_DOESNT_EXIST",
                         "errorMessage": f"The order {spec} {why}"}  # fmt: skip
        try:
            req = parse_order(body, self.specs, self.now_ns)
            self._check_new(req, replacing=old)
        except Reject as exc:
            kind = f"{_kind_of(body)}_ORDER_REJECT"
            tx = acct.record(kind, self.now_ns, rejectReason=exc.reason, replacesOrderID=old.id,
                             **_echo(body))  # fmt: skip
            return 400, {"orderRejectTransaction": tx, "relatedTransactionIDs": [tx["id"]],
                         "lastTransactionID": acct.last_id, "errorCode": exc.reason,
                         "errorMessage": exc.message}  # fmt: skip
        new_id = str(int(acct.last_id) + 2)  # the cancel comes first, the create next
        out: dict[str, Any] = {"orderCancelTransaction": self._cancel(
            old, "CLIENT_REQUEST_REPLACED", replacedByOrderID=new_id)}  # fmt: skip
        order = self._open_order(req, "REPLACEMENT", replacesOrderID=old.id)
        out["orderCreateTransaction"] = order.spec.pop("_tx")
        now: dict[str, Any] = {}
        if req.type == "MARKET" or req.tif in ("FOK", "IOC"):
            self._fill_now(order, now)
        else:
            self.check_order(order, now)
        if "orderFillTransaction" in now:
            out["orderFillTransaction"] = now["orderFillTransaction"]
        if "orderCancelTransaction" in now:
            out["replacingOrderCancelTransaction"] = now["orderCancelTransaction"]
        out["relatedTransactionIDs"] = [str(i) for i in range(first, int(acct.last_id) + 1)]
        out["lastTransactionID"] = acct.last_id
        return 201, out

    # --- dependent orders ---------------------------------------------------

    def _on_fill_orders(self, req: OrderRequest, trade: Trade) -> None:
        sl = req.stop_loss
        if sl is None and req.stop_loss_distance is not None:
            sign = -1 if trade.current_units > 0 else 1
            sl = (trade.price + sign * req.stop_loss_distance).quantize(self.spec.tick)
        for kind, price, distance in (
            ("TAKE_PROFIT", req.take_profit, None),
            ("STOP_LOSS", sl, None),
            ("TRAILING_STOP_LOSS", None, req.trailing_distance),
        ):
            if price is not None or distance is not None:
                self.add_dependent(trade, kind, price, distance, "ON_FILL")

    def add_dependent(
        self, trade: Trade, kind: str, price: Decimal | None, distance: Decimal | None, reason: str
    ) -> Order:
        p = self.spec.display_precision
        fields: dict[str, Any] = {"tradeID": trade.id, "timeInForce": "GTC",
                                  "triggerCondition": "DEFAULT"}  # fmt: skip
        if price is not None:
            fields["price"] = f"{price:.{p}f}"
        if distance is not None:
            fields["distance"] = f"{distance:.{p}f}"
        if trade.client_extensions and trade.client_extensions.get("id"):
            fields["clientTradeID"] = trade.client_extensions["id"]
        tx = self.account.record(f"{kind}_ORDER", self.now_ns, reason=reason, **fields)
        order = Order(
            id=tx["id"], type=kind, instrument=trade.instrument, units=ZERO, price=price,
            tif="GTC", create_ns=self.now_ns, spec={"type": kind, **fields},
            trade_id=trade.id, distance=distance,
        )  # fmt: skip
        if distance is not None:
            q = self.quote
            long = trade.current_units > 0
            order.trailing_value = (q.bid - distance) if long else (q.ask + distance)
        self.orders[order.id] = order
        trade.orders[kind] = order.id
        return order

    def _cancel_dependents(self, trade: Trade) -> None:
        for kind in _DEPENDENT:
            order = self.orders.get(trade.orders.pop(kind, ""))
            if order is not None and order.state == "PENDING":
                self._cancel(order, "LINKED_TRADE_CLOSED")

    # --- triggers -----------------------------------------------------------

    def _side(self, order: Order) -> int:
        """+1 for a buy, -1 for a sell (a dependent order sells a long trade)."""
        if order.trade_id is not None:
            return -1 if self.account.trades[order.trade_id].current_units > 0 else 1
        return 1 if order.units > 0 else -1

    def _triggered(self, order: Order) -> bool:
        q = self.quote
        buy = self._side(order) > 0
        px = q.ask if buy else q.bid
        if order.type == "TRAILING_STOP_LOSS":
            assert order.distance is not None
            assert order.trailing_value is not None
            if buy:
                order.trailing_value = min(order.trailing_value, q.ask + order.distance)
            else:
                order.trailing_value = max(order.trailing_value, q.bid - order.distance)
            level = order.trailing_value
            return px >= level if buy else px <= level
        assert order.price is not None
        if order.type in ("LIMIT", "TAKE_PROFIT"):
            return px <= order.price if buy else px >= order.price
        if order.type in ("STOP", "STOP_LOSS"):
            return px >= order.price if buy else px <= order.price
        # MARKET_IF_TOUCHED: the price reached the level from the side it started on
        return px >= order.price if order.direction > 0 else px <= order.price

    def check_order(self, order: Order, out: dict[str, Any] | None = None) -> None:
        if order.gtd_ns is not None and self.now_ns >= order.gtd_ns:
            self._cancel(order, "TIME_IN_FORCE_EXPIRED", out)
            return
        if not self._triggered(order):
            return
        if order.trade_id is not None:
            trade = self.account.trades[order.trade_id]
            limit = order.price if order.type == "TAKE_PROFIT" else None
            self.fill_order(order, -trade.current_units, limit, "FOK", out, only_trade=trade.id)
            return
        limit = order.price if order.type == "LIMIT" else order.price_bound
        self.fill_order(order, order.units, limit, "FOK", out)


_FILL_REASON = {
    "MARKET": "MARKET_ORDER",
    "LIMIT": "LIMIT_ORDER",
    "STOP": "STOP_ORDER",
    "MARKET_IF_TOUCHED": "MARKET_IF_TOUCHED_ORDER",
    "TAKE_PROFIT": "TAKE_PROFIT_ORDER",
    "STOP_LOSS": "STOP_LOSS_ORDER",
    "TRAILING_STOP_LOSS": "TRAILING_STOP_LOSS_ORDER",
    "TRADE_CLOSE": "MARKET_ORDER_TRADE_CLOSE",
    "POSITION_CLOSEOUT": "MARKET_ORDER_POSITION_CLOSEOUT",
}


def _kind_of(body: object) -> str:
    order = body.get("order") if isinstance(body, dict) else None
    kind = order.get("type") if isinstance(order, dict) else None
    return kind if kind in ("MARKET", "LIMIT", "STOP", "MARKET_IF_TOUCHED") else "MARKET"


def _echo(body: object) -> dict[str, Any]:
    """The request's own fields on a reject transaction (strings only, as sent)."""
    order = body.get("order") if isinstance(body, dict) else None
    if not isinstance(order, dict):
        return {}
    keep = ("instrument", "units", "price", "timeInForce", "positionFill", "clientExtensions")
    return {k: order[k] for k in keep if k in order and isinstance(order[k], str | dict)}


def _order_fields(req: OrderRequest, precision: int) -> dict[str, Any]:
    p = precision
    fields: dict[str, Any] = {
        "type": req.type,
        "instrument": req.instrument,
        "units": str(req.units),
        "timeInForce": req.tif,
        "positionFill": req.position_fill,
    }
    if req.price is not None:
        fields["price"] = f"{req.price:.{p}f}"
    if req.price_bound is not None:
        fields["priceBound"] = f"{req.price_bound:.{p}f}"
    if req.type != "MARKET":
        fields["triggerCondition"] = "DEFAULT"
    if req.gtd_ns is not None:
        fields["gtdTime"] = req.raw.get("gtdTime")
    if req.client_extensions:
        fields["clientExtensions"] = dict(req.client_extensions)
    if req.trade_client_extensions:
        fields["tradeClientExtensions"] = dict(req.trade_client_extensions)
    if req.take_profit is not None:
        fields["takeProfitOnFill"] = {"price": f"{req.take_profit:.{p}f}", "timeInForce": "GTC"}
    if req.stop_loss is not None or req.stop_loss_distance is not None:
        sl = req.raw.get("stopLossOnFill") or {}
        fields["stopLossOnFill"] = {**sl, "timeInForce": "GTC"}
    if req.trailing_distance is not None:
        ts = {"distance": f"{req.trailing_distance:.{p}f}", "timeInForce": "GTC"}
        fields["trailingStopLossOnFill"] = ts
    return fields
