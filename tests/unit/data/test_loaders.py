"""CSV loaders and timestamp parsing on the real bundled files, and every validation error."""

from __future__ import annotations

import gzip
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis.core.enums import Side
from genesis.core.events import Bar, QuoteTick, TradeTick
from genesis.data.loaders import (
    infer_interval_ns,
    infer_tick_size,
    read_bars,
    read_quote_bars,
    read_quotes,
    read_trades,
)
from genesis.data.timeparse import format_ns, make_timestamp_parser
from genesis.errors import ConfigError, DataError
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BTCUSDT_1M_BARS, BYBIT_BTCUSD_1M_QUOTES

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
GBPUSD = DATA / "gbpusd-1m-2012-02-bid.csv.gz"
TRADES = DATA / "binance-btcusdt-trades-2021-01-08.csv.gz"
QUOTES = DATA / "binance-btcusdt-quotes-2021-01-08.csv.gz"
USDJPY = DATA / "usdjpy-quotes-2013-01.csv.gz"
MINUTE_NS = 60_000_000_000
# 2021-12-31 23:01:00 UTC, the open of the first bundled BTCUSDT bar.
FIRST_BTC_OPEN_NS = 1_640_991_660_000_000_000


def real_lines(path: Path, count: int) -> list[str]:
    """The header and the first ``count - 1`` data lines of a real gzipped file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [next(handle).rstrip("\n") for _ in range(count)]


def write(tmp_path: Path, lines: list[str], name: str = "bars.csv") -> Path:
    """Write ``lines`` to a plain CSV file under ``tmp_path``."""
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_field(line: str, index: int, value: str) -> str:
    """``line`` with its comma-separated field ``index`` replaced by ``value``."""
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def bar_error(tmp_path: Path, lines: list[str], **kwargs: int) -> str:
    """The DataError message from reading ``lines`` as bars."""
    path = write(tmp_path, lines)
    with pytest.raises(DataError) as info:
        list(read_bars(path, "BTCUSDT", **kwargs))
    return str(info.value)


# --- bars on the real files ----------------------------------------------------------


def test_bundled_btcusdt_bars_count_and_first_bar() -> None:
    """The bundled BTCUSDT month has 45,031 bars; the first opens 2021-12-31 23:01 UTC."""
    bars = list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))

    assert len(bars) == 45_031
    assert bars[0] == Bar(
        ts_event=FIRST_BTC_OPEN_NS + MINUTE_NS,
        ts_init=FIRST_BTC_OPEN_NS + MINUTE_NS,
        instrument_id="BTCUSDT",
        ts_open=FIRST_BTC_OPEN_NS,
        open=D("46319.0"),
        high=D("46385.0"),
        low=D("46319.0"),
        close=D("46377.0"),
        volume=D("2300413.7295"),
    )


def test_bundled_btcusdt_last_bar_is_exact() -> None:
    """The last bundled bar opens 2022-02-01 05:31 UTC with its exact CSV decimals."""
    *_, last = read_bars(BTCUSDT_1M_BARS, "BTCUSDT", interval_ns=MINUTE_NS)

    assert format_ns(last.ts_open) == "2022-02-01T05:31:00Z"
    assert last.ts_event == last.ts_init == last.ts_open + MINUTE_NS
    assert (last.open, last.high, last.low, last.close) == (
        D("38525.0"),
        D("38546.0"),
        D("38525.0"),
        D("38544.0"),
    )
    assert last.volume == D("685906.9735")


def test_gbpusd_bars_without_volume_column() -> None:
    """The FXCM GBP/USD file (offset timestamps, no volume) gives 30,117 bars of volume 0."""
    bars = list(read_bars(GBPUSD, "GBPUSD"))

    assert len(bars) == 30_117
    assert format_ns(bars[0].ts_open) == "2012-02-01T00:00:00Z"
    assert (bars[0].open, bars[0].high, bars[0].low, bars[0].close) == (
        D("1.57597"),
        D("1.57606"),
        D("1.57576"),
        D("1.57576"),
    )
    assert format_ns(bars[-1].ts_open) == "2012-03-01T00:00:00Z"
    assert bars[-1].close == D("1.59208")
    assert {bar.volume for bar in bars} == {D(0)}


def test_bar_timestamps_are_strictly_increasing_on_real_data() -> None:
    """Every bundled bar closes exactly one interval after it opens, in increasing order."""
    bars = list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))

    assert all(b.ts_event - b.ts_open == MINUTE_NS for b in bars)
    assert all(a.ts_open < b.ts_open for a, b in itertools.pairwise(bars))


def test_infer_interval_is_one_minute_on_both_bar_files() -> None:
    """The smallest gap among the first rows is 60 s for the BTCUSDT and GBP/USD files."""
    intervals = (infer_interval_ns(BTCUSDT_1M_BARS), infer_interval_ns(GBPUSD, sample=50))

    assert intervals == (MINUTE_NS, MINUTE_NS)


def test_infer_tick_size_from_price_text() -> None:
    """Tick size is the finest decimal written: 0.1 in the first BTC rows, 0.00001 for GBP/USD."""
    ticks = (infer_tick_size(BTCUSDT_1M_BARS, sample=200), infer_tick_size(GBPUSD))

    assert ticks == (D("0.1"), D("0.00001"))


def test_infer_tick_size_whole_btc_file_sees_finer_prices() -> None:
    """The BTCUSDT file has some prices like 43607.125, so the whole file gives 0.001."""
    tick = infer_tick_size(BTCUSDT_1M_BARS)

    assert tick == D("0.001")


def test_infer_tick_size_on_ticks() -> None:
    """Trades and quotes use their price, bid and ask columns."""
    ticks = (infer_tick_size(TRADES), infer_tick_size(QUOTES), infer_tick_size(USDJPY))

    assert ticks == (D("0.01"), D("0.01"), D("0.001"))


def test_plain_file_reads_like_gzip(tmp_path: Path) -> None:
    """An uncompressed copy of real lines yields the same bars as the gzipped file."""
    path = write(tmp_path, real_lines(BTCUSDT_1M_BARS, 6))

    plain = list(read_bars(path, "BTCUSDT"))

    assert plain == list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))[:5]


def test_columns_found_by_name_in_any_order(tmp_path: Path) -> None:
    """Reordered columns with an upper-case header read the same values."""
    lines = [",".join(reversed(line.split(","))) for line in real_lines(BTCUSDT_1M_BARS, 4)]
    lines[0] = lines[0].upper()

    bars = list(read_bars(write(tmp_path, lines), "BTCUSDT"))

    assert bars == list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))[:3]


def test_crlf_bom_quotes_and_blank_lines(tmp_path: Path) -> None:
    """A BOM, CRLF endings, quoted fields and blank lines do not change the bars."""
    lines = real_lines(BTCUSDT_1M_BARS, 4)
    lines[2] = ",".join(f'"{field}"' for field in lines[2].split(","))
    path = tmp_path / "windows.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([*lines[:2], "", *lines[2:], ""])).encode())

    bars = list(read_bars(path, "BTCUSDT"))

    assert bars == list(read_bars(BTCUSDT_1M_BARS, "BTCUSDT"))[:3]


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_timestamps_by_magnitude(tmp_path: Path, scale: int) -> None:
    """Epoch seconds, ms, us and ns all give the ISO file's open times."""
    lines = real_lines(BTCUSDT_1M_BARS, 4)
    seconds = FIRST_BTC_OPEN_NS // 1_000_000_000
    lines[1:] = [
        with_field(line, 0, str((seconds + 60 * i) * scale)) for i, line in enumerate(lines[1:])
    ]

    bars = list(read_bars(write(tmp_path, lines), "BTCUSDT"))

    assert [b.ts_open for b in bars] == [FIRST_BTC_OPEN_NS + i * MINUTE_NS for i in range(3)]


