"""Pure conversions between ccxt's unified structures and Genesis types (no I/O).

The venue sets ``exchange.number = str``, so ccxt hands unified numbers over
as the venue's own decimal strings and they become Decimals exactly. A few
ccxt paths still produce floats (order book levels are parsed with
``float``); those go through ``to_decimal``'s shortest repr, which gives back
the venue's decimal exactly for values of at most 15 significant digits, and
the caller quantizes them to the instrument's increments where it knows them.

Genesis names an instrument by the venue's market id (``BTCUSDT`` on
Binance, ``BTC-USDT`` on OKX), as the Binance adapter does; ccxt's unified
symbol (``BTC/USDT``) stays inside this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from genesis.core.enums import LiquiditySide, OrderType, Side
from genesis.core.events import Bar, BookSnapshot, OrderFilled, QuoteTick, TradeTick
from genesis.core.instruments import Instrument
from genesis.core.money import to_decimal
from genesis.errors import ConfigError
from genesis.exchange.live import VenueBalance, VenueOrder

__all__ = [
    "balances_from_ccxt",
    "bar_from_ohlcv",
    "book_from_ccxt",
    "dec",
    "fill_from_trade",
    "instrument_from_market",
    "opt_dec",
    "order_from_ccxt",
    "quote_from_book",
    "quote_from_ticker",
    "trade_tick_from_ccxt",
]

MS: Final = 1_000_000  # ns per ms

# ccxt's precisionMode constants (ccxt.base.decimal_to_precision)
_DECIMAL_PLACES: Final = 2
_SIGNIFICANT_DIGITS: Final = 3
_TICK_SIZE: Final = 4

_ORDER_TYPES: Final = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}


def dec(value: object, field: str = "value") -> Decimal:
    """A ccxt number (str, int, float or Decimal) as an exact Decimal.

    Raises:
        ValueError: missing or not a finite number (the message names ``field``).
    """
    if value is None or value == "":
        raise ValueError(f"{field} is missing")
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def opt_dec(value: object, default: Decimal | None = None) -> Decimal | None:
    return default if value is None or value == "" else dec(value)


def _increment(value: object, mode: int, what: str, symbol: str) -> Decimal:
    if value is None:
        raise ConfigError(f"ccxt market {symbol}: no {what} precision")
    if mode == _TICK_SIZE:
        return dec(value, what).normalize()
    if mode == _DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(dec(value, what)))
    raise ConfigError(
        f"ccxt market {symbol}: precisionMode {mode} (significant digits) has no fixed {what} "
        "increment; build this instrument by hand"
    )


def instrument_from_market(
    market: Mapping[str, Any], precision_mode: int, venue: str
) -> Instrument:
    """An Instrument from one ccxt market (``precision`` and ``limits``).

    Raises:
        ConfigError: the market has no usable price or amount increment.
    """
    symbol = str(market.get("id", "?"))
    try:
        precision, limits = market["precision"], market.get("limits") or {}
        amount, price = limits.get("amount") or {}, limits.get("price") or {}
        cost = limits.get("cost") or {}
        return Instrument(
            symbol=symbol,
            base=str(market["base"]),
            quote=str(market["quote"]),
            tick_size=_increment(precision.get("price"), precision_mode, "price", symbol),
            step_size=_increment(precision.get("amount"), precision_mode, "amount", symbol),
            min_qty=opt_dec(amount.get("min"), Decimal(0)) or Decimal(0),
            max_qty=opt_dec(amount.get("max")) or None,
            min_price=opt_dec(price.get("min"), Decimal(0)) or Decimal(0),
            max_price=opt_dec(price.get("max")) or None,
            min_notional=opt_dec(cost.get("min"), Decimal(0)) or Decimal(0),
            venue=venue,
            source="ccxt",
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ConfigError(f"ccxt market {symbol}: missing or bad field {exc}") from None


def order_from_ccxt(order: Mapping[str, Any], instrument_id: str) -> VenueOrder:
    """A VenueOrder from a unified ccxt order; ``status`` keeps the venue's own word when known."""
    info = order.get("info") or {}
    raw_status = info.get("status") if isinstance(info, Mapping) else None
    return VenueOrder(
        instrument_id=instrument_id,
        client_order_id=str(order.get("clientOrderId") or ""),
        venue_order_id=str(order.get("id") or ""),
        side=Side.BUY if order.get("side") == "buy" else Side.SELL,
        order_type=_ORDER_TYPES.get(str(order.get("type")), OrderType.LIMIT),
        quantity=dec(order.get("amount"), "amount"),
        filled_qty=opt_dec(order.get("filled"), Decimal(0)) or Decimal(0),
        price=opt_dec(order.get("price")) or None,
        status=str(raw_status or order.get("status") or ""),
    )


def _fee(trade: Mapping[str, Any]) -> tuple[Decimal, str]:
    fee = trade.get("fee") or {}
    cost = opt_dec(fee.get("cost"))
    if cost is not None:
        return cost, str(fee.get("currency") or "")
    fees = [f for f in trade.get("fees") or () if f and f.get("cost") is not None]
    if not fees:
        return Decimal(0), ""
    currency = str(fees[0].get("currency") or "")
    return sum((dec(f["cost"], "fee") for f in fees), Decimal(0)), currency


_LIQUIDITY: Final = {"maker": LiquiditySide.MAKER, "taker": LiquiditySide.TAKER}


