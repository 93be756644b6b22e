"""R18: malformed venue data changes nothing (P12).

100,000 seeded fuzzed messages: 80,000 market-stream frames into the feed's
``FeedCore`` (parser + book state) and 20,000 user-data payloads into
``BinanceVenue.on_user_event`` (parser + order tracker + balances). Each is
invalid by construction: invalid JSON, a missing field, "", "NaN", "1e-8",
negative or 30-digit numbers, unknown enums, wrong types, the fullwidth-digit
symbol "\uff11..\uff16", a wrong stream name, and (twice) a 10 MB frame. Figure: 0
crashes, 0 state changes (state compared before/after every message), every
message rejected and counted, every rejected depth frame resyncs its book.
A 300-frame sample goes over the socket through the exchange's malformed-frame
hooks. Extra *unknown* fields in an otherwise valid message are accepted on
purpose (Binance adds fields), so they are not part of the invalid corpus.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from genesis.core.enums import Side
from genesis.exchange.binance.feedcore import FeedCore
from genesis.exchange.binance.parse import Malformed, decode_object
from genesis.exchange.binance.venue import BinanceVenue
from genesis.exchange.sandbox import FUZZ_CORPUS
from tests.reliability.streams_fixtures import (
    D,
    feed_books_match,
    limit,
    market_feed,
    random_book,
    running,
    until,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT")
KINDS = ("depth@100ms", "bookTicker", "trade", "kline_1m")
BAD_DECIMALS: list[Any] = [
    "", "NaN", "nan", "1e-8", "1E-8", "-1", "-0.5", "123456789012345678901234567890",
    "Infinity", " 1", "1.", ".5", "0x10", "１", "1,5", 1.5, None, True, [], {},
]  # fmt: skip
BAD_INTS: list[Any] = ["5", 5.5, None, True, [], "", "１"]
BAD_SYMBOLS: list[Any] = ["１２３４５６", "", 5, None, "ETHBTC"]
BAD_STREAMS = ["btcusdt@depth@500ms", "BTCUSDT@trade", "１２３４５６@trade", "btcusdt@kline_5m", ""]
TEN_MB = '{"stream":"btcusdt@trade","data":{"e":"trade","pad":"' + "x" * 10_000_000 + '"}}'


def templates() -> dict[str, dict[str, Any]]:
    """One valid payload per stream kind (only ever sent mutated into an invalid one)."""
    kline = {"t": 0, "T": 59_999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": "1", "c": "1",
             "h": "1", "l": "1", "v": "1", "n": 1, "x": True, "q": "1", "V": "1", "Q": "1", "B": "0"}  # fmt: skip
    return {
        "depth@100ms": {
            "e": "depthUpdate",
            "E": 1,
            "s": "BTCUSDT",
            "U": 101,
            "u": 102,
            "b": [["39999.00", "1.5"]],
            "a": [["40001.00", "0"]],
        },
        "bookTicker": {"u": 5, "s": "BTCUSDT", "b": "1.0", "B": "2", "a": "1.1", "A": "3"},
        "trade": {
            "e": "trade",
            "E": 1,
            "s": "BTCUSDT",
            "t": 99_999,
            "p": "1.0",
            "q": "2.0",
            "T": 1,
            "m": True,
            "M": True,
        },
        "kline_1m": {"e": "kline", "E": 1, "s": "BTCUSDT", "k": kline},
    }


DECIMAL_FIELDS = {"bookTicker": ["b", "B", "a", "A"], "trade": ["p", "q"],
                  "kline_1m": ["k.o", "k.c", "k.h", "k.l", "k.v"]}  # fmt: skip
INT_FIELDS = {"depth@100ms": ["E", "U", "u"], "bookTicker": ["u"], "trade": ["E", "t"],
              "kline_1m": ["E", "k.t", "k.T"]}  # fmt: skip
REQUIRED = {"depth@100ms": ["e", "E", "s", "U", "u", "b", "a"], "bookTicker": ["u", "s", "b", "a"],
            "trade": ["e", "E", "s", "t", "p", "q", "m"], "kline_1m": ["e", "k", "k.i", "k.x", "k.o"]}  # fmt: skip


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        obj = obj[key]
    obj[leaf] = value


def _del(obj: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        obj = obj[key]
    del obj[leaf]


def market_case(rng: random.Random, base: dict[str, dict[str, Any]]) -> str:
    """One invalid combined-stream frame."""
    kind = rng.choice(KINDS)
    data = json.loads(json.dumps(base[kind]))
    stream = f"btcusdt@{kind}"
    mutation = rng.randrange(9)
    if mutation == 0:  # a proper prefix of a JSON object is never JSON
        text = json.dumps({"stream": stream, "data": data})
        return text[: rng.randrange(1, len(text) - 1)]
    if mutation == 1:
        _del(data, rng.choice(REQUIRED[kind]))
    elif mutation == 2 and kind == "depth@100ms":
        side = rng.choice("ba")
        data[side] = (
            [[rng.choice(BAD_DECIMALS), "1"]]
            if rng.random() < 0.5
            else [["1", rng.choice(["-1", "NaN", "", "1e-8", "123456789012345678901234567890"])]]
        )
    elif mutation == 2:
        _set(data, rng.choice(DECIMAL_FIELDS[kind]), rng.choice(BAD_DECIMALS))
    elif mutation == 3:
        _set(data, rng.choice(INT_FIELDS[kind]), rng.choice(BAD_INTS))
    elif mutation == 4:
        _set(data, "s" if kind != "kline_1m" else rng.choice(["s", "k.s"]), rng.choice(BAD_SYMBOLS))
    elif mutation == 5:  # unknown enum or event type
        if kind == "kline_1m" and rng.random() < 0.5:
            _set(data, "k.i", rng.choice(["7m", "1m ", "", "1MIN"]))
        elif kind == "bookTicker":
            data["b"] = "0"  # a zero best bid price
        else:
            data["e"] = rng.choice(["depthUpdat3", "TRADE", "", "kline ", "executionReport"])
    elif mutation == 6:  # wrong stream name in the combined wrapper
        stream = rng.choice(BAD_STREAMS)
    elif mutation == 7:  # wrong types and shapes
        shape = rng.randrange(4)
        if shape == 0:
            return json.dumps({"stream": stream, "data": rng.choice([[], "x", None, 5])})
        if shape == 1:
            return json.dumps(rng.choice([[stream, data], None, "text", 5, {"data": data}]))
        if kind == "depth@100ms":
            data["b"] = rng.choice([{}, "x", [["1", "2", "3"]], [["1"]], ["1", "2"]])
        else:
            _set(data, "m" if kind == "trade" else "s", rng.choice([[], {}]))
    else:
        if kind == "depth@100ms":
            data["U"] = data["u"] + rng.randint(1, 5)  # U > u
        elif kind == "trade":
            data["m"] = rng.choice(["true", 1, None])
        elif kind == "kline_1m":
            data["k"]["x"] = rng.choice(["yes", 1, None])
        else:
            data["a"] = rng.choice(BAD_DECIMALS)
    return json.dumps({"stream": stream, "data": data}, ensure_ascii=rng.random() < 0.5)


def core_state(core: FeedCore) -> tuple[Any, ...]:
    books = tuple(
        (s, b.last_update_id, tuple(b.book.levels(Side.BUY)), tuple(b.book.levels(Side.SELL)))
        for s, b in core.books.items()
    )
    c = core.counters
    return books, dict(core._last_trade), dict(core._last_bar), c.duplicates, c.latency_n


def snapshot_of(symbol: str, rng: random.Random) -> dict[str, Any]:
    bids, asks = random_book(rng, D("40000"), D("0.01"))
    return {"lastUpdateId": 100, "bids": [[str(p), str(q)] for p, q in bids],
            "asks": [[str(p), str(q)] for p, q in asks]}  # fmt: skip


def test_80000_market_frames_change_nothing() -> None:
    """Every invalid frame is rejected and counted; state equal before/after; depth resynced."""
    rng = random.Random(18)
    core = FeedCore(SYMBOLS, KINDS)
    snapshots = {s: snapshot_of(s, rng) for s in SYMBOLS}
    for s in SYMBOLS:
        core.on_snapshot(s, snapshots[s], 0)
    core.on_text(json.dumps({"stream": "btcusdt@trade", "data": templates()["trade"]}), 0)
    base = templates()
    depth_names = {f"{s.lower()}@depth@100ms" for s in SYMBOLS}
    changed = not_counted = missed_resync = emitted = 0
    frames = [market_case(rng, base) for _ in range(80_000 - 2)] + [TEN_MB, TEN_MB.encode()]
    for frame in frames:
        before, malformed = core_state(core), core.counters.malformed
        event = core.on_text(frame, 0)
        emitted += event is not None
        changed += core_state(core) != before
        not_counted += core.counters.malformed != malformed + 1
        try:
            stream = decode_object(frame).get("stream") if len(frame) < 1 << 20 else None
        except Malformed:
            stream = None
        if stream in depth_names:
            missed_resync += not core.has_snapshot_work
            for symbol in core.take_snapshot_requests():
                core.on_snapshot(symbol, snapshots[symbol], 0)  # the same book: heals, no change
    assert core.counters.messages == 80_001
    assert core.counters.malformed == 80_000
    assert (emitted, changed, not_counted, missed_resync) == (0, 0, 0, 0)
    assert all(b.valid for b in core.books.values())


def user_case(rng: random.Random, report: dict[str, Any]) -> dict[str, Any]:
    """One invalid user-data payload (executionReport or outboundAccountPosition)."""
    if rng.random() < 0.2:
        bad_row = rng.choice([{"a": "USDT", "f": rng.choice(BAD_DECIMALS), "l": "0"},
                              {"a": rng.choice(["", None, 5]), "f": "1", "l": "0"}, "row", None])  # fmt: skip
        good = [{"a": a, "f": "1", "l": "0"} for a in ("BTC", "ETH", "BNB")[: rng.randrange(4)]]
        good.insert(rng.randrange(len(good) + 1), bad_row)  # the bad row anywhere
        rows: Any = rng.choice([good, good, good, "nope", None])
        return {"e": "outboundAccountPosition", "E": 1, "u": 1, "B": rows}
    data = dict(report)
    field = rng.choice(["e", "x", "X", "s", "c", "S", "i", "l", "z", "L", "n", "t", "m", "E"])
    if rng.random() < 0.25:
        del data[field]
    elif field in ("l", "z", "L", "n"):
        data[field] = rng.choice(BAD_DECIMALS)
    elif field in ("i", "t", "E"):
        data[field] = rng.choice(BAD_INTS)
    elif field == "m":
        data[field] = rng.choice(["true", 1, None])
    elif field == "s":
        data[field] = rng.choice(["", None, 5, []])
    else:
        data[field] = rng.choice(["BOGUS", "", None, 7, "new"])
    return data


def venue_state(venue: BinanceVenue) -> tuple[Any, ...]:
    t = venue.tracker
    orders = tuple(
        (cid, o.venue_order_id, o.accepted, o.done, o.filled, o.held_terminal)
        for cid, o in t.orders.items()
    )
    return orders, frozenset(t._trades), dict(t.last_trade_id), dict(venue.balances), t.overfills


def test_20000_user_payloads_change_nothing() -> None:
    """Invalid executionReports and account updates: no event, no tracker or balance change."""
    rng = random.Random(1018)
    venue = BinanceVenue(make_rest_offline())
    events: list[Any] = []
    venue._sink = events.append
    venue.tracker.track(limit("fz-1", "39000"))
    report = {"e": "executionReport", "E": 1, "s": "BTCUSDT", "c": "fz-1", "S": "BUY",
              "o": "LIMIT", "f": "GTC", "q": "0.01", "p": "39000", "P": "0", "F": "0", "g": -1,
              "C": "", "x": "TRADE", "X": "PARTIALLY_FILLED", "r": "NONE", "i": 7, "l": "0.001",
              "z": "0.001", "L": "39000", "n": "0", "N": "USDT", "T": 1, "t": 1, "I": 1,
              "w": True, "m": True, "M": True, "O": 1, "Z": "39", "Y": "39", "Q": "0"}  # fmt: skip
    venue.on_user_event({**report, "x": "NEW", "X": "NEW", "l": "0", "z": "0", "L": "0", "t": -1})
    venue.on_user_event({"e": "outboundAccountPosition", "E": 1, "u": 1,
                         "B": [{"a": "USDT", "f": "100", "l": "0"}]})  # fmt: skip
    events.clear()
    changed = 0
    for _ in range(20_000):
        before = venue_state(venue)
        venue.on_user_event(user_case(rng, report))
        changed += venue_state(venue) != before
    assert events == []
    assert changed == 0


def make_rest_offline() -> Any:
    from genesis.exchange.binance.rest import BinanceRest

    return BinanceRest("http://127.0.0.1:9", timeout_s=1)  # never called: no I/O in this test


async def test_malformed_frames_over_the_socket() -> None:
    """300 malformed frames from the exchange's hooks: all counted, books exact, user stream up."""
    rng = random.Random(180)
    base = templates()
    async with running(depth_interval_s=3600) as server:
        bids, asks = random_book(rng, D("40000"), D("0.01"))
        server.set_book("BTCUSDT", bids, asks)
        server.flush()
        async with market_feed(server, ("BTCUSDT",), ("depth@100ms", "trade")) as feed:
            await until(lambda: feed_books_match(feed, server))
            corpus = [f for f in FUZZ_CORPUS if f] + [market_case(rng, base) for _ in range(300)]
            for sent, frame in enumerate(corpus[:300], start=1):
                server.faults.arm("stream.malformed", frame=frame)
                bids, asks = random_book(rng, D("40000"), D("0.01"))
                server.set_book("BTCUSDT", bids, asks)
                server.flush()
                await until(lambda n=sent: feed.statistics().malformed == n)
            await until(lambda: feed_books_match(feed, server))
            stats = feed.statistics()
        assert server.faults.stats["stream.malformed"] == 300
    assert stats.malformed == 300
    assert stats.reconnects == 0


