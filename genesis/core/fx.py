"""FX instruments: units, pips, margin, financing rates, and account-currency conversion.

A currency pair ``BASE/QUOTE`` (``GBPUSD``: 1 GBP costs ``price`` USD) is traded in
*units* of the base currency, as on OANDA and MT5. :class:`FxPair` carries what a
pair's trading terms say and :data:`DEFAULT_PAIRS` holds the documented defaults:

* ``pip_location``: a pip is ``10 ** pip_location`` (``-4`` for GBPUSD, ``-2`` for
  JPY quotes); prices tick at a tenth of a pip (``display_precision``);
* ``units_precision``: units are multiples of ``10 ** -units_precision`` (``0``:
  whole units, OANDA's ``tradeUnitsPrecision``);
* ``margin_rate``: margin required is ``|units| x price x margin_rate`` (quote
  currency), ``0.0333`` = 30:1 on the majors;
* ``long_rate`` / ``short_rate``: the annual financing rates a holder of a long or
  short position *receives* (negative: pays), as OANDA's instrument financing
  ``longRate``/``shortRate``. They are configuration (a broker's terms), not market
  data; the defaults are illustrative and every run can set its own;
* ``settlement_days``: the spot value date, T+2 for most pairs, T+1 for the dollar
  against the currencies in :data:`T1_CURRENCIES` (USD/CAD, USD/TRY, USD/RUB...): it
  decides which rollover counts the weekend (``genesis.portfolio.financing``).

Conversion into the account currency (:func:`to_account`) is exact Decimal, then
rounded half-even to :data:`ACCOUNT_UNIT` (0.0001, OANDA's account precision) when a
division makes it inexact. The account currency must be the pair's base or quote:
``QUOTE -> QUOTE`` is the amount itself, ``QUOTE -> BASE`` divides by the pair's
price. A third currency would need another pair's quotes (not supported: a clear
``ConfigError``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from genesis.core.instruments import Instrument
from genesis.errors import ConfigError

__all__ = [
    "ACCOUNT_UNIT",
    "DEFAULT_LONG_RATE",
    "DEFAULT_MARGIN_RATE",
    "DEFAULT_PAIRS",
    "DEFAULT_SHORT_RATE",
    "T1_CURRENCIES",
    "FxPair",
    "fx_pair",
    "spot_settlement_days",
    "to_account",
]

ACCOUNT_UNIT: Final = Decimal("0.0001")
"""Account-currency amounts made inexact by a conversion or a division round to this."""

DEFAULT_MARGIN_RATE: Final = Decimal("0.0333")
DEFAULT_LONG_RATE: Final = Decimal("-0.0250")
DEFAULT_SHORT_RATE: Final = Decimal("-0.0050")

_CURRENCY_LEN: Final = 3

T1_CURRENCIES: Final = frozenset({"CAD", "TRY", "RUB", "PHP", "KZT", "PKR"})
"""Against USD these settle T+1 (spot value date the next business day), not T+2."""


def spot_settlement_days(base: str, quote: str) -> int:
    """The spot settlement lag of ``base``/``quote``: 1 for USD against a currency of
    :data:`T1_CURRENCIES` (USD/CAD), else 2. Holidays are not modelled."""
    pair = {base, quote}
    return 1 if "USD" in pair and pair & T1_CURRENCIES else 2


@dataclass(frozen=True, slots=True, kw_only=True)
class FxPair:
    """A currency pair's trading terms (see the module docstring).

    Raises:
        ConfigError: a currency that is not three letters, a margin rate outside
            (0, 1], a non-finite financing rate, a negative units precision, or a
            settlement lag other than 0, 1 or 2 days.
    """

    symbol: str
    base: str
    quote: str
    pip_location: int
    display_precision: int
    units_precision: int = 0
    margin_rate: Decimal = DEFAULT_MARGIN_RATE
    long_rate: Decimal = DEFAULT_LONG_RATE
    short_rate: Decimal = DEFAULT_SHORT_RATE
    settlement_days: int = 2  # spot value date T+2; T+1: USDCAD (spot_settlement_days)

    def __post_init__(self) -> None:
        for name in ("base", "quote"):
            code = getattr(self, name)
            if len(code) != _CURRENCY_LEN or not code.isalpha() or code != code.upper():
                raise ConfigError(f"fx pair {self.symbol}: {name} {code!r}, expected e.g. USD")
        if not Decimal(0) < self.margin_rate <= 1:
            raise ConfigError(
                f"fx pair {self.symbol}: margin rate {self.margin_rate}, expected in (0, 1]"
            )
        for name in ("long_rate", "short_rate"):
            value = getattr(self, name)
            if not (isinstance(value, Decimal) and value.is_finite()):
                raise ConfigError(f"fx pair {self.symbol}: {name} {value!r}, expected a number")
        if self.units_precision < 0 or self.display_precision < -self.pip_location:
            raise ConfigError(
                f"fx pair {self.symbol}: units precision {self.units_precision} or display"
                f" precision {self.display_precision} out of range"
            )
        if self.settlement_days not in (0, 1, 2):
            raise ConfigError(
                f"fx pair {self.symbol}: settlement in {self.settlement_days!r} days,"
                " expected 0, 1 or 2 (T+2 for most pairs, T+1 for USDCAD)"
            )

    @property
    def pip(self) -> Decimal:
        """One pip in price terms: ``10 ** pip_location`` (0.0001 for GBPUSD)."""
        return Decimal(1).scaleb(self.pip_location)

    @property
    def tick_size(self) -> Decimal:
        return Decimal(1).scaleb(-self.display_precision)

    @property
    def units_step(self) -> Decimal:
        return Decimal(1).scaleb(-self.units_precision)

    def instrument(self, venue: str = "SIM") -> Instrument:
        """The kernel's instrument: ticks of ``10 ** -display_precision``, units as steps,
        traded on margin at ``margin_rate`` (long or short: ``genesis.core.margin``)."""
        return Instrument(
            symbol=self.symbol,
            base=self.base,
            quote=self.quote,
            tick_size=self.tick_size,
            step_size=self.units_step,
            min_qty=self.units_step,
            venue=venue,
            source="fx",
            margin_rate=self.margin_rate,
        )

    def with_rates(
        self, long_rate: Decimal | None = None, short_rate: Decimal | None = None
    ) -> FxPair:
        """The same pair with other financing rates (None keeps the current one)."""
        return replace(
            self,
            long_rate=self.long_rate if long_rate is None else long_rate,
            short_rate=self.short_rate if short_rate is None else short_rate,
        )

    def pip_value(self, units: Decimal, price: Decimal, account: str) -> Decimal:
        """What one pip's move is worth on ``units``, in ``account`` currency.

        ``units x pip`` in the quote currency, converted at ``price`` (the pair's own
        rate) by :func:`to_account`: 10,000 GBPUSD units are 1 USD a pip; 10,000
        USDJPY units at 90.00 are 100 JPY, 1.1111 USD, a pip.
        """
        return to_account(abs(units) * self.pip, self, price, account)

    def margin(self, units: Decimal, price: Decimal, account: str) -> Decimal:
        """Margin required for ``units`` at ``price``, in ``account`` currency."""
        return to_account(abs(units) * price * self.margin_rate, self, price, account)

    def financing_rate(self, units: Decimal) -> Decimal:
        """The annual rate that applies to a position of ``units`` (sign: long or short)."""
        return self.long_rate if units > 0 else self.short_rate


def to_account(amount: Decimal, pair: FxPair, price: Decimal, account: str) -> Decimal:
    """``amount`` of ``pair.quote`` in ``account`` currency at the pair's ``price``.

    The quote currency itself: ``amount`` unchanged (exact). The base currency:
    ``amount / price`` rounded half-even to :data:`ACCOUNT_UNIT`.

    Raises:
        ConfigError: ``account`` is neither the base nor the quote of ``pair``, or a
            conversion is needed at a ``price`` that is not > 0.
    """
    if account == pair.quote:
        return amount
    if account != pair.base:
        raise ConfigError(
            f"account currency {account}: {pair.symbol} P&L is in {pair.quote}; converting it"
            f" needs {account} to be {pair.base} or {pair.quote} (a cross rate is not supported)"
        )
    if price <= 0:
        raise ConfigError(f"{pair.symbol}: cannot convert at price {price}, expected > 0")
    return (amount / price).quantize(ACCOUNT_UNIT, rounding=ROUND_HALF_EVEN)


def _pair(symbol: str, pip_location: int, display_precision: int) -> FxPair:
    return FxPair(
        symbol=symbol,
        base=symbol[:3],
        quote=symbol[3:],
        pip_location=pip_location,
        display_precision=display_precision,
        settlement_days=spot_settlement_days(symbol[:3], symbol[3:]),
    )


DEFAULT_PAIRS: Final = {
    p.symbol: p
    for p in (
        _pair("EURUSD", -4, 5),
        _pair("GBPUSD", -4, 5),
        _pair("AUDUSD", -4, 5),
        _pair("NZDUSD", -4, 5),
        _pair("USDCAD", -4, 5),
        _pair("USDCHF", -4, 5),
        _pair("EURGBP", -4, 5),
        _pair("USDJPY", -2, 3),
        _pair("EURJPY", -2, 3),
        _pair("GBPJPY", -2, 3),
    )
}
"""Built-in terms of the majors (OANDA's pip locations and precisions; units step 1,
margin 3.33%, financing long -2.5% / short -0.5% a year: illustrative, set your own;
spot T+2, USDCAD T+1)."""


def fx_pair(symbol: str) -> FxPair:
    """The built-in terms of ``symbol`` (``GBPUSD``, ``GBP_USD`` or ``GBP/USD``); a
    six-letter pair not listed gets pip -4 (-2 when quoted in JPY), its settlement lag
    (``spot_settlement_days``: USDTRY T+1) and the defaults.

    Raises:
        ConfigError: ``symbol`` is not six letters once ``_``/``/`` are dropped.
    """
    name = symbol.replace("_", "").replace("/", "").upper()
    known = DEFAULT_PAIRS.get(name)
    if known is not None:
        return known
    if len(name) != 2 * _CURRENCY_LEN or not name.isalpha():
        raise ConfigError(f"fx symbol {symbol!r}: expected a pair such as GBPUSD or GBP_USD")
    jpy = name.endswith("JPY")
    return _pair(name, -2 if jpy else -4, 3 if jpy else 5)
