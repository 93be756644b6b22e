"""MARKET_LOT_SIZE on real 2021 symbols: it binds MARKET orders, and zero disables a rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis import resources
from genesis.core.instruments import Instrument, InstrumentTable, load_exchange_info
from genesis.errors import ConfigError, InvalidOrder


@pytest.fixture(scope="module")
def table() -> InstrumentTable:
    return load_exchange_info(resources.EXCHANGE_INFO)


def test_ethbtc_market_lot_size_is_read(table: InstrumentTable) -> None:
    """ETHBTC: maxQty 873.90727776; minQty and stepSize "0.00000000" mean disabled."""
    ethbtc = table.get("ETHBTC")
    assert ethbtc.market_max_qty == Decimal("873.90727776")
    assert ethbtc.market_min_qty == 0
    assert ethbtc.market_step_size is None
    assert ethbtc.max_qty == Decimal("100000")


def test_market_order_above_market_max_is_refused(table: InstrumentTable) -> None:
    """1,000 ETH passes LOT_SIZE (max 100,000) but not MARKET_LOT_SIZE (max 873.9...)."""
    ethbtc = table.get("ETHBTC")
    ethbtc.validate_quantity(Decimal("1000"))
    with pytest.raises(
        InvalidOrder, match="ETHBTC: market quantity 1000 is above market_max_qty 873.90727776"
    ):
        ethbtc.validate_market_quantity(Decimal("1000"))


def test_market_order_at_the_market_max_passes(table: InstrumentTable) -> None:
    """The bound is inclusive, and a quantity on the LOT_SIZE step passes a disabled step."""
    ethbtc = table.get("ETHBTC")
    ethbtc.validate_market_quantity(Decimal("873.9072"))


def test_market_order_still_obeys_lot_size(table: InstrumentTable) -> None:
    """LOT_SIZE applies to MARKET orders too, before MARKET_LOT_SIZE."""
    with pytest.raises(InvalidOrder, match="not a multiple of step_size 0.0001"):
        table.get("ETHBTC").validate_market_quantity(Decimal("1.00001"))


def test_shib_market_max_below_lot_max(table: InstrumentTable) -> None:
    """SHIBRUB: LOT_SIZE max 46,116,860,414 but MARKET_LOT_SIZE max 2,631,653,832.05."""
    shibrub = table.get("SHIBRUB")
    shibrub.validate_market_quantity(Decimal("2631653832"))
    with pytest.raises(InvalidOrder, match="above market_max_qty 2631653832.05"):
        shibrub.validate_market_quantity(Decimal("2631653833"))


def test_every_symbol_builds_without_a_zero_market_step(table: InstrumentTable) -> None:
    """No instrument of the 1,695 keeps a zero step that a check could divide by."""
    steps = [table.get(s).market_step_size for s in table.symbols()]
    assert all(step is None or step > 0 for step in steps)
    assert sum(table.get(s).market_max_qty is not None for s in table.symbols()) == 1614


def test_enabled_market_step_and_min_are_enforced() -> None:
    """A non-zero market step and min refuse off-step and too-small MARKET quantities."""
    inst = Instrument(symbol="X", base="A", quote="B", tick_size=Decimal("0.01"),
                      step_size=Decimal("0.001"), market_min_qty=Decimal("0.1"),
                      market_step_size=Decimal("0.01"))  # fmt: skip
    with pytest.raises(InvalidOrder, match="market quantity 0.105 is not a multiple of"):
        inst.validate_market_quantity(Decimal("0.105"))
    with pytest.raises(InvalidOrder, match="market quantity 0.09 is below market_min_qty 0.1"):
        inst.validate_market_quantity(Decimal("0.09"))
    inst.validate_market_quantity(Decimal("0.11"))


def test_zero_market_step_is_a_config_error() -> None:
    """Zero must arrive as None (disabled), never as a step to divide by."""
    with pytest.raises(ConfigError, match="market_step_size must be > 0 or None"):
        Instrument(symbol="X", base="A", quote="B", tick_size=Decimal("1"),
                   step_size=Decimal("1"), market_step_size=Decimal("0"))  # fmt: skip
