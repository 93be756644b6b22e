"""CcxtMarketSource on ccxt.pro's binance class against the sandbox: streamed, else polled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from genesis.core.enums import Side
from genesis.core.events import BookSnapshot, MarketEvent, QuoteTick, TradeTick
from genesis.exchange.ccxt import CcxtMarketSource, CcxtVenue
from genesis.exchange.sandbox import SandboxServer

from .conftest import FAST_RETRY, D, eventually, pro_binance_at

ROUNDS = (
    ([("40000.00", "1"), ("39999.00", "2")], [("40001.00", "0.5"), ("40002.00", "1")]),
    ([("40000.50", "3"), ("39998.00", "1")], [("40001.00", "0.25"), ("40003.00", "4")]),
    ([("39990.00", "7")], [("40001.00", "0.25"), ("40002.50", "1"), ("40010.00", "2")]),
)


async def next_matching(
    events: AsyncIterator[MarketEvent], wanted: Callable[[MarketEvent], bool], within: float = 5.0
) -> MarketEvent:
    """The first event ``wanted`` accepts; fails the test after ``within`` s."""
    async with asyncio.timeout(within):
        async for event in events:
            if wanted(event):
                return event
    raise AssertionError("the source ended")


def set_levels(server: SandboxServer, bids: list[Any], asks: list[Any]) -> int:
    """Replace BTCUSDT's book, publish the diff now; the sandbox's update id after it."""
    server.set_book("BTCUSDT", [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks])
    server.flush()
    return int(server.engine.market.snapshot("BTCUSDT", 1)["lastUpdateId"])


def sandbox_levels(server: SandboxServer, depth: int) -> tuple[Any, Any]:
    snap = server.engine.market.snapshot("BTCUSDT", depth)
    return (
        tuple((D(p), D(q)) for p, q in snap["bids"]),
        tuple((D(p), D(q)) for p, q in snap["asks"]),
    )


def subscribed(server: SandboxServer, stream: str) -> bool:
    """The sandbox has a socket subscribed to ``stream``: what it publishes now is streamed."""
    return any(stream in conn.names for conn in server.streams.connections)


def source(server: SandboxServer, kinds: tuple[Any, ...], **options: Any) -> CcxtMarketSource:
    options.setdefault("backoff", FAST_RETRY)
    return CcxtMarketSource.from_exchange(
        pro_binance_at(server), "binance", ["BTCUSDT"], kinds, **options
    )


async def test_streamed_book_equals_the_sandbox_book_at_the_same_update_id(server):
    """After each published diff the streamed BookSnapshot at that update id is the sandbox's."""
    src = source(server, ("book",), book_depth=20)
    events = aiter(src)
    try:
        for bids, asks in ROUNDS:
            update_id = set_levels(server, bids, asks)
            book = await next_matching(events, lambda e, u=update_id: e.last_update_id >= u)
            assert isinstance(book, BookSnapshot)
            assert book.last_update_id == update_id
            assert (book.bids, book.asks) == sandbox_levels(server, 20)
            assert book.instrument_id == "BTCUSDT"
    finally:
        await src.close()
    assert src.modes == {"book": "watch_order_book"}


async def test_streamed_trades_are_ticks_once_each(server):
    """Public trades arrive as TradeTicks equal to the prints, each trade id once, in order."""
    src = source(server, ("trades",))
    events = aiter(src)
    try:
        await src.start()
        await eventually(lambda: subscribed(server, "btcusdt@trade"))
        prints = [
            (server.trade("BTCUSDT", D("40000.50"), D("0.1")), D("40000.50"), D("0.1"), Side.BUY),
            (
                server.trade("BTCUSDT", D("40000.00"), D("0.2"), True),
                D("40000.00"),
                D("0.2"),
                Side.SELL,
            ),
            (server.trade("BTCUSDT", D("40001.00"), D("0.3")), D("40001.00"), D("0.3"), Side.BUY),
        ]
        ticks = [await next_matching(events, lambda e: isinstance(e, TradeTick)) for _ in prints]
    finally:
        await src.close()
    assert [(t.trade_id, t.price, t.size, t.aggressor_side) for t in ticks] == [
        (str(i), p, q, side) for i, p, q, side in prints
    ]
    assert src.statistics().dropped == 0


async def test_book_after_a_dropped_socket_is_whole_again(server):
    """Sockets cut while the book changes: the next snapshot after reconnecting is the sandbox's."""
    src = source(server, ("book",))
    events = aiter(src)
    try:
        await next_matching(events, lambda e: e.last_update_id >= set_levels(server, *ROUNDS[0]))
        server.faults.refuse_connects = True
        await server.close_sockets()
        update_id = set_levels(server, *ROUNDS[2])  # published to nobody
        server.faults.refuse_connects = False
        book = await next_matching(events, lambda e: e.last_update_id >= update_id)
    finally:
        await src.close()
    assert (book.bids, book.asks) == sandbox_levels(server, 20)
    [watch] = src.statistics().watches
    assert watch.failures >= 1


async def test_quote_book_follows_the_streamed_top(server):
    """quote_book gives a QuoteTick when the streamed top of book changes."""
    src = source(server, ("quote_book",))
    events = aiter(src)
    try:
        set_levels(server, *ROUNDS[1])
        quote = await next_matching(events, lambda e: isinstance(e, QuoteTick) and e.bid_size == 3)
    finally:
        await src.close()
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (
        D("40000.50"),
        D("40001.00"),
        D("3"),
        D("0.25"),
    )


async def test_exchange_without_watch_methods_is_polled(server):
    """``has`` without watchOrderBook/watchTrades: the same events, polled."""
    exchange = pro_binance_at(server)
    exchange.has = {**exchange.has, "watchOrderBook": False, "watchTrades": False}
    src = CcxtMarketSource.from_exchange(
        exchange, "sandbox", ["BTCUSDT"], ("book", "trades"), interval_s=0.02
    )
    events = aiter(src)
    try:
        set_levels(server, *ROUNDS[1])
        book = await next_matching(
            events,
            lambda e: isinstance(e, BookSnapshot) and e.bids == sandbox_levels(server, 20)[0],
        )
        trade_id = server.trade("BTCUSDT", D("40000.50"), D("0.1"))
        tick = await next_matching(events, lambda e: isinstance(e, TradeTick))
    finally:
        await src.close()
    assert src.modes == {"book": "poll", "trades": "poll"}
    assert src.statistics().watches == ()
    assert not server.streams.connections
    assert (book.instrument_id, tick.instrument_id) == ("sandbox:BTCUSDT", "sandbox:BTCUSDT")
    assert tick.trade_id == str(trade_id)


async def test_venue_market_source_shares_the_venue_session(server):
    """CcxtVenue.market_source streams over the venue's own exchange object."""
    venue = CcxtVenue(pro_binance_at(server), poll_interval_s=30.0)
    await venue.start(lambda event: None)
    src = venue.market_source(["BTCUSDT"], ("book",), venue="binance")
    events = aiter(src)
    try:
        update_id = set_levels(server, *ROUNDS[1])
        book = await next_matching(events, lambda e: e.last_update_id >= update_id)
    finally:
        await src.close()
        await venue.close()
    assert (book.bids, book.asks) == sandbox_levels(server, 20)
