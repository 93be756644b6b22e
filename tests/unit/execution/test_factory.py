"""OrderFactory: deterministic ids, time stamps and quantization through the instrument gate.

The instrument is the real BTCUSDT of the 2021-10-12 exchangeInfo (tick
0.01, step 0.00001); prices are real BTCUSDT perpetual 1-minute closes of
2021-12-31 (23:01 closed at 46377.0) and the clock sits at that bar's open.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.clock import SimClock
from genesis.core.enums import OrderStatus, OrderType, Side, TimeInForce
from genesis.errors import ConfigError, InvalidOrder
from genesis.execution.factory import OrderFactory
from genesis.testing.builders import MINUTE_NS, T0
from genesis.testing.instruments import lookup

D = Decimal
CLOSE = D("46377.0")


def _factory(strategy_id: str = "brk") -> tuple[OrderFactory, SimClock]:
    clock = SimClock(T0)
    return OrderFactory(strategy_id, clock, lookup), clock


def test_client_order_id_is_strategy_time_and_sequence() -> None:
    """Ids read ``<strategy>-<ts_ns>-<seq>`` and the sequence counts up across time."""
    factory, clock = _factory()

    first = factory.market("BTCUSDT", Side.BUY, "0.01")
    clock.advance_to(T0 + MINUTE_NS)
    second = factory.limit("BTCUSDT", Side.SELL, "0.01", CLOSE)

    assert [first.client_order_id, second.client_order_id] == [
        f"brk-{T0}-1",
        f"brk-{T0 + MINUTE_NS}-2",
    ]


def test_ids_are_deterministic_across_factories() -> None:
    """Two factories on equal clocks name the same sequence of orders identically."""
    a, _ = _factory()
    b, _ = _factory()

    ids_a = [a.market("BTCUSDT", Side.BUY, "0.01").client_order_id for _ in range(3)]

    assert ids_a == [b.market("BTCUSDT", Side.BUY, "0.01").client_order_id for _ in range(3)]


def test_order_is_stamped_with_strategy_time_and_correlation() -> None:
    """A new order is NEW, owned by the strategy, stamped at the clock, correlated to itself."""
    factory, _ = _factory()

    order = factory.market("BTCUSDT", Side.BUY, "0.01")

    assert (order.status, order.strategy_id, order.ts_init) == (OrderStatus.NEW, "brk", T0)
    assert order.correlation_id == order.client_order_id


def test_explicit_correlation_id_is_kept() -> None:
    """A correlation id passed in (an exit of an entry) is kept as given."""
    factory, _ = _factory()

    order = factory.market("BTCUSDT", Side.SELL, "0.01", correlation_id="brk-entry")

    assert order.correlation_id == "brk-entry"


def test_quantity_is_rounded_down_to_the_step() -> None:
    """0.0123456789 BTC becomes 0.01234 at step 0.00001 (never more than asked)."""
    factory, _ = _factory()

    assert factory.market("BTCUSDT", Side.BUY, "0.0123456789").quantity == D("0.01234")


def test_float_quantity_goes_through_its_repr() -> None:
    """A float 0.1 is 0.10000 BTC, not 0.09999 from binary rounding."""
    factory, _ = _factory()

    assert factory.market("BTCUSDT", Side.BUY, 0.1).quantity == D("0.10000")


def test_buy_limit_price_rounds_down() -> None:
    """A buy at 46377.009 is 46377.00: a buyer never pays more than asked."""
    factory, _ = _factory()

    assert factory.limit("BTCUSDT", Side.BUY, "0.01", "46377.009").price == D("46377.00")


def test_sell_limit_price_rounds_up() -> None:
    """A sell at 46377.001 is 46377.01: a seller never receives less than asked."""
    factory, _ = _factory()

    assert factory.limit("BTCUSDT", Side.SELL, "0.01", "46377.001").price == D("46377.01")


def test_limit_options_are_carried() -> None:
    """post_only and time_in_force reach the order."""
    factory, _ = _factory()

    order = factory.limit(
        "BTCUSDT", Side.BUY, "0.01", "46300", post_only=True, time_in_force=TimeInForce.IOC
    )

    assert (order.post_only, order.time_in_force) == (True, TimeInForce.IOC)


def test_stop_limit_has_both_prices() -> None:
    """A stop-limit keeps its trigger (nearest tick) and its limit (side-safe rounding)."""
    factory, _ = _factory()

    order = factory.stop_limit("BTCUSDT", Side.SELL, "0.01", "46400.004", "46380.001")

    assert (order.order_type, order.trigger_price, order.price) == (
        OrderType.STOP_LIMIT,
        D("46400.00"),
        D("46380.01"),
    )


def test_attached_stop_loss_and_take_profit_are_quantized() -> None:
    """1% under and 2% over 46377.0: stop 45913.23 (nearest tick), target 47304.54 (rounded up)."""
    factory, _ = _factory()

    order = factory.market(
        "BTCUSDT", Side.BUY, "0.01", stop_loss=CLOSE * D("0.99"), take_profit=CLOSE * D("1.02")
    )

    assert (order.stop_loss, order.take_profit) == (D("45913.23"), D("47304.54"))


def test_quantity_rounding_to_zero_raises_naming_value_and_step() -> None:
    """0.000001 BTC rounds to 0 at step 0.00001: InvalidOrder names both."""
    factory, _ = _factory()

    with pytest.raises(InvalidOrder, match=r"0\.000001 rounds to 0 at step_size 0\.00001"):
        factory.market("BTCUSDT", Side.BUY, "0.000001")


def test_negative_quantity_raises() -> None:
    """A negative quantity is refused with InvalidOrder naming the value."""
    factory, _ = _factory()

    with pytest.raises(InvalidOrder, match="-0.01"):
        factory.market("BTCUSDT", Side.BUY, "-0.01")


def test_zero_quantity_raises() -> None:
    """A quantity of 0 is not a positive number: InvalidOrder."""
    factory, _ = _factory()

    with pytest.raises(InvalidOrder):
        factory.market("BTCUSDT", Side.BUY, 0)


def test_limit_price_rounding_to_zero_raises() -> None:
    """A buy limit at 0.004 USDT rounds to 0.00 at tick 0.01: InvalidOrder."""
    factory, _ = _factory()

    with pytest.raises(InvalidOrder):
        factory.limit("BTCUSDT", Side.BUY, "0.01", "0.004")


def test_unknown_instrument_raises_config_error() -> None:
    """An order for a symbol not in exchangeInfo fails at the lookup, naming the symbol."""
    factory, _ = _factory()

    with pytest.raises(ConfigError, match="NOPEUSDT"):
        factory.market("NOPEUSDT", Side.BUY, "1")