@pytest.mark.parametrize("bad_at", [0, 1, 2])
def test_account_update_with_one_bad_row_changes_no_balance(bad_at: int) -> None:
    """A bad row first, in the middle or last: no row of the update is applied, and it counts."""
    venue = BinanceVenue(make_rest_offline())
    venue._sink = [].append
    rows: list[Any] = [{"a": "BTC", "f": "1", "l": "0"}, {"a": "ETH", "f": "2", "l": "0"}]
    rows.insert(bad_at, {"a": "USDT", "f": "NaN", "l": "0"})
    venue.on_user_event({"e": "outboundAccountPosition", "E": 1, "u": 1, "B": rows})
    assert venue.balances == {}
    assert venue.user_events_rejected == 1


def test_valid_account_update_applies_every_row() -> None:
    """The all-valid update still applies all its rows."""
    venue = BinanceVenue(make_rest_offline())
    rows = [{"a": "BTC", "f": "1.5", "l": "0.5"}, {"a": "USDT", "f": "10", "l": "0"}]
    venue.on_user_event({"e": "outboundAccountPosition", "E": 1, "u": 1, "B": rows})
    assert {a: (b.free, b.locked) for a, b in venue.balances.items()} == {
        "BTC": (D("1.5"), D("0.5")), "USDT": (D("10"), D("0"))}  # fmt: skip
    assert venue.user_events_rejected == 0
