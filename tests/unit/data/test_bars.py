"""Time and volume bar aggregation from real Binance trades, and resampling of real bars."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.events import Bar, TradeTick
from genesis.data.bars import TimeBarAggregator, VolumeBarAggregator, resample_bars
from genesis.data.loaders import read_bars, read_trades
from genesis.errors import ConfigError, DataError
from genesis.resources import BTCUSDT_1M_BARS

D = Decimal
S = 1_000_000_000
MINUTE = 60 * S
TRADES_PATH = (
    Path(__file__).resolve().parents[2] / "data" / "binance-btcusdt-trades-2021-01-08.csv.gz"
)
TRADES = tuple(read_trades(TRADES_PATH, "BTCUSDT"))
# 2021-01-08 00:00:00 UTC: the minute of all 2,001 trades (00:00:00.278 to 00:00:46.355).
MIDNIGHT = 1_610_064_000 * S
TOTAL_QTY = D("87.071595999999999587898")


def time_bars(interval_ns: int, trades: Iterable[TradeTick] = TRADES) -> list[Bar]:
    """Every bar of a time aggregator over ``trades``, the flushed last bar included."""
    aggregator = TimeBarAggregator("BTCUSDT", interval_ns)
    bars = [bar for trade in trades for bar in aggregator.update(trade)]
    last = aggregator.flush()
    return bars if last is None else [*bars, last]


def volume_bars(threshold: Decimal) -> tuple[list[Bar], Bar | None]:
    """The completed volume bars over the real trades and the partial bar left."""
    aggregator = VolumeBarAggregator("BTCUSDT", threshold)
    bars = [bar for trade in TRADES for bar in aggregator.update(trade)]
    return bars, aggregator.flush()


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Sum Decimals without the 28-digit default context rounding."""
    return sum(values, D(0))


# --- time bars -----------------------------------------------------------------------


def test_one_minute_bar_from_real_trades() -> None:
    """All 2,001 trades fall in one minute: one bar with their exact OHLCV."""
    bars = time_bars(MINUTE)

    assert bars == [
        Bar(
            ts_event=MIDNIGHT + MINUTE,
            ts_init=MIDNIGHT + MINUTE,
            instrument_id="BTCUSDT",
            ts_open=MIDNIGHT,
            open=D("39432.48"),
            high=D("39550.0"),
            low=D("39430.3"),
            close=D("39491.76"),
            volume=TOTAL_QTY,
        )
    ]


def test_one_minute_bar_closes_only_by_flush_or_clock() -> None:
    """No trade reaches 00:01, so update completes nothing; on_time(00:01) closes the bar."""
    aggregator = TimeBarAggregator("BTCUSDT", MINUTE)
    completed = [bar for trade in TRADES for bar in aggregator.update(trade)]

    closed = (aggregator.on_time(MIDNIGHT + MINUTE - 1), aggregator.on_time(MIDNIGHT + MINUTE))

    assert completed == []
    assert closed[0] == []
    assert [bar.close for bar in closed[1]] == [D("39491.76")]
    assert aggregator.flush() is None


@pytest.mark.parametrize(("seconds", "count"), [(1, 47), (5, 10), (10, 5), (15, 4), (60, 1)])
def test_n_second_bar_counts(seconds: int, count: int) -> None:
    """The 46.4 s of trades make 47 one-second bars, 10 five-second bars, and so on."""
    bars = time_bars(seconds * S)

    assert len(bars) == count


def test_one_second_bar_ohlcv_is_exact() -> None:
    """The 00:00:10 one-second bar holds 43 real trades with these exact values."""
    bar = time_bars(S)[10]

    assert (bar.ts_open, bar.ts_event) == (MIDNIGHT + 10 * S, MIDNIGHT + 11 * S)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        D("39479.22"),
        D("39479.23"),
        D("39460.39"),
        D("39474.25"),
    )
    assert bar.volume == D("1.70916400000000003704")


def test_time_bars_are_aligned_and_keep_volume() -> None:
    """Five-second bars start on multiples of 5 s and their volumes sum to the trades' total."""
    bars = time_bars(5 * S)

    assert all(bar.ts_open % (5 * S) == 0 for bar in bars)
    assert exact_sum(bar.volume for bar in bars) == TOTAL_QTY


def test_empty_interval_produces_no_bar() -> None:
    """Trades at 00:00 and 00:03 make two bars; the empty minutes between give none."""
    late = msgspec.structs.replace(TRADES[-1], ts_event=MIDNIGHT + 3 * MINUTE)

    bars = time_bars(MINUTE, [*TRADES, late])

    assert [bar.ts_open for bar in bars] == [MIDNIGHT, MIDNIGHT + 3 * MINUTE]


def test_out_of_order_trade_is_rejected_and_changes_nothing() -> None:
    """A trade older than the last one raises DataError and the open bar is unchanged."""
    aggregator = TimeBarAggregator("BTCUSDT", MINUTE)
    for trade in TRADES[:100]:
        aggregator.update(trade)

    with pytest.raises(DataError, match="out of order"):
        aggregator.update(TRADES[50])
    bar = aggregator.flush()

    assert bar is not None
    assert bar.volume == exact_sum(trade.size for trade in TRADES[:100])


