"""Order requests: parsing and validating an ``OrderRequest`` body, and the order itself.

A bad request is refused with ``Reject(reason, message)``: ``reason`` is one of
OANDA's ``TransactionRejectReason`` words, which the server returns as the
``errorCode`` next to the ``*_ORDER_REJECT`` transaction, as OANDA does.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.exchange.oanda_sandbox.account import rfc3339
from genesis.exchange.oanda_sandbox.market import InstrumentSpec

__all__ = ["ENTRY_TYPES", "Order", "OrderRequest", "Reject", "parse_order", "parse_time"]

ENTRY_TYPES = ("MARKET", "LIMIT", "STOP", "MARKET_IF_TOUCHED")
_TIFS = {
    "MARKET": ("FOK", "IOC"),
    "LIMIT": ("GTC", "GTD", "GFD", "FOK", "IOC"),
    "STOP": ("GTC", "GTD", "GFD", "FOK", "IOC"),
    "MARKET_IF_TOUCHED": ("GTC", "GTD", "GFD"),
}
_DEFAULT_TIF = {"MARKET": "FOK"}
_POSITION_FILLS = ("DEFAULT", "REDUCE_FIRST", "OPEN_ONLY", "REDUCE_ONLY")


class Reject(Exception):
    """A refused request: OANDA's reject reason and a message saying what and why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class OrderRequest:
    """A validated entry order request (units signed, prices exact)."""

    type: str
    instrument: str
    units: Decimal
    price: Decimal | None
    price_bound: Decimal | None
    tif: str
    gtd_ns: int | None
    position_fill: str
    client_extensions: dict[str, str] | None
    trade_client_extensions: dict[str, str] | None
    take_profit: Decimal | None
    stop_loss: Decimal | None
    stop_loss_distance: Decimal | None
    trailing_distance: Decimal | None
    raw: dict[str, Any]


@dataclass(slots=True)
class Order:
    """An order the account holds (pending, or done with its outcome)."""

    id: str
    type: str
    instrument: str
    units: Decimal  # signed; 0 for a dependent order (it closes the whole trade)
    price: Decimal | None
    tif: str
    create_ns: int
    spec: dict[str, Any]  # the create transaction's order fields, rendered as OANDA does
    gtd_ns: int | None = None
    price_bound: Decimal | None = None
    trade_id: str | None = None
    distance: Decimal | None = None
    trailing_value: Decimal | None = None
    direction: int = 0  # MARKET_IF_TOUCHED: +1 triggers on a rise to price, -1 on a fall
    request: OrderRequest | None = None
    state: str = "PENDING"
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def client_id(self) -> str | None:
        ext = self.spec.get("clientExtensions")
        return ext.get("id") if isinstance(ext, dict) else None

    def to_json(self, precision: int) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "createTime": rfc3339(self.create_ns)}
        out.update(self.spec)
        out["state"] = self.state
        if self.trailing_value is not None:
            out["trailingStopValue"] = f"{self.trailing_value:.{precision}f}"
        out.update(self.outcome)
        return out


def parse_time(text: object, where: str) -> int:
    """An RFC3339 or UNIX (seconds.nanos) time as ns since the epoch."""
    if not isinstance(text, str) or not text:
        raise Reject("TIME_IN_FORCE_GTD_TIMESTAMP_MISSING", f"{where}: a time string is required")
    try:
        if text.replace(".", "", 1).isdigit():
            secs, _, frac = text.partition(".")
            return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
        base, _, rest = text.rstrip("Z").partition(".")
        nanos = int((rest + "000000000")[:9]) if rest else 0
        stamp = _dt.datetime.fromisoformat(base).replace(tzinfo=_dt.UTC)
        return int(stamp.timestamp()) * 1_000_000_000 + nanos
    except ValueError:
        raise Reject("INVALID_TIME", f"{where}: {text!r} is not an RFC3339 or UNIX time") from None


