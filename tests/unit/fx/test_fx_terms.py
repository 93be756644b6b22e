"""FX pair terms: pips, pip values, margin and the conversion into the account currency.

Prices are real: GBPUSD asks/bids of the bundled FXCM 2012-02 bars and USDJPY
quotes of the bundled TrueFX 2013-01 file (tests/data/PROVENANCE.md).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.fx import ACCOUNT_UNIT, FxPair, fx_pair, to_account
from genesis.errors import ConfigError

D = Decimal
GBPUSD_ASK = D("1.57611")  # ask close of 2012-02-01 01:12, the golden run's first buy
USDJPY_MID = (D("86.655") + D("86.728")) / 2  # first USDJPY quote, 2013-01-01 22:00:00.295


def test_pip_locations_and_increments_of_the_majors() -> None:
    """GBPUSD: pip 0.0001, tick 0.00001; USDJPY: pip 0.01, tick 0.001; whole units."""
    gbp, jpy = fx_pair("GBP_USD"), fx_pair("USD/JPY")
    assert (gbp.pip, gbp.tick_size, gbp.units_step) == (D("0.0001"), D("0.00001"), D(1))
    assert (jpy.pip, jpy.tick_size, jpy.pip_location) == (D("0.01"), D("0.001"), -2)
    assert (gbp.base, gbp.quote, jpy.base, jpy.quote) == ("GBP", "USD", "USD", "JPY")


def test_unlisted_pair_gets_pip_minus_four_or_minus_two_for_jpy() -> None:
    assert fx_pair("EURNOK").pip_location == -4
    assert fx_pair("CADJPY").pip_location == -2


def test_not_a_pair_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="expected a pair such as GBPUSD"):
        fx_pair("BTCUSDT")


def test_pip_value_in_the_quote_currency_is_exact() -> None:
    """10,000 GBPUSD units: one pip is 1 USD, whatever the price."""
    assert fx_pair("GBPUSD").pip_value(D(10_000), GBPUSD_ASK, "USD") == D("1.0000")


def test_pip_value_in_the_base_currency_divides_by_the_price() -> None:
    """In a GBP account the same pip is 1 / 1.57611 GBP, rounded half-even to 0.0001."""
    assert fx_pair("GBPUSD").pip_value(D(-10_000), GBPUSD_ASK, "GBP") == D("0.6345")


def test_usdjpy_pip_value_in_usd_at_a_real_rate() -> None:
    """10,000 USDJPY units: a pip is 100 JPY, 100 / 86.6915 = 1.1535 USD."""
    pair = fx_pair("USDJPY")
    assert pair.pip_value(D(10_000), USDJPY_MID, "JPY") == D("100.00")
    assert pair.pip_value(D(10_000), USDJPY_MID, "USD") == D("1.1535")


def test_margin_is_notional_times_the_margin_rate() -> None:
    """10,000 GBPUSD at 1.57611 with 3.33 % margin: 524.84463 USD."""
    assert fx_pair("GBPUSD").margin(D(10_000), GBPUSD_ASK, "USD") == D("524.844630000")


def test_a_third_currency_cannot_be_converted() -> None:
    with pytest.raises(ConfigError, match="account currency EUR.*cross rate"):
        to_account(D(1), fx_pair("GBPUSD"), GBPUSD_ASK, "EUR")


def test_conversion_rounds_half_even_to_the_account_unit() -> None:
    assert str(ACCOUNT_UNIT) == "0.0001"
    assert to_account(D("0.00025"), fx_pair("GBPUSD"), D(1), "GBP") == D("0.0002")
    assert to_account(D("0.00035"), fx_pair("GBPUSD"), D(1), "GBP") == D("0.0004")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("margin_rate", D(0), "margin rate 0"),
        ("long_rate", D("NaN"), "long_rate"),
        ("base", "gbp", "base 'gbp'"),
    ],
)
def test_bad_terms_are_refused(field: str, value: object, message: str) -> None:
    terms: dict[str, object] = {
        "symbol": "GBPUSD", "base": "GBP", "quote": "USD", "pip_location": -4,
        "display_precision": 5, field: value,
    }  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        FxPair(**terms)  # type: ignore[arg-type]


def test_with_rates_keeps_what_is_not_given() -> None:
    pair = fx_pair("GBPUSD").with_rates(long_rate=D("0.01"))
    assert (pair.long_rate, pair.short_rate) == (D("0.01"), D("-0.0050"))
    assert pair.financing_rate(D(5)) == D("0.01")
    assert pair.financing_rate(D(-5)) == D("-0.0050")


def test_the_kernel_instrument_ticks_and_steps_as_the_pair() -> None:
    inst = fx_pair("USDJPY").instrument()
    assert (inst.symbol, inst.base, inst.quote) == ("USDJPY", "USD", "JPY")
    assert (inst.tick_size, inst.step_size, inst.min_qty) == (D("0.001"), D(1), D(1))
