"""Instruments and the single gate from numbers into exact, venue-valid Decimals.

``Instrument.price()`` and ``Instrument.quantity()`` are the only way prices and
quantities enter orders: they quantize to the tick size and step size with an
explicit rounding direction. ``validate_order`` checks every filter and raises
``InvalidOrder`` naming the field, the value and the increment or limit.
"""

from __future__ import annotations

import decimal
import gzip
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import GenericAlias
from typing import Any, Final

import msgspec

from genesis.core.enums import Side
from genesis.core.money import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ZERO, quantize, to_decimal
from genesis.errors import ConfigError, InvalidOrder

__all__ = [
    "DEFAULT_VENUE",
    "Instrument",
    "InstrumentTable",
    "ids_on",
    "instrument_id",
    "load_exchange_info",
    "split_instrument_id",
]

DEFAULT_VENUE: Final = "binance"
"""The venue of a bare symbol: ``BTCUSDT`` means ``binance:BTCUSDT``."""


def instrument_id(venue: str, symbol: str) -> str:
    """The kernel's id of ``symbol`` on ``venue``: the bare symbol on the default venue
    (so single-venue sessions, and their outputs, read as they always did), else
    ``venue:SYMBOL`` with the venue in lower case.

    Raises:
        ConfigError: an empty venue or symbol, or one containing ``:``.
    """
    venue, symbol = venue.strip().lower(), symbol.strip().upper()
    if not venue or not symbol or ":" in venue or ":" in symbol:
        raise ConfigError(f"instrument: need a venue and a symbol, was {venue!r}:{symbol!r}")
    return symbol if venue == DEFAULT_VENUE else f"{venue}:{symbol}"


def ids_on(venue: str, instrument_ids: Iterable[str]) -> list[str]:
    """The ids of ``instrument_ids`` that are on ``venue`` (lower case), in their order."""
    return [i for i in instrument_ids if split_instrument_id(i)[0] == venue]


def split_instrument_id(value: str) -> tuple[str, str]:
    """``"bybit:BTCUSD"`` -> ``("bybit", "BTCUSD")``; a bare symbol is on the default venue.

    Raises:
        ConfigError: more than one ``:``, or an empty venue or symbol.
    """
    venue, sep, symbol = value.partition(":")
    if not sep:
        venue, symbol = DEFAULT_VENUE, value
    if ":" in symbol or not venue.strip() or not symbol.strip():
        raise ConfigError(f"instrument {value!r}: expected SYMBOL or VENUE:SYMBOL")
    return venue.strip().lower(), symbol.strip().upper()


def _instrument(fields: dict[str, Any]) -> Instrument:
    """``Instrument.__reduce__``'s constructor call."""
    return Instrument(**fields)


