"""Several recordings, symbols and venues merged into one ordered stream, on real bundled data."""

from __future__ import annotations

import gzip
import itertools
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.events import Bar, BookSnapshot, MarketEvent, QuoteTick
from genesis.data.sources import (
    DataSpec,
    SourceInstrument,
    describe_sources,
    open_events,
    open_sources,
    parse_data_arg,
    spec_events,
)
from genesis.errors import ConfigError, DataError
from genesis.resources import (
    BINANCE_BTCUSD_1M_QUOTES,
    BINANCE_BTCUSD_1M_TRADES,
    BTCUSDT_1M_BARS,
    BYBIT_BTCUSD_1M_QUOTES,
    BYBIT_BTCUSD_1M_TRADES,
    ETHUSDT_STREAMS,
    SPOT_CAPTURE,
)

DATA = Path(__file__).resolve().parents[2] / "data"
BTCUSDT_STREAMS = DATA / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
# 2024-08-08 23:54:13.937085768 UTC: the first receive time of the two stream files
# (BTCUSDT's bookTicker), and 23:59:59.999231384 the last (BTCUSDT too).
FIRST_STREAMS_NS = 1_723_161_253_937_085_768
LAST_STREAMS_NS = 1_723_161_599_999_231_384
# 2022-12-13 00:01 UTC: the close of the first 1-minute bar on both venues; 24:00 the last.
FIRST_BAR_CLOSE_NS = 1_670_889_660_000_000_000
LAST_BAR_CLOSE_NS = 1_670_976_000_000_000_000
# 12:01 UTC, the close of Bybit's last bar (Bybit covers 00:00-12:00 only).
LAST_BYBIT_CLOSE_NS = 1_670_932_860_000_000_000


def streams_specs() -> list[DataSpec]:
    return [parse_data_arg(str(BTCUSDT_STREAMS)), parse_data_arg(str(ETHUSDT_STREAMS))]


def venue_specs() -> list[DataSpec]:
    return [
        parse_data_arg(str(BINANCE_BTCUSD_1M_TRADES)),
        parse_data_arg(str(BYBIT_BTCUSD_1M_TRADES)),
    ]


def stream_lines(path: Path, count: int) -> list[str]:
    """The first ``count`` stream-message lines of a real recording (bare snapshots left out)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = (line for line in handle if '"stream"' in line)
        return list(itertools.islice(lines, count))


# --- merging -----------------------------------------------------------------------


def test_two_symbols_streams_merge_in_receive_order():
    """BTCUSDT and ETHUSDT streams of the same minutes merge into one stream ordered by ts_init."""
    specs = streams_specs()

    events = list(open_sources(specs))

    assert Counter(e.instrument_id for e in events) == {"BTCUSDT": 41_249, "ETHUSDT": 33_618}
    assert (events[0].ts_init, events[-1].ts_init) == (FIRST_STREAMS_NS, LAST_STREAMS_NS)
    assert all(a.ts_init <= b.ts_init for a, b in itertools.pairwise(events))
    switches = sum(a.instrument_id != b.instrument_id for a, b in itertools.pairwise(events))
    assert switches == 19_012  # interleaved throughout, not one file after the other
    assert [type(e) for e in events if isinstance(e, BookSnapshot)] == [BookSnapshot] * 2


def test_two_venues_bars_carry_qualified_ids():
    """Binance and Bybit BTCUSD bars give ids BTCUSD and bybit:BTCUSD, merged by close time."""
    specs = venue_specs()

    events = list(open_sources(specs))

    assert Counter(e.instrument_id for e in events) == {"BTCUSD": 1_439, "bybit:BTCUSD": 721}
    assert all(isinstance(e, Bar) for e in events)
    assert [(e.instrument_id, e.ts_init) for e in events[:2]] == [
        ("BTCUSD", FIRST_BAR_CLOSE_NS),
        ("bybit:BTCUSD", FIRST_BAR_CLOSE_NS),
    ]
    assert events[-1].ts_init == LAST_BAR_CLOSE_NS
    bybit = [e for e in events if isinstance(e, Bar) and e.instrument_id == "bybit:BTCUSD"]
    assert (bybit[0].open, bybit[-1].ts_init) == (Decimal("17199.5"), LAST_BYBIT_CLOSE_NS)


@pytest.mark.parametrize("venues", [("binance", "bybit"), ("bybit", "binance")])
def test_ties_go_to_the_spec_given_first(venues):
    """The same file under two venues: every ts_init ties, and the first spec's event leads."""
    specs = [DataSpec(path=BYBIT_BTCUSD_1M_TRADES, venue=v, symbol="BTCUSD") for v in venues]
    first, second = (("BTCUSD" if v == "binance" else f"{v}:BTCUSD") for v in venues)

    events = list(open_sources(specs))

    assert len(events) == 2 * 721
    assert [e.instrument_id for e in events] == [first, second] * 721
    assert all(a.ts_init == b.ts_init for a, b in zip(events[::2], events[1::2], strict=True))


