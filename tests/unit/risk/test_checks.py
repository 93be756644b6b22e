"""Pre-trade checks: each refusal's code and sentence (value and limit), and what passes.

The instrument is the real BTCUSDT of the 2021-10-12 exchangeInfo (tick
0.01, step 0.00001, min notional 10); the reference price is the real close
of the 2021-12-31 23:01 UTC BTCUSDT perpetual bar, 46377.0. The quote mid
39433.305 is the first real Binance spot quote of 2021-01-08 (bid 39432.99,
ask 39433.62, tests/data).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.enums import OrderType, Side
from genesis.risk.checks import (
    RiskInput,
    check_cash,
    check_instrument_filters,
    check_position_size,
    check_stop_loss,
)
from genesis.risk.limits import TIER_LIMITS, Tier
from genesis.testing.builders import order
from genesis.testing.instruments import instrument

D = Decimal
CLOSE = D("46377.0")
BASE = RiskInput(
    instrument=instrument("BTCUSDT"),
    reference_price=CLOSE,
    equity=D(10_000),
    free_quote=D(10_000),
    free_base=D(0),
    position_qty=D(0),
    fee_rate=D("0.001"),
    tier=Tier.SNIPER,
    limits=TIER_LIMITS[Tier.SNIPER],
    requires_stop_loss=False,
    reduce_only=False,
)


def _risk(**changes: object) -> RiskInput:
    return BASE.replace(**changes)


# --- instrument filters -----------------------------------------------------------


def test_valid_order_passes_the_filters() -> None:
    """0.01 BTC at the 46377.0 reference meets step, min quantity and min notional."""
    assert check_instrument_filters(order(Side.BUY, "0.01"), BASE) is None


def test_quantity_off_the_step_is_refused_naming_value_and_step() -> None:
    """0.000015 BTC is not a multiple of 0.00001: INSTRUMENT_FILTER names both."""
    refusal = check_instrument_filters(order(Side.BUY, "0.000015"), BASE)

    assert refusal is not None
    assert refusal.code == "INSTRUMENT_FILTER"
    assert "quantity 0.000015 is not a multiple of step_size 0.00001" in refusal.message


def test_notional_below_minimum_is_refused_with_value_and_limit() -> None:
    """0.0002 BTC at 46377.0 is 9.2754 USDT, under the 10 USDT minimum."""
    refusal = check_instrument_filters(order(Side.BUY, "0.0002"), BASE)

    assert refusal is not None
    assert refusal.code == "INSTRUMENT_FILTER"
    assert "notional 9.27540 is below min_notional 10" in refusal.message


def test_limit_price_off_the_tick_is_refused() -> None:
    """A limit at 46377.005 is not a multiple of the 0.01 tick."""
    bad = order(Side.BUY, "0.01", OrderType.LIMIT, price="46377.005")

    refusal = check_instrument_filters(bad, _risk(reference_price=D("46377.005")))

    assert refusal is not None
    assert "price 46377.005 is not a multiple of tick_size 0.01" in refusal.message


def test_market_order_priced_at_a_half_tick_mid_passes() -> None:
    """A market order needs no tick-aligned reference: the quote mid 39433.305 is fine."""
    mid = (D("39432.99") + D("39433.62")) / 2

    assert check_instrument_filters(order(Side.BUY, "0.01"), _risk(reference_price=mid)) is None


# --- cash ---------------------------------------------------------------------------


def test_buy_costing_more_than_free_quote_is_refused() -> None:
    """0.25 BTC at 46377.0 plus 0.1% is 11,605.84425 USDT against 10,000 free."""
    refusal = check_cash(order(Side.BUY, "0.25"), BASE)

    assert refusal is not None
    assert refusal.code == "INSUFFICIENT_CASH"
    assert "needs 11605.84425000 USDT with fees, 10000 USDT free" in refusal.message


def test_buy_costing_exactly_the_free_quote_passes() -> None:
    """A cost equal to the free balance is affordable."""
    assert check_cash(order(Side.BUY, "0.25"), _risk(free_quote=D("11605.84425"))) is None


def test_sell_beyond_free_base_is_refused() -> None:
    """Selling 0.01 BTC with 0.005 BTC free is INSUFFICIENT_BALANCE with both amounts."""
    refusal = check_cash(order(Side.SELL, "0.01"), _risk(free_base=D("0.005")))

    assert refusal is not None
    assert refusal.code == "INSUFFICIENT_BALANCE"
    assert refusal.message == "sell 0.01 BTC exceeds the 0.005 BTC free"


# --- position size ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "largest", "too_large"),
    [
        (Tier.SNIPER, "0.00431", "0.00432"),  # 2% of 10,000 = 200 USDT
        (Tier.HUNTER, "0.01078", "0.01079"),  # 5% = 500 USDT
        (Tier.STRATEGIST, "0.02156", "0.02157"),  # 10% = 1,000 USDT
    ],
)
def test_tier_caps_position_notional(tier: Tier, largest: str, too_large: str) -> None:
    """At 46377.0 the largest whole-step position fits the tier's cap and one step more does not."""
    risk = _risk(tier=tier, limits=TIER_LIMITS[tier])

    ok = check_position_size(order(Side.BUY, largest), risk)
    refusal = check_position_size(order(Side.BUY, too_large), risk)

    assert ok is None
    assert refusal is not None
    assert refusal.code == "MAX_POSITION_SIZE"


