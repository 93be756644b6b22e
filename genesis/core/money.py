"""Exact decimal arithmetic helpers: quantization to an increment, rounding by intent."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_UP, Decimal
from typing import Final

__all__ = [
    "ROUND_CEILING",
    "ROUND_DOWN",
    "ROUND_FLOOR",
    "ROUND_HALF_EVEN",
    "ROUND_UP",
    "ZERO",
    "decimals_of",
    "is_multiple",
    "quantize",
    "to_decimal",
]

ZERO: Final = Decimal(0)  # Final: compiled modules read it as a C static, not a dict lookup


def to_decimal(value: object) -> Decimal:
    """Convert ``value`` to Decimal without passing through binary floating point.

    Strings and ints convert exactly; a float is converted through its shortest
    ``repr`` (``0.1`` becomes ``Decimal("0.1")``, not 0.1000000000000000055...).

    Raises:
        ValueError: the value is not a finite number.
    """
    if type(value) is Decimal:  # the usual types first, by identity
        result = value
    elif type(value) is float:
        result = Decimal(repr(value))
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"expected a number, was {value!r}")
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except ArithmeticError as exc:
            raise ValueError(f"expected a number, was {value!r}") from exc
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise ValueError(f"expected a number, was {value!r}")
    if not result.is_finite():
        raise ValueError(f"expected a finite number, was {value!r}")
    return result


def quantize(value: Decimal, increment: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
    """Round ``value`` to a whole multiple of ``increment`` in the given direction.

    The result carries the increment's exponent (``quantize(1.5, 0.01)`` is ``1.50``).
    """
    known = _ONE_DIGIT.get(increment)
    if known is None or known[0] is not increment:  # 0.1 == 0.10: equal, not the same
        shape = increment.as_tuple()
        known = _ONE_DIGIT[increment] = (increment, shape.digits == (1,) and not shape.sign)
    if known[1]:  # 0.01, 1, 1E+2: one decimal quantize does it (most ticks and steps)
        return value.quantize(increment, rounding)  # positional: no keyword parsing per call
    units = (value / increment).to_integral_value(rounding=rounding)
    return (units * increment).quantize(increment)


# increment -> (that very object, whether its coefficient is the single digit 1): a
# handful of ticks and steps per process. Keyed by value but checked by identity, since
# Decimal("0.1") == Decimal("0.10") and only the first quantizes in steps of 0.1.
_ONE_DIGIT: Final[dict[Decimal, tuple[Decimal, bool]]] = {}


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """True when ``value`` is an exact whole multiple of ``increment``."""
    return (value % increment) == 0


def decimals_of(value: Decimal) -> int:
    """Number of digits after the decimal point in ``value``'s representation."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)