def test_ties_within_a_file_keep_file_order():
    """Events of one recording with equal ts_init stay in file order after the merge."""
    spec = parse_data_arg(str(BTCUSDT_STREAMS))

    merged = list(open_sources([spec, parse_data_arg(str(BYBIT_BTCUSD_1M_TRADES))]))

    assert [e for e in merged if e.instrument_id == "BTCUSDT"] == list(spec_events(spec))


def test_merge_is_deterministic():
    """Two merges of the same specs give equal event sequences."""
    specs = [*streams_specs(), parse_data_arg(str(SPOT_CAPTURE)), *venue_specs()]

    first, second = list(open_sources(specs)), list(open_sources(specs))

    assert first == second
    assert len(first) == 41_249 + 33_618 + 267 + 1_439 + 721


def test_symbol_filter_and_venue_on_a_capture():
    """SYMBOL= keeps one symbol of a capture; a venue prefix qualifies its ids."""
    spec = parse_data_arg(f"okx:NKNUSDT={SPOT_CAPTURE}")

    events = list(open_sources([spec]))

    assert Counter(e.instrument_id for e in events) == {"okx:NKNUSDT": 226}


def test_a_streams_file_mixing_symbols_gives_all(tmp_path):
    """A raw streams file holding two symbols' messages yields both, each under its own id."""
    lines = sorted(stream_lines(BTCUSDT_STREAMS, 200) + stream_lines(ETHUSDT_STREAMS, 200))
    mixed = tmp_path / "mixed-streams.txt"
    mixed.write_text("".join(lines), encoding="utf-8")
    spec = parse_data_arg(str(mixed))

    rows = describe_sources([spec])
    events = list(open_sources([spec]))

    assert [row.symbol for row in rows] == ["BTCUSDT", "ETHUSDT"]
    assert Counter(e.instrument_id for e in events) == {"BTCUSDT": 200, "ETHUSDT": 200}


def test_a_recording_going_back_in_time_cannot_merge(tmp_path):
    """A recording whose receive times go backwards raises DataError naming the event."""
    first, second = stream_lines(ETHUSDT_STREAMS, 2)
    path = tmp_path / "swapped.txt"
    path.write_text(second + first, encoding="utf-8")

    with pytest.raises(DataError, match=r"swapped.txt: event 2 \(QuoteTick ETHUSDT\) has ts_init"):
        list(open_sources([parse_data_arg(str(path))]))


def test_open_events_still_reads_one_file():
    """The single-file reader used by existing callers is unchanged."""
    events = list(open_events(BTCUSDT_STREAMS, "BTCUSDT"))

    assert len(events) == 41_249


# --- describing ------------------------------------------------------------------------


def test_describe_lists_instruments_in_spec_order():
    """describe_sources lists each recording's instruments, a capture's sorted by symbol."""
    specs = [*venue_specs(), parse_data_arg(str(SPOT_CAPTURE)), *streams_specs()]

    rows = describe_sources(specs)

    assert [row.instrument_id for row in rows] == [
        "BTCUSD", "bybit:BTCUSD", "BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR", "BTCUSDT", "ETHUSDT",
    ]  # fmt: skip
    assert rows[1] == SourceInstrument("bybit:BTCUSD", "bybit", "BTCUSD", BYBIT_BTCUSD_1M_TRADES)