# --- trades and quotes on the real files ---------------------------------------------


def test_real_trades_count_first_and_last() -> None:
    """2,001 Binance trades; buyer_maker True is a SELL aggressor; quantities are exact text."""
    trades = list(read_trades(TRADES, "BTCUSDT"))

    assert len(trades) == 2_001
    assert trades[0] == TradeTick(
        ts_event=1_610_064_000_278_000_000,
        ts_init=1_610_064_000_278_000_000,
        instrument_id="BTCUSDT",
        price=D("39432.48"),
        size=D("0.000263"),
        aggressor_side=Side.SELL,
        trade_id="553287559",
    )
    assert trades[1].aggressor_side is Side.BUY
    assert trades[-1].size == D("0.014596000000000001")
    assert format_ns(trades[-1].ts_event) == "2021-01-08T00:00:46.355000000Z"


def test_trades_without_optional_columns(tmp_path: Path) -> None:
    """Without trade_id and buyer_maker columns, trades have id '' and no aggressor."""
    lines = [
        ",".join(line.split(",")[0:4:2] + line.split(",")[3:4]) for line in real_lines(TRADES, 4)
    ]

    trades = list(read_trades(write(tmp_path, lines, "trades.csv"), "BTCUSDT"))

    assert [(t.trade_id, t.aggressor_side, t.price, t.size) for t in trades] == [
        ("", None, D("39432.48"), D("0.000263")),
        ("", None, D("39439.44"), D("0.004376")),
        ("", None, D("39439.22"), D("0.00031099999999999997")),
    ]


