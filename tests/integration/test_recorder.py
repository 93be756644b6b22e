"""The recorder against a loopback venue replaying the real 2021 capture, checked by ``capture check``."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from genesis.core.enums import Side
from genesis.core.events import BookSnapshot, MarketEvent, QuoteTick
from genesis.data.book import OrderBook
from genesis.data.capture_check import SymbolReport, check_capture
from genesis.data.recorder import Recorder, RecorderConfig, RecorderSummary, reconnect_backoff
from genesis.data.sources import open_events
from genesis.resources import SPOT_CAPTURE

SYMBOLS = ("NKNUSDT", "BLZETH")
STREAMS = ("depth@100ms", "bookTicker", "aggTrade", "kline_1m")
GATE_TIMEOUT_S = 5.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Frame:
    symbol: str
    stream: str
    text: str
    first_id: int | None  # depth diffs only
    last_id: int | None
    bids: list[list[str]] = field(default_factory=list)
    asks: list[list[str]] = field(default_factory=list)


def _capture_records() -> list[dict[str, Any]]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _top(book: OrderBook) -> tuple[str, str]:
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None
    assert ask is not None
    return format(bid[0], "f"), format(ask[0], "f")


class ReplayVenue:
    """Serves the capture's frames for ``SYMBOLS`` and depth snapshots at the current position.

    The venue's book per symbol starts from the capture's REST snapshot and
    applies every diff as it passes (sent or dropped), so a snapshot request
    gets the book at the last diff the venue has emitted. After the first diff
    of a symbol on a connection, and after the diff that follows a dropped
    one, the venue pauses until that symbol's snapshot was requested: the
    recorder's behaviour decides the file, never a race.
    """

    def __init__(self, *, drop: frozenset[int] = frozenset(), disconnect_after: int = -1) -> None:
        self.frames: list[Frame] = []
        self.books: dict[str, OrderBook] = {}
        self.ids: dict[str, int] = {}
        self.history: dict[str, dict[int, tuple[str, str]]] = {}
        for record in _capture_records():
            self._load(record)
        self.drop = drop
        self.disconnect_after = disconnect_after
        self.pos = 0
        self.connections = 0
        self.stream_queries: list[str] = []
        self.requests: Counter[str] = Counter()
        self.fail_next_depth = 0
        self.garbage_after: int = -1
        self.shutdown_after: int = -1
        self._requested = asyncio.Condition()

    def _load(self, record: dict[str, Any]) -> None:
        if record["kind"] == "rest":
            symbol = record["path"].split("symbol=")[1].split("&")[0]
            if symbol in SYMBOLS:
                book = self.books[symbol] = OrderBook(symbol)
                data = record["data"]
                book.apply_snapshot(_levels(data["bids"]), _levels(data["asks"]))
                self.ids[symbol] = data["lastUpdateId"]
                self.history[symbol] = {data["lastUpdateId"]: _top(book)}
            return
        payload = record["data"]["data"]
        symbol = payload.get("s") or payload["k"]["s"]
        if symbol not in SYMBOLS:
            return
        is_depth = payload.get("e") == "depthUpdate"
        self.frames.append(
            Frame(
                symbol=symbol,
                stream=record["data"]["stream"],
                text=json.dumps(record["data"]),
                first_id=payload["U"] if is_depth else None,
                last_id=payload["u"] if is_depth else None,
                bids=payload.get("b", []) if is_depth else [],
                asks=payload.get("a", []) if is_depth else [],
            )
        )

    def sent_indexes(self) -> list[int]:
        return [i for i in range(len(self.frames)) if i not in self.drop]

    def depth_frames(self, symbol: str) -> list[int]:
        return [i for i, f in enumerate(self.frames) if f.symbol == symbol and f.last_id]

    def _advance(self, frame: Frame) -> None:
        if frame.last_id is None or frame.last_id <= self.ids[frame.symbol]:
            return
        book = self.books[frame.symbol]
        book.apply_delta(_levels(frame.bids), _levels(frame.asks))
        self.ids[frame.symbol] = frame.last_id
        self.history[frame.symbol][frame.last_id] = _top(book)

    async def depth(self, request: web.Request) -> web.Response:
        symbol, limit = request.query["symbol"], int(request.query["limit"])
        async with self._requested:
            self.requests[symbol] += 1
            self._requested.notify_all()
        if self.fail_next_depth:
            self.fail_next_depth -= 1
            return web.json_response({"code": -1003, "msg": "busy"}, status=503)
        book = self.books[symbol]
        return web.json_response(
            {
                "lastUpdateId": self.ids[symbol],
                "bids": _strings(book.levels(Side.BUY, limit)),
                "asks": _strings(book.levels(Side.SELL, limit)),
            }
        )

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.stream_queries.append(request.query["streams"])
        wanted = set(request.query["streams"].split("/"))
        synced: set[str] = set()
        while self.pos < len(self.frames):
            index, frame = self.pos, self.frames[self.pos]
            self.pos += 1
            assert frame.stream in wanted, frame.stream
            if index in self.drop:
                self._advance(frame)
                synced.discard(frame.symbol)  # the recorder must resync after the next diff
                continue
            before = self.requests[frame.symbol]
            self._advance(frame)
            await ws.send_str(frame.text)
            if index == self.garbage_after:
                await ws.send_str("not json {")
                await ws.send_str('{"result": null, "id": 1}')
            if frame.last_id is not None and frame.symbol not in synced:
                synced.add(frame.symbol)
                await self._wait_for_request(frame.symbol, before)
            if index == self.disconnect_after:
                await ws.close()
                return ws
            if index == self.shutdown_after:
                shutdown = {"e": "serverShutdown", "E": 1633998530000}
                await ws.send_str(json.dumps({"stream": "!serverShutdown", "data": shutdown}))
                break  # the recorder must leave on its own
        async for _ in ws:  # idle until the recorder leaves
            pass
        return ws

    async def _wait_for_request(self, symbol: str, before: int) -> None:
        async with self._requested:
            await asyncio.wait_for(
                self._requested.wait_for(lambda: self.requests[symbol] > before), GATE_TIMEOUT_S
            )


def _levels(raw: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in raw]


def _strings(levels: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[format(p, "f"), format(q, "f")] for p, q in levels]


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(venue: ReplayVenue) -> str:
        app = web.Application()
        app.router.add_get("/api/v3/depth", venue.depth)
        app.router.add_get("/stream", venue.stream)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _config(address: str, out: Path, messages: int) -> RecorderConfig:
    return RecorderConfig(
        symbols=SYMBOLS,
        out=out,
        rest_url=f"http://{address}",
        ws_url=f"ws://{address}",
        streams=STREAMS,
        max_messages=messages,
        duration_s=30.0,  # a safety net; every run here ends on its message budget
        flush_interval_s=0.05,
        backoff=reconnect_backoff(base_s=0.01, cap_s=0.05),
        final_snapshot_timeout_s=5.0,
        request_timeout_s=5.0,
    )


async def _record(venue: ReplayVenue, serve: Any, out: Path) -> RecorderSummary:
    address = await serve(venue)
    config = _config(address, out, len(venue.sent_indexes()))
    return await Recorder(config).run()


def _reports(path: Path) -> dict[str, SymbolReport]:
    report = check_capture(path)
    assert (report.errors, report.truncated) == ((), None)
    return {s.symbol: s for s in report.symbols}


def _assert_matches_source(venue: ReplayVenue, reports: dict[str, SymbolReport]) -> None:
    for symbol, report in reports.items():
        assert report.last_update_id is not None
        expected = venue.history[symbol][report.last_update_id]
        assert (report.valid, report.best_bid, report.best_ask) == (True, *expected), symbol


async def test_clean_recording_checks_valid_with_the_source_top_of_book(
    serve: Any, tmp_path: Path
) -> None:
    """Every frame recorded, one snapshot per symbol, 0 gaps, and the source's final book."""
    venue = ReplayVenue()
    out = tmp_path / "rec.jsonl.gz"

    summary = await _record(venue, serve, out)

    reports = _reports(out)
    figures = {s: (r.applied, r.gaps, r.snapshots, r.discarded_old) for s, r in reports.items()}
    assert figures == {"NKNUSDT": (149, 0, 1, 1), "BLZETH": (9, 0, 1, 1)}
    assert {s: (r.best_bid, r.best_ask) for s, r in reports.items()} == {
        "NKNUSDT": ("0.35270000", "0.35310000"),
        "BLZETH": ("0.00006547", "0.00006560"),
    }
    _assert_matches_source(venue, reports)
    assert summary.messages == dict(Counter(f.stream for f in venue.frames))
    assert len(venue.frames) == 237
    assert (summary.snapshots, summary.gaps, summary.reconnects, summary.lines) == (2, 0, 0, 239)
    assert summary.bytes == out.stat().st_size


