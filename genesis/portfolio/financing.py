"""FX financing at the daily rollover (17:00 New York), in exact Decimal.

Rules (docs/fx.md)
------------------
* The rollover is 17:00 in ``America/New_York`` (``zoneinfo``: 21:00 UTC in summer,
  22:00 UTC in winter, the DST switch included) on every weekday, Monday to Friday.
  There is none on Saturday or Sunday: the market is closed.
* A position open when the clock reaches the rollover instant is financed; an event
  stamped exactly at 17:00:00 comes after the rollover (a position it opens is not
  charged that day, one it closes is).
* One rollover a week counts **three** days: the one whose value date rolls over the
  weekend. Most pairs settle T+2, so it is Wednesday's; a pair settling T+1
  (``FxPair.settlement_days``: USDCAD, USDTRY, USDRUB...) rolls triple on Thursday
  (OANDA's and the interbank convention). The others count one: a week of rollovers
  counts 1 + 1 + 3 + 1 + 1 = 7 days. Holidays (a value date moved by a bank
  holiday in either currency) are not modelled.
* The amount, in the pair's quote currency, is
  ``|units| x mid x annual_rate x days / 365`` at the mid price standing at the
  rollover (the last quote before it); ``annual_rate`` is the pair's long or
  short rate by the position's sign, the rate the holder *receives* (negative: pays).
  It is then converted to the account currency (``genesis.core.fx.to_account``) and
  rounded half-even to 0.0001 (``ACCOUNT_UNIT``), as OANDA books it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from genesis.core.fx import ACCOUNT_UNIT, FxPair, to_account

__all__ = [
    "DAYS_PER_YEAR",
    "ROLLOVER_ZONE",
    "FinancingEntry",
    "financing",
    "next_rollover_ns",
    "rollover_days",
]

ROLLOVER_ZONE: Final = ZoneInfo("America/New_York")
ROLLOVER_HOUR: Final = 17
DAYS_PER_YEAR: Final = Decimal(365)
_FRIDAY: Final = 4
_SATURDAY: Final = 5
_NS: Final = 1_000_000_000


class FinancingEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One financing booking: a position held over one rollover.

    Attributes:
        ts: the rollover instant, ns since the epoch (UTC).
        instrument_id: the pair.
        units: the signed position held (> 0 long).
        mid: the mid price used.
        annual_rate: the rate applied (the pair's long or short rate).
        days: days counted (3 on the pair's triple day, Wednesday for T+2, else 1).
        amount_quote: ``|units| x mid x annual_rate x days / 365`` in the quote currency
            (unrounded, 28 significant digits).
        amount: what the account is credited (negative: charged), account currency,
            rounded to 0.0001.
        currency: the account currency.
    """

    ts: int
    instrument_id: str
    units: Decimal
    mid: Decimal
    annual_rate: Decimal
    days: int
    amount_quote: Decimal
    amount: Decimal
    currency: str


def next_rollover_ns(ts_ns: int) -> int:
    """The first rollover instant strictly after ``ts_ns`` (a weekday's 17:00 New York)."""
    local = datetime.fromtimestamp(ts_ns // _NS, tz=UTC).astimezone(ROLLOVER_ZONE)
    day = local.date()
    while True:
        at = datetime(day.year, day.month, day.day, ROLLOVER_HOUR, tzinfo=ROLLOVER_ZONE)
        at_ns = int(at.timestamp()) * _NS
        if at_ns > ts_ns and at.weekday() < _SATURDAY:
            return at_ns
        day += timedelta(days=1)


def rollover_days(rollover_ns: int, settlement_days: int = 2) -> int:
    """Days one rollover counts for a pair settling T+``settlement_days``: 3 on the day
    whose value date crosses the weekend (New York: Wednesday for T+2, Thursday for
    T+1), else 1."""
    local = datetime.fromtimestamp(rollover_ns // _NS, tz=UTC).astimezone(ROLLOVER_ZONE)
    return 3 if local.weekday() == _FRIDAY - settlement_days else 1


def financing(
    pair: FxPair, instrument_id: str, units: Decimal, mid: Decimal, rollover_ns: int, account: str
) -> FinancingEntry:
    """The financing of ``units`` of ``pair`` held over the rollover at ``rollover_ns``.

    Raises:
        ConfigError: ``account`` is neither currency of the pair (``to_account``).
    """
    rate = pair.financing_rate(units)
    days = rollover_days(rollover_ns, pair.settlement_days)
    quote = abs(units) * mid * rate * days / DAYS_PER_YEAR
    amount = to_account(quote, pair, mid, account).quantize(ACCOUNT_UNIT, rounding=ROUND_HALF_EVEN)
    return FinancingEntry(
        ts=rollover_ns,
        instrument_id=instrument_id,
        units=units,
        mid=mid,
        annual_rate=rate,
        days=days,
        amount_quote=quote,
        amount=amount,
        currency=account,
    )
