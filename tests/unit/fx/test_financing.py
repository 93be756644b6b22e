"""Rollover financing: 17:00 New York across DST, triple Wednesday (Thursday for a T+1 pair),
long vs short, conversion.

Mids are real: GBPUSD mids of the bundled FXCM 2012-02 bars, USDJPY of the TrueFX
2013-01 quotes. Rates are configuration (here chosen to show each sign).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from genesis.core.fx import fx_pair
from genesis.errors import ConfigError
from genesis.portfolio.financing import financing, next_rollover_ns, rollover_days

D = Decimal
GBPUSD_MID = D("1.583275")  # mid before the 2012-02-01 rollover (golden run's first entry)
USDJPY_BID = D("86.836")  # 2013-01-01 22:35:13.494


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


def utc(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%a %Y-%m-%d %H:%M")


def test_rollover_is_22_utc_in_winter_and_21_utc_in_summer() -> None:
    """US DST began 2012-03-11: Friday's rollover is 22:00 UTC, Monday's 21:00 UTC."""
    assert utc(next_rollover_ns(ns("2012-03-09T12:00:00+00:00"))) == "Fri 2012-03-09 22:00"
    assert utc(next_rollover_ns(ns("2012-03-09T22:00:00+00:00"))) == "Mon 2012-03-12 21:00"


def test_rollover_after_dst_ends_is_22_utc_again() -> None:
    """US DST ended 2012-11-04: Friday 2 November 21:00 UTC, Monday 5 November 22:00 UTC."""
    assert utc(next_rollover_ns(ns("2012-11-02T00:00:00+00:00"))) == "Fri 2012-11-02 21:00"
    assert utc(next_rollover_ns(ns("2012-11-02T21:00:00+00:00"))) == "Mon 2012-11-05 22:00"


def test_no_rollover_at_the_weekend() -> None:
    assert utc(next_rollover_ns(ns("2012-02-04T12:00:00+00:00"))) == "Mon 2012-02-06 22:00"


def test_an_instant_at_the_rollover_looks_for_the_next_one() -> None:
    at = ns("2012-02-01T22:00:00+00:00")
    assert next_rollover_ns(at - 1) == at
    assert utc(next_rollover_ns(at)) == "Thu 2012-02-02 22:00"


def test_wednesday_counts_three_days_and_a_week_seven() -> None:
    t, days = ns("2012-02-05T23:00:00+00:00"), []  # Sunday evening
    for _ in range(5):
        t = next_rollover_ns(t)
        days.append((utc(t)[:3], rollover_days(t)))
    assert days == [("Mon", 1), ("Tue", 1), ("Wed", 3), ("Thu", 1), ("Fri", 1)]


def test_long_pays_a_negative_rate_on_a_triple_wednesday() -> None:
    """10,000 x 1.583275 x -2.5 % x 3 / 365 = -3.2533 USD (the golden run's first entry)."""
    entry = financing(
        fx_pair("GBPUSD"), "GBPUSD", D(10_000), GBPUSD_MID, ns("2012-02-01T22:00:00+00:00"), "USD"
    )
    assert (entry.days, entry.annual_rate, entry.amount) == (3, D("-0.0250"), D("-3.2533"))


def test_long_receives_a_positive_rate_and_short_pays_its_own() -> None:
    pair = fx_pair("GBPUSD").with_rates(long_rate=D("0.01"), short_rate=D("-0.02"))
    thursday = ns("2012-02-02T22:00:00+00:00")
    long = financing(pair, "GBPUSD", D(10_000), GBPUSD_MID, thursday, "USD")
    short = financing(pair, "GBPUSD", D(-10_000), GBPUSD_MID, thursday, "USD")
    assert long.amount == D("0.4338")  # 158.3275 x 0.01 / 365
    assert short.amount == D("-0.8675")  # 158.3275 x 0.02 / 365, charged


def test_usdjpy_financing_in_a_usd_account_is_interest_on_the_usd_units() -> None:
    """In JPY: 10,000 x 86.836 x -0.5 % x 3 / 365; in USD the mid cancels: 10,000 x 0.5 % x 3
    / 365 = 0.4110 USD charged."""
    pair = fx_pair("USDJPY")
    wednesday = ns("2013-01-02T22:00:00+00:00")
    entry = financing(pair, "USDJPY", D(-10_000), USDJPY_BID, wednesday, "USD")
    assert entry.amount_quote.quantize(D("0.0001")) == D("-35.6860")
    assert (entry.amount, entry.currency) == (D("-0.4110"), "USD")


def test_a_t_plus_one_pair_counts_three_days_on_thursday() -> None:
    """USDCAD settles T+1: Thursday's value date crosses the weekend, so Thursday counts 3
    days and Wednesday 1; a week still counts 7."""
    t, days = ns("2012-02-05T23:00:00+00:00"), []  # Sunday evening
    for _ in range(5):
        t = next_rollover_ns(t)
        days.append((utc(t)[:3], rollover_days(t, settlement_days=1)))
    assert days == [("Mon", 1), ("Tue", 1), ("Wed", 1), ("Thu", 3), ("Fri", 1)]


def test_settlement_lag_per_pair() -> None:
    """T+1 for the dollar against CAD, TRY, RUB (listed or not); T+2 otherwise, EURCAD too."""
    lags = {s: fx_pair(s).settlement_days for s in ("USDCAD", "USD_TRY", "USDRUB", "GBPUSD",
                                                      "USDJPY", "EURCAD")}  # fmt: skip
    assert lags == {"USDCAD": 1, "USD_TRY": 1, "USDRUB": 1, "GBPUSD": 2, "USDJPY": 2, "EURCAD": 2}
    with pytest.raises(ConfigError, match="settlement in 3 days"):
        replace(fx_pair("GBPUSD"), settlement_days=3)


def test_usdcad_financing_is_triple_on_thursday_not_wednesday() -> None:
    """``financing`` counts the pair's own triple day: USDCAD 3 days on Thursday 2 February
    2012, 1 on Wednesday 1 February. (Only the day count is checked: no real USDCAD price
    is bundled, so the amount is stated per unit of mid.)"""
    pair = fx_pair("USDCAD")
    wednesday, thursday = ns("2012-02-01T22:00:00+00:00"), ns("2012-02-02T22:00:00+00:00")
    wed = financing(pair, "USDCAD", D(10_000), D(1), wednesday, "CAD")
    thu = financing(pair, "USDCAD", D(10_000), D(1), thursday, "CAD")
    assert (wed.days, thu.days) == (1, 3)
    assert thu.amount_quote == 3 * wed.amount_quote == D(10_000) * D("-0.0250") * 3 / 365
