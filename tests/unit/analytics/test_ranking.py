"""Ranking (AN-6): the risk-adjusted score, the persistence test and the rolling statistics.

Real data: the bundled Binance and Bybit BTCUSD quote bars of 2022-12-13; the
edge of buying on Bybit and selling on Binance (touch against touch, before
fees) is observed at each of Bybit's 464 quotes, Binance's quote of the same
minute being the latest seen.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats

from genesis.analytics.arbitrage import CrossVenueArbitrage, Opportunity
from genesis.analytics.ranking import PersistenceTest, RollingStats, rank, score, sign_test_p
from genesis.data.sources import open_sources, parse_data_arg
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BYBIT_BTCUSD_1M_QUOTES

D = Decimal


def _opportunity(qty: str, net_bps: float, price: str = "100") -> Opportunity:
    notional = float(D(qty) * D(price))
    return Opportunity(
        ts=0, symbol="X", buy_venue="a", sell_venue="b", buy_price=D(price),
        sell_price=D(price), best_ask=D(price), best_bid=D(price), qty=D(qty),
        gross_bps=net_bps, net_bps=net_bps, top_net_bps=net_bps,
        expected_profit=notional * net_bps / 10_000,
    )  # fmt: skip


@pytest.fixture(scope="module")
def bybit_edges() -> list[float]:
    """The buy-Bybit/sell-Binance edge (bps, no fees) at each Bybit quote: 464 values."""
    specs = [
        parse_data_arg(str(BINANCE_BTCUSD_1M_QUOTES)),
        parse_data_arg(str(BYBIT_BTCUSD_1M_QUOTES)),
    ]
    detector = CrossVenueArbitrage({"binance": 0.0, "bybit": 0.0})
    edges = []
    for quote in open_sources(specs):
        detector.update(
            quote.instrument_id, quote.ts_init, [(quote.bid, D(1))], [(quote.ask, D(1))]
        )  # type: ignore[attr-defined]
        if quote.instrument_id == "bybit:BTCUSD":
            edge = detector.edge_bps("bybit", "binance")
            assert edge is not None
            edges.append(edge)
    return edges


# --- score and rank ---------------------------------------------------------------------


def test_score_is_probability_weighted_profit_minus_one_stdev() -> None:
    """10 bps on 10,000 with a 10 bps stdev: p = Phi(1), risk 10, score 10 x 0.8413 - 10."""
    ranked = score(_opportunity("100", 10.0), 10.0)

    assert ranked.fill_probability == pytest.approx(0.8413447)
    assert ranked.risk == pytest.approx(10.0)
    assert ranked.score == pytest.approx(10 * 0.8413447 - 10)


def test_certain_edge_has_probability_one() -> None:
    """A zero stdev: a positive edge fills for sure and carries no risk."""
    ranked = score(_opportunity("1", 5.0), 0.0)

    assert (ranked.fill_probability, ranked.risk) == (1.0, 0.0)
    assert ranked.score == pytest.approx(0.05)


def test_rank_prefers_the_larger_of_two_equally_sharp_trades() -> None:
    """Same edge and stdev, ten times the size: ranked first; a thin edge in noise ranks last."""
    small, big, noisy = _opportunity("1", 20.0), _opportunity("10", 20.0), _opportunity("10", 2.0)

    ranked = rank([small, noisy, big], 5.0)

    assert [r.opportunity for r in ranked] == [big, small, noisy]
    assert ranked[-1].score < 0


def test_negative_stdev_is_refused() -> None:
    """The stdev of the edge cannot be negative."""
    with pytest.raises(ValueError, match="edge_stdev_bps"):
        score(_opportunity("1", 5.0), -1.0)


# --- persistence ------------------------------------------------------------------------


def test_sign_test_is_the_exact_binomial_tail() -> None:
    """10 of 10 above: 1/1024; 5 of 10: 638/1024; 0 of n: 1."""
    assert sign_test_p(10, 10) == pytest.approx(1 / 1024)
    assert sign_test_p(5, 10) == pytest.approx(638 / 1024)
    assert sign_test_p(0, 7) == 1.0


def test_t_test_p_value_matches_scipy_one_sample(bybit_edges: list[float]) -> None:
    """After 30 real edges the rolling p-value is scipy's one-sided ttest_1samp."""
    test = PersistenceTest(3.0, window=30)
    for edge in bybit_edges[:100]:
        verdict = test.update(edge)

    expected = stats.ttest_1samp(bybit_edges[70:100], 3.0, alternative="greater").pvalue

    assert verdict.p_value == pytest.approx(expected, rel=1e-9)


def test_a_glitch_is_not_persistent() -> None:
    """Twenty observations at 1 bps then two at 50: above 3 bps twice in a row, not significant."""
    test = PersistenceTest(3.0, min_consecutive=3)
    for _ in range(20):
        test.update(1.0)

    verdict = [test.update(50.0) for _ in range(2)][-1]

    assert verdict.consecutive == 2
    assert not verdict.significant


def test_a_steady_edge_becomes_significant_after_min_samples() -> None:
    """An edge of 6 +- 1 bps against a 3 bps bar: significant at the 10th observation, not before."""
    test = PersistenceTest(3.0, min_samples=10)

    verdicts = [test.update(6.0 + (-1) ** i) for i in range(10)]

    assert [v.significant for v in verdicts] == [False] * 9 + [True]


def test_reset_forgets_everything() -> None:
    """After reset the run and the window start again."""
    test = PersistenceTest(0.0)
    for _ in range(20):
        test.update(5.0)

    test.reset()

    assert test.update(5.0) == test.verdict()
    assert (test.verdict().n, test.verdict().consecutive) == (1, 1)


@pytest.mark.parametrize(("method", "count"), [("t", 214), ("sign", 219)])
def test_real_edge_is_persistently_above_3_bps_in_part_of_the_day(
    bybit_edges: list[float], method: str, count: int
) -> None:
    """Before fees, Bybit's discount to Binance is significantly above 3 bps at ~46% of its minutes."""
    test = PersistenceTest(3.0, method=method)  # type: ignore[arg-type]

    significant = sum(test.update(edge).significant for edge in bybit_edges)

    assert len(bybit_edges) == 464
    assert significant == count


def test_real_edge_never_persists_above_the_fees(bybit_edges: list[float]) -> None:
    """Against 11 bps (5 + 6 bps of taker fees) the edge is never significant."""
    test = PersistenceTest(11.0)

    assert not any(test.update(edge).significant for edge in bybit_edges)


# --- rolling statistics -----------------------------------------------------------------


def test_rolling_stats_match_numpy_on_every_window(bybit_edges: list[float]) -> None:
    """Mean and sample stdev of each 50-edge window equal numpy's to 1e-9 (rebuilt, no drift)."""
    rolling = RollingStats(50)
    worst = 0.0
    for i, edge in enumerate(bybit_edges):
        rolling.push(edge)
        window = np.array(bybit_edges[max(0, i - 49) : i + 1])
        if len(window) >= 2:
            worst = max(
                worst, abs(rolling.mean - window.mean()), abs(rolling.stdev() - window.std(ddof=1))
            )

    assert worst < 1e-9
    assert math.isclose(rolling.mean, float(np.mean(bybit_edges[-50:])))
