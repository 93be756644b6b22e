"""Fill models: fees, slippage, latency and the OHLC bar path, on real BTCUSDT bars.

Bars are the bundled BTCUSDT perpetual 1-minute bars (first bar: 2021-12-31
23:01 UTC, 46319.0 / 46385.0 / 46319.0 / 46377.0); the instrument is the real
BTCUSDT of the 2021-10-12 exchangeInfo (tick 0.01).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import Bar
from genesis.exchange.fills import (
    FeeModel,
    LatencyModel,
    SlippageModel,
    bar_path,
    first_at_or_above,
    first_at_or_below,
)
from genesis.testing.builders import real_bars
from genesis.testing.instruments import instrument

D = Decimal
BTCUSDT = instrument("BTCUSDT")
UP_BAR, DOWN_BAR = real_bars(0, 1)[0], real_bars(6, 1)[0]  # 23:01 closes up, 23:07 closes down
SAMPLE = real_bars(0, 2_000)


def test_fee_is_bps_of_notional_exactly() -> None:
    """A 10 bps taker fee on 0.01 BTC at 46377.0 is 0.46377 USDT, exactly."""
    fees = FeeModel(maker_bps=D(2), taker_bps=D(10))

    fee = fees.fee(D("0.01") * D("46377.0"), LiquiditySide.TAKER)

    assert fee == D("0.46377")


def test_maker_fee_uses_maker_bps() -> None:
    """A maker fill is charged the maker rate: 2 bps of 464.00 USDT is 0.0928."""
    fees = FeeModel(maker_bps=D(2), taker_bps=D(10))

    assert fees.fee(D("0.01") * D("46400.00"), LiquiditySide.MAKER) == D("0.0928")


def test_worst_rate_is_the_larger_fee_as_a_fraction() -> None:
    """worst_rate is max(maker, taker) / 10,000: the rate locks are sized with."""
    assert FeeModel(maker_bps=D(2), taker_bps=D("7.5")).worst_rate == D("0.00075")


def test_zero_slippage_returns_the_price_unchanged() -> None:
    """Without slippage a taker fill is at the path price itself."""
    assert SlippageModel().apply(D("46377.0"), Side.BUY, BTCUSDT) == D("46377.0")


def test_buy_slippage_moves_up_and_rounds_up_to_tick() -> None:
    """1 bps on a buy at 46377.0 is 46381.6377, rounded up to the tick: 46381.64."""
    assert SlippageModel(bps=D(1)).apply(D("46377.0"), Side.BUY, BTCUSDT) == D("46381.64")


def test_sell_slippage_moves_down_and_rounds_down_to_tick() -> None:
    """1 bps on a sell at 46377.0 is 46372.3623, rounded down to the tick: 46372.36."""
    assert SlippageModel(bps=D(1)).apply(D("46377.0"), Side.SELL, BTCUSDT) == D("46372.36")


def test_tick_slippage_adds_whole_ticks() -> None:
    """Three ticks of slippage on a buy at 46377.0 give 46377.03."""
    assert SlippageModel(ticks=3).apply(D("46377.0"), Side.BUY, BTCUSDT) == D("46377.03")


@given(bar=st.sampled_from(SAMPLE), bps=st.integers(0, 500), ticks=st.integers(0, 50))
def test_slippage_is_never_favourable_and_lands_on_a_tick(bar: Bar, bps: int, ticks: int) -> None:
    """For every real open and any model, a buy never pays less and a sell never gets more."""
    model = SlippageModel(bps=D(bps), ticks=ticks)

    buy = model.apply(bar.open, Side.BUY, BTCUSDT)
    sell = model.apply(bar.open, Side.SELL, BTCUSDT)

    assert buy >= bar.open
    assert sell <= bar.open
    assert buy % BTCUSDT.tick_size == 0
    assert sell % BTCUSDT.tick_size == 0


def test_latency_without_jitter_is_the_base() -> None:
    """A 250 ms latency model delays every command by exactly 250,000,000 ns."""
    latency = LatencyModel(base_ns=250_000_000)

    assert [latency.delay_ns() for _ in range(3)] == [250_000_000] * 3


def test_latency_jitter_is_reproducible_from_the_seed() -> None:
    """Two models with the same seed draw the same delays, inside [base, base + jitter]."""
    a = LatencyModel(base_ns=1_000, jitter_ns=500, seed=7)
    b = LatencyModel(base_ns=1_000, jitter_ns=500, seed=7)

    delays = [a.delay_ns() for _ in range(50)]

    assert delays == [b.delay_ns() for _ in range(50)]
    assert all(1_000 <= d <= 1_500 for d in delays)


def test_negative_latency_is_refused() -> None:
    """A negative base latency raises ValueError naming the value."""
    with pytest.raises(ValueError, match="-5"):
        LatencyModel(base_ns=-5)


def test_up_bar_path_visits_low_before_high() -> None:
    """23:01 closed above its open, so the path is open, low, high, close."""
    assert bar_path(UP_BAR) == (D("46319.0"), D("46319.0"), D("46385.0"), D("46377.0"))


def test_down_bar_path_visits_high_before_low() -> None:
    """23:07 closed below its open, so the path is open, high, low, close."""
    assert bar_path(DOWN_BAR) == (D("46435.0"), D("46435.0"), D("46379.0"), D("46420.0"))


def test_first_at_or_below_returns_the_level_on_the_crossing_segment() -> None:
    """A sell stop at 46400 on 23:07 is crossed on the way to the low (point 2), at 46400."""
    assert first_at_or_below(bar_path(DOWN_BAR), D("46400")) == (2, D("46400"))


def test_first_at_or_below_returns_the_start_point_on_a_gap() -> None:
    """A level above the open is already passed: the open itself is the price."""
    assert first_at_or_below(bar_path(DOWN_BAR), D("46500")) == (0, D("46435.0"))


def test_first_at_or_below_returns_none_when_never_reached() -> None:
    """The 23:07 low is 46379.0, so 46378 is never reached."""
    assert first_at_or_below(bar_path(DOWN_BAR), D("46378")) is None


def test_first_at_or_above_searches_from_start() -> None:
    """From the low of 23:07 (point 2) the close 46420.0 is the first point at or above 46410."""
    assert first_at_or_above(bar_path(DOWN_BAR), D("46410"), start=2) == (3, D("46410"))


@given(bar=st.sampled_from(SAMPLE))
def test_path_starts_at_open_ends_at_close_and_spans_the_range(bar: Bar) -> None:
    """Every real bar's path runs open → extremes → close and touches both extremes."""
    path = bar_path(bar)

    assert (path[0], path[3]) == (bar.open, bar.close)
    assert {path[1], path[2]} == {bar.high, bar.low}


def test_commands_in_flight_arrive_by_time_then_by_sending_order() -> None:
    """Sent at 0 (latency 5), 1 and 2 (latency 5): due in arrival order, ties in the order
    sent; ``next_ns`` is the earliest arrival, then 'never' once all have arrived."""
    from genesis.core.commands import CancelOrder
    from genesis.exchange.fills import InFlight, LatencyModel

    line = InFlight(LatencyModel(base_ns=5))
    cancels = [
        CancelOrder(ts_init=t, strategy_id="s", instrument_id="BTCUSDT", client_order_id=f"c{t}")
        for t in (0, 1, 2)
    ]
    for command in cancels:
        line.send(command, command.ts_init)

    assert (line.next_ns, line.next_arrival_ns()) == (5, 5)
    assert list(line.due(6)) == [(5, cancels[0]), (6, cancels[1])]
    assert line.next_ns == 7
    assert list(line.due(100)) == [(7, cancels[2])]
    assert (bool(line), line.next_arrival_ns(), line.next_ns > 10**18) == (False, None, True)
