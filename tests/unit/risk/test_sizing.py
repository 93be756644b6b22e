"""Kelly sizing (ST-S3) and volatility targeting: the formulas, the blend, the caps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.risk.sizing import KellySizer, kelly_fraction, volatility_quantity

D = Decimal


@pytest.mark.parametrize(
    ("win", "payoff", "expected"),
    [(0.5, 1.0, 0.0), (0.6, 1.0, 0.2), (0.4, 2.0, 0.1), (0.25, 2.0, -0.125), (1.0, 3.0, 1.0)],
)
def test_kelly_fraction_is_w_minus_loss_rate_over_payoff(
    win: float, payoff: float, expected: float
) -> None:
    """f* = W - (1 - W) / R: a coin flip at even money has no edge."""
    assert kelly_fraction(win, payoff) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("win", "payoff"), [(-0.1, 2.0), (1.1, 2.0), (0.5, 0.0), (0.5, -1.0)])
def test_kelly_fraction_refuses_impossible_inputs(win: float, payoff: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        kelly_fraction(win, payoff)


def test_no_record_uses_the_prior_and_caps_at_two_percent() -> None:
    """Prior 40% at payoff 2: full Kelly 10%, half 5%, capped at 2%."""
    assert KellySizer().risk_fraction(0, None, None) == D("0.02")


def test_a_small_edge_is_risked_uncapped() -> None:
    """A long record of 52% wins at payoff 1 (edge 4%): half-Kelly about 2% blended..."""
    sizer = KellySizer(prior_win_rate=0.5, prior_payoff=1.0, min_trades=20)
    # 180 trades: weight 0.9 on the record -> W = 0.518, R = 1 -> f* = 0.036, half 0.018
    assert sizer.risk_fraction(180, 0.52, 1.0) == D("0.018")


def test_a_record_with_no_edge_sizes_to_zero() -> None:
    """30% wins at payoff 1.5 over 200 trades outweighs the prior: no edge, no trade."""
    assert KellySizer().risk_fraction(200, 0.30, 1.5) == D(0)


def test_the_record_weighs_in_by_trade_count() -> None:
    """At n = min_trades the record and prior weigh half each."""
    sizer = KellySizer(cap=D(1), multiplier=1.0, prior_win_rate=0.5, prior_payoff=2.0)
    # W = 0.5*0.7 + 0.5*0.5 = 0.6, R = 0.5*1 + 0.5*2 = 1.5 -> 0.6 - 0.4/1.5 = 0.333333
    assert sizer.risk_fraction(20, 0.7, 1.0) == D("0.333333")


def test_quantity_risks_the_fraction_between_entry_and_stop() -> None:
    """1,000 USDT, 2% at risk, entry 46541.0 and stop 46075.59: 20 / 465.41 BTC."""
    qty = KellySizer().quantity(D(1000), D("46541.0"), D("46075.59"), D("0.02"))
    assert qty == D(20) / D("465.41")
    assert KellySizer().quantity(D(1000), D(1), D(1), D("0.02")) == 0


def test_volatility_quantity_targets_a_daily_move() -> None:
    """10,000 equity, 1% daily target, price 0.0712, 4% daily vol: 100 / 0.002848 units."""
    qty = volatility_quantity(D(10_000), D("0.0712"), 0.04, D("0.01"))
    assert qty == D(100) / (D("0.0712") * D("0.04"))
    assert volatility_quantity(D(10_000), D("0.0712"), 0.0, D("0.01")) == 0