def _fields_of(inst: Instrument) -> dict[str, Any]:
    return {name: getattr(inst, name) for name in inst.__dataclass_fields__}


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A tradable symbol with the venue's increments and limits.

    Attributes:
        symbol: venue symbol, e.g. ``BTCUSDT``.
        base: base asset (what is bought), e.g. ``BTC``.
        quote: quote asset (what is paid), e.g. ``USDT``.
        tick_size: price increment.
        step_size: quantity increment.
        min_qty / max_qty: quantity limits (``max_qty`` None means unlimited).
        min_price / max_price: price limits (None means unlimited).
        min_notional: minimum ``price * qty`` in quote currency.
        market_min_qty / market_max_qty / market_step_size: MARKET_LOT_SIZE, which
            binds MARKET orders on top of LOT_SIZE (zero or None means disabled;
            the 2021 exchangeInfo disables the step on every symbol).
        venue: venue name.
        margin_rate: None for a spot instrument (a sell needs the base held); else the
            instrument is traded on margin (FX): a sell without the base opens a short,
            and an order needs ``units x price x margin_rate`` of margin available
            (``genesis.core.margin``), e.g. 0.0333 (30:1).
    """

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal = ZERO
    max_qty: Decimal | None = None
    min_price: Decimal = ZERO
    max_price: Decimal | None = None
    min_notional: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal | None = None
    market_step_size: Decimal | None = None
    venue: str = "BINANCE"
    source: str = field(default="exchangeInfo", compare=False)
    margin_rate: Decimal | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields, rebuilt by the constructor (the worker processes of a
        parameter search): compiled, the frozen class cannot be restored field by field."""
        return (_instrument, (_fields_of(self),))

    def __post_init__(self) -> None:
        for name in ("tick_size", "step_size"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value <= 0:
                raise ConfigError(f"instrument {self.symbol}: {name} must be > 0, was {value}")
        if self.market_step_size is not None and self.market_step_size <= 0:
            raise ConfigError(
                f"instrument {self.symbol}: market_step_size must be > 0 or None (disabled)"
            )
        rate = self.margin_rate
        if rate is not None and not (isinstance(rate, Decimal) and ZERO < rate <= 1):
            raise ConfigError(
                f"instrument {self.symbol}: margin_rate must be in (0, 1] or None (spot),"
                f" was {rate}"
            )

    def price(self, value: object, rounding: str = ROUND_DOWN) -> Decimal:
        """Quantize ``value`` to the tick size.

        Args:
            value: a number (str, int, Decimal, or float via its shortest repr).
            rounding: a ``decimal`` rounding mode; the default rounds toward zero.

        Raises:
            InvalidOrder: the value is not a finite positive number.
        """
        number = self._number("price", value)
        try:
            return quantize(number, self.tick_size, rounding)
        except decimal.InvalidOperation:  # more digits than the decimal context holds
            raise InvalidOrder(f"{self.symbol}: price {number} is out of range") from None

    def price_for(self, side: Side, value: object) -> Decimal:
        """Quantize a limit price in the direction that never worsens it for ``side``.

        A buy rounds down (never pay more), a sell rounds up (never receive less).
        """
        return self.price(value, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    def quantity(self, value: object, rounding: str = ROUND_DOWN) -> Decimal:
        """Quantize ``value`` to the step size, rounding toward zero by default.

        Raises:
            InvalidOrder: the value is not finite and positive, or a non-zero value
                rounds to zero.
        """
        number = self._number("quantity", value)
        try:
            result = quantize(number, self.step_size, rounding)
        except decimal.InvalidOperation:  # more digits than the decimal context holds
            raise InvalidOrder(f"{self.symbol}: quantity {number} is out of range") from None
        if result == 0 and number != 0:
            raise InvalidOrder(
                f"{self.symbol}: quantity {number} rounds to 0 at step_size {self.step_size}"
            )
        return result

    def validate_order(self, price: Decimal | None, qty: Decimal) -> None:
        """Check quantity and (when given) price and notional against every filter.

        Raises:
            InvalidOrder: naming the field, the value and the increment or limit.
        """
        self.validate_quantity(qty)
        if price is not None:
            self.validate_price(price)
            self.validate_notional(price, qty)

    def validate_quantity(self, qty: Decimal) -> None:
        """Step size, min and max quantity.

        Raises:
            InvalidOrder: naming the value and the step or limit.
        """
        self._check_increment("quantity", qty, self.step_size, "step_size")
        if qty < self.min_qty:
            raise InvalidOrder(f"{self.symbol}: quantity {qty} is below min_qty {self.min_qty}")
        if self.max_qty is not None and qty > self.max_qty:
            raise InvalidOrder(f"{self.symbol}: quantity {qty} is above max_qty {self.max_qty}")

    def validate_market_quantity(self, qty: Decimal) -> None:
        """LOT_SIZE, then MARKET_LOT_SIZE: the venue applies both to a MARKET order.

        Raises:
            InvalidOrder: naming the value and the MARKET_LOT_SIZE step or limit.
        """
        self.validate_quantity(qty)
        step = self.market_step_size
        if step is not None and qty % step != 0:
            raise InvalidOrder(
                f"{self.symbol}: market quantity {qty} is not a multiple of market_step_size {step}"
            )
        if qty < self.market_min_qty:
            raise InvalidOrder(
                f"{self.symbol}: market quantity {qty} is below market_min_qty "
                f"{self.market_min_qty}"
            )
        if self.market_max_qty is not None and qty > self.market_max_qty:
            raise InvalidOrder(
                f"{self.symbol}: market quantity {qty} is above market_max_qty "
                f"{self.market_max_qty}"
            )

    def validate_price(self, price: Decimal) -> None:
        """Tick size, min and max price.

        Raises:
            InvalidOrder: naming the value and the tick or limit.
        """
        self._check_increment("price", price, self.tick_size, "tick_size")
        if price < self.min_price:
            raise InvalidOrder(f"{self.symbol}: price {price} is below min_price {self.min_price}")
        if self.max_price is not None and price > self.max_price:
            raise InvalidOrder(f"{self.symbol}: price {price} is above max_price {self.max_price}")

    def validate_notional(self, price: Decimal, qty: Decimal) -> None:
        """``price * qty`` at least the minimum notional (price need not be on a tick).

        Raises:
            InvalidOrder: naming the notional and the minimum.
        """
        notional = price * qty
        if notional < self.min_notional:
            raise InvalidOrder(
                f"{self.symbol}: notional {notional} is below min_notional {self.min_notional}"
            )

    def _number(self, name: str, value: object) -> Decimal:
        # the usual numbers first: a finite float or Decimal >= 0 (NaN fails both tests)
        if type(value) is float:
            if 0.0 <= value < _INF:
                return Decimal(repr(value))
        elif type(value) is Decimal and value.is_finite() and value >= 0:
            return value
        try:
            number = to_decimal(value)
        except ValueError as exc:
            raise InvalidOrder(f"{self.symbol}: {name} {exc}") from exc
        if number < 0:
            raise InvalidOrder(f"{self.symbol}: {name} must be >= 0, was {number}")
        return number

    def _check_increment(self, name: str, value: Decimal, inc: Decimal, inc_name: str) -> None:
        if value <= 0:
            raise InvalidOrder(f"{self.symbol}: {name} must be > 0, was {value}")
        if value % inc != 0:
            raise InvalidOrder(
                f"{self.symbol}: {name} {value} is not a multiple of {inc_name} {inc}"
            )


_INF = float("inf")


def _filters(raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["filterType"]: f for f in raw.get("filters", ())}


def _opt(value: str | None) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(value)
    return None if number == 0 else number


def _market_lot(filters: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """MARKET_LOT_SIZE as Instrument fields; a zero (or absent) value disables its rule."""
    f = filters.get("MARKET_LOT_SIZE")
    if f is None:
        return {}
    step = _opt(f.get("stepSize"))
    return {
        "market_min_qty": Decimal(f.get("minQty", "0")),
        "market_max_qty": _opt(f.get("maxQty")),
        "market_step_size": None if step is None else step.normalize(),
    }


def instrument_from_binance(raw: Mapping[str, Any], venue: str = "BINANCE") -> Instrument:
    """Build an Instrument from one ``symbols[]`` entry of Binance ``exchangeInfo``.

    Raises:
        ConfigError: a filter the instrument needs is missing or malformed.
    """
    symbol = raw.get("symbol", "?")
    try:
        filters = _filters(raw)
        price_f, lot_f = filters["PRICE_FILTER"], filters["LOT_SIZE"]
        notional_f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
        return Instrument(
            symbol=symbol,
            base=raw["baseAsset"],
            quote=raw["quoteAsset"],
            tick_size=Decimal(price_f["tickSize"]).normalize(),
            step_size=Decimal(lot_f["stepSize"]).normalize(),
            min_qty=Decimal(lot_f["minQty"]),
            max_qty=_opt(lot_f.get("maxQty")),
            min_price=Decimal(price_f["minPrice"]),
            max_price=_opt(price_f.get("maxPrice")),
            min_notional=Decimal(notional_f.get("minNotional", "0")),
            **_market_lot(filters),
            venue=venue,
        )
    except (KeyError, ArithmeticError, TypeError) as exc:
        raise ConfigError(f"exchangeInfo symbol {symbol}: missing or bad field {exc}") from exc


class InstrumentTable:
    """Instruments keyed by instrument id: the bare symbol on the default venue,
    ``venue:SYMBOL`` on any other (from the instrument's ``venue``)."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol = {instrument_id(i.venue, i.symbol): i for i in instruments}

    def merged(self, other: Iterable[Instrument]) -> InstrumentTable:
        """A new table with ``other`` added (an id in both: ``other``'s wins)."""
        return InstrumentTable([*self._by_symbol.values(), *other])

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def get(self, symbol: str) -> Instrument:
        """Return the instrument for ``symbol``.

        Raises:
            ConfigError: unknown symbol.
        """
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise ConfigError(f"unknown symbol {symbol!r} ({len(self)} known)") from None

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)


# each ``symbols[]`` entry's name only (a struct built at run time: this module is compiled)
_SYMBOL_NAMES: Any = msgspec.json.Decoder(
    GenericAlias(list, (msgspec.defstruct("SymbolName", [("symbol", str, "")]),))
)


def load_exchange_info(
    path: str | Path, *, trading_only: bool = False, symbols: Collection[str] | None = None
) -> InstrumentTable:
    """Read a Binance ``exchangeInfo`` JSON file (plain or ``.gz``) into instruments.

    With ``symbols``, only those symbols' entries are decoded and built (the others are
    skipped unparsed): a backtest needs one instrument of ~1,700, and decoding and
    building them all was ~60 ms of its start.
    """
    path = Path(path)
    if symbols is not None:
        raws: list[Any] = _raw_symbols(path, symbols)
    else:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            raws = json.load(fh)["symbols"]
    if trading_only:
        raws = [r for r in raws if r.get("status") == "TRADING"]
    return InstrumentTable(instrument_from_binance(r) for r in raws)


def _raw_symbols(path: Path, symbols: Collection[str]) -> list[Any]:
    """The ``symbols[]`` entries of an exchangeInfo file naming one of ``symbols``, in file
    order, each decoded as ``json.load`` would; of the others only the name is read."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    listed = msgspec.json.decode(data, type=dict[str, msgspec.Raw])["symbols"]
    entries = msgspec.json.decode(listed, type=list[msgspec.Raw])
    names = _SYMBOL_NAMES.decode(listed)
    wanted = set(symbols)
    return [
        msgspec.json.decode(raw)
        for raw, n in zip(entries, names, strict=True)
        if n.symbol in wanted
    ]
