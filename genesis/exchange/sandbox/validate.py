"""Placement checks of §8.3 steps 5-9: parameters, symbol, status, order type, filters.

Every check raises ``ApiError`` with Binance's code and message; nothing here
touches state. Steps 10-13 (rate, duplicate id, balance, maker/trigger) need
the account and the book and live in the engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.exchange.sandbox.errors import ApiError, bad_decimal, mandatory
from genesis.exchange.sandbox.symbols import ExchangeInfo, SymbolSpec

__all__ = [
    "ORDER_TYPES",
    "Placement",
    "check_filters",
    "decimal_param",
    "parse_placement",
    "require_symbol",
]

ORDER_TYPES = (
    "LIMIT",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
    "LIMIT_MAKER",
)
CONDITIONAL = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_SIGNED = frozenset({"timestamp", "recvWindow", "signature"})
_ORDER_PARAMS = (
    frozenset(
        {
            "symbol",
            "side",
            "type",
            "timeInForce",
            "quantity",
            "quoteOrderQty",
            "price",
            "newClientOrderId",
            "stopPrice",
            "trailingDelta",
            "icebergQty",
            "newOrderRespType",
            "strategyId",
            "strategyType",
            "selfTradePreventionMode",
        }
    )
    | _SIGNED
)
_NUMBER = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[a-zA-Z0-9_.\-]{1,36}$")
# per type: (required, allowed-but-optional)
_SHAPE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "LIMIT": (("timeInForce", "quantity", "price"), ("icebergQty",)),
    "MARKET": ((), ("quantity", "quoteOrderQty")),
    "STOP_LOSS": (("quantity", "stopPrice"), ()),
    "STOP_LOSS_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ("icebergQty",)),
    "TAKE_PROFIT": (("quantity", "stopPrice"), ()),
    "TAKE_PROFIT_LIMIT": (("timeInForce", "quantity", "price", "stopPrice"), ("icebergQty",)),
    "LIMIT_MAKER": (("quantity", "price"), ("icebergQty",)),
}
_TYPE_NAMES = {
    "MARKET": "Market",
    "LIMIT": "Limit",
    "STOP_LOSS": "Stop loss",
    "STOP_LOSS_LIMIT": "Stop loss limit",
    "TAKE_PROFIT": "Take profit",
    "TAKE_PROFIT_LIMIT": "Take profit limit",
    "LIMIT_MAKER": "Limit maker",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """A parsed, filter-checked order request."""

    spec: SymbolSpec
    side: str
    type: str
    time_in_force: str | None
    quantity: Decimal
    quote_qty: Decimal
    price: Decimal
    stop_price: Decimal
    client_id: str | None
    resp_type: str

    @property
    def conditional(self) -> bool:
        return self.type in CONDITIONAL


def decimal_param(params: Mapping[str, str], name: str, precision: int = 8) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _NUMBER.match(raw):
        raise bad_decimal(name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise bad_decimal(name) from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > precision:
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    return value


def require_symbol(info: ExchangeInfo, params: Mapping[str, str]) -> SymbolSpec:
    symbol = params.get("symbol")
    if not symbol:
        raise mandatory("symbol")
    spec = info.get(symbol)
    if spec is None:
        raise ApiError(-1121, "Invalid symbol.")
    return spec


def check_known(params: Mapping[str, str], known: frozenset[str]) -> None:
    unknown = [k for k in params if k not in known]
    if unknown:
        read = len(params) - len(unknown)
        raise ApiError(
            -1104,
            f"Not all sent parameters were read; read {read} parameter(s) "
            f"but was sent {len(params)}.",
        )


def parse_placement(info: ExchangeInfo, params: Mapping[str, str]) -> Placement:
    """Steps 5-8 of §8.3 for ``POST /api/v3/order`` (filters: ``check_filters``)."""
    for name in ("symbol", "side", "type"):
        if not params.get(name):
            raise mandatory(name)
    kind = params["type"]
    shape = _SHAPE.get(kind)
    if shape is not None:
        for name in shape[0]:
            if not params.get(name):
                raise mandatory(name)
        if kind == "MARKET" and not (params.get("quantity") or params.get("quoteOrderQty")):
            raise mandatory("quantity")
    check_known(params, _ORDER_PARAMS)
    return _checked(info, params, kind, shape)


def _checked(
    info: ExchangeInfo,
    params: Mapping[str, str],
    kind: str,
    shape: tuple[tuple[str, ...], tuple[str, ...]] | None,
) -> Placement:
    if params["side"] not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    if shape is None:
        raise ApiError(-1116, "Invalid orderType.")
    tif = params.get("timeInForce")
    if tif is not None and tif not in ("GTC", "IOC", "FOK"):
        raise ApiError(-1115, "Invalid timeInForce.")
    resp = params.get("newOrderRespType") or ("FULL" if kind in ("MARKET", "LIMIT") else "ACK")
    if resp not in ("ACK", "RESULT", "FULL"):
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'newOrderRespType'; "
            "legal range is 'ACK, RESULT, FULL'.",
        )
    allowed = set(shape[0]) | set(shape[1])
    for name in (
        "timeInForce",
        "price",
        "stopPrice",
        "quantity",
        "quoteOrderQty",
        "icebergQty",
        "trailingDelta",
    ):
        if params.get(name) and name not in allowed:
            raise ApiError(-1106, f"Parameter '{name}' sent when not required.")
    if params.get("quantity") and params.get("quoteOrderQty"):
        raise ApiError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    qty = decimal_param(params, "quantity")
    quote_qty = decimal_param(params, "quoteOrderQty")
    price = decimal_param(params, "price")
    stop = decimal_param(params, "stopPrice")
    if params.get("icebergQty"):
        raise ApiError(-2010, "Iceberg orders are not supported by this test exchange.")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; "
            "legal range is '^[a-zA-Z0-9-_.]{1,36}$'.",
        )
    spec = require_symbol(info, params)
    check_tradable(spec, kind)
    return Placement(
        spec=spec,
        side=params["side"],
        type=kind,
        time_in_force=tif,
        quantity=qty or Decimal(0),
        quote_qty=quote_qty or Decimal(0),
        price=price or Decimal(0),
        stop_price=stop or Decimal(0),
        client_id=client_id,
        resp_type=resp,
    )


def check_tradable(spec: SymbolSpec, kind: str) -> None:
    """Steps 7 and 8: symbol status and the symbol's ``orderTypes``."""
    if spec.status != "TRADING":
        raise ApiError(-2010, "Market is closed.")
    if kind not in spec.order_types:
        raise ApiError(-2010, f"{_TYPE_NAMES[kind]} orders are not supported for this symbol.")


