"""Readers of the recorded Binance captures: event mapping, time stamps, malformed input."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.enums import Side
from genesis.core.events import Bar, BookDelta, BookSnapshot, QuoteTick, TradeTick
from genesis.data.capture import read_binance_streams, read_futures_depth_csv, read_spot_capture
from genesis.errors import DataError
from genesis.resources import SPOT_CAPTURE

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
STREAMS = DATA / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
FUTURES_SNAPSHOT = DATA / "binance-futures-btcusdt-depth-snapshot.csv.gz"
FUTURES_UPDATES = DATA / "binance-futures-btcusdt-depth-updates.csv.gz"


def _capture_lines() -> list[str]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _stream_lines(count: int) -> list[str]:
    with gzip.open(STREAMS, "rt", encoding="utf-8") as fh:
        return [next(fh).rstrip("\n") for _ in range(count)]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _kline_line(closed: bool) -> str:
    record = json.loads(next(line for line in _capture_lines() if "kline" in line))
    record["data"]["data"]["k"]["x"] = closed
    return json.dumps(record)


# --- spot capture -------------------------------------------------------------------


def test_spot_capture_event_counts() -> None:
    """The capture maps to 177 diffs, 84 quotes, 4 snapshots, 2 trades and no open kline."""
    events = list(read_spot_capture(SPOT_CAPTURE))

    counts = Counter(type(e).__name__ for e in events)

    assert counts == {"BookDelta": 177, "QuoteTick": 84, "BookSnapshot": 4, "TradeTick": 2}


def test_spot_capture_first_diff() -> None:
    """The first line is an NKNUSDT diff with U/u, E as ts_event and recv_ts as ts_init."""
    first = next(read_spot_capture(SPOT_CAPTURE))

    assert first == BookDelta(
        instrument_id="NKNUSDT",
        ts_event=1_633_998_512_068_000_000,
        ts_init=1_633_998_512_063_356_900,
        first_update_id=499869750,
        last_update_id=499869752,
        bids=(
            (D("0.35130000"), D("6195.00000000")),
            (D("0.34750000"), D("5548.00000000")),
            (D("0.34640000"), D("6222.00000000")),
        ),
    )


def test_receive_time_has_no_float_drift() -> None:
    """recv_ts 1633998512.0633569 s is exactly 1633998512063356900 ns (through float: ...928)."""
    first = next(read_spot_capture(SPOT_CAPTURE))

    assert first.ts_init == 1_633_998_512_063_356_900


def test_rest_depth_becomes_a_snapshot_named_by_the_query() -> None:
    """The REST depth record takes its symbol from the path and its time from recv_ts."""
    snapshot = next(e for e in read_spot_capture(SPOT_CAPTURE) if isinstance(e, BookSnapshot))

    assert (snapshot.instrument_id, snapshot.last_update_id) == ("NKNUSDT", 499869752)
    assert (len(snapshot.bids), len(snapshot.asks)) == (609, 1000)
    assert snapshot.ts_event == snapshot.ts_init == 1_633_998_512_320_639_000
    assert snapshot.bids[0] == (D("0.35210000"), D("672.00000000"))


def test_book_ticker_becomes_a_quote() -> None:
    """bookTicker (no event time) gives a QuoteTick stamped with the receive time."""
    quote = next(e for e in read_spot_capture(SPOT_CAPTURE) if isinstance(e, QuoteTick))

    assert quote == QuoteTick(
        instrument_id="NKNUSDT",
        ts_event=1_633_998_513_377_805_000,
        ts_init=1_633_998_513_377_805_000,
        bid=D("0.35210000"),
        ask=D("0.35260000"),
        bid_size=D("672.00000000"),
        ask_size=D("3199.00000000"),
    )


def test_agg_trade_with_taker_buyer_is_a_buy() -> None:
    """aggTrade with m=false (buyer took liquidity) is a BUY aggressor with the agg id."""
    trade = next(e for e in read_spot_capture(SPOT_CAPTURE) if isinstance(e, TradeTick))

    assert trade == TradeTick(
        instrument_id="NKNUSDT",
        ts_event=1_633_998_523_963_000_000,
        ts_init=1_633_998_523_957_215_000,
        price=D("0.35280000"),
        size=D("58.00000000"),
        aggressor_side=Side.BUY,
        trade_id="15683430",
    )


def test_closed_kline_becomes_a_bar(tmp_path: Path) -> None:
    """The real NKNUSDT kline marked closed gives a Bar stamped at its close time."""
    path = _write(tmp_path / "kline.jsonl", [_kline_line(closed=True)])

    (bar,) = read_spot_capture(path)

    assert bar == Bar(
        instrument_id="NKNUSDT",
        ts_event=1_633_998_540_000_000_000,
        ts_init=1_633_998_523_957_297_800,
        ts_open=1_633_998_480_000_000_000,
        open=D("0.35270000"),
        high=D("0.35280000"),
        low=D("0.35220000"),
        close=D("0.35280000"),
        volume=D("25877.00000000"),
    )


def test_plain_and_gzip_files_read_the_same(tmp_path: Path) -> None:
    """An uncompressed copy of the capture yields the same events as the gzip original."""
    plain = _write(tmp_path / "capture.jsonl", _capture_lines())

    assert list(read_spot_capture(plain)) == list(read_spot_capture(SPOT_CAPTURE))


def _mutated(change: str) -> str:
    record = json.loads(_capture_lines()[0])
    payload = record["data"]["data"]
    if change == "no U":
        del payload["U"]
    elif change == "bad price":
        payload["b"][0][0] = "0.35I3"
    elif change == "negative qty":
        payload["b"][0][1] = "-1"
    elif change == "U > u":
        payload["U"] = payload["u"] + 1
    elif change == "bad kind":
        record["kind"] = "fix"
    elif change == "no recv_ts":
        del record["recv_ts"]
    return json.dumps(record)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("no U", "missing field `U`"),
        ("bad price", "`b price` '0.35I3'; expected a decimal string"),
        ("negative qty", "`b qty` '-1'; expected a finite decimal >= 0"),
        ("U > u", "U 499869753 > u 499869752"),
        ("bad kind", "`kind` 'fix'"),
        ("no recv_ts", "missing field `recv_ts`"),
    ],
)
def test_malformed_capture_line_names_file_line_and_reason(
    tmp_path: Path, change: str, reason: str
) -> None:
    """A malformed second line raises DataError with path:2 and the reason."""
    path = _write(tmp_path / "bad.jsonl", [_capture_lines()[0], _mutated(change)])

    with pytest.raises(DataError) as info:
        list(read_spot_capture(path))

    assert str(info.value).startswith(f"{path}:2: ")
    assert reason in str(info.value)


def test_capture_line_that_is_not_json(tmp_path: Path) -> None:
    """A line cut in the middle of its JSON is reported as invalid JSON."""
    path = _write(tmp_path / "cut.jsonl", [_capture_lines()[0][:80]])

    with pytest.raises(DataError, match=r"cut\.jsonl:1: invalid JSON"):
        list(read_spot_capture(path))


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    """A gzip capture cut short raises DataError instead of EOFError."""
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(SPOT_CAPTURE.read_bytes()[:20_000])

    with pytest.raises(DataError, match="unreadable"):
        list(read_spot_capture(path))


# --- raw stream recording -------------------------------------------------------------


def test_streams_event_counts() -> None:
    """The 2024 BTCUSDT recording maps to 3,451 diffs, 28,040 quotes, 9,757 trades, 1 snapshot."""
    counts = Counter(type(e).__name__ for e in read_binance_streams(STREAMS))

    assert counts == {"QuoteTick": 28040, "TradeTick": 9757, "BookDelta": 3451, "BookSnapshot": 1}


def test_streams_bare_snapshot_takes_the_files_symbol() -> None:
    """The bare REST snapshot on line 8 is BTCUSDT, stamped with its receive time."""
    snapshot = next(e for e in read_binance_streams(STREAMS) if isinstance(e, BookSnapshot))

    assert (snapshot.instrument_id, snapshot.last_update_id) == ("BTCUSDT", 50093239218)
    assert snapshot.ts_event == snapshot.ts_init == 1_723_161_254_206_652_067
    assert (len(snapshot.bids), len(snapshot.asks)) == (1000, 1000)


def test_streams_trade_with_maker_buyer_is_a_sell() -> None:
    """trade with m=true (the buyer was resting) is a SELL aggressor with the trade id."""
    trade = next(e for e in read_binance_streams(STREAMS) if isinstance(e, TradeTick))

    assert trade == TradeTick(
        instrument_id="BTCUSDT",
        ts_event=1_723_161_255_343_000_000,
        ts_init=1_723_161_254_087_896_568,
        price=D("61837.63000000"),
        size=D("0.02000000"),
        aggressor_side=Side.SELL,
        trade_id="3735683259",
    )


def test_snapshot_before_any_symbol_is_held_back(tmp_path: Path) -> None:
    """A snapshot on the first line waits for the next message's symbol and keeps its place."""
    lines = _stream_lines(8)
    path = _write(tmp_path / "streams.txt", [lines[7], *lines[:3]])

    events = list(read_binance_streams(path))

    assert [type(e).__name__ for e in events] == [
        "BookSnapshot",
        "BookDelta",
        "BookDelta",
        "QuoteTick",
    ]
    assert {e.instrument_id for e in events} == {"BTCUSDT"}