def test_describe_refuses_a_symbol_the_recording_lacks():
    """SYMBOL= naming a symbol absent from a capture is a ConfigError listing those present."""
    spec = parse_data_arg(f"BTCUSDT={SPOT_CAPTURE}")

    with pytest.raises(
        ConfigError,
        match="no BTCUSDT in the recording, expected one of BLZETH, LRCBTC, NKNUSDT, RUNEEUR",
    ):
        describe_sources([spec])


# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "venue", "symbol"),
    [
        (str(BYBIT_BTCUSD_1M_TRADES), "bybit", "BTCUSD"),
        (str(BINANCE_BTCUSD_1M_TRADES), "binance", "BTCUSD"),
        (str(BTCUSDT_1M_BARS), "binance", "BTCUSDT"),
        (str(SPOT_CAPTURE), "binance", None),
        (str(ETHUSDT_STREAMS), "binance", None),
        (f"ethusdt={ETHUSDT_STREAMS}", "binance", "ETHUSDT"),
        (f"XBTUSD={BYBIT_BTCUSD_1M_TRADES}", "bybit", "XBTUSD"),
        (f"Kraken:xbtusd={BINANCE_BTCUSD_1M_TRADES}", "kraken", "XBTUSD"),
    ],
)
def test_parse_data_arg_forms(text, venue, symbol):
    """FILE, SYMBOL=FILE and VENUE:SYMBOL=FILE; bar files tell venue and symbol by name."""
    spec = parse_data_arg(text)

    assert (spec.venue, spec.symbol) == (venue, symbol)
    assert spec.path.name == text.rpartition("/")[2]


def test_parse_data_arg_takes_an_existing_file_with_equals_whole(tmp_path):
    """An existing file whose name holds '=' is a FILE, not SYMBOL=FILE."""
    path = tmp_path / "run=1"
    path.mkdir()
    shutil.copy(BYBIT_BTCUSD_1M_TRADES, path / BYBIT_BTCUSD_1M_TRADES.name)

    spec = parse_data_arg(str(path / BYBIT_BTCUSD_1M_TRADES.name))

    assert (spec.venue, spec.symbol) == ("bybit", "BTCUSD")


FORMS = "expected FILE, SYMBOL=FILE or VENUE:SYMBOL=FILE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"--data '': empty, {FORMS}"),
        ("  ", f"--data '  ': empty, {FORMS}"),
        (f"={BYBIT_BTCUSD_1M_TRADES}", f"empty symbol before '=', {FORMS}"),
        ("BTCUSD=", f"--data 'BTCUSD=': no file after '=', {FORMS}"),
        (f":BTCUSD={BYBIT_BTCUSD_1M_TRADES}", f"empty venue before ':', {FORMS}"),
        (f"bybit:={BYBIT_BTCUSD_1M_TRADES}", f"empty symbol after ':', {FORMS}"),
        (f"a:b:BTCUSD={BYBIT_BTCUSD_1M_TRADES}", f"'a:b:BTCUSD' is not a symbol, {FORMS}"),
        (f"BTC USD={BYBIT_BTCUSD_1M_TRADES}", f"'BTC USD' is not a symbol, {FORMS}"),
        ("missing.csv", "--data 'missing.csv': no such file 'missing.csv', expected a recording"),
        ("BTCUSD=missing.csv", "--data 'BTCUSD=missing.csv': no such file 'missing.csv'"),
    ],
)
def test_parse_data_arg_errors(text, message):
    """Every malformed --data value is a ConfigError saying what, where and what was expected."""
    with pytest.raises(ConfigError) as caught:
        parse_data_arg(text)

    assert message in str(caught.value)
    assert str(caught.value).startswith(f"--data {text!r}: ")


def test_parse_data_arg_refuses_a_directory(tmp_path):
    """A directory is not a recording."""
    with pytest.raises(ConfigError, match=r"is a directory .*, expected a recording"):
        parse_data_arg(str(tmp_path))


