"""``capture check``: the real capture's figures, deleted diffs, healing snapshots, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from genesis.__main__ import main
from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot
from genesis.data.book import BookSync
from genesis.data.capture import read_spot_capture
from genesis.data.capture_check import check_capture
from genesis.resources import SPOT_CAPTURE

# Pinned figures of the bundled recording (269 lines, 4 symbols).
EXPECTED = {
    "NKNUSDT": {
        "valid": True,
        "applied": 149,
        "gaps": 0,
        "snapshots": 1,
        "resyncs": 0,
        "discarded_old": 1,
        "crossed_books": 0,
        "diffs": 150,
        "buffered": 0,
        "first_update_id": 499869752,
        "last_update_id": 499870179,
        "best_bid": "0.35270000",
        "best_bid_qty": "9602.00000000",
        "best_ask": "0.35310000",
        "best_ask_qty": "152.00000000",
        "first_recv_ts": "1633998512.0633569",
        "last_recv_ts": "1633998542.0778618",
        "span_s": "30.0145049",
        "book_ticker_matched": 19,
        "book_ticker_mismatched": 0,
        "book_ticker_unpaired": 55,
    },
    "BLZETH": {
        "valid": True,
        "applied": 9,
        "gaps": 0,
        "snapshots": 1,
        "discarded_old": 1,
        "first_update_id": 281916627,
        "last_update_id": 281916638,
        "best_bid": "0.00006547",
        "best_ask": "0.00006560",
        "book_ticker_matched": 1,
        "book_ticker_mismatched": 0,
        "book_ticker_unpaired": 0,
    },
    "LRCBTC": {
        "valid": True,
        "applied": 13,
        "gaps": 0,
        "snapshots": 1,
        "discarded_old": 2,
        "first_update_id": 259345543,
        "last_update_id": 259345563,
        "best_bid": "0.00000637",
        "best_ask": "0.00000638",
        "book_ticker_matched": 6,
        "book_ticker_mismatched": 0,
        "book_ticker_unpaired": 3,
    },
    "RUNEEUR": {
        "valid": True,
        "applied": 1,
        "gaps": 0,
        "snapshots": 1,
        "discarded_old": 1,
        "first_update_id": 15602511,
        "last_update_id": 15602513,
        "best_bid": "6.25100000",
        "best_ask": "6.26900000",
        "book_ticker_matched": 0,
        "book_ticker_mismatched": 0,
        "book_ticker_unpaired": 0,
    },
}


def _lines() -> list[str]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _by_symbol(path: Path) -> dict[str, dict[str, Any]]:
    return {s.symbol: json.loads(s.to_json()) for s in check_capture(path).symbols}


def _subset(report: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in expected}


def test_real_capture_figures_per_symbol() -> None:
    """Every symbol of the 2021 recording is valid with pinned diffs, ids and top of book."""
    reports = _by_symbol(SPOT_CAPTURE)

    assert list(reports) == list(EXPECTED)
    assert {s: _subset(reports[s], e) for s, e in EXPECTED.items()} == EXPECTED


def test_real_capture_book_ticker_cross_check_matches_reference() -> None:
    """All 26 exact-id bookTickers match the rebuilt book and all 84 are accounted for (§13)."""
    report = check_capture(SPOT_CAPTURE)

    matched = sum(s.book_ticker_matched for s in report.symbols)
    seen = sum(
        s.book_ticker_matched + s.book_ticker_mismatched + s.book_ticker_unpaired
        for s in report.symbols
    )
    assert (matched, seen, report.exit_code, report.errors, report.truncated) == (
        26,
        84,
        0,
        (),
        None,
    )


@pytest.mark.parametrize(
    ("lineno", "symbol", "applied", "buffered", "book_id"),
    [
        (3, "NKNUSDT", 0, 148, 499869752),  # the first diff after the snapshot
        (96, "NKNUSDT", 54, 94, 499869901),  # mid-stream
        (71, "BLZETH", 0, 8, 281916627),  # BLZETH's first diff after its snapshot
        (146, "LRCBTC", 3, 9, 259345547),
        (198, "LRCBTC", 6, 6, 259345552),
    ],
)
def test_deleted_diff_is_a_gap_and_invalidates(
    tmp_path: Path, lineno: int, symbol: str, applied: int, buffered: int, book_id: int
) -> None:
    """Removing one diff leaves the symbol invalid with one gap, its book frozen before it."""
    lines = _lines()
    del lines[lineno - 1]

    reports = _by_symbol(_write(tmp_path / "cut.jsonl", lines))

    keys = ("valid", "gaps", "applied", "buffered", "last_update_id")
    assert {k: reports[symbol][k] for k in keys} == {
        "valid": False,
        "gaps": 1,
        "applied": applied,
        "buffered": buffered,
        "last_update_id": book_id,
    }
    assert [s for s, r in reports.items() if not r["valid"]] == [symbol]


def test_deleted_diff_already_in_the_snapshot_is_harmless(tmp_path: Path) -> None:
    """LRCBTC's diff ending at the snapshot id (line 31) is discarded anyway: no gap."""
    lines = _lines()
    del lines[30]

    report = _by_symbol(_write(tmp_path / "cut.jsonl", lines))["LRCBTC"]

    assert _subset(report, {"valid": 0, "gaps": 0, "discarded_old": 0, "applied": 0}) == {
        "valid": True,
        "gaps": 0,
        "discarded_old": 1,
        "applied": 13,
    }