def test_real_trades_aggressor_counts() -> None:
    """The trades split into 1,087 buyer-initiated and 914 seller-initiated."""
    sides = [trade.aggressor_side for trade in read_trades(TRADES, "BTCUSDT")]

    assert (sides.count(Side.BUY), sides.count(Side.SELL)) == (1_087, 914)


def test_real_binance_quotes() -> None:
    """451 Binance top-of-book quotes; columns are read by name (ask before bid in the file)."""
    quotes = list(read_quotes(QUOTES, "BTCUSDT"))

    assert len(quotes) == 451
    assert quotes[0] == QuoteTick(
        ts_event=1_610_064_001_076_000_000,
        ts_init=1_610_064_001_076_000_000,
        instrument_id="BTCUSDT",
        bid=D("39432.99"),
        ask=D("39433.62"),
        bid_size=D("0.0031"),
        ask_size=D("0.066851"),
    )
    assert (quotes[-1].bid, quotes[-1].ask) == (D("39490.97"), D("39490.98"))


def test_real_usdjpy_quotes_without_sizes() -> None:
    """1,000 TrueFX USD/JPY quotes with microsecond timestamps; sizes are 0."""
    quotes = list(read_quotes(USDJPY, "USDJPY"))

    assert len(quotes) == 1_000
    assert format_ns(quotes[0].ts_event) == "2013-01-01T22:00:00.295000000Z"
    assert (quotes[0].bid, quotes[0].ask) == (D("86.655"), D("86.728"))
    assert (quotes[-1].bid, quotes[-1].ask) == (D("86.836"), D("86.854"))
    assert {q.bid_size for q in quotes} | {q.ask_size for q in quotes} == {D(0)}


def test_real_quote_bars_give_one_quote_at_each_close() -> None:
    """1,104 Binance BTCUSD quote bars: the 00:00 bar's closing bid/ask and sizes at 00:01."""
    quotes = list(read_quote_bars(BINANCE_BTCUSD_1M_QUOTES, "BTCUSD"))

    assert len(quotes) == 1_104
    assert quotes[0] == QuoteTick(
        ts_event=1_670_889_660_000_000_000,
        ts_init=1_670_889_660_000_000_000,
        instrument_id="BTCUSD",
        bid=D("17207.5"),
        ask=D("17207.6"),
        bid_size=D(1565),
        ask_size=D(221),
    )
    assert format_ns(quotes[-1].ts_event) == "2022-12-14T00:00:00Z"
    assert (quotes[-1].bid, quotes[-1].ask) == (D("17779.6"), D("17779.7"))