def _timeless(event: MarketEvent) -> MarketEvent:
    """The event without receive times (a bookTicker's ts_event is its receive time)."""
    event = msgspec.structs.replace(event, ts_init=0)
    if isinstance(event, QuoteTick | BookSnapshot):
        event = msgspec.structs.replace(event, ts_event=0)
    return event


async def test_recording_reads_back_through_the_feed_interface(serve: Any, tmp_path: Path) -> None:
    """``open_events`` yields the source's events for those symbols, in the same order."""
    venue = ReplayVenue()
    out = tmp_path / "rec.jsonl"

    await _record(venue, serve, out)

    recorded = [_timeless(e) for e in open_events(out, "NKNUSDT")]
    source = [_timeless(e) for e in open_events(SPOT_CAPTURE, "NKNUSDT")]
    assert [e for e in recorded if not isinstance(e, BookSnapshot)] == [
        e for e in source if e.instrument_id in SYMBOLS and not isinstance(e, BookSnapshot)
    ]
    assert [e for e in recorded if isinstance(e, BookSnapshot)] == [
        e for e in source if e.instrument_id in SYMBOLS and isinstance(e, BookSnapshot)
    ]


async def test_dropped_diff_makes_the_recorder_write_a_healing_snapshot(
    serve: Any, tmp_path: Path
) -> None:
    """A diff the venue never sends is a gap; the recorder's fresh snapshot keeps the file valid."""
    venue = ReplayVenue()
    dropped = venue.depth_frames("NKNUSDT")[60]
    venue.drop = frozenset({dropped})
    out = tmp_path / "rec.jsonl.gz"

    summary = await _record(venue, serve, out)

    reports = _reports(out)
    nkn = reports["NKNUSDT"]
    assert (nkn.valid, nkn.gaps, nkn.resyncs, nkn.snapshots) == (True, 1, 1, 2)
    assert (reports["BLZETH"].gaps, reports["BLZETH"].snapshots) == (0, 1)
    assert (summary.gaps, summary.snapshots, venue.requests["NKNUSDT"]) == (1, 3, 2)
    _assert_matches_source(venue, reports)