def test_explicit_instrument_names_the_snapshot(tmp_path: Path) -> None:
    """instrument_id is given to the bare snapshot as is."""
    path = _write(tmp_path / "streams.txt", [_stream_lines(8)[7]])

    (snapshot,) = read_binance_streams(path, instrument_id="BTCUSDT")

    assert snapshot.instrument_id == "BTCUSDT"


def test_snapshot_without_any_symbol_raises(tmp_path: Path) -> None:
    """A file holding only a bare snapshot cannot name it: DataError at its line."""
    path = _write(tmp_path / "streams.txt", [_stream_lines(8)[7]])

    with pytest.raises(DataError, match=r"streams\.txt:1: bare depth snapshot"):
        list(read_binance_streams(path))


def test_snapshot_in_a_file_with_two_symbols_raises(tmp_path: Path) -> None:
    """After a snapshot was given BTCUSDT, a line of another symbol raises DataError."""
    lines = _stream_lines(8)
    other = lines[2].replace('"s":"BTCUSDT"', '"s":"ETHUSDT"')
    path = _write(tmp_path / "streams.txt", [lines[0], lines[7], other])

    with pytest.raises(DataError, match=r"streams\.txt:3: symbol ETHUSDT differs from BTCUSDT"):
        list(read_binance_streams(path))


