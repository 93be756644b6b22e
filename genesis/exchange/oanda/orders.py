"""Order requests in v20's shape, built from exact values (no venue I/O here).

``order_request`` makes the ``{"order": {...}}`` body of POST /orders for
MARKET, LIMIT, STOP and MARKET_IF_TOUCHED orders, with take-profit,
stop-loss and trailing-stop on fill, and FOK / IOC / GTC / GTD / GFD.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genesis.errors import InvalidOrder
from genesis.exchange.oanda.rest import OandaInstrument

__all__ = ["OrderTerms", "exit_order_request", "order_request"]

_TIFS = {
    "MARKET": ("FOK", "IOC"),
    "LIMIT": ("GTC", "GTD", "GFD", "FOK", "IOC"),
    "STOP": ("GTC", "GTD", "GFD", "FOK", "IOC"),
    "MARKET_IF_TOUCHED": ("GTC", "GTD", "GFD"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTerms:
    """What one entry order asks for; ``units`` signed (+ buy, - sell)."""

    type: str
    instrument: str
    units: Decimal
    price: Decimal | None = None
    time_in_force: str | None = None
    gtd_time: str | None = None
    price_bound: Decimal | None = None
    position_fill: str = "DEFAULT"
    client_id: str | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    stop_loss_distance: Decimal | None = None
    trailing_stop_distance: Decimal | None = None


def order_request(terms: OrderTerms, inst: OandaInstrument) -> dict[str, Any]:
    """The POST /orders body; raises ``InvalidOrder`` for terms OANDA would refuse."""
    kind = terms.type
    if kind not in _TIFS:
        raise InvalidOrder(f"OANDA order type {kind!r}: one of {', '.join(_TIFS)}")
    tif = terms.time_in_force or ("FOK" if kind == "MARKET" else "GTC")
    if tif not in _TIFS[kind]:
        raise InvalidOrder(f"OANDA {kind} order: timeInForce {tif} not allowed ({_TIFS[kind]})")
    order: dict[str, Any] = {
        "type": kind,
        "instrument": inst.name,
        "units": inst.units_text(terms.units),
        "timeInForce": tif,
        "positionFill": terms.position_fill,
    }
    if kind == "MARKET":
        if terms.price is not None:
            raise InvalidOrder("OANDA MARKET order: no price (use price_bound)")
    elif terms.price is None:
        raise InvalidOrder(f"OANDA {kind} order needs a price")
    else:
        order["price"] = inst.price_text(terms.price)
    if tif == "GTD":
        if not terms.gtd_time:
            raise InvalidOrder("OANDA GTD order needs gtd_time")
        order["gtdTime"] = terms.gtd_time
    if terms.price_bound is not None:
        order["priceBound"] = inst.price_text(terms.price_bound, "price bound")
    if terms.client_id:
        order["clientExtensions"] = {"id": terms.client_id}
    order.update(_on_fill(terms, inst))
    return {"order": order}


def _on_fill(terms: OrderTerms, inst: OandaInstrument) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if terms.take_profit is not None:
        out["takeProfitOnFill"] = {"price": inst.price_text(terms.take_profit, "take profit")}
    if terms.stop_loss is not None and terms.stop_loss_distance is not None:
        raise InvalidOrder("OANDA stop loss: a price or a distance, not both")
    if terms.stop_loss is not None:
        out["stopLossOnFill"] = {"price": inst.price_text(terms.stop_loss, "stop loss")}
    if terms.stop_loss_distance is not None:
        out["stopLossOnFill"] = {"distance": inst.price_text(terms.stop_loss_distance, "distance")}
    if terms.trailing_stop_distance is not None:
        distance = inst.price_text(terms.trailing_stop_distance, "trailing distance")
        out["trailingStopLossOnFill"] = {"distance": distance}
    return out


def exit_order_request(
    kind: str,
    trade_id: str,
    inst: OandaInstrument,
    *,
    price: Decimal | None = None,
    distance: Decimal | None = None,
) -> dict[str, Any]:
    """The POST /orders body of a trade's TAKE_PROFIT, STOP_LOSS or TRAILING_STOP_LOSS."""
    if kind not in ("TAKE_PROFIT", "STOP_LOSS", "TRAILING_STOP_LOSS"):
        raise InvalidOrder(
            f"OANDA exit order type {kind!r}: TAKE_PROFIT, STOP_LOSS or TRAILING_STOP_LOSS"
        )
    if (price is None) == (distance is None):
        raise InvalidOrder(f"OANDA {kind}: give a price or a distance (exactly one)")
    if kind == "TAKE_PROFIT" and price is None:
        raise InvalidOrder("OANDA TAKE_PROFIT needs a price")
    if kind == "TRAILING_STOP_LOSS" and distance is None:
        raise InvalidOrder("OANDA TRAILING_STOP_LOSS needs a distance")
    order: dict[str, Any] = {"type": kind, "tradeID": trade_id, "timeInForce": "GTC"}
    if price is not None:
        order["price"] = inst.price_text(price)
    if distance is not None:
        order["distance"] = inst.price_text(distance, "distance")
    return {"order": order}
