"""Strict parsers of Binance JSON into ``core.events`` and typed reports (pure; R9, R18).

Same mapping as ``genesis.data.capture`` (a recording and the live feed give
identical events): ``depthUpdate`` -> ``BookDelta``, REST depth ->
``BookSnapshot``, ``bookTicker`` -> ``QuoteTick``, ``trade``/``aggTrade`` ->
``TradeTick`` (``m`` true: the aggressor sold), a closed ``kline`` -> ``Bar``
with ``ts_event`` = close time (``k.T`` + 1 ms); ``ts_event`` is the venue's
``E`` (ms -> ns) when present, else the receive time; ``ts_init`` is the
local receive time.

Stricter than the recording reader, because live input is untrusted: a
decimal must be a plain string of at most 18 integer and 18 fractional digits
(no ``""``, ``"NaN"``, ``"1e-8"``, sign or 30-digit numbers); prices and trade
quantities must be > 0; enums must be known; the combined wrapper's stream
name must be one we subscribed to and must agree with the payload. Anything
else raises ``Malformed`` and the caller counts it; no state is touched here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

import msgspec

from genesis.core.enums import Side
from genesis.core.events import Bar, BookDelta, BookSnapshot, MarketEvent, QuoteTick, TradeTick

__all__ = [
    "ExecutionReport",
    "Malformed",
    "decode_object",
    "parse_account_positions",
    "parse_depth_snapshot",
    "parse_execution_report",
    "parse_stream_message",
    "stream_kind",
    "strict_decimal",
]

_MS: Final = 1_000_000
_DECODER: Final = msgspec.json.Decoder(float_hook=Decimal)
_MAX_DIGITS: Final = 18  # per side of the point: Binance sends at most 8 decimals
_MAX_LEN: Final = 2 * _MAX_DIGITS + 1
_CACHE_SIZE: Final = 1 << 16
_KLINE_INTERVALS: Final = frozenset(
    {"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d"}
    | {"1w", "1M"}
)
_SIDES: Final = {"BUY": Side.BUY, "SELL": Side.SELL}
EXEC_TYPES: Final = frozenset(
    {"NEW", "CANCELED", "REPLACED", "REJECTED", "TRADE", "EXPIRED", "TRADE_PREVENTION"}
)
ORDER_STATUSES: Final = frozenset(
    {"NEW", "PENDING_NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PENDING_CANCEL",
     "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH"}
)  # fmt: skip


class Malformed(ValueError):
    """A venue message failed validation; the text says which field and why."""


def decode_object(text: str | bytes) -> dict[str, Any]:
    """Decode a JSON object (integers stay int; no floats expected, any are kept as Decimal).

    Raises:
        Malformed: not JSON, or not an object.
    """
    try:
        value = _DECODER.decode(text)
    except msgspec.DecodeError:
        raise Malformed("invalid JSON") from None
    if not isinstance(value, dict):
        raise Malformed(f"JSON {type(value).__name__}; expected an object")
    return value


def strict_decimal(value: object, name: str, *, positive: bool = False) -> Decimal:
    """A venue decimal string as Decimal, refusing anything but plain digits.

    Raises:
        Malformed: not a string of <= 18 + 18 digits, or zero where ``positive``.
    """
    number = _plain_decimal(value) if type(value) is str and len(value) <= _MAX_LEN else None
    if number is None:
        raise Malformed(f"`{name}` {value!r:.40}; expected a plain decimal string")
    if positive and not number:
        raise Malformed(f"`{name}` {value!r}; expected > 0")
    return number


@lru_cache(maxsize=_CACHE_SIZE)
def _plain_decimal(text: str) -> Decimal | None:
    """``text`` as Decimal when it is ``digits[.digits]`` (1-18 ASCII digits each), else None.

    The depth path calls this ~70 times per diff (R-perf: it was 60% of the
    feed's time as a regex then ``Decimal``). String methods do the check, and
    the result is memoised: books repeat the same few hundred prices and
    quantities, and a Decimal is immutable, so a cached one is as good as new.
    Callers pass only strings of <= 37 characters, so a flood of long junk
    cannot fill the cache with large keys. ``isascii`` comes first, because
    ``str.isdigit`` alone accepts fullwidth and other Unicode digits.
    """
    if not text.isascii():
        return None
    whole, dot, frac = text.partition(".")
    if not 0 < len(whole) <= _MAX_DIGITS or not whole.isdigit():
        return None
    if dot and (not 0 < len(frac) <= _MAX_DIGITS or not frac.isdigit()):
        return None
    return Decimal(text)


def stream_kind(stream: str) -> str:
    """The kind part of a stream name: ``btcusdt@depth@100ms`` -> ``depth@100ms``."""
    return stream.partition("@")[2]


def parse_stream_message(
    message: Mapping[str, Any], subscribed: Mapping[str, str], recv_ns: int
) -> MarketEvent | None:
    """Parse one combined-stream message.

    Args:
        message: ``{"stream": name, "data": payload}``.
        subscribed: stream name -> upper-case symbol, the streams we asked for.
        recv_ns: local receive time (ns).

    Returns:
        The event, or None for an open (still forming) kline.

    Raises:
        Malformed: unknown stream, mismatching payload, bad field.
    """
    stream = _get(message, "stream")
    if not isinstance(stream, str) or stream not in subscribed:
        raise Malformed(f"stream {stream!r:.60} was not subscribed")
    payload = _object(message, "data")
    symbol = subscribed[stream]
    kind = stream_kind(stream)
    if kind == "bookTicker":
        event: MarketEvent | None = _book_ticker(payload, recv_ns)
    elif kind.startswith("depth"):
        event = _depth_update(payload, recv_ns)
    elif kind in ("trade", "aggTrade"):
        event = _trade(payload, recv_ns, kind)
    elif kind.startswith("kline_"):
        event = _kline(payload, recv_ns, kind.removeprefix("kline_"))
    else:
        raise Malformed(f"stream kind {kind!r} is not supported")
    if event is not None and event.instrument_id != symbol:
        raise Malformed(f"payload symbol {event.instrument_id!r} on stream {stream!r}")
    return event


def parse_depth_snapshot(data: Any, symbol: str, recv_ns: int) -> BookSnapshot:
    """``GET /api/v3/depth`` -> ``BookSnapshot`` (no event time: ``ts_event`` = receive time).

    Raises:
        Malformed: a missing or bad field, or unsorted levels.
    """
    if not isinstance(data, dict):
        raise Malformed("depth snapshot is not an object")
    bids, asks = _levels(data, "bids"), _levels(data, "asks")
    last_id = _int(data, "lastUpdateId")
    return BookSnapshot(instrument_id=symbol, ts_event=recv_ns, ts_init=recv_ns,
                        last_update_id=last_id, bids=bids, asks=asks)  # fmt: skip


def _depth_update(p: Mapping[str, Any], recv_ns: int) -> BookDelta:
    _expect_type(p, "depthUpdate")
    first, last = _int(p, "U"), _int(p, "u")
    if first > last:
        raise Malformed(f"depthUpdate U {first} > u {last}")
    return BookDelta(instrument_id=_str(p, "s"), ts_event=_int(p, "E") * _MS, ts_init=recv_ns,
                     first_update_id=first, last_update_id=last, bids=_levels(p, "b"),
                     asks=_levels(p, "a"))  # fmt: skip


def _book_ticker(p: Mapping[str, Any], recv_ns: int) -> QuoteTick:
    _int(p, "u")
    return QuoteTick(instrument_id=_str(p, "s"),
                     ts_event=_int(p, "E") * _MS if "E" in p else recv_ns, ts_init=recv_ns,
                     bid=_dec(p, "b", True), ask=_dec(p, "a", True), bid_size=_dec(p, "B"),
                     ask_size=_dec(p, "A"))  # fmt: skip


def _trade(p: Mapping[str, Any], recv_ns: int, kind: str) -> TradeTick:
    _expect_type(p, kind)
    return TradeTick(instrument_id=_str(p, "s"), ts_event=_int(p, "E") * _MS, ts_init=recv_ns,
                     price=_dec(p, "p", True), size=_dec(p, "q", True),
                     aggressor_side=Side.SELL if _bool(p, "m") else Side.BUY,
                     trade_id=str(_int(p, "t" if kind == "trade" else "a")))  # fmt: skip


def _kline(p: Mapping[str, Any], recv_ns: int, interval: str) -> Bar | None:
    _expect_type(p, "kline")
    _int(p, "E")
    k = _object(p, "k")
    if _str(k, "i") not in _KLINE_INTERVALS or k["i"] != interval:
        raise Malformed(f"kline interval {k['i']!r:.20} on a kline_{interval} stream")
    if _str(p, "s") != _str(k, "s"):  # both must name the stream's symbol (R18)
        raise Malformed(f"kline symbol {p['s']!r:.20} differs from its bar's {k['s']!r:.20}")
    bar = Bar(instrument_id=_str(k, "s"), ts_event=(_int(k, "T") + 1) * _MS, ts_init=recv_ns,
              ts_open=_int(k, "t") * _MS, open=_dec(k, "o", True), high=_dec(k, "h", True),
              low=_dec(k, "l", True), close=_dec(k, "c", True), volume=_dec(k, "v"))  # fmt: skip
    return bar if _bool(k, "x") else None


# --- user data ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReport:
    """The fields of an ``executionReport`` the venue acts on (§11.3), validated."""

    symbol: str
    client_order_id: str  # the order's id (``C`` on a cancel, else ``c``)
    side: Side
    exec_type: str
    status: str
    reject_reason: str
    order_id: int
    last_qty: Decimal
    cum_qty: Decimal
    last_px: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int
    is_maker: bool
    event_ms: int
    expiry_reason: str


def parse_execution_report(p: Mapping[str, Any]) -> ExecutionReport:
    """Validate one ``executionReport`` payload.

    Raises:
        Malformed: a missing or bad field, or an unknown enum value.
    """
    _expect_type(p, "executionReport")
    exec_type, status = _str(p, "x"), _str(p, "X")
    if exec_type not in EXEC_TYPES or status not in ORDER_STATUSES:
        raise Malformed(f"unknown execution type {exec_type!r:.20} or status {status!r:.20}")
    orig = p.get("C")
    client = orig if exec_type == "CANCELED" and isinstance(orig, str) and orig else _str(p, "c")
    trade_id = _int(p, "t")
    asset = p.get("N")
    return ExecutionReport(
        symbol=_str(p, "s"), client_order_id=client, side=_side(p), exec_type=exec_type,
        status=status, reject_reason=str(p.get("r", "NONE")), order_id=_int(p, "i"),
        last_qty=_dec(p, "l"), cum_qty=_dec(p, "z"), last_px=_dec(p, "L"),
        commission=_dec(p, "n") if trade_id >= 0 else Decimal(0),
        commission_asset=asset if isinstance(asset, str) else "", trade_id=trade_id,
        is_maker=_bool(p, "m"), event_ms=_int(p, "E"), expiry_reason=str(p.get("eR", "")),
    )  # fmt: skip


def parse_account_positions(rows: object) -> dict[str, tuple[Decimal, Decimal]]:
    """The ``B`` rows of an ``outboundAccountPosition`` as asset -> (free, locked).

    Every row is checked before the caller applies any of them, so a bad row
    anywhere in the message leaves every balance as it was (P12).

    Raises:
        Malformed: ``B`` is not a list, or any row lacks a valid asset, free or locked.
    """
    if not isinstance(rows, list):
        raise Malformed(f"field `B` {rows!r:.40}; expected a list of balances")
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise Malformed(f"`B` row {row!r:.40}; expected an object")
        out[_str(row, "a")] = (_dec(row, "f"), _dec(row, "l"))
    return out


def _side(p: Mapping[str, Any]) -> Side:
    side = _str(p, "S")
    if side not in _SIDES:
        raise Malformed(f"side {side!r:.20}; expected BUY or SELL")
    return _SIDES[side]


# --- field access ----------------------------------------------------------------


def _expect_type(p: Mapping[str, Any], expected: str) -> None:
    if p.get("e") != expected:
        raise Malformed(f"event type {p.get('e')!r:.30}; expected {expected!r}")


def _get(obj: Mapping[str, Any], key: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise Malformed(f"missing field `{key}`") from None


def _object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = _get(obj, key)
    if not isinstance(value, dict):
        raise Malformed(f"field `{key}` is not an object")
    return value


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = _get(obj, key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"field `{key}` {value!r:.40}; expected a non-empty string")
    return value


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = _get(obj, key)
    if type(value) is not int:
        raise Malformed(f"field `{key}` {value!r:.40}; expected an integer")
    return value


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = _get(obj, key)
    if type(value) is not bool:
        raise Malformed(f"field `{key}` {value!r:.40}; expected true or false")
    return value


def _dec(obj: Mapping[str, Any], key: str, positive: bool = False) -> Decimal:
    return strict_decimal(_get(obj, key), key, positive=positive)


def _levels(obj: Mapping[str, Any], key: str) -> tuple[tuple[Decimal, Decimal], ...]:
    raw = _get(obj, key)
    if not isinstance(raw, list):
        raise Malformed(f"field `{key}` is not a list of [price, qty]")
    plain = _plain_decimal
    out = []
    for item in raw:
        # the hot path of the feed: inline strict_decimal, fall back to it for the error
        if type(item) is list and len(item) == 2:
            px, qty = item
            if type(px) is str and type(qty) is str and len(px) <= _MAX_LEN >= len(qty):
                price, size = plain(px), plain(qty)
                if price and size is not None:
                    out.append((price, size))
                    continue
            strict_decimal(px, f"{key} price", positive=True)
            strict_decimal(qty, f"{key} qty")
        raise Malformed(f"`{key}` level {item!r:.40}; expected [price, qty]")
    return tuple(out)
