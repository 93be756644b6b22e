"""FeedCore on the real 2021-10-12 capture (P7, R10) and malformed frames (R18), without I/O."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import pytest

from genesis.core.enums import Side
from genesis.core.events import BookDelta, QuoteTick
from genesis.exchange.binance.feedcore import FeedCore
from genesis.resources import SPOT_CAPTURE

SYMBOLS = ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR")
KINDS = ("depth@100ms", "bookTicker", "aggTrade", "kline_1m")


def capture() -> list[tuple[str, Any, int]]:
    """(kind, payload, recv_ns) per record: ("ws", text) or ("rest", (symbol, data))."""
    out = []
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            recv_ns = int(Decimal(str(rec["recv_ts"])) * 1_000_000_000)
            if rec["kind"] == "ws":
                out.append(("ws", json.dumps(rec["data"]), recv_ns))
            else:
                symbol = rec["path"].split("symbol=")[1].split("&")[0]
                out.append(("rest", (symbol, rec["data"]), recv_ns))
    return out


RECORDS = capture()
DEPTH_IDX = [i for i, (k, p, _) in enumerate(RECORDS) if k == "ws" and "depthUpdate" in p]


def replay(records: list[tuple[str, Any, int]], core: FeedCore, on_delta: Any = None) -> list[Any]:
    events = []
    for kind, payload, recv_ns in records:
        if kind == "ws":
            event = core.on_text(payload, recv_ns)
        else:
            event = core.on_snapshot(payload[0], payload[1], recv_ns)
        if event is not None:
            events.append(event)
            if on_delta is not None and isinstance(event, BookDelta):
                on_delta(event)
    return events


def test_capture_replays_with_zero_gaps_and_no_rejections() -> None:
    """All 265 frames parse; 4 books sync with 0 gaps and stay valid."""
    core = FeedCore(SYMBOLS, KINDS)
    events = replay(RECORDS, core)
    stats = core.book_stats()
    assert core.counters.malformed == 0
    assert core.counters.messages == 265
    assert sum(s.gaps for s in stats.values()) == 0
    assert all(s.valid for s in stats.values())
    assert sum(isinstance(e, BookDelta) for e in events) == 177
    assert sum(isinstance(e, QuoteTick) for e in events) == 84


def test_book_ticker_matches_rebuilt_book_at_aligned_ids() -> None:
    """At every bookTicker id that equals a diff's u, best bid/ask and sizes equal the book."""
    tickers: dict[tuple[str, int], tuple[str, str, str, str]] = {}
    for kind, payload, _ in RECORDS:
        if kind == "ws" and "bookTicker" in payload:
            d = json.loads(payload)["data"]
            tickers[(d["s"], d["u"])] = (d["b"], d["B"], d["a"], d["A"])
    core = FeedCore(SYMBOLS, KINDS)
    compared: list[bool] = []

    def check(delta: BookDelta) -> None:
        sync = core.books[delta.instrument_id]
        quote = tickers.get((delta.instrument_id, delta.last_update_id))
        if quote is not None and sync.valid:
            bid, ask = sync.book.best_bid(), sync.book.best_ask()
            compared.append(
                (bid, ask)
                == ((Decimal(quote[0]), Decimal(quote[1])), (Decimal(quote[2]), Decimal(quote[3])))
            )

    replay(RECORDS, core, check)
    assert len(compared) == 26
    assert all(compared)


def test_every_deleted_diff_is_detected_and_healed() -> None:
    """Deleting any one diff that has a successor is a gap on that successor; a snapshot heals."""
    clean = FeedCore(SYMBOLS, KINDS)
    replay(RECORDS, clean)
    detected = cases = 0
    for idx in DEPTH_IDX:
        diff = json.loads(RECORDS[idx][1])["data"]
        symbol = diff["s"]
        later = [i for i in DEPTH_IDX if i > idx and symbol in RECORDS[i][1]]
        snap_at = next(i for i, r in enumerate(RECORDS) if r[0] == "rest" and r[1][0] == symbol)
        if not later or idx < snap_at or diff["u"] <= RECORDS[snap_at][1][1]["lastUpdateId"]:
            continue  # nothing can reveal it, or the snapshot already contains it
        cases += 1
        core = FeedCore(SYMBOLS, KINDS)
        replay(RECORDS[:idx] + RECORDS[idx + 1 :], core)
        truth = clean.books[symbol]
        healed = {
            "lastUpdateId": truth.last_update_id,
            "bids": [[format(p, "f"), format(q, "f")] for p, q in truth.book.levels(Side.BUY)],
            "asks": [[format(p, "f"), format(q, "f")] for p, q in truth.book.levels(Side.SELL)],
        }
        gaps = core.books[symbol].statistics().gaps
        requested = core.take_snapshot_requests()
        core.on_snapshot(symbol, healed, 0)
        book = core.books[symbol]
        detected += gaps == 1 and symbol in requested
        assert book.valid
        assert book.book.levels(Side.BUY) == truth.book.levels(Side.BUY)
        assert book.book.levels(Side.SELL) == truth.book.levels(Side.SELL)
    assert cases > 150
    assert detected == cases


