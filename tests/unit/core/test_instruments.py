"""Instruments from the real exchangeInfo: the Decimal gate and filter validation."""

from __future__ import annotations

import gzip
from decimal import ROUND_UP, Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.core.enums import Side
from genesis.core.instruments import Instrument, load_exchange_info
from genesis.errors import InvalidOrder


@pytest.fixture(scope="module")
def btcusdt() -> Instrument:
    return load_exchange_info(resources.EXCHANGE_INFO).get("BTCUSDT")


def test_exchange_info_loads_every_symbol() -> None:
    """All 1,695 symbols of the 2021-10-12 exchangeInfo become instruments."""
    assert len(load_exchange_info(resources.EXCHANGE_INFO)) == 1695


def test_exchange_info_for_some_symbols_builds_the_same_instruments(tmp_path: Path) -> None:
    """``symbols=`` builds only those instruments, equal to the full table's; the plain
    JSON reads the same; an unlisted symbol gives an empty table."""
    full = load_exchange_info(resources.EXCHANGE_INFO)
    some = load_exchange_info(resources.EXCHANGE_INFO, symbols=("BTCUSDT", "ETHBTC", "NOPE"))
    assert [i.symbol for i in some] == ["ETHBTC", "BTCUSDT"]  # file order
    assert [some.get(s) for s in ("BTCUSDT", "ETHBTC")] == [full.get("BTCUSDT"), full.get("ETHBTC")]
    plain = tmp_path / "info.json"
    plain.write_bytes(gzip.decompress(Path(resources.EXCHANGE_INFO).read_bytes()))
    assert load_exchange_info(plain, symbols=["BTCUSDT"]).get("BTCUSDT") == full.get("BTCUSDT")
    assert len(load_exchange_info(plain, symbols=["NOPE"])) == 0


def test_btcusdt_filters(btcusdt: Instrument) -> None:
    """Tick, step and min notional come from PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL."""
    assert (btcusdt.base, btcusdt.quote) == ("BTC", "USDT")
    assert btcusdt.tick_size == Decimal("0.01")
    assert btcusdt.step_size == Decimal("0.00001")
    assert btcusdt.min_notional == Decimal("10")


def test_price_rounds_down_by_default_and_as_asked(btcusdt: Instrument) -> None:
    """price() quantizes to the tick, toward zero unless told otherwise; floats go via repr."""
    assert btcusdt.price("46319.129") == Decimal("46319.12")
    assert btcusdt.price("46319.121", ROUND_UP) == Decimal("46319.13")
    assert btcusdt.price(46319.1) == Decimal("46319.10")


def test_price_for_side_never_worsens_the_limit(btcusdt: Instrument) -> None:
    """A buy rounds down, a sell rounds up."""
    assert btcusdt.price_for(Side.BUY, "46319.129") == Decimal("46319.12")
    assert btcusdt.price_for(Side.SELL, "46319.121") == Decimal("46319.13")


def test_quantity_rounding_to_zero_is_refused(btcusdt: Instrument) -> None:
    """A non-zero quantity below one step names the value and the step."""
    with pytest.raises(InvalidOrder, match="quantity 0.000001 rounds to 0 at step_size 0.00001"):
        btcusdt.quantity("0.000001")


@pytest.mark.parametrize(
    ("price", "qty", "message"),
    [
        ("46319.001", "0.001", "price 46319.001 is not a multiple of tick_size 0.01"),
        ("46319.00", "0.0000101", "quantity 0.0000101 is not a multiple of step_size 0.00001"),
        ("46319.00", "0.00010", "notional 4.6319000 is below min_notional 10"),
        ("46319.00", "9001", "quantity 9001 is above max_qty 9000"),
    ],
)
def test_validate_order_names_field_value_and_increment(
    btcusdt: Instrument, price: str, qty: str, message: str
) -> None:
    """Every filter violation says which field, the value and the limit."""
    with pytest.raises(InvalidOrder, match=message):
        btcusdt.validate_order(Decimal(price), Decimal(qty))


def test_nan_and_negative_inputs_are_refused(btcusdt: Instrument) -> None:
    """Non-finite and negative numbers never become prices."""
    with pytest.raises(InvalidOrder, match="finite"):
        btcusdt.price("NaN")
    with pytest.raises(InvalidOrder, match="must be >= 0"):
        btcusdt.quantity("-1")


def test_an_instrument_survives_pickling_compiled_or_not(btcusdt: Instrument) -> None:
    """A parameter search sends the instrument to its worker processes (pickle); the
    compiled frozen class is rebuilt by its constructor, every field kept."""
    import pickle

    back = pickle.loads(pickle.dumps(btcusdt))
    assert back == btcusdt
    assert (back.source, back.min_notional, back.market_max_qty) == (
        btcusdt.source, Decimal("10.00000000"), btcusdt.market_max_qty,
    )  # fmt: skip
