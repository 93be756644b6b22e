"""Market streams: U/u continuity, BookSync rebuild equality, control messages, replay."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from itertools import pairwise
from typing import Any

import aiohttp

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot
from genesis.data.book import BookSync
from genesis.exchange.sandbox import SandboxServer

from .conftest import Client, D, btc_book, config


async def _collect(ws: aiohttp.ClientWebSocketResponse, idle_s: float = 0.15) -> list[Any]:
    out = []
    while True:
        try:
            msg = await ws.receive(timeout=idle_s)
        except TimeoutError:
            return out
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return out
        out.append(json.loads(msg.data))


def _levels(raw: list[list[str]]) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in raw)


async def test_depth_diffs_are_contiguous_and_rebuild_the_book(
    server: SandboxServer, client: Client
) -> None:
    btc_book(server)
    server.flush()
    ws = await client.session.ws_connect(
        f"{server.ws_url}/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
    )
    await asyncio.sleep(0.05)
    _, snap, _ = await client.call(
        "GET", "/api/v3/depth", signed=False, symbol="BTCUSDT", limit=1000
    )
    sync = BookSync("BTCUSDT")
    sync.apply(
        BookSnapshot(
            instrument_id="BTCUSDT",
            ts_event=0,
            ts_init=0,
            last_update_id=snap["lastUpdateId"],
            bids=_levels(snap["bids"]),
            asks=_levels(snap["asks"]),
        )
    )
    books = [
        ([(D("40000.00"), D("1.5")), (D("39998.00"), D("3"))], [(D("40001.00"), D("0.5"))]),
        ([(D("40000.50"), D("0.1"))], [(D("40001.00"), D("0.25")), (D("40003.00"), D("2"))]),
        ([(D("39990.00"), D("9"))], [(D("40010.00"), D("1"))]),
    ]
    for bids, asks in books:
        server.set_book("BTCUSDT", bids=bids, asks=asks)
        await asyncio.sleep(0.03)
    frames = await _collect(ws)
    diffs = [f["data"] for f in frames if f["stream"] == "btcusdt@depth@100ms"]
    assert diffs
    assert diffs[0]["U"] == snap["lastUpdateId"] + 1
    assert all(b["U"] == a["u"] + 1 for a, b in pairwise(diffs))
    for d in diffs:
        sync.apply(
            BookDelta(
                instrument_id="BTCUSDT",
                ts_event=0,
                ts_init=0,
                first_update_id=d["U"],
                last_update_id=d["u"],
                bids=_levels(d["b"]),
                asks=_levels(d["a"]),
            )
        )
    truth = server.engine.market.market("BTCUSDT")
    assert sync.valid
    assert sync.last_update_id == truth.update_id
    for side in (Side.BUY, Side.SELL):
        assert sync.book.levels(side) == truth.book.levels(side)
    tickers = [f["data"] for f in frames if f["stream"] == "btcusdt@bookTicker"]
    assert tickers[-1] == {
        "u": truth.update_id,
        "s": "BTCUSDT",
        "b": "39990.00000000",
        "B": "9.00000000",
        "a": "40010.00000000",
        "A": "1.00000000",
    }
    await ws.close()


async def test_subscribe_list_unsubscribe_and_raw_stream(
    server: SandboxServer, client: Client
) -> None:
    ws = await client.session.ws_connect(f"{server.ws_url}/ws/btcusdt@trade")
    await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 7})
    assert await ws.receive_json(timeout=2) == {"result": None, "id": 7}
    await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "x"})
    assert await ws.receive_json(timeout=2) == {
        "result": ["btcusdt@aggTrade", "btcusdt@trade"],
        "id": "x",
    }
    await ws.send_str("{nope")
    assert (await ws.receive_json(timeout=2))["code"] == 3
    server.trade("BTCUSDT", D("40000.00"), D("0.5"))
    frames = await _collect(ws)
    assert [f["e"] for f in frames] == ["trade", "aggTrade"]  # raw: unwrapped payloads
    assert frames[0]["t"] == 1
    assert frames[0]["p"] == "40000.00000000"
    await ws.close()


async def test_more_than_5_messages_a_second_drops_the_connection(
    server: SandboxServer, client: Client
) -> None:
    ws = await client.session.ws_connect(f"{server.ws_url}/ws/btcusdt@trade")
    for i in range(6):
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
    frames = await _collect(ws, 0.5)
    assert len(frames) == 5
    assert ws.closed
    assert server.faults.stats["ws.rate_limit_disconnect"] == 1


async def test_replay_serves_the_capture_snapshot_and_diffs() -> None:
    server = SandboxServer(config())
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            _, snap, _ = await client.call(
                "GET", "/api/v3/depth", signed=False, symbol="NKNUSDT", limit=1000
            )
            assert snap["lastUpdateId"] == 499869752
            ws = await session.ws_connect(f"{server.ws_url}/stream?streams=nknusdt@depth@100ms")
            await asyncio.sleep(0.05)
            assert server.advance(1000) == 265
            frames = await _collect(ws)
            diffs = [f["data"] for f in frames]
            assert diffs[0]["U"] == 499869750
            assert diffs[0]["u"] == 499869752
            assert all(b["U"] == a["u"] + 1 for a, b in pairwise(diffs))
            sync = BookSync("NKNUSDT")
            sync.apply(
                BookSnapshot(
                    instrument_id="NKNUSDT",
                    ts_event=0,
                    ts_init=0,
                    last_update_id=snap["lastUpdateId"],
                    bids=_levels(snap["bids"]),
                    asks=_levels(snap["asks"]),
                )
            )
            for d in diffs:
                sync.apply(
                    BookDelta(
                        instrument_id="NKNUSDT",
                        ts_event=0,
                        ts_init=0,
                        first_update_id=d["U"],
                        last_update_id=d["u"],
                        bids=_levels(d["b"]),
                        asks=_levels(d["a"]),
                    )
                )
            truth = server.engine.market.market("NKNUSDT")
            assert sync.valid
            assert sync.last_update_id == truth.update_id
            assert sync.book.levels(Side.BUY) == truth.book.levels(Side.BUY)
            _, klines, _ = await client.call(
                "GET", "/api/v3/klines", signed=False, symbol="NKNUSDT", interval="1m"
            )
            assert isinstance(klines, list)
            await ws.close()
    finally:
        await server.stop()