def synced_core() -> FeedCore:
    core = FeedCore(SYMBOLS, KINDS, max_message_bytes=1 << 20)
    replay(RECORDS, core)
    return core


def depth(**over: Any) -> str:
    data = {
        "e": "depthUpdate",
        "E": 1633998600000,
        "s": "NKNUSDT",
        "U": 10**12,
        "u": 10**12,
        "b": [["0.35130000", "1.00000000"]],
        "a": [],
    }
    data.update(over)
    return json.dumps({"stream": "nknusdt@depth@100ms", "data": data})


def ticker(**over: Any) -> str:
    data = {"u": 1, "s": "NKNUSDT", "b": "0.35", "B": "1", "a": "0.36", "A": "1"}
    data.update(over)
    return json.dumps({"stream": "nknusdt@bookTicker", "data": data})


NON_BOOK_BAD = [
    "{not json",
    "[]",
    json.dumps({"stream": "nknusdt@bookTicker"}),
    ticker(b=""),
    ticker(b="NaN"),
    ticker(b="1e-8"),
    ticker(B="-1"),
    ticker(b="1" * 30),
    ticker(s="１２３４５６"),
    ticker(u="7"),
    json.dumps({"stream": "btcusdt@bookTicker", "data": json.loads(ticker())["data"]}),
    json.dumps(
        {
            "stream": "nknusdt@aggTrade",
            "data": {
                "e": "aggTrade",
                "E": 1,
                "s": "NKNUSDT",
                "a": 1,
                "p": "1",
                "q": "1",
                "m": "yes",
            },
        }
    ),
    json.dumps(
        {
            "stream": "nknusdt@kline_1m",
            "data": {"e": "kline", "E": 1, "s": "NKNUSDT", "k": {"i": "7m", "s": "NKNUSDT"}},
        }
    ),
    "x" * (10 * 1024 * 1024),
]
BOOK_BAD = [
    depth(b=[["0.35", "-1"]]),
    depth(b=[["1" * 30, "1"]]),
    depth(U="5"),
    depth(e="depthUpdateX"),
    depth(s="BLZETH"),
]


def book_state(core: FeedCore) -> list[Any]:
    return [
        (s.book.levels(Side.BUY), s.book.levels(Side.SELL), s.last_update_id, s.valid)
        for s in core.books.values()
    ]


@pytest.mark.parametrize("frame", NON_BOOK_BAD, ids=range(len(NON_BOOK_BAD)))
def test_malformed_frames_are_counted_and_change_nothing(frame: str) -> None:
    """A bad non-depth frame is rejected and counted; books and queues are untouched."""
    core = synced_core()
    before = book_state(core)
    assert core.on_text(frame, 0) is None
    assert core.counters.malformed == 1
    assert book_state(core) == before
    assert core.take_snapshot_requests() == []


@pytest.mark.parametrize("frame", BOOK_BAD, ids=range(len(BOOK_BAD)))
def test_malformed_depth_frame_resyncs_that_book(frame: str) -> None:
    """A bad frame on a depth stream is rejected, counted, and the book is resynced, levels kept."""
    core = synced_core()
    levels = core.books["NKNUSDT"].book.levels(Side.BUY)
    assert core.on_text(frame, 0) is None
    assert core.counters.malformed == 1
    assert not core.books["NKNUSDT"].valid
    assert core.books["NKNUSDT"].book.levels(Side.BUY) == levels
    assert core.take_snapshot_requests() == ["NKNUSDT"]


def test_server_shutdown_requests_rotation() -> None:
    """The combined `!serverShutdown` frame asks the shell to rotate; it is no market event."""
    core = FeedCore(SYMBOLS, KINDS)
    assert (
        core.on_text(
            json.dumps({"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1}}), 0
        )
        is None
    )
    assert core.shutdown_requested
    assert core.counters.malformed == 0


def test_duplicate_trades_across_sockets_are_dropped() -> None:
    """The same aggTrade delivered twice (make-before-break overlap) is emitted once."""
    core = FeedCore(SYMBOLS, KINDS)
    frame = json.dumps(
        {
            "stream": "nknusdt@aggTrade",
            "data": {
                "e": "aggTrade",
                "E": 1,
                "s": "NKNUSDT",
                "a": 5,
                "p": "0.35",
                "q": "2",
                "f": 1,
                "l": 1,
                "T": 1,
                "m": True,
                "M": True,
            },
        }
    )
    assert core.on_text(frame, 0) is not None
    assert core.on_text(frame, 0) is None
    assert core.counters.duplicates == 1
