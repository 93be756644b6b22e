"""POST /orders of a trade's own exit: TAKE_PROFIT, STOP_LOSS or TRAILING_STOP_LOSS.

The order names its trade (``tradeID``, or ``clientTradeID``) and a ``price``
(or, for a stop loss, a ``distance`` from the trade's price; for a trailing
stop, its ``distance``). A trade holds one order of each kind: a second is
refused with ``*_ORDER_ALREADY_EXISTS`` (OANDA replaces them through
``PUT /trades/{id}/orders``, which is not served).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genesis.exchange.oanda_sandbox.account import Trade
from genesis.exchange.oanda_sandbox.engine import Engine, Response
from genesis.exchange.oanda_sandbox.orders import Reject, decimal_field, price_field

__all__ = ["DEPENDENT_TYPES", "create_dependent"]

DEPENDENT_TYPES = ("TAKE_PROFIT", "STOP_LOSS", "TRAILING_STOP_LOSS")


def _trade(engine: Engine, order: dict[str, Any]) -> Trade:
    trade_id, client_trade_id = order.get("tradeID"), order.get("clientTradeID")
    if trade_id is None and client_trade_id is None:
        raise Reject("TRADE_ID_UNSPECIFIED", "tradeID or clientTradeID is required")
    spec = str(trade_id) if trade_id is not None else f"@{client_trade_id}"
    trade = engine.find_trade(spec)
    if trade is None or not trade.is_open:
        raise Reject("TRADE_DOESNT_EXIST", f"trade {spec} does not exist or is closed")
    return trade


def _terms(
    engine: Engine, kind: str, order: dict[str, Any], trade: Trade
) -> tuple[Decimal | None, Decimal | None]:
    """(price, trailing distance) of the order; a stop-loss distance becomes a price."""
    spec = engine.spec
    price = price_field(order, "price", spec, "PRICE")
    distance = decimal_field(order, "distance", "DISTANCE_MISSING", "DISTANCE_INVALID")
    if distance is not None and (distance <= 0 or distance != distance.quantize(spec.tick)):
        raise Reject("DISTANCE_INVALID", f"distance {distance} must be positive, on the tick")
    if kind == "TRAILING_STOP_LOSS":
        if distance is None:
            raise Reject(
                "TRAILING_STOP_LOSS_ORDER_DISTANCE_MISSING", "a trailing stop needs a distance"
            )
        if (
            not spec.minimum_trailing_stop_distance
            <= distance
            <= spec.maximum_trailing_stop_distance
        ):
            raise Reject("TRAILING_STOP_LOSS_ORDER_DISTANCE_MINIMUM_NOT_MET",
                         f"trailing distance {distance} is out of range")  # fmt: skip
        return None, distance
    if kind == "STOP_LOSS" and price is None and distance is not None:
        sign = -1 if trade.current_units > 0 else 1
        price = trade.price + sign * distance
    if price is None:
        raise Reject("PRICE_MISSING", f"a {kind} order needs a price")
    return price, None


def create_dependent(engine: Engine, body: dict[str, Any]) -> Response:
    """Attach an exit order to an open trade: 201 (and a fill if it triggers at once) or 400."""
    acct = engine.account
    acct.begin_batch()
    first = int(acct.last_id) + 1
    order: dict[str, Any] = body["order"]
    kind = str(order["type"])
    try:
        trade = _trade(engine, order)
        if kind in trade.orders:
            raise Reject(f"{kind}_ORDER_ALREADY_EXISTS", f"trade {trade.id} already has a {kind}")
        if order.get("timeInForce", "GTC") != "GTC":
            raise Reject("TIME_IN_FORCE_INVALID", "this server keeps exit orders GTC only")
        price, distance = _terms(engine, kind, order, trade)
    except Reject as exc:
        echo = {
            k: order[k] for k in ("tradeID", "price", "distance") if isinstance(order.get(k), str)
        }
        tx = acct.record(f"{kind}_ORDER_REJECT", engine.now_ns, rejectReason=exc.reason, **echo)
        return 400, {"orderRejectTransaction": tx, "relatedTransactionIDs": [tx["id"]],
                     "lastTransactionID": acct.last_id, "errorCode": exc.reason,
                     "errorMessage": exc.message}  # fmt: skip
    dependent = engine.add_dependent(trade, kind, price, distance, "CLIENT_ORDER")
    out: dict[str, Any] = {"orderCreateTransaction": acct.transactions[-1]}
    engine.check_order(dependent, out)
    out["relatedTransactionIDs"] = [str(i) for i in range(first, int(acct.last_id) + 1)]
    out["lastTransactionID"] = acct.last_id
    return 201, out
