"""The Binance view of one order and its wire renderings (responses, executionReports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genesis.exchange.sandbox.symbols import fmt

__all__ = ["OPEN", "BinanceOrder", "OrderList"]

OPEN = frozenset({"NEW", "PARTIALLY_FILLED"})
_ZERO = Decimal(0)


@dataclass(slots=True, kw_only=True)
class BinanceOrder:
    """What Binance stores about an order; ``venue_id`` is its id inside SimulatedVenue.

    A conditional order (STOP_LOSS*, TAKE_PROFIT*) waits here, untriggered, with
    its own lock (``held``) until the last trade price reaches ``stop_price``;
    then it goes to the venue as MARKET or LIMIT.
    """

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal = _ZERO
    stop_price: Decimal = _ZERO
    orig_quote_qty: Decimal = _ZERO
    executed: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    status: str = "NEW"
    time: int = 0
    update_time: int = 0
    working_time: int = -1
    order_list_id: int = -1
    expiry_reason: str = ""
    venue_id: str = ""
    triggered: bool = True
    held_ccy: str = ""
    held: Decimal = _ZERO
    external: bool = False
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_working(self) -> bool:
        return self.triggered and self.type != "MARKET"

    def result(self, transact_time: int) -> dict[str, Any]:
        """The RESULT shape of POST /order (ACK fields plus the state)."""
        out = {
            **self.ack(transact_time),
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed),
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "workingTime": self.working_time,
            "selfTradePreventionMode": "NONE",
        }
        if self.stop_price:
            out["stopPrice"] = fmt(self.stop_price)
        if self.expiry_reason:
            out["expiryReason"] = self.expiry_reason
        return out

    def ack(self, transact_time: int) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id,
            "transactTime": transact_time,
        }

    def full(self, transact_time: int) -> dict[str, Any]:
        return {**self.result(transact_time), "fills": list(self.fills)}

    def query(self) -> dict[str, Any]:
        """GET /api/v3/order."""
        out = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed),
            "cummulativeQuoteQty": fmt(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "stopPrice": fmt(self.stop_price),
            "icebergQty": fmt(_ZERO),
            "time": self.time,
            "updateTime": self.update_time,
            "isWorking": self.is_working,
            "workingTime": self.working_time,
            "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "selfTradePreventionMode": "NONE",
        }
        if self.expiry_reason:
            out["expiryReason"] = self.expiry_reason
        return out

    def report(
        self,
        now: int,
        exec_type: str,
        exec_id: int,
        *,
        last_qty: Decimal = _ZERO,
        last_price: Decimal = _ZERO,
        commission: Decimal = _ZERO,
        commission_asset: str | None = None,
        trade_id: int = -1,
        maker: bool = False,
        cancel_id: str | None = None,
        reject: str = "NONE",
    ) -> dict[str, Any]:
        """One executionReport (§11.3); ``cancel_id`` is the cancel request's client id."""
        event: dict[str, Any] = {
            "e": "executionReport",
            "E": now,
            "s": self.symbol,
            "c": cancel_id if cancel_id is not None else self.client_order_id,
            "S": self.side,
            "o": self.type,
            "f": self.time_in_force,
            "q": fmt(self.orig_qty),
            "p": fmt(self.price),
            "P": fmt(self.stop_price),
            "F": fmt(_ZERO),
            "g": self.order_list_id,
            "C": self.client_order_id if cancel_id is not None else "",
            "x": exec_type,
            "X": self.status,
            "r": reject,
            "i": self.order_id,
            "l": fmt(last_qty),
            "z": fmt(self.executed),
            "L": fmt(last_price),
            "n": fmt(commission),
            "N": commission_asset,
            "T": now,
            "t": trade_id,
            "I": exec_id,
            "w": self.is_open and self.is_working,
            "m": maker,
            "M": False,
            "O": self.time,
            "Z": fmt(self.cum_quote),
            "Y": fmt(last_qty * last_price),
            "Q": fmt(self.orig_quote_qty),
            "W": self.working_time,
            "V": "NONE",
        }
        if self.expiry_reason:
            event["eR"] = self.expiry_reason
        return event


@dataclass(slots=True, kw_only=True)
class OrderList:
    """An OCO: two legs; the list's extra lock (beyond the venue leg's) is ``held``."""

    order_list_id: int
    symbol: str
    list_client_id: str
    legs: list[BinanceOrder]
    time: int
    status: str = "EXECUTING"  # listOrderStatus
    list_status_type: str = "EXEC_STARTED"
    held_ccy: str = ""
    held: Decimal = _ZERO

    def body(self, now: int, reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "orderListId": self.order_list_id,
            "contingencyType": "OCO",
            "listStatusType": self.list_status_type,
            "listOrderStatus": self.status,
            "listClientOrderId": self.list_client_id,
            "transactionTime": now,
            "symbol": self.symbol,
            "orders": [
                {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
                for o in self.legs
            ],
        }
        if reports is not None:
            out["orderReports"] = reports
        return out

    def status_event(self, now: int) -> dict[str, Any]:
        return {
            "e": "listStatus",
            "E": now,
            "s": self.symbol,
            "g": self.order_list_id,
            "c": "OCO",
            "l": self.list_status_type,
            "L": self.status,
            "r": "NONE",
            "C": self.list_client_id,
            "T": now,
            "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in self.legs],
        }