def test_parse_data_arg_refuses_an_unknown_file_type(tmp_path):
    """Only .csv, .jsonl and .txt recordings (optionally gzipped) and .parquet bars are known."""
    path = tmp_path / "bars.feather"
    shutil.copy(BYBIT_BTCUSD_1M_TRADES, path)

    with pytest.raises(
        ConfigError,
        match=r"unknown recording type 'bars.feather', expected \.csv \(bars\), \.jsonl \(capture\) or \.txt \(raw streams\)",
    ):
        parse_data_arg(str(path))


def test_parse_data_arg_refuses_a_parquet_name_on_another_format(tmp_path):
    """A .parquet file that is not Parquet is a DataError naming it."""
    pytest.importorskip("pyarrow")
    path = tmp_path / "bybit-btcusd-1m.parquet"
    shutil.copy(BYBIT_BTCUSD_1M_TRADES, path)

    with pytest.raises(DataError, match=r"bybit-btcusd-1m.parquet:1: cannot read the Parquet"):
        parse_data_arg(str(path))


def test_parse_data_arg_needs_the_symbol_of_an_unnamed_bar_file(tmp_path):
    """Bars whose file name tells no symbol need SYMBOL=; with it they parse."""
    path = tmp_path / "prices.csv.gz"
    shutil.copy(BYBIT_BTCUSD_1M_TRADES, path)

    with pytest.raises(ConfigError) as caught:
        parse_data_arg(str(path))
    spec = parse_data_arg(f"bybit:BTCUSD={path}")

    assert "cannot tell the symbol of the bars in 'prices.csv.gz' from the name" in str(
        caught.value
    )
    assert f"write SYMBOL={path} or VENUE:SYMBOL={path}" in str(caught.value)
    assert (spec.venue, spec.symbol) == ("bybit", "BTCUSD")


def test_parse_data_arg_reads_quote_bars_venue_and_symbol_from_the_name():
    """binance-btcusd-perp-1m-...-quote.csv.gz is Binance BTCUSD, as its trade bars are."""
    spec = parse_data_arg(str(BINANCE_BTCUSD_1M_QUOTES))

    assert (spec.venue, spec.symbol) == ("binance", "BTCUSD")


def test_quote_bars_of_two_venues_replay_as_quotes_merged_by_close_time():
    """Binance (1,104) and Bybit (464) quote bars: 1,568 QuoteTicks, Binance first on a tie."""
    specs = [
        parse_data_arg(str(BINANCE_BTCUSD_1M_QUOTES)),
        parse_data_arg(str(BYBIT_BTCUSD_1M_QUOTES)),
    ]

    events = list(open_sources(specs))

    assert len(events) == 1_568
    assert {type(e) for e in events} == {QuoteTick}
    assert [e.instrument_id for e in events[:2]] == ["BTCUSD", "bybit:BTCUSD"]
    assert events[0].ts_init == events[1].ts_init == FIRST_BAR_CLOSE_NS


def test_open_events_reads_quote_bars_as_quotes():
    """The single-file reader gives quotes for a quote bar file too."""
    first = next(open_events(BYBIT_BTCUSD_1M_QUOTES, "BTCUSD"))

    assert isinstance(first, QuoteTick)
    assert (first.bid, first.ask) == (Decimal(17210), Decimal("17210.5"))


@pytest.mark.parametrize(
    ("venue", "symbol", "message"),
    [
        ("Bybit", "BTCUSD", "venue 'Bybit', expected lower case"),
        ("", "BTCUSD", "venue '', expected lower case"),
        ("bybit", "btcusd", "symbol 'btcusd', expected upper case"),
        ("bybit", "", "symbol '', expected upper case"),
    ],
)
def test_data_spec_validates(venue, symbol, message):
    """A DataSpec built by hand is canonical: lower-case venue, upper-case symbol."""
    with pytest.raises(ConfigError, match=message):
        DataSpec(path=BYBIT_BTCUSD_1M_TRADES, venue=venue, symbol=symbol)


def test_bars_spec_without_symbol_is_read_by_name():
    """A hand-built bar spec without a symbol takes the one its file name tells."""
    spec = DataSpec(path=BYBIT_BTCUSD_1M_TRADES, venue="bybit")

    events: list[MarketEvent] = list(itertools.islice(open_sources([spec]), 1))

    assert events[0].instrument_id == "bybit:BTCUSD"