def test_stream_line_without_receive_time_raises(tmp_path: Path) -> None:
    """A line that does not start with '<recv ns> ' is malformed."""
    path = _write(tmp_path / "streams.txt", [_stream_lines(1)[0].partition(" ")[2]])

    with pytest.raises(DataError, match=r"streams\.txt:1: .*expected '<recv ns> <json>'"):
        list(read_binance_streams(path))


# --- futures CSV -------------------------------------------------------------------------


def test_futures_snapshot_rows_form_one_snapshot() -> None:
    """The 100 `snap` rows become one bid-only BookSnapshot, best first, ms -> ns."""
    (snapshot,) = read_futures_depth_csv(FUTURES_SNAPSHOT)

    assert isinstance(snapshot, BookSnapshot)
    assert (snapshot.last_update_id, len(snapshot.bids), len(snapshot.asks)) == (
        2098021528332,
        100,
        0,
    )
    assert snapshot.bids[0] == (D("20377.00"), D("1.770"))
    assert snapshot.ts_event == snapshot.ts_init == 1_667_346_579_146_000_000


def test_futures_update_rows_form_one_delta_with_pu() -> None:
    """The 100 `set` rows share one id range and become one BookDelta carrying pu."""
    (delta,) = read_futures_depth_csv(FUTURES_UPDATES)

    assert isinstance(delta, BookDelta)
    assert (delta.first_update_id, delta.last_update_id, delta.prev_update_id) == (
        2098041693435,
        2098041696700,
        2098041693400,
    )
    assert (len(delta.bids), len(delta.asks)) == (23, 77)
    assert delta.asks[0] == (D("20472.80"), D("0.000"))


def test_futures_wrong_header_raises(tmp_path: Path) -> None:
    """A CSV without the futures depth header is refused at line 1."""
    path = _write(tmp_path / "depth.csv", ["timestamp,price,qty", "1,2,3"])

    with pytest.raises(DataError, match=r"depth\.csv:1: header"):
        list(read_futures_depth_csv(path))


def test_futures_bad_side_raises(tmp_path: Path) -> None:
    """A row whose side is neither b nor a is refused with its line number."""
    with gzip.open(FUTURES_UPDATES, "rt", encoding="utf-8") as fh:
        header, row = next(fh).strip(), next(fh).strip()
    path = _write(tmp_path / "depth.csv", [header, row.replace(",a,set,", ",x,set,")])

    with pytest.raises(DataError, match=r"depth\.csv:2: `side` 'x'"):
        list(read_futures_depth_csv(path))
