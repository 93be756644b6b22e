"""Genesis commands -> Binance order parameters, and Binance order JSON -> Genesis values (pure).

All local refusals happen here, before anything is signed (R5, R22): client
ids outside ``[A-Za-z0-9_-]{1,36}``, symbols that are not ``TRADING``,
quantities and prices that fail the instrument's filters. Prices and
quantities are quantized by the ``Instrument`` (the one gate, STYLE R7) and
written with ``format(d, 'f')``, so no exponent ever reaches the wire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.core.instruments import Instrument
from genesis.errors import InvalidOrder
from genesis.exchange.binance.parse import Malformed, strict_decimal
from genesis.exchange.binance.signing import Param
from genesis.exchange.live import VenueOrder

__all__ = [
    "check_client_id",
    "oco_params",
    "order_params",
    "venue_order",
    "wire_decimal",
]

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
_STOP_TYPES: Final = {OrderType.STOP_MARKET: "STOP_LOSS", OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT"}
_GENESIS_TYPES: Final = {
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "TAKE_PROFIT": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
}


def wire_decimal(value: Decimal) -> str:
    """A Decimal as Binance wants it: plain digits, never exponent notation."""
    return format(value, "f")


def check_client_id(client_order_id: str) -> None:
    """Raise ``InvalidOrder`` unless the id is 1-36 characters of ``[A-Za-z0-9_-]``."""
    if _CLIENT_ID.fullmatch(client_order_id) is None:
        raise InvalidOrder(
            f"client order id {client_order_id!r:.60} must be 1-36 characters of [A-Za-z0-9_-]"
        )


def _check_tradable(instrument: Instrument | None, status: str, symbol: str) -> Instrument:
    if instrument is None:
        raise InvalidOrder(f"unknown symbol {symbol!r}")
    if status != "TRADING":
        raise InvalidOrder(f"{symbol} status is {status}; orders only while TRADING")
    return instrument


def order_params(cmd: SubmitOrder, instrument: Instrument | None, status: str) -> list[Param]:
    """``POST /api/v3/order`` parameters for ``cmd`` (without timestamp and signature).

    Raises:
        InvalidOrder: bad client id, non-TRADING or unknown symbol, or a filter failure.
    """
    check_client_id(cmd.client_order_id)
    inst = _check_tradable(instrument, status, cmd.instrument_id)
    qty = inst.quantity(cmd.quantity)
    params: list[Param] = [("symbol", inst.symbol), ("side", cmd.side.value)]
    if cmd.order_type is OrderType.MARKET:
        inst.validate_market_quantity(qty)
        params += [("type", "MARKET"), ("quantity", wire_decimal(qty))]
    else:
        params += _priced(cmd, inst, qty)
    params += [("newClientOrderId", cmd.client_order_id), ("newOrderRespType", "FULL")]
    return params


def _priced(cmd: SubmitOrder, inst: Instrument, qty: Decimal) -> list[Param]:
    price = _limit_price(cmd, inst, qty)
    if cmd.order_type is OrderType.LIMIT:
        kind = "LIMIT_MAKER" if cmd.post_only else "LIMIT"
    else:
        kind = _STOP_TYPES[cmd.order_type]
    out: list[Param] = [("type", kind)]
    if price is not None and kind != "LIMIT_MAKER":  # LIMIT_MAKER takes no timeInForce
        out.append(("timeInForce", cmd.time_in_force.value))
    out.append(("quantity", wire_decimal(qty)))
    if price is not None:
        out.append(("price", wire_decimal(price)))
    if cmd.order_type in _STOP_TYPES:
        out.append(("stopPrice", wire_decimal(_trigger(cmd, inst))))
    return out


def _limit_price(cmd: SubmitOrder, inst: Instrument, qty: Decimal) -> Decimal | None:
    if cmd.order_type is OrderType.STOP_MARKET:
        inst.validate_market_quantity(qty)  # it becomes a MARKET order when triggered
        return None
    if cmd.price is None:
        raise InvalidOrder(f"{cmd.order_type.value} order {cmd.client_order_id} needs a price")
    price = inst.price_for(cmd.side, cmd.price)
    inst.validate_order(price, qty)
    return price


def _trigger(cmd: SubmitOrder, inst: Instrument) -> Decimal:
    if cmd.trigger_price is None:
        raise InvalidOrder(f"stop order {cmd.client_order_id} needs a trigger_price")
    trigger = inst.price(cmd.trigger_price)
    inst.validate_price(trigger)
    return trigger


def oco_params(
    legs: Sequence[SubmitOrder], instrument: Instrument | None, status: str, list_id: str
) -> list[Param]:
    """``POST /api/v3/orderList/oco`` parameters for two legs sharing ``oco_group``.

    The leg with a trigger price is the stop; the other is the limit. A SELL
    puts the limit above (LIMIT_MAKER) and the stop below; a BUY puts the stop
    above and the limit below (as TAKE_PROFIT_LIMIT triggering at its price).

    Raises:
        InvalidOrder: not exactly one limit and one stop leg of the same side and quantity,
            or any check of ``order_params``.
    """
    check_client_id(list_id)
    stops = [leg for leg in legs if leg.trigger_price is not None]
    limits = [leg for leg in legs if leg.trigger_price is None]
    if len(legs) != 2 or len(stops) != 1 or len(limits) != 1:
        raise InvalidOrder(f"OCO {list_id}: needs one limit leg and one stop leg")
    stop, limit = stops[0], limits[0]
    if stop.side is not limit.side or stop.quantity != limit.quantity:
        raise InvalidOrder(f"OCO {list_id}: legs differ in side or quantity")
    inst = _check_tradable(instrument, status, limit.instrument_id)
    for leg in legs:
        check_client_id(leg.client_order_id)
    qty = inst.quantity(limit.quantity)
    limit_px = _limit_price(limit, inst, qty)
    assert limit_px is not None
    trigger = _trigger(stop, inst)
    stop_leg = _oco_stop_leg(stop, inst, qty, trigger)
    if limit.side is Side.SELL:
        above = [("aboveType", "LIMIT_MAKER"), ("abovePrice", wire_decimal(limit_px)),
                 ("aboveClientOrderId", limit.client_order_id)]  # fmt: skip
        below = [(k.replace("@", "below"), v) for k, v in stop_leg]
    else:
        above = [(k.replace("@", "above"), v) for k, v in stop_leg]
        below = [("belowType", "TAKE_PROFIT_LIMIT"), ("belowPrice", wire_decimal(limit_px)),
                 ("belowStopPrice", wire_decimal(limit_px)), ("belowTimeInForce", "GTC"),
                 ("belowClientOrderId", limit.client_order_id)]  # fmt: skip
    return [("symbol", inst.symbol), ("side", limit.side.value),
            ("quantity", wire_decimal(qty)), ("listClientOrderId", list_id),
            *above, *below, ("newOrderRespType", "FULL")]  # fmt: skip


def _oco_stop_leg(
    stop: SubmitOrder, inst: Instrument, qty: Decimal, trigger: Decimal
) -> list[Param]:
    leg = [("@StopPrice", wire_decimal(trigger)), ("@ClientOrderId", stop.client_order_id)]
    if stop.price is None:
        return [("@Type", "STOP_LOSS"), *leg]
    price = _limit_price(stop, inst, qty)
    assert price is not None
    return [("@Type", "STOP_LOSS_LIMIT"), ("@Price", wire_decimal(price)),
            ("@TimeInForce", "GTC"), *leg]  # fmt: skip


def venue_order(data: Mapping[str, Any]) -> VenueOrder:
    """A ``GET /api/v3/openOrders`` entry as a ``VenueOrder``.

    Raises:
        Malformed: a missing or bad field.
    """
    try:
        side = Side(data["side"])
        order_type = _GENESIS_TYPES[data["type"]]
        order_id = data["orderId"]
        if type(order_id) is not int or not isinstance(data["clientOrderId"], str):
            raise Malformed("orderId or clientOrderId")
        price = strict_decimal(data["price"], "price")
        return VenueOrder(
            instrument_id=str(data["symbol"]), client_order_id=data["clientOrderId"],
            venue_order_id=str(order_id), side=side, order_type=order_type,
            quantity=strict_decimal(data["origQty"], "origQty"),
            filled_qty=strict_decimal(data["executedQty"], "executedQty"),
            price=price or None, status=str(data["status"]),
        )  # fmt: skip
    except (KeyError, ValueError, TypeError) as exc:
        raise Malformed(f"order entry: bad or missing {exc}") from None