async def test_disconnect_reconnects_and_resyncs_every_book(serve: Any, tmp_path: Path) -> None:
    """A server-side close mid-stream (3 frames lost) leads to a reconnect and fresh snapshots."""
    venue = ReplayVenue()
    cut = venue.depth_frames("NKNUSDT")[40]
    venue.disconnect_after = cut
    venue.drop = frozenset({cut + 1, cut + 2, cut + 3})
    out = tmp_path / "rec.jsonl.gz"

    summary = await _record(venue, serve, out)

    reports = _reports(out)
    assert (summary.reconnects, venue.connections) == (1, 2)
    assert venue.stream_queries[0] == venue.stream_queries[1]
    assert (dict(venue.requests), summary.snapshots) == ({"NKNUSDT": 2, "BLZETH": 2}, 4)
    assert all(r.valid for r in reports.values())
    _assert_matches_source(venue, reports)


async def test_server_shutdown_notice_makes_the_recorder_reconnect(
    serve: Any, tmp_path: Path
) -> None:
    """On ``serverShutdown`` the recorder leaves, reconnects and resyncs; nothing is lost."""
    venue = ReplayVenue()
    venue.shutdown_after = venue.depth_frames("NKNUSDT")[20]
    out = tmp_path / "rec.jsonl.gz"

    summary = await _record(venue, serve, out)

    reports = _reports(out)
    assert (summary.reconnects, venue.connections, summary.lines) == (1, 2, 241)
    assert {s: (r.valid, r.gaps, r.applied) for s, r in reports.items()} == {
        "NKNUSDT": (True, 0, 149),
        "BLZETH": (True, 0, 9),
    }
    _assert_matches_source(venue, reports)


async def test_bad_frames_and_a_failed_snapshot_do_not_stop_recording(
    serve: Any, tmp_path: Path
) -> None:
    """A non-JSON frame is counted, not written; a 503 snapshot is retried after backoff."""
    venue = ReplayVenue()
    venue.fail_next_depth = 1
    venue.garbage_after = 10
    out = tmp_path / "rec.jsonl.gz"

    summary = await _record(venue, serve, out)

    reports = _reports(out)
    assert (summary.bad_frames, summary.snapshot_errors, summary.lines) == (1, 1, 239)
    assert venue.requests["NKNUSDT"] == 2
    _assert_matches_source(venue, reports)


async def test_cli_record_stops_cleanly_on_sigterm(serve: Any, tmp_path: Path) -> None:
    """``python -m genesis record`` closes the gzip and prints its summary on SIGTERM."""
    venue = ReplayVenue()
    address = await serve(venue)
    out = tmp_path / "rec.jsonl.gz"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "genesis",
        "record",
        "--symbols",
        "nknusdt,BLZETH",
        "--out",
        str(out),
        "--streams",
        ",".join(STREAMS),
        "--rest-url",
        f"http://{address}",
        "--ws-url",
        f"ws://{address}",
        "--duration",
        "60",
        "--flush-interval",
        "0.05",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for _ in range(400):  # until the venue has served its whole replay
            if venue.pos == len(venue.frames) and out.exists() and out.stat().st_size:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    assert proc.returncode == 0, stderr.decode()
    assert len(stdout.decode().splitlines()) == 1  # logs went to stderr
    summary = json.loads(stdout)
    assert (summary["snapshots"], summary["gaps"], summary["reconnects"]) == (2, 0, 0)
    assert summary["bytes"] == out.stat().st_size
    assert all(r.valid for r in _reports(out).values())