def test_real_bybit_quote_bars_infer_the_interval() -> None:
    """464 Bybit quote bars, one minute apart (inferred), the last closing at 12:01."""
    quotes = list(read_quote_bars(BYBIT_BTCUSD_1M_QUOTES, "bybit:BTCUSD"))

    assert len(quotes) == 464
    assert {b.ts_event - a.ts_event for a, b in itertools.pairwise(quotes)} >= {MINUTE_NS}
    assert format_ns(quotes[-1].ts_event) == "2022-12-13T12:01:00Z"
    assert (quotes[-1].bid, quotes[-1].ask_size) == (D(17449), D(97193))


def test_quote_bar_errors(tmp_path: Path) -> None:
    """A repeated bar time, a negative size and a missing 'ask_close' column are rejected."""
    lines = real_lines(BINANCE_BTCUSD_1M_QUOTES, 4)
    repeated = write(tmp_path, [*lines[:3], lines[2]], "repeated.csv")
    sized = write(tmp_path, [*lines[:2], with_field(lines[2], 10, "-1")], "sized.csv")
    no_ask = write(tmp_path, [",".join(line.split(",")[:9]) for line in lines], "noask.csv")

    with pytest.raises(DataError, match=r"repeated\.csv:4: duplicate timestamp"):
        list(read_quote_bars(repeated, "BTCUSD", interval_ns=MINUTE_NS))
    with pytest.raises(DataError, match=r"sized\.csv:3: ask_size '-1' is out of range"):
        list(read_quote_bars(sized, "BTCUSD", interval_ns=MINUTE_NS))
    with pytest.raises(DataError, match=r"noask\.csv:1: missing required column 'ask_close'"):
        list(read_quote_bars(no_ask, "BTCUSD", interval_ns=MINUTE_NS))


def test_ticks_with_equal_timestamps_are_accepted() -> None:
    """Several real trades share a millisecond; tick order only has to be non-decreasing."""
    stamps = [trade.ts_event for trade in read_trades(TRADES, "BTCUSDT")]

    assert len(set(stamps)) < len(stamps)
    assert stamps == sorted(stamps)


# --- validation errors ---------------------------------------------------------------


def test_missing_column_names_it_and_lists_header(tmp_path: Path) -> None:
    """A header without 'close' is rejected at line 1, naming the column and the header."""
    lines = [",".join(line.split(",")[:4]) for line in real_lines(BTCUSDT_1M_BARS, 4)]

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert message.startswith(f"{tmp_path / 'bars.csv'}:1: missing required column 'close'")
    assert "timestamp,open,high,low" in message


def test_empty_file(tmp_path: Path) -> None:
    """A zero-byte file is an empty file at line 1."""
    path = tmp_path / "empty.csv.gz"
    path.write_bytes(gzip.compress(b""))

    with pytest.raises(DataError, match=r"empty\.csv\.gz:1: empty file"):
        list(read_bars(path, "BTCUSDT", interval_ns=MINUTE_NS))


def test_header_without_rows(tmp_path: Path) -> None:
    """A header alone is rejected: there are no data rows to replay."""
    message = bar_error(tmp_path, real_lines(BTCUSDT_1M_BARS, 1), interval_ns=MINUTE_NS)

    assert ":2: no data rows" in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "open 'abc' is not a number"),
        ("", "open '' is not a number"),
        ("NaN", "open 'NaN' is not finite"),
        ("inf", "open 'inf' is not finite"),
        ("0", "open '0' is out of range, expected > 0"),
        ("-46377.0", "open '-46377.0' is out of range, expected > 0"),
    ],
)
def test_bad_price_names_file_line_and_value(tmp_path: Path, value: str, reason: str) -> None:
    """A bad open price in the third data row is reported at line 4 with its value."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[3] = with_field(lines[3], 1, value)

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert message.startswith(f"{tmp_path / 'bars.csv'}:4: {reason}")


def test_negative_volume(tmp_path: Path) -> None:
    """A negative volume is rejected with its value."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[2] = with_field(lines[2], 5, "-1829623.1938")

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":3: volume '-1829623.1938' is out of range, expected >= 0" in message


