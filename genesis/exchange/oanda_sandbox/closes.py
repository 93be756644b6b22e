"""Closing trades and positions: ``PUT /trades/{spec}/close`` and ``/positions/{i}/close``.

Each close is a MARKET order (``tradeClose`` or ``long/shortPositionCloseout``)
filled at once against the quote; ``units`` "ALL" closes everything, a number
closes that many (a partial close leaves the rest of the trade open).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.exchange.oanda_sandbox.account import ZERO
from genesis.exchange.oanda_sandbox.engine import Engine, Response
from genesis.exchange.oanda_sandbox.orders import Order, Reject

__all__ = ["close_position", "close_trade"]


def _close_units(value: object, available: Decimal, key: str, too_big: str) -> Decimal:
    """ "ALL" or a positive whole number not above ``available`` (a magnitude)."""
    if value is None or value == "ALL":
        return available
    try:
        units = Decimal(str(value))
    except InvalidOperation:
        raise Reject("UNITS_INVALID", f"{key} {value!r} is not ALL or a number") from None
    if not units.is_finite() or units <= 0 or units != units.to_integral_value():
        raise Reject("UNITS_INVALID", f"{key} {value!r} must be a positive whole number")
    if units > available:
        raise Reject(too_big, f"{key} {units} exceeds the {available} units open")
    return units


def _market(engine: Engine, units: Decimal, field: str, detail: dict[str, Any]) -> Order:
    fields = {"type": "MARKET", "instrument": engine.spec.name, "units": str(units),
              "timeInForce": "FOK", "positionFill": "REDUCE_ONLY", field: detail}  # fmt: skip
    reason = "TRADE_CLOSE" if field == "tradeClose" else "POSITION_CLOSEOUT"
    tx = engine.account.record("MARKET_ORDER", engine.now_ns, reason=reason, **fields)
    order = Order(
        id=tx["id"], type=reason, instrument=engine.spec.name, units=units, price=None,
        tif="FOK", create_ns=engine.now_ns, spec=fields,
    )  # fmt: skip
    engine.orders[order.id] = order
    return order


def close_trade(engine: Engine, spec: str, body: object) -> Response:
    """Close all or ``units`` of one trade: 200, 400 (units) or 404 (no such open trade)."""
    acct = engine.account
    acct.begin_batch()
    trade = engine.find_trade(spec)
    if trade is None or not trade.is_open:
        return 404, {
            "errorCode": "TRADE_DOESNT_EXIST",
            "errorMessage": f"The Trade specified ({spec}) does not exist or is closed",
            "lastTransactionID": acct.last_id,
        }
    first = int(acct.last_id) + 1
    raw = body.get("units") if isinstance(body, dict) else None
    try:
        units = _close_units(
            raw, abs(trade.current_units), "units", "CLOSE_TRADE_UNITS_EXCEED_TRADE_SIZE"
        )
    except Reject as exc:
        tx = acct.record("MARKET_ORDER_REJECT", engine.now_ns, rejectReason=exc.reason,
                         tradeClose={"tradeID": trade.id, "units": str(raw)})  # fmt: skip
        return 400, {"orderRejectTransaction": tx, "errorCode": exc.reason,
                     "errorMessage": exc.message, "lastTransactionID": acct.last_id}  # fmt: skip
    signed = -units if trade.current_units > 0 else units
    detail = {"tradeID": trade.id, "units": "ALL" if raw in (None, "ALL") else str(units)}
    order = _market(engine, signed, "tradeClose", detail)
    out: dict[str, Any] = {"orderCreateTransaction": acct.transactions[-1]}
    engine.fill_order(order, signed, None, "FOK", out, only_trade=trade.id)
    out["relatedTransactionIDs"] = [str(i) for i in range(first, int(acct.last_id) + 1)]
    out["lastTransactionID"] = acct.last_id
    return 200, out


def close_position(engine: Engine, instrument: str, body: object) -> Response:
    """Close the long and/or short side: ``longUnits``/``shortUnits`` ALL, NONE or a number."""
    acct = engine.account
    acct.begin_batch()
    if instrument not in engine.specs:
        return 404, {"errorCode": "INSTRUMENT_UNKNOWN", "lastTransactionID": acct.last_id,
                     "errorMessage": f"instrument {instrument!r} is unknown"}  # fmt: skip
    first = int(acct.last_id) + 1
    req = body if isinstance(body, dict) else {}
    long, short = acct.position_units(instrument)
    out: dict[str, Any] = {}
    plan: list[tuple[str, Decimal, int, Any]] = []
    try:
        for side, key, held, sign in (
            ("long", "longUnits", long, 1),
            ("short", "shortUnits", -short, -1),
        ):
            value = req.get(key, "NONE")
            if value == "NONE":
                continue
            if held == ZERO:
                raise Reject(
                    "CLOSEOUT_POSITION_DOESNT_EXIST", f"there is no {side} position to close"
                )
            units = _close_units(value, held, key, "CLOSEOUT_POSITION_UNITS_EXCEED_POSITION_SIZE")
            plan.append((side, units, sign, value))
        if not plan:
            raise Reject(
                "CLOSEOUT_POSITION_REJECT", "longUnits or shortUnits must be ALL or a number"
            )
    except Reject as exc:
        tx = acct.record("MARKET_ORDER_REJECT", engine.now_ns, rejectReason=exc.reason,
                         instrument=instrument)  # fmt: skip
        return 400, {"longOrderRejectTransaction": tx, "errorCode": exc.reason,
                     "errorMessage": exc.message, "lastTransactionID": acct.last_id}  # fmt: skip
    for side, units, sign, value in plan:
        signed = -units * sign
        detail = {"instrument": instrument, "units": str(value)}
        order = _market(engine, signed, f"{side}PositionCloseout", detail)
        leg: dict[str, Any] = {"orderCreateTransaction": acct.transactions[-1]}
        engine.fill_order(order, signed, None, "FOK", leg, side_only=sign)
        for name, tx in leg.items():
            out[side + name[0].upper() + name[1:]] = tx
    out["relatedTransactionIDs"] = [str(i) for i in range(first, int(acct.last_id) + 1)]
    out["lastTransactionID"] = acct.last_id
    return 200, out