def _snapshot_line(prefix: Path, symbol: str) -> str:
    """A REST depth record holding ``symbol``'s book at the end of the capture ``prefix``."""
    sync = BookSync(symbol)
    for event in read_spot_capture(prefix):
        if isinstance(event, BookSnapshot | BookDelta) and event.instrument_id == symbol:
            sync.apply(event)
    book = sync.book
    data = {
        "lastUpdateId": sync.last_update_id,
        "bids": [[format(p, "f"), format(q, "f")] for p, q in book.levels(Side.BUY)],
        "asks": [[format(p, "f"), format(q, "f")] for p, q in book.levels(Side.SELL)],
    }
    path = f"/api/v3/depth?symbol={symbol}&limit=1000"
    return json.dumps({"recv_ts": 1633998530.5, "kind": "rest", "path": path, "data": data})


def test_later_snapshot_heals_a_deleted_diff(tmp_path: Path) -> None:
    """A snapshot after the gap makes NKNUSDT valid again with the original top of book."""
    lines = _lines()
    snapshot = _snapshot_line(_write(tmp_path / "prefix.jsonl", lines[:150]), "NKNUSDT")
    healed = [*lines[:150], snapshot, *lines[150:]]
    del healed[95]  # the NKNUSDT diff of line 96

    report = _by_symbol(_write(tmp_path / "healed.jsonl", healed))["NKNUSDT"]

    keys = ("valid", "gaps", "snapshots", "resyncs", "last_update_id", "best_bid", "best_ask")
    assert {k: report[k] for k in keys} == {
        "valid": True,
        "gaps": 1,
        "snapshots": 2,
        "resyncs": 1,
        "last_update_id": 499870179,
        "best_bid": "0.35270000",
        "best_ask": "0.35310000",
    }


def test_gzip_and_plain_copies_check_the_same(tmp_path: Path) -> None:
    """The same capture plain and gzipped gives identical reports."""
    plain = _write(tmp_path / "copy.jsonl", _lines())
    packed = tmp_path / "copy.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))

    assert (
        check_capture(packed).symbols
        == check_capture(plain).symbols
        == (check_capture(SPOT_CAPTURE).symbols)
    )


def test_unreadable_line_exits_2_with_line_number_and_checks_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed line in the middle is named as file:line; every symbol is still reported."""
    lines = _lines()
    lines[99] = lines[99][:60]
    path = _write(tmp_path / "bad.jsonl", lines)

    code = main(["capture", "check", str(path)])

    out, err = capsys.readouterr()
    assert code == 2
    assert f"{path}:100: invalid JSON" in err
    assert [json.loads(line)["symbol"] for line in out.splitlines()] == list(EXPECTED)


def test_truncated_gzip_tail_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gzip stream cut after a sync flush (recorder crash) checks valid; the tail is named."""
    path = tmp_path / "crash.jsonl.gz"
    raw = path.open("wb")
    stream = gzip.GzipFile(fileobj=raw, mode="wb")
    stream.write(("\n".join(_lines()) + "\n").encode())
    stream.flush()
    stream.write(b'{"recv_ts": 1633998542.2, "kind": "ws", "da')
    raw.close()  # no gzip trailer, the partial line never flushed

    code = main(["capture", "check", str(path)])

    out, err = capsys.readouterr()
    assert (code, len(out.splitlines())) == (0, 4)
    assert f"{path}:270: truncated gzip stream" in err


def test_truncated_plain_last_line_is_a_warning(tmp_path: Path) -> None:
    """A plain file whose last line was cut without its newline keeps its verdict."""
    path = tmp_path / "crash.jsonl"
    path.write_text("\n".join(_lines()) + "\n" + _lines()[5][:70], encoding="utf-8")

    report = check_capture(path)

    assert (report.exit_code, report.errors) == (0, ())
    assert report.truncated is not None
    assert report.truncated.startswith(f"{path}:270: truncated final line")


def test_book_ticker_disagreeing_with_the_book_is_a_mismatch(tmp_path: Path) -> None:
    """A bookTicker whose bid differs from the rebuilt book at its id is counted."""
    lines = _lines()
    record = json.loads(lines[9])  # NKNUSDT bookTicker u=499869769, an exact depth id
    record["data"]["data"]["b"] = "0.35000000"
    lines[9] = json.dumps(record)

    report = _by_symbol(_write(tmp_path / "ticker.jsonl", lines))["NKNUSDT"]

    assert (report["book_ticker_matched"], report["book_ticker_mismatched"]) == (18, 1)


def test_capture_without_book_data_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with no depth or bookTicker line cannot be trusted: exit 2."""
    path = _write(tmp_path / "empty.jsonl", [])

    code = main(["capture", "check", str(path)])

    assert (code, capsys.readouterr().out) == (2, "")


def test_missing_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that does not exist exits 2 with one line naming it."""
    code = main(["capture", "check", str(tmp_path / "nope.jsonl")])

    assert code == 2
    assert (
        capsys.readouterr().err
        == f"genesis capture: error: {tmp_path / 'nope.jsonl'}: no such file\n"
    )


def test_main_prints_one_json_line_per_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m genesis capture check`` on the bundled capture exits 0 with 4 JSON lines."""
    code = main(["capture", "check", str(SPOT_CAPTURE)])

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["symbol"], r["valid"], r["best_bid"], r["best_ask"]) for r in rows] == [
        (s, True, e["best_bid"], e["best_ask"]) for s, e in EXPECTED.items()
    ]