def test_high_below_low(tmp_path: Path) -> None:
    """Swapping a real bar's high and low is rejected."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    _, _, high, low, *_ = lines[2].split(",")
    lines[2] = with_field(with_field(lines[2], 2, low), 3, high)

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":3: high 46377.0 is below low 46411.0" in message


def test_close_outside_range(tmp_path: Path) -> None:
    """A close above the bar's high is rejected with the range."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[5] = with_field(lines[5], 4, "46500.0")

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":6: close 46500.0 is outside [low" in message


def test_unsorted_rows_name_both_timestamps(tmp_path: Path) -> None:
    """Swapping two real rows reports 'unsorted' at the second with both times."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[2], lines[3] = lines[3], lines[2]

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":4: unsorted timestamps: '2021-12-31 23:02:00.000000'" in message
    assert "2021-12-31T23:03:00Z" in message


def test_duplicate_bar_timestamp(tmp_path: Path) -> None:
    """A repeated real row is a duplicate timestamp at its line."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines.insert(3, lines[2])

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":4: duplicate timestamp '2021-12-31 23:02:00.000000'" in message


def test_bars_closer_than_the_interval_overlap(tmp_path: Path) -> None:
    """1-minute rows read as 5-minute bars overlap, which is rejected at the second row."""
    lines = real_lines(BTCUSDT_1M_BARS, 4)

    message = bar_error(tmp_path, lines, interval_ns=5 * MINUTE_NS)

    assert ":3: overlapping bars" in message


