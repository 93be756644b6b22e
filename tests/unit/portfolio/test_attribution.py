"""P&L attribution by strategy and component, correlation matrix, the performance report (PF-3)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import Side
from genesis.exchange.fills import SlippageModel
from genesis.portfolio.attribution import attribute, correlation_matrix, performance_report
from genesis.portfolio.performance import TradeRecord
from genesis.strategies.hunter.mean_reversion import MeanReversion, MeanReversionParams
from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import (
    Harness,
    fill,
    make_kernel,
    make_portfolio,
    make_venue,
    real_bars,
)
from genesis.testing.instruments import BTCUSDT, ETHUSDT, lookup

HOUR = 3_600_000_000_000
BARS = real_bars(0, 3000)  # 50 hours of real BTCUSDT 1-minute bars
PRICES = sorted({b.close for b in BARS[:200]})  # real prices for the generated fills


def _no_slippage(_sid: str, _iid: str) -> D:
    return D(0)


@pytest.fixture(scope="module")
def two_strategies() -> Harness:
    """SMA cross and mean reversion on the same real bars, 10 bps fee, 2 bps slippage."""
    balances = {"USDT": D(1_000_000)}
    kernel = make_kernel(balances=balances, fee_rate=D("0.001"), start_ns=0)
    kernel.add_strategy(
        SmaCross, "sma", SmaCrossParams(fast=5, slow=20, quantity=D("0.5")), (BTCUSDT,)
    )
    kernel.add_strategy(MeanReversion, "meanrev", MeanReversionParams(), (BTCUSDT,))
    venue = make_venue(balances=balances, taker_bps=D(10), slippage=SlippageModel(bps=D(2)))
    return Harness(kernel, venue).run(BARS)


def test_components_sum_to_the_total_exactly() -> None:
    """realized + unrealized + fees == total == decision + slippage + fees, to the digit."""
    portfolio = make_portfolio()
    portfolio.apply_fill(fill(Side.BUY, "0.3", "46319.0", fee="13.8957", trade_id="1"))
    portfolio.apply_fill(fill(Side.SELL, "0.1", "46377.0", fee="4.6377", trade_id="2"))
    portfolio.mark(BTCUSDT, D("46385.0"))
    slippage = {("s1", BTCUSDT): D("1.7")}

    out = attribute(portfolio, lookup, ["s1"], lambda s, i: slippage[(s, i)])

    parts = {k: D(v) for k, v in out["strategies"]["s1"]["by_quote"]["USDT"].items()}
    assert parts["realized"] == D("5.8")  # (46377 - 46319) x 0.1
    assert parts["unrealized"] == D("13.2")  # (46385 - 46319) x 0.2
    assert parts["fees"] == D("-18.5334")
    assert parts["total"] == parts["realized"] + parts["unrealized"] + parts["fees"]
    assert parts["decision"] + parts["slippage"] + parts["fees"] == parts["total"]
    assert parts["slippage"] == D("-1.7")


def test_each_quote_currency_is_summed_apart() -> None:
    """Two strategies on a USDT and a BTC pair: the portfolio reports one column per quote."""
    portfolio = make_portfolio({"USDT": D(100_000), "BTC": D(1)})
    portfolio.apply_fill(fill(Side.BUY, "1", "3700.5", instrument_id=ETHUSDT, strategy_id="a"))
    portfolio.apply_fill(
        fill(Side.BUY, "1", "0.08", instrument_id="ETHBTC", strategy_id="b", fee_currency="BTC")
    )

    out = attribute(portfolio, lookup, ["a", "b"], _no_slippage)

    assert sorted(out["portfolio"]) == ["BTC", "USDT"]
    assert out["strategies"]["a"]["instruments"][ETHUSDT]["quote"] == "USDT"


def test_a_fee_in_a_third_currency_is_listed_apart() -> None:
    """A BNB fee stays out of P&L and is reported in native units."""
    portfolio = make_portfolio()
    portfolio.apply_fill(fill(Side.BUY, "0.1", "46319.0", fee="0.01", fee_currency="BNB"))

    out = attribute(portfolio, lookup, ["s1"], _no_slippage)

    assert out["strategies"]["s1"]["other_fees"] == {"BNB": "0.01"}
    assert out["strategies"]["s1"]["by_quote"]["USDT"]["fees"] == "0"


_FILL = st.tuples(
    st.sampled_from(["s1", "s2"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["0.001", "0.01", "0.25", "1"]),
    st.sampled_from(PRICES),
    st.sampled_from(["0", "0.05", "1.234"]),
)


@settings(max_examples=60, deadline=None)
@given(fills=st.lists(_FILL, min_size=1, max_size=12), data=st.data())
def test_attribution_total_is_the_cash_flow_for_any_fill_order(fills, data) -> None:
    """For any shuffled fill sequence, each strategy's total equals its cash flow plus the
    open position at the mark minus fees, and the portfolio sum equals the strategies'."""
    shuffled = data.draw(st.permutations(fills))
    portfolio = make_portfolio({"USDT": D(10_000_000)})
    for n, (sid, side, qty, px, fee) in enumerate(shuffled):
        portfolio.apply_fill(fill(side, qty, px, fee=fee, strategy_id=sid, trade_id=str(n)))
    mark = PRICES[len(PRICES) // 2]
    portfolio.mark(BTCUSDT, mark)

    out = attribute(portfolio, lookup, ["s1", "s2"], _no_slippage)

    grand = D(0)
    for sid in ("s1", "s2"):
        own = [f for f in shuffled if f[0] == sid]
        cash = sum((-f[1].sign * D(f[2]) * f[3] for f in own), D(0))
        held = sum((f[1].sign * D(f[2]) for f in own), D(0))
        fees = sum((D(f[4]) for f in own), D(0))
        expected = cash + held * mark - fees
        by_quote = out["strategies"][sid]["by_quote"]
        total = D(by_quote["USDT"]["total"]) if by_quote else D(0)
        assert total == expected
        grand += expected
    assert D(out["portfolio"]["USDT"]["total"]) == grand


def test_correlation_matrix_of_two_real_strategies(two_strategies: Harness) -> None:
    """SMA cross and mean reversion over 50 real hours: a symmetric matrix in [-1, 1]."""
    kernel = two_strategies.kernel

    out = correlation_matrix(kernel.performance.completed, ["sma", "meanrev"], min_buckets=3)

    assert out["strategies"] == ["meanrev", "sma"]
    assert out["buckets"] >= 40
    matrix = out["matrix"]
    assert matrix["sma"]["sma"] == matrix["meanrev"]["meanrev"] == 1.0
    assert matrix["sma"]["meanrev"] == matrix["meanrev"]["sma"]
    assert -1.0 <= matrix["sma"]["meanrev"] <= 1.0


def test_a_strategy_with_too_few_buckets_is_reported_not_nan() -> None:
    """One trade is not a series: the strategy is named with the reason, not correlated."""
    trades = [TradeRecord("a", BTCUSDT, 0, n * HOUR, D(n % 3 - 1), 2) for n in range(1, 9)]
    trades.append(TradeRecord("b", BTCUSDT, 0, 2 * HOUR, D(5), 2))

    out = correlation_matrix(trades, ["a", "b", "c"], min_buckets=3)

    assert out["insufficient"] == {
        "b": "1 buckets with P&L, 3 needed",
        "c": "0 buckets with P&L, 3 needed",
    }
    assert out["matrix"] == {"a": {"a": 1.0}}


def test_correlation_buckets_by_the_interval_given() -> None:
    """Two strategies whose P&L moves together per bucket correlate at 1."""
    trades = [
        TradeRecord(sid, BTCUSDT, 0, n * 60_000_000_000, D(n % 4), 2)
        for n in range(1, 12)
        for sid in ("a", "b")
    ]

    out = correlation_matrix(trades, ["a", "b"], interval_ns=60_000_000_000, min_buckets=3)

    assert out["matrix"]["a"]["b"] == 1.0


def test_correlation_refuses_a_bad_interval() -> None:
    """A zero interval is a ValueError naming the value."""
    with pytest.raises(ValueError, match="were 0 and 5"):
        correlation_matrix([], ["a"], interval_ns=0)


def test_performance_report_agrees_with_the_portfolio(two_strategies: Harness) -> None:
    """The report is JSON, its attribution totals match the portfolio and its fill count
    the fills booked."""
    kernel = two_strategies.kernel

    report = performance_report(kernel)

    assert json.loads(json.dumps(report)) == report
    for sid in ("sma", "meanrev"):
        view = kernel.portfolio.position(BTCUSDT, sid)
        fees = kernel.portfolio.book(BTCUSDT, sid).fees_paid
        parts = report["attribution"]["strategies"][sid]["by_quote"]["USDT"]
        assert D(parts["total"]) == view.realized_pnl + view.unrealized_pnl - fees
        assert D(parts["slippage"]) == -kernel.quality.slippage_cost(sid, BTCUSDT)
        assert D(parts["slippage"]) < 0  # 2 bps against every fill
    assert report["execution_quality"]["overall"]["fills"] == len(two_strategies.fills)
    assert sorted(report["capacity"]) == ["meanrev", "sma"]


def test_performance_report_changes_nothing() -> None:
    """Asking for the report on a fresh kernel creates no strategy figures."""
    kernel = make_kernel()

    report = performance_report(kernel)

    assert report["strategies"] == {}
    assert kernel.performance.strategies() == []