def test_size_refusal_names_value_limit_and_tier() -> None:
    """0.00432 BTC at 46377.0 is 200.35 USDT over the Sniper's 2% of 10,000 = 200.00."""
    refusal = check_position_size(order(Side.BUY, "0.00432"), BASE)

    assert refusal is not None
    assert refusal.message == (
        "position notional 200.35 USDT would exceed 2% of equity = 200.00 (sniper)"
    )


def test_size_counts_the_existing_position() -> None:
    """Holding 0.004 BTC, buying 0.00032 more makes 0.00432: over the 2% cap."""
    refusal = check_position_size(order(Side.BUY, "0.00032"), _risk(position_qty=D("0.004")))

    assert refusal is not None


def test_order_reducing_the_position_passes_sizing() -> None:
    """Selling 0.001 of a 0.01 BTC position (over the cap) reduces exposure and passes."""
    assert check_position_size(order(Side.SELL, "0.001"), _risk(position_qty=D("0.01"))) is None


def test_reduce_only_exit_passes_sizing() -> None:
    """An attached exit is never blocked by the size limit, whatever its size."""
    assert check_position_size(order(Side.SELL, "1"), _risk(reduce_only=True)) is None


def test_without_a_tier_sizing_is_not_checked() -> None:
    """No tier, no limits: a 100% of equity order passes the size check."""
    risk = _risk(tier=None, limits=None)

    assert check_position_size(order(Side.BUY, "0.2"), risk) is None


# --- stop loss ----------------------------------------------------------------------


def test_entry_without_stop_loss_is_refused_when_required() -> None:
    """A strategy that must use stops cannot send an entry without one."""
    entry = order(Side.BUY, "0.001", client_order_id="brk-1")

    refusal = check_stop_loss(entry, _risk(requires_stop_loss=True))

    assert refusal is not None
    assert refusal.code == "STOP_LOSS_REQUIRED"
    assert "brk-1" in refusal.message


def test_entry_with_stop_loss_passes() -> None:
    """An entry carrying a stop loss (1% under 46377.0) passes."""
    entry = order(Side.BUY, "0.001", stop_loss="45913.23")

    assert check_stop_loss(entry, _risk(requires_stop_loss=True)) is None


def test_reduce_only_exit_needs_no_stop_loss() -> None:
    """An attached exit is not an entry: no stop loss needed."""
    risk = _risk(requires_stop_loss=True, reduce_only=True)

    assert check_stop_loss(order(Side.SELL, "0.001"), risk) is None


def test_closing_order_needs_no_stop_loss() -> None:
    """Selling the whole 0.001 BTC long closes it: no stop loss is needed."""
    risk = _risk(requires_stop_loss=True, position_qty=D("0.001"), free_base=D("0.001"))

    assert check_stop_loss(order(Side.SELL, "0.001"), risk) is None