@pytest.mark.parametrize("value", ["2021-13-31 23:03:00.000000", "yesterday", "2021-12-31 25:00"])
def test_unparseable_timestamp(tmp_path: Path, value: str) -> None:
    """A timestamp that is no date is reported with its text."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[3] = with_field(lines[3], 0, value)

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert f":4: unparseable timestamp {value!r}" in message


def test_error_line_is_exact_deep_in_a_file(tmp_path: Path) -> None:
    """A bad value on line 25,000 of the real GBP/USD month is reported at line 25,000."""
    lines = real_lines(GBPUSD, 30_118)
    lines[24_999] = with_field(lines[24_999], 3, "-1.58")

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":25000: low '-1.58' is out of range, expected > 0" in message


def test_short_row(tmp_path: Path) -> None:
    """A row missing its last fields says how many it has and which column is missing."""
    lines = real_lines(BTCUSDT_1M_BARS, 6)
    lines[4] = ",".join(lines[4].split(",")[:3])

    message = bar_error(tmp_path, lines, interval_ns=MINUTE_NS)

    assert ":5: row has 3 fields, expected 6" in message
    assert "'low' is missing" in message


def test_corrupt_gzip(tmp_path: Path) -> None:
    """A truncated gzip file becomes a DataError naming the file."""
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(BTCUSDT_1M_BARS.read_bytes()[:5_000])

    with pytest.raises(DataError, match=r"cut\.csv\.gz:\d+: cannot read the file"):
        list(read_bars(path, "BTCUSDT", interval_ns=MINUTE_NS))


def test_missing_file() -> None:
    """A path that does not exist is a DataError, raised when inferring the interval."""
    with pytest.raises(DataError, match="cannot read the file"):
        read_bars(DATA / "no-such-file.csv", "BTCUSDT")


def test_interval_must_be_positive() -> None:
    """interval_ns 0 is a configuration error."""
    with pytest.raises(ConfigError, match="interval_ns"):
        read_bars(BTCUSDT_1M_BARS, "BTCUSDT", interval_ns=0)


def test_infer_interval_needs_two_timestamps(tmp_path: Path) -> None:
    """A single real row cannot give an interval."""
    path = write(tmp_path, real_lines(BTCUSDT_1M_BARS, 2))

    with pytest.raises(DataError, match="cannot infer the bar interval from 1 row"):
        infer_interval_ns(path)


def test_trade_errors_zero_quantity_and_bad_flag(tmp_path: Path) -> None:
    """A zero quantity and an unknown buyer_maker flag are rejected at their lines."""
    lines = real_lines(TRADES, 6)
    lines[2] = with_field(lines[2], 3, "0")
    path = write(tmp_path, lines, "trades.csv")
    other = write(tmp_path, [*lines[:2], with_field(lines[3], 4, "maybe")], "flags.csv")

    with pytest.raises(DataError, match=r"trades\.csv:3: quantity '0' is out of range"):
        list(read_trades(path, "BTCUSDT"))
    with pytest.raises(DataError, match=r"flags\.csv:3: buyer_maker 'maybe' is not a flag"):
        list(read_trades(other, "BTCUSDT"))


def test_unsorted_trades(tmp_path: Path) -> None:
    """Real trades out of time order are 'unsorted'."""
    lines = real_lines(TRADES, 6)
    lines[1], lines[4] = lines[4], lines[1]

    with pytest.raises(DataError, match=r":3: unsorted timestamps"):
        list(read_trades(write(tmp_path, lines, "trades.csv"), "BTCUSDT"))


def test_quote_errors(tmp_path: Path) -> None:
    """A negative size and a missing 'bid' column are rejected."""
    lines = real_lines(QUOTES, 4)
    sized = write(tmp_path, [*lines[:2], with_field(lines[2], 4, "-2.0")], "sized.csv")
    no_bid = write(tmp_path, [",".join(line.split(",")[:5]) for line in lines], "nobid.csv")

    with pytest.raises(DataError, match=r"sized\.csv:3: bid_size '-2\.0' is out of range"):
        list(read_quotes(sized, "BTCUSDT"))
    with pytest.raises(DataError, match=r"nobid\.csv:1: missing required column 'bid'"):
        list(read_quotes(no_bid, "BTCUSDT"))


# --- timestamp parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2021-12-31 23:01:00.000000", "2021-12-31T23:01:00Z"),
        ("2012-02-01 00:00:00+00:00", "2012-02-01T00:00:00Z"),
        ("2021-01-08 00:00:00.278+00:00", "2021-01-08T00:00:00.278000000Z"),
        ("2013-01-01T22:00:00.295000Z", "2013-01-01T22:00:00.295000000Z"),
        ("2021-01-08 01:30:00.123456789+01:30", "2021-01-08T00:00:00.123456789Z"),
        ("2021-01-08 00:00-05:00", "2021-01-08T05:00:00Z"),
        ("2021-01-08", "2021-01-08T00:00:00Z"),
    ],
)
def test_iso_shapes_are_exact_utc(text: str, iso: str) -> None:
    """Every accepted ISO shape gives exact UTC nanoseconds."""
    parse = make_timestamp_parser(text)

    assert format_ns(parse(text)) == iso


def test_nanosecond_fraction_beyond_datetime_is_not_truncated() -> None:
    """A fraction of more than six digits in a fallback shape is rejected, never truncated."""
    parse = make_timestamp_parser("2021-01-08 00:00")

    with pytest.raises(ValueError, match="unparseable timestamp"):
        parse("2021-01-08 00:00:00,123456789")


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
        timezones=st.just(UTC),
    ),
    nanos=st.integers(0, 999),
    offset_min=st.integers(-14 * 60, 14 * 60),
)
def test_parse_matches_datetime_arithmetic(moment: datetime, nanos: int, offset_min: int) -> None:
    """Any instant written with any offset and a 9-digit fraction parses to its exact ns."""
    local = moment.replace(tzinfo=None) + timedelta(minutes=offset_min)
    sign, (hours, minutes) = "+" if offset_min >= 0 else "-", divmod(abs(offset_min), 60)
    fraction = f"{local.microsecond:06d}{nanos:03d}"
    text = f"{local:%Y-%m-%d %H:%M:%S}.{fraction}{sign}{hours:02d}:{minutes:02d}"
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    parsed = make_timestamp_parser(text)(text)

    assert parsed == expected * 1_000 + nanos