def fill_from_trade(
    trade: Mapping[str, Any],
    *,
    venue: str,
    instrument_id: str,
    client_order_id: str,
    strategy_id: str,
    ts_init: int,
) -> OrderFilled:
    """An OrderFilled from one unified ccxt trade (``fetch_my_trades``).

    ``takerOrMaker`` missing is read as TAKER: the conservative side for fee
    accounting (venues that omit it mostly do so for immediate fills).

    Raises:
        ValueError: price, amount or id missing or malformed.
    """
    fee, fee_currency = _fee(trade)
    trade_id = trade.get("id")
    if trade_id in (None, ""):
        raise ValueError("trade id is missing")
    return OrderFilled(
        ts_event=int(trade.get("timestamp") or 0) * MS or ts_init,
        ts_init=ts_init,
        client_order_id=client_order_id,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        venue=venue,
        trade_id=str(trade_id),
        side=Side.BUY if trade.get("side") == "buy" else Side.SELL,
        last_qty=dec(trade.get("amount"), "amount"),
        last_px=dec(trade.get("price"), "price"),
        fee=fee,
        fee_currency=fee_currency,
        liquidity=_LIQUIDITY.get(str(trade.get("takerOrMaker")), LiquiditySide.TAKER),
        venue_order_id=str(trade.get("order") or ""),
    )


def balances_from_ccxt(balance: Mapping[str, Any]) -> dict[str, VenueBalance]:
    """Free and locked (ccxt's ``used``) per asset; assets with nothing are left out."""
    free, used = balance.get("free") or {}, balance.get("used") or {}
    out: dict[str, VenueBalance] = {}
    for asset in sorted(set(free) | set(used)):
        f = opt_dec(free.get(asset), Decimal(0)) or Decimal(0)
        u = opt_dec(used.get(asset), Decimal(0)) or Decimal(0)
        if f or u:
            out[str(asset)] = VenueBalance(asset=str(asset), free=f, locked=u)
    return out


def _ts(raw: Mapping[str, Any], ts_init: int) -> int:
    ms = raw.get("timestamp")
    return int(ms) * MS if ms else ts_init


def quote_from_ticker(ticker: Mapping[str, Any], instrument_id: str, ts_init: int) -> QuoteTick:
    """A QuoteTick from a unified ticker (best bid/ask and their sizes)."""
    return QuoteTick(
        ts_event=_ts(ticker, ts_init),
        ts_init=ts_init,
        instrument_id=instrument_id,
        bid=dec(ticker.get("bid"), "bid"),
        ask=dec(ticker.get("ask"), "ask"),
        bid_size=opt_dec(ticker.get("bidVolume"), Decimal(0)) or Decimal(0),
        ask_size=opt_dec(ticker.get("askVolume"), Decimal(0)) or Decimal(0),
    )


def _levels(rows: Any, field: str) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((dec(r[0], field), dec(r[1], field)) for r in rows or ())


def book_from_ccxt(
    book: Mapping[str, Any], instrument_id: str, ts_init: int, depth: int | None = None
) -> BookSnapshot:
    """A BookSnapshot from a unified order book (the best ``depth`` levels a side, else all).

    ``nonce`` (if any) is its update id, else -1.
    """
    nonce = book.get("nonce")
    bids, asks = book.get("bids") or [], book.get("asks") or []
    return BookSnapshot(
        ts_event=_ts(book, ts_init),
        ts_init=ts_init,
        instrument_id=instrument_id,
        last_update_id=int(nonce) if nonce is not None else -1,
        bids=_levels(bids[:depth], "bid"),
        asks=_levels(asks[:depth], "ask"),
    )


def quote_from_book(book: Mapping[str, Any], instrument_id: str, ts_init: int) -> QuoteTick:
    """A QuoteTick from the top of a unified order book.

    Raises:
        ValueError: one side of the book is empty.
    """
    bids, asks = _levels(book.get("bids"), "bid"), _levels(book.get("asks"), "ask")
    if not bids or not asks:
        raise ValueError("book has an empty side")
    return QuoteTick(
        ts_event=_ts(book, ts_init),
        ts_init=ts_init,
        instrument_id=instrument_id,
        bid=bids[0][0],
        ask=asks[0][0],
        bid_size=bids[0][1],
        ask_size=asks[0][1],
    )


def trade_tick_from_ccxt(trade: Mapping[str, Any], instrument_id: str, ts_init: int) -> TradeTick:
    """A TradeTick from a unified public trade; the aggressor is ccxt's ``side`` (taker side)."""
    side = trade.get("side")
    return TradeTick(
        ts_event=_ts(trade, ts_init),
        ts_init=ts_init,
        instrument_id=instrument_id,
        price=dec(trade.get("price"), "price"),
        size=dec(trade.get("amount"), "amount"),
        aggressor_side=Side.BUY if side == "buy" else Side.SELL if side == "sell" else None,
        trade_id=str(trade.get("id") or ""),
    )


def bar_from_ohlcv(row: Any, instrument_id: str, duration_ms: int, ts_init: int) -> Bar:
    """A Bar from one ccxt OHLCV row ``[open_ms, o, h, l, c, v]``; ``ts_event`` is its close."""
    open_ms = int(row[0])
    return Bar(
        ts_event=(open_ms + duration_ms) * MS,
        ts_init=ts_init,
        instrument_id=instrument_id,
        ts_open=open_ms * MS,
        open=dec(row[1], "open"),
        high=dec(row[2], "high"),
        low=dec(row[3], "low"),
        close=dec(row[4], "close"),
        volume=dec(row[5], "volume"),
    )
