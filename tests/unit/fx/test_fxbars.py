"""Bid and ask bar files merged into FX quotes and mid bars (the bundled FXCM GBPUSD month)."""

from __future__ import annotations

import gzip
from decimal import Decimal
from itertools import islice
from pathlib import Path

import pytest

from genesis.core.events import Bar, QuoteTick
from genesis.data.fxbars import BidAskStats, read_bid_ask_bars
from genesis.errors import DataError

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
BID, ASK = DATA / "gbpusd-1m-2012-02-bid.csv.gz", DATA / "gbpusd-1m-2012-02-ask.csv.gz"


def _lines(path: Path, n: int) -> list[str]:
    with gzip.open(path, "rt", encoding="ascii") as fh:
        return list(islice(fh, n))


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="ascii")
    return path


def test_the_bundled_month_merges_into_29770_minutes_347_crossed() -> None:
    stats = BidAskStats()
    kinds = [type(e) for e in read_bid_ask_bars(BID, ASK, "GBPUSD", stats)]
    assert (stats.bars, stats.bid_only, stats.ask_only, stats.crossed) == (29_770, 0, 0, 347)
    assert (kinds[:2], len(kinds)) == ([QuoteTick, Bar], 2 * 29_770)


def test_first_minute_quote_is_the_closes_and_the_bar_their_mids() -> None:
    quote, bar = islice(read_bid_ask_bars(BID, ASK, "GBPUSD"), 2)
    assert isinstance(quote, QuoteTick)
    assert isinstance(bar, Bar)
    assert (quote.bid, quote.ask, quote.ts_init) == (D("1.57576"), D("1.57585"), bar.ts_event)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        D("1.576025"), D("1.57608"), D("1.575805"), D("1.575805"),
    )  # fmt: skip
    assert bar.ts_event - bar.ts_open == 60_000_000_000  # stamped at the close


def test_a_minute_missing_from_one_file_is_skipped_and_counted(tmp_path: Path) -> None:
    bid = _write(tmp_path / "bid.csv", _lines(BID, 11))
    ask_lines = _lines(ASK, 11)
    ask = _write(tmp_path / "ask.csv", ask_lines[:5] + ask_lines[6:])  # no 00:04 ask
    stats = BidAskStats()
    bars = [e for e in read_bid_ask_bars(bid, ask, "GBPUSD", stats) if type(e) is Bar]
    assert (stats.bars, stats.bid_only, stats.ask_only) == (9, 1, 0)
    assert 1_328_054_640_000_000_000 not in {b.ts_open for b in bars}  # 00:04 UTC


def test_files_of_different_intervals_are_refused(tmp_path: Path) -> None:
    lines = _lines(ASK, 11)
    ask = _write(tmp_path / "ask.csv", lines[:1] + lines[1::2])  # every other minute
    with pytest.raises(DataError, match="60 s bars, ask ask.csv 120 s bars"):
        read_bid_ask_bars(BID, ask, "GBPUSD")


def test_files_with_no_common_minute_are_refused(tmp_path: Path) -> None:
    lines = _lines(BID, 21)
    bid = _write(tmp_path / "bid.csv", lines[:11])
    ask = _write(tmp_path / "ask.csv", lines[:1] + lines[11:])
    with pytest.raises(DataError, match="no usable bar.*10 bid-only, 10 ask-only"):
        list(read_bid_ask_bars(bid, ask, "GBPUSD"))


def test_a_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    lines = _lines(ASK, 6)
    lines[3] = lines[3].replace("1.57", "x1.57", 1)
    ask = _write(tmp_path / "ask.csv", lines)
    with pytest.raises(DataError, match=r"ask.csv.*4"):
        list(read_bid_ask_bars(BID, ask, "GBPUSD"))


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_bid_ask_bars(BID, tmp_path / "nope.csv", "GBPUSD")
