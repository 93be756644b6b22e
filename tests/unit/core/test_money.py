"""``quantize``: a power-of-ten increment takes one ``Decimal.quantize``; any increment
gives the whole multiple the division definition gives, with the increment's exponent."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.money import quantize

D = Decimal
INCREMENTS = [
    *(D("0.01"), D("0.00001"), D("1"), D("100"), D("1E+1"), D("10")),
    *(D("0.1"), D("0.10"), D("0.5"), D("2.5")),
]
ROUNDINGS = [ROUND_DOWN, ROUND_FLOOR, ROUND_CEILING, ROUND_HALF_EVEN]


def _by_division(value: Decimal, increment: Decimal, rounding: str) -> Decimal:
    units = (value / increment).to_integral_value(rounding=rounding)
    return (units * increment).quantize(increment)


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False),
    st.sampled_from(INCREMENTS),
    st.sampled_from(ROUNDINGS),
)
def test_quantize_equals_the_division_definition(
    value: Decimal, increment: Decimal, rounding: str
) -> None:
    """Same value and same representation (exponent) as ``units * increment``."""
    got = quantize(value, increment, rounding)

    assert str(got) == str(_by_division(value, increment, rounding))


def test_tick_rounding_examples() -> None:
    """BTCUSDT's 0.01 tick: a bid rounds down, an ask up; 0.5 ticks round to halves."""
    assert quantize(D("61685.995"), D("0.01"), ROUND_FLOOR) == D("61685.99")
    assert quantize(D("61685.991"), D("0.01"), ROUND_CEILING) == D("61686.00")
    assert str(quantize(D("1.5"), D("0.01"))) == "1.50"
    assert quantize(D("1.74"), D("0.5"), ROUND_CEILING) == D("2.0")


def test_equal_increments_with_other_digits_round_differently() -> None:
    """0.1 and 0.10 are equal Decimals, but 0.10 is ten 0.01 steps, not one 0.1 step: the
    second call must not reuse what the first learned."""
    assert str(quantize(D("-1E-9"), D("0.1"), ROUND_FLOOR)) == "-0.1"
    assert str(quantize(D("-1E-9"), D("0.10"), ROUND_FLOOR)) == "-0.10"
    assert str(quantize(D("0.123"), D("0.10"), ROUND_FLOOR)) == "0.10"