def decimal_field(body: dict[str, Any], key: str, missing: str, invalid: str) -> Decimal | None:
    """``body[key]`` as a finite Decimal (OANDA sends numbers as strings), else None."""
    value = body.get(key)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Reject(invalid, f"{key} {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise Reject(invalid, f"{key} {value!r} is not a finite number")
    return number


def price_field(body: dict[str, Any], key: str, spec: InstrumentSpec, stem: str) -> Decimal | None:
    """A price: positive, with at most the instrument's display precision."""
    price = decimal_field(body, key, f"{stem}_MISSING", f"{stem}_INVALID")
    if price is None:
        return None
    if price <= 0:
        raise Reject(f"{stem}_INVALID", f"{key} {price} must be positive")
    if price != price.quantize(spec.tick):
        raise Reject(
            f"{stem}_PRECISION_EXCEEDED",
            f"{key} {price} has more than {spec.display_precision} decimals ({spec.name})",
        )
    return price


def _units(body: dict[str, Any], spec: InstrumentSpec) -> Decimal:
    if "units" not in body:
        raise Reject("UNITS_MISSING", "order units are required")
    units = decimal_field(body, "units", "UNITS_MISSING", "UNITS_INVALID")
    assert units is not None
    if units == 0:
        raise Reject("UNITS_INVALID", "order units must not be zero")
    if units != units.quantize(Decimal(1).scaleb(-spec.trade_units_precision)):
        raise Reject(
            "UNITS_PRECISION_EXCEEDED",
            f"units {units}: {spec.name} trades whole units (tradeUnitsPrecision "
            f"{spec.trade_units_precision})",
        )
    if abs(units) > spec.maximum_order_units:
        raise Reject(
            "UNITS_LIMIT_EXCEEDED",
            f"units {units} exceed maximumOrderUnits {spec.maximum_order_units}",
        )
    if abs(units) < spec.minimum_trade_size:
        raise Reject("UNITS_MINIMUM_NOT_MET", f"units {units} below minimumTradeSize")
    return units.quantize(Decimal(1).scaleb(-spec.trade_units_precision))


def _extensions(value: object, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        k in ("id", "tag", "comment") and isinstance(v, str) for k, v in value.items()
    ):
        raise Reject("CLIENT_EXTENSIONS_INVALID", f"{where}: expected {{id, tag, comment}} strings")
    return {str(k): str(v) for k, v in value.items()}


def _on_fill(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Reject(f"{_STEM[key]}_INVALID", f"{key} must be an object")
    return value


_STEM = {
    "takeProfitOnFill": "TAKE_PROFIT_ON_FILL",
    "stopLossOnFill": "STOP_LOSS_ON_FILL",
    "trailingStopLossOnFill": "TRAILING_STOP_LOSS_ON_FILL",
}


def _tif(order: dict[str, Any], kind: str, now_ns: int) -> tuple[str, int | None]:
    tif = str(order.get("timeInForce", _DEFAULT_TIF.get(kind, "GTC")))
    if tif not in _TIFS[kind]:
        raise Reject("TIME_IN_FORCE_INVALID", f"timeInForce {tif} is not allowed for {kind} orders")
    if tif != "GTD":
        return tif, None
    gtd_ns = parse_time(order.get("gtdTime"), "gtdTime")
    if gtd_ns <= now_ns:
        raise Reject("TIME_IN_FORCE_GTD_TIMESTAMP_IN_PAST", "gtdTime is not in the future")
    return tif, gtd_ns


def _trailing_distance(order: dict[str, Any], spec: InstrumentSpec) -> Decimal | None:
    ts = _on_fill(order, "trailingStopLossOnFill")
    stem = "TRAILING_STOP_LOSS_ON_FILL_PRICE_DISTANCE"
    distance = decimal_field(ts, "distance", f"{stem}_MISSING", f"{stem}_INVALID")
    if ts and distance is None:
        raise Reject(f"{stem}_MISSING", "trailingStopLossOnFill needs a distance")
    if distance is not None and not (
        spec.minimum_trailing_stop_distance <= distance <= spec.maximum_trailing_stop_distance
    ):
        raise Reject(
            f"{stem}_MINIMUM_NOT_MET",
            f"trailing stop distance {distance} outside [{spec.minimum_trailing_stop_distance}, "
            f"{spec.maximum_trailing_stop_distance}]",
        )
    return distance


def _on_fill_terms(
    order: dict[str, Any], spec: InstrumentSpec
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """(take profit, stop loss price, stop loss distance, trailing distance) to attach."""
    tp = _on_fill(order, "takeProfitOnFill")
    sl = _on_fill(order, "stopLossOnFill")
    sl_distance = decimal_field(sl, "distance", "STOP_LOSS_ON_FILL_PRICE_DISTANCE_MISSING",
                                "STOP_LOSS_ON_FILL_DISTANCE_INVALID")  # fmt: skip
    if sl_distance is not None and sl_distance <= 0:
        raise Reject("STOP_LOSS_ON_FILL_DISTANCE_INVALID", "stop loss distance must be positive")
    stop_loss = price_field(sl, "price", spec, "STOP_LOSS_ON_FILL_PRICE")
    if sl and stop_loss is None and sl_distance is None:
        raise Reject("STOP_LOSS_ON_FILL_PRICE_MISSING", "stopLossOnFill needs a price or distance")
    take_profit = price_field(tp, "price", spec, "TAKE_PROFIT_ON_FILL_PRICE")
    if tp and take_profit is None:
        raise Reject("TAKE_PROFIT_ON_FILL_PRICE_MISSING", "takeProfitOnFill needs a price")
    return take_profit, stop_loss, sl_distance, _trailing_distance(order, spec)


def parse_order(body: object, specs: dict[str, InstrumentSpec], now_ns: int) -> OrderRequest:
    """Validate the ``order`` of a POST /orders body; raises ``Reject`` saying what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
        raise Reject("INVALID_REQUEST", 'the body must be {"order": {...}}')
    order: dict[str, Any] = body["order"]
    kind = order.get("type", "MARKET")
    if kind not in ENTRY_TYPES:
        raise Reject(
            "ORDER_TYPE_INVALID", f"order type {kind!r} is not one of {', '.join(ENTRY_TYPES)}"
        )
    name = order.get("instrument")
    if not name:
        raise Reject("INSTRUMENT_MISSING", "order instrument is required")
    spec = specs.get(str(name))
    if spec is None:
        raise Reject("INSTRUMENT_UNKNOWN", f"instrument {name!r} is not tradeable on this account")
    units = _units(order, spec)
    price = price_field(order, "price", spec, "PRICE")
    if kind != "MARKET" and price is None:
        raise Reject("PRICE_MISSING", f"a {kind} order needs a price")
    tif, gtd_ns = _tif(order, kind, now_ns)
    position_fill = str(order.get("positionFill", "DEFAULT"))
    if position_fill not in _POSITION_FILLS:
        raise Reject("POSITION_FILL_INVALID", f"positionFill {position_fill!r} is unknown")
    take_profit, stop_loss, sl_distance, distance = _on_fill_terms(order, spec)
    return OrderRequest(
        type=kind,
        instrument=spec.name,
        units=units,
        price=price,
        price_bound=price_field(order, "priceBound", spec, "PRICE_BOUND"),
        tif=tif,
        gtd_ns=gtd_ns,
        position_fill=position_fill,
        client_extensions=_extensions(order.get("clientExtensions"), "clientExtensions"),
        trade_client_extensions=_extensions(
            order.get("tradeClientExtensions"), "tradeClientExtensions"
        ),
        take_profit=take_profit,
        stop_loss=stop_loss,
        stop_loss_distance=sl_distance,
        trailing_distance=distance,
        raw=order,
    )
