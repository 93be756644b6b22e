"""The read side: accounts, trades, positions and prices in OANDA's JSON shapes.

Times are rendered RFC3339 with nanoseconds; ``unix_times`` rewrites them as
``seconds.nanos`` for clients that ask with ``Accept-Datetime-Format: UNIX``.
"""

from __future__ import annotations

from typing import Any

from genesis.exchange.oanda_sandbox.account import ZERO, Trade, money, rfc3339
from genesis.exchange.oanda_sandbox.engine import QUOTE_LIQUIDITY, Engine
from genesis.exchange.oanda_sandbox.orders import parse_time

__all__ = ["account_json", "position_json", "price_json", "trade_json", "unix_times"]


def trade_json(engine: Engine, trade: Trade) -> dict[str, Any]:
    spec = engine.spec
    unrealized = engine.unrealized(trade) if trade.is_open else ZERO
    out = trade.to_json(unrealized, spec.margin_rate, spec.display_precision)
    for kind, key in (("TAKE_PROFIT", "takeProfitOrder"), ("STOP_LOSS", "stopLossOrder"),
                      ("TRAILING_STOP_LOSS", "trailingStopLossOrder")):  # fmt: skip
        order = engine.orders.get(trade.orders.get(kind, ""))
        if order is not None:
            out[key] = order.to_json(spec.display_precision)
    return out


def _side(engine: Engine, trades: list[Trade]) -> dict[str, Any]:
    units = sum((t.current_units for t in trades), ZERO)
    side: dict[str, Any] = {
        "units": str(units),
        "pl": money(sum((t.realized_pl for t in trades), ZERO)),
        "unrealizedPL": money(sum((engine.unrealized(t) for t in trades), ZERO)),
        "resettablePL": "0.0000",
        "financing": "0.0000",
        "dividendAdjustment": "0.0000",
        "guaranteedExecutionFees": "0.0000",
    }
    if units:
        avg = sum((t.current_units * t.price for t in trades), ZERO) / units
        side["averagePrice"] = f"{avg:.{engine.spec.display_precision}f}"
        side["tradeIDs"] = [t.id for t in trades]
    return side


def position_json(engine: Engine, instrument: str) -> dict[str, Any]:
    acct = engine.account
    trades = [t for t in acct.trades.values() if t.instrument == instrument]  # open and closed
    open_ = [t for t in trades if t.is_open]
    long = _side(engine, [t for t in open_ if t.current_units > 0])
    short = _side(engine, [t for t in open_ if t.current_units < 0])
    long["pl"] = money(sum((t.realized_pl for t in trades if t.initial_units > 0), ZERO))
    short["pl"] = money(sum((t.realized_pl for t in trades if t.initial_units < 0), ZERO))
    margin = sum((abs(t.current_units) for t in open_), ZERO) * engine.quote.mid
    return {
        "instrument": instrument,
        "pl": money(sum((t.realized_pl for t in trades), ZERO)),
        "unrealizedPL": money(sum((engine.unrealized(t) for t in open_), ZERO)),
        "marginUsed": money(margin * engine.spec.margin_rate),
        "resettablePL": "0.0000",
        "financing": "0.0000",
        "commission": "0.0000",
        "dividendAdjustment": "0.0000",
        "guaranteedExecutionFees": "0.0000",
        "long": long,
        "short": short,
    }


def account_json(engine: Engine, full: bool) -> dict[str, Any]:
    """``GET /accounts/{id}`` (``full``: with trades, positions and orders) or its summary."""
    acct = engine.account
    open_trades = acct.open_trades()
    unrealized = sum((engine.unrealized(t) for t in open_trades), ZERO)
    margin_used = engine.margin_used()
    nav = acct.balance + unrealized
    out: dict[str, Any] = {
        "id": acct.id,
        "alias": "genesis-sandbox",
        "currency": acct.currency,
        "balance": money(acct.balance),
        "createdByUserID": 1234567,
        "createdTime": rfc3339(acct.created_ns),
        "guaranteedStopLossOrderMode": "DISABLED",
        "pl": money(acct.realized_pl),
        "resettablePL": money(acct.realized_pl),
        "financing": "0.0000",
        "commission": "0.0000",
        "dividendAdjustment": "0.0000",
        "guaranteedExecutionFees": "0.0000",
        "marginRate": str(engine.spec.margin_rate),
        "openTradeCount": len(open_trades),
        "openPositionCount": len({t.instrument for t in open_trades}),
        "pendingOrderCount": len(engine.pending()),
        "hedgingEnabled": False,
        "unrealizedPL": money(unrealized),
        "NAV": money(nav),
        "marginUsed": money(margin_used),
        "marginAvailable": money(max(ZERO, nav - margin_used)),
        "positionValue": money(margin_used / engine.spec.margin_rate),
        "marginCloseoutUnrealizedPL": money(unrealized),
        "marginCloseoutNAV": money(nav),
        "marginCloseoutMarginUsed": money(margin_used),
        "marginCloseoutPercent": money(margin_used / 2 / nav) if nav > 0 else "0.0000",
        "withdrawalLimit": money(max(ZERO, nav - margin_used)),
        "lastTransactionID": acct.last_id,
    }
    if full:
        p = engine.spec.display_precision
        out["trades"] = [trade_json(engine, t) for t in open_trades]
        out["positions"] = [position_json(engine, name) for name in sorted(engine.specs)]
        out["orders"] = [o.to_json(p) for o in engine.pending()]
    return out


def price_json(engine: Engine) -> dict[str, Any]:
    """The current quote as a ``ClientPrice`` (also a pricing stream line)."""
    q = engine.quote
    p = engine.spec.display_precision
    liquidity = int(QUOTE_LIQUIDITY)
    return {
        "type": "PRICE",
        "instrument": engine.spec.name,
        "time": rfc3339(q.ts_ns),
        "status": "tradeable",
        "tradeable": True,
        "bids": [{"price": f"{q.bid:.{p}f}", "liquidity": liquidity}],
        "asks": [{"price": f"{q.ask:.{p}f}", "liquidity": liquidity}],
        "closeoutBid": f"{q.bid:.{p}f}",
        "closeoutAsk": f"{q.ask:.{p}f}",
    }


def _is_time_key(key: str) -> bool:
    return key == "time" or key.endswith("Time")


def _unix(text: str) -> str:
    ns = parse_time(text, "time")
    secs, nanos = divmod(ns, 1_000_000_000)
    return f"{secs}.{nanos:09d}"


def unix_times(value: Any) -> Any:
    """``value`` with every RFC3339 time field rewritten as UNIX ``seconds.nanos``."""
    if isinstance(value, dict):
        return {
            k: _unix(v) if _is_time_key(k) and isinstance(v, str) and "T" in v else unix_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [unix_times(v) for v in value]
    return value
