"""SimAccount: balances, locks and settlement of fills, exact Decimal.

Prices are real BTCUSDT perpetual 1-minute bars (23:02 UTC on 2021-12-31
opened at 46377.0, 23:03 at 46411.0); the instrument is the real BTCUSDT.
"""

from __future__ import annotations

from decimal import Decimal

from genesis.core.enums import Side
from genesis.exchange.account import SimAccount
from genesis.testing.instruments import instrument

D = Decimal
BTCUSDT = instrument("BTCUSDT")
OPEN_2302, OPEN_2303 = D("46377.0"), D("46411.0")


def test_free_is_total_minus_locked() -> None:
    """Locking 463.77 of 1,000 USDT leaves 536.23 free and the total unchanged."""
    account = SimAccount({"USDT": D(1000)})

    assert account.lock("USDT", D("463.77"))

    assert (account.total("USDT"), account.free("USDT")) == (D(1000), D("536.23"))


def test_lock_beyond_free_is_refused_and_changes_nothing() -> None:
    """A lock larger than the free balance returns False and leaves free as it was."""
    account = SimAccount({"USDT": D(100)})

    locked = account.lock("USDT", D("463.77"))

    assert (locked, account.free("USDT")) == (False, D(100))


def test_release_returns_the_amount_to_free() -> None:
    """Releasing what was locked restores the free balance exactly."""
    account = SimAccount({"BTC": D("0.5")})
    account.lock("BTC", D("0.3"))

    account.release("BTC", D("0.3"))

    assert account.free("BTC") == D("0.5")


def test_unknown_currency_has_zero_balance() -> None:
    """A currency never held has total and free 0."""
    account = SimAccount({})

    assert (account.total("ETH"), account.free("ETH")) == (D(0), D(0))


def test_settle_buy_moves_base_in_and_quote_plus_fee_out() -> None:
    """Buying 0.01 BTC at 46377.0 with a 0.46377 fee costs 464.23377 USDT."""
    account = SimAccount({"USDT": D(1000)})

    account.settle(BTCUSDT, Side.BUY, D("0.01"), OPEN_2302, D("0.46377"))

    assert account.balances() == {"BTC": D("0.01"), "USDT": D("535.76623")}


def test_settle_sell_moves_base_out_and_quote_minus_fee_in() -> None:
    """Selling 0.01 BTC at 46411.0 with a 0.46411 fee yields 463.64589 USDT."""
    account = SimAccount({"BTC": D("0.01")})

    account.settle(BTCUSDT, Side.SELL, D("0.01"), OPEN_2303, D("0.46411"))

    assert account.balances() == {"USDT": D("463.64589")}


def test_balances_are_sorted_and_omit_zero() -> None:
    """balances() lists non-zero totals by currency name."""
    account = SimAccount({"USDT": D(5), "BTC": D(0), "ETH": D(1)})

    assert list(account.balances().items()) == [("ETH", D(1)), ("USDT", D(5))]


def test_can_settle_buy_counts_the_orders_own_lock() -> None:
    """A buy whose cost is locked by itself can settle although free is 0."""
    account = SimAccount({"USDT": D("463.77")})
    account.lock("USDT", D("463.77"))

    ok = account.can_settle(BTCUSDT, Side.BUY, D("0.01"), OPEN_2302, D(0), own_lock=D("463.77"))

    assert ok


def test_can_settle_buy_refuses_a_cost_above_free_plus_lock() -> None:
    """A fee on top of a fully locked notional cannot be paid."""
    account = SimAccount({"USDT": D("463.77")})
    account.lock("USDT", D("463.77"))

    ok = account.can_settle(
        BTCUSDT, Side.BUY, D("0.01"), OPEN_2302, D("0.01"), own_lock=D("463.77")
    )

    assert not ok


def test_can_settle_sell_needs_the_base() -> None:
    """Selling 0.01 BTC with only 0.005 BTC is refused."""
    account = SimAccount({"BTC": D("0.005")})

    assert not account.can_settle(BTCUSDT, Side.SELL, D("0.01"), OPEN_2302, D(0), own_lock=D(0))