def check_filters(
    p: Placement, ref_price: Decimal | None, open_orders: int, open_algo: int
) -> None:
    """Step 9: the symbol's filters in file order; the first failure is the answer."""
    for name, f in p.spec.filters.items():
        check = _FILTERS.get(name)
        if check is not None and not check(p, f, ref_price, open_orders, open_algo):
            raise ApiError(-1013, f"Filter failure: {name}")


def _d(f: Mapping[str, Any], key: str, default: str = "0") -> Decimal:
    return Decimal(str(f.get(key, default)))


def _price_ok(value: Decimal, f: Mapping[str, Any]) -> bool:
    lo, hi, tick = _d(f, "minPrice"), _d(f, "maxPrice"), _d(f, "tickSize")
    return (
        (lo == 0 or value >= lo) and (hi == 0 or value <= hi) and (tick == 0 or value % tick == 0)
    )


def _price_filter(p: Placement, f: Mapping[str, Any], *_: Any) -> bool:
    return all(_price_ok(v, f) for v in (p.price, p.stop_price) if v > 0)


def _qty_ok(qty: Decimal, f: Mapping[str, Any]) -> bool:
    lo, hi, step = _d(f, "minQty"), _d(f, "maxQty"), _d(f, "stepSize")
    # a zero step (MARKET_LOT_SIZE in 2021) disables the rule: never divide by it
    return (lo == 0 or qty >= lo) and (hi == 0 or qty <= hi) and (step == 0 or qty % step == 0)


def _lot_size(p: Placement, f: Mapping[str, Any], *_: Any) -> bool:
    return p.quantity == 0 or _qty_ok(p.quantity, f)


def _market_lot_size(p: Placement, f: Mapping[str, Any], *_: Any) -> bool:
    return p.type != "MARKET" or p.quantity == 0 or _qty_ok(p.quantity, f)


def _notional_of(p: Placement, ref: Decimal | None) -> Decimal | None:
    if p.type == "MARKET":
        if p.quote_qty:
            return p.quote_qty
        return p.quantity * ref if ref is not None else None
    price = p.price or p.stop_price
    return p.quantity * price


def _min_notional(p: Placement, f: Mapping[str, Any], ref: Decimal | None, *_: Any) -> bool:
    if p.type == "MARKET" and not f.get("applyToMarket", True):
        return True
    notional = _notional_of(p, ref)
    return notional is None or notional >= _d(f, "minNotional")


def _notional(p: Placement, f: Mapping[str, Any], ref: Decimal | None, *_: Any) -> bool:
    notional = _notional_of(p, ref)
    if notional is None:
        return True
    market = p.type == "MARKET"
    if (not market or f.get("applyMinToMarket", True)) and notional < _d(f, "minNotional"):
        return False
    top = _d(f, "maxNotional")
    return not ((not market or f.get("applyMaxToMarket", False)) and top and notional > top)


def _percent_price(p: Placement, f: Mapping[str, Any], ref: Decimal | None, *_: Any) -> bool:
    if ref is None or p.price == 0:
        return True
    return ref * _d(f, "multiplierDown") <= p.price <= ref * _d(f, "multiplierUp")


def _max_orders(p: Placement, f: Mapping[str, Any], ref: Decimal | None, n: int, *_: Any) -> bool:
    return n < int(f.get("maxNumOrders", 200))


def _max_algo(p: Placement, f: Mapping[str, Any], ref: Decimal | None, n: int, algo: int) -> bool:
    return not p.conditional or algo < int(f.get("maxNumAlgoOrders", 5))


_FILTERS: dict[str, Any] = {
    "PRICE_FILTER": _price_filter,
    "PERCENT_PRICE": _percent_price,
    "LOT_SIZE": _lot_size,
    "MIN_NOTIONAL": _min_notional,
    "NOTIONAL": _notional,
    "MARKET_LOT_SIZE": _market_lot_size,
    "MAX_NUM_ORDERS": _max_orders,
    "MAX_NUM_ALGO_ORDERS": _max_algo,
}