def test_trade_in_a_bar_closed_by_the_clock_is_rejected() -> None:
    """After on_time closed the 00:00 bar, a trade stamped 00:00:30 is late."""
    aggregator = TimeBarAggregator("BTCUSDT", MINUTE)
    aggregator.update(TRADES[0])
    aggregator.on_time(MIDNIGHT + MINUTE)

    with pytest.raises(DataError, match="out of order"):
        aggregator.update(msgspec.structs.replace(TRADES[1], ts_event=MIDNIGHT + 30 * S))


def test_time_aggregator_rejects_non_positive_interval() -> None:
    """interval_ns 0 is a configuration error."""
    with pytest.raises(ConfigError, match="interval_ns"):
        TimeBarAggregator("BTCUSDT", 0)


# --- volume bars ---------------------------------------------------------------------


def test_volume_bars_of_one_btc() -> None:
    """87.07 BTC of trades make 87 bars of exactly 1 BTC plus a partial 0.0716 BTC."""
    bars, rest = volume_bars(D(1))

    assert len(bars) == 87
    assert {bar.volume for bar in bars} == {D(1)}
    assert rest is not None
    assert rest.volume == D("0.071595999999999587898")


@given(threshold=st.decimals(min_value=D("0.01"), max_value=D("100"), places=6))
@settings(max_examples=40, deadline=None)
def test_volume_bars_sum_exactly_to_traded_quantity(threshold: Decimal) -> None:
    """For any threshold, bars are exactly the threshold and all bars sum to the total."""
    bars, rest = volume_bars(threshold)

    total = exact_sum(bar.volume for bar in [*bars, *([rest] if rest else [])])

    assert all(bar.volume == threshold for bar in bars)
    assert total == TOTAL_QTY


def test_large_trade_is_split_into_whole_bars() -> None:
    """A real 0.068523 BTC trade into 0.01 BTC bars fills the open bar, then whole bars."""
    big = next(trade for trade in TRADES if trade.size == D("0.068523"))
    aggregator = VolumeBarAggregator("BTCUSDT", D("0.01"))
    aggregator.update(msgspec.structs.replace(big, size=D("0.004")))

    bars = aggregator.update(big)

    assert len(bars) == 7
    assert {(bar.volume, bar.close, bar.ts_event) for bar in bars} == {
        (D("0.01"), big.price, big.ts_event)
    }
    assert aggregator.flush() == msgspec.structs.replace(
        bars[-1], ts_open=big.ts_event, volume=D("0.002523")
    )


def test_volume_bar_prices_span_its_trades() -> None:
    """Each one-BTC bar's high and low bound its open and close."""
    bars, _ = volume_bars(D(1))

    assert all(
        bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars
    )
    assert all(a.ts_event <= b.ts_open for a, b in itertools.pairwise(bars))


def test_volume_aggregator_rejects_bad_threshold() -> None:
    """A zero threshold is a configuration error."""
    with pytest.raises(ConfigError, match="volume"):
        VolumeBarAggregator("BTCUSDT", D(0))


# --- resampling ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fine", "coarse"), [(S, 5 * S), (S, 15 * S), (5 * S, MINUTE), (MINUTE, 5 * MINUTE)]
)
def test_resample_matches_direct_aggregation(fine: int, coarse: int) -> None:
    """Fine bars resampled equal bars aggregated at the coarse interval from the same trades."""
    resampled = list(resample_bars(time_bars(fine), coarse))

    assert resampled == time_bars(coarse)


def test_resample_bundled_minutes_to_five_minutes() -> None:
    """45,031 one-minute bars make 9,007 five-minute bars with the same total volume."""
    minutes = list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))

    fives = list(resample_bars(minutes, 5 * MINUTE))

    assert len(fives) == 9_007
    assert fives[0] == Bar(
        ts_event=1_640_991_900 * S,
        ts_init=1_640_991_900 * S,
        instrument_id="BTCUSDT",
        ts_open=1_640_991_600 * S,
        open=D("46319.0"),
        high=D("46425.0"),
        low=D("46319.0"),
        close=D("46420.0"),
        volume=D("4851453.3053"),
    )
    assert exact_sum(bar.volume for bar in fives) == exact_sum(bar.volume for bar in minutes)


def test_resample_rejects_a_straddling_interval() -> None:
    """Five-second bars cannot be resampled into 7-second bars."""
    with pytest.raises(DataError, match="straddles"):
        list(resample_bars(time_bars(5 * S), 7 * S))


def test_resample_rejects_mixed_instruments() -> None:
    """Bars of two instruments in one stream are refused."""
    bars = time_bars(S)[:2]
    other = msgspec.structs.replace(bars[1], instrument_id="ETHUSDT")

    with pytest.raises(DataError, match="mixed instruments"):
        list(resample_bars([bars[0], other], 5 * S))
