"""Shared helpers of the stream, rate-limit, clock and input-validation reliability tests.

Imported by test_r8..r14, r18 and r22 (not a conftest: another engineer owns that file).
Everything runs against the loopback test exchange (``genesis.exchange.sandbox``)
on ephemeral 127.0.0.1 ports.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import OrderFilled
from genesis.exchange.binance.rest import BinanceRest
from genesis.exchange.binance.signing import Credentials
from genesis.exchange.binance.userstream import BinanceUserStream, UserStreamConfig
from genesis.exchange.binance.venue import BinanceVenue, VenueConfig
from genesis.exchange.sandbox import SandboxConfig, SandboxServer

KEY = "CANARYKEYreliability0123456789abcdef"
SECRET = "CANARYSECRETreliability0123456789abcdef"
D = Decimal
IP = "127.0.0.1"


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """A quiet exchange: no capture replay, fast depth batches and pings, no fees."""
    base: dict[str, Any] = {
        "api_key": KEY,
        "api_secret": SECRET,
        "balances": {"USDT": D("1000000"), "BTC": D("100"), "ETH": D("1000")},
        "replay": False,
        "depth_interval_s": 0.02,
        "ping_interval_s": 0.5,
        "maker_bps": D(0),
        "taker_bps": D(0),
        "weight_limit": 1_000_000,
        "order_limit_10s": 100_000,
        "order_limit_1d": 10_000_000,
    }
    base.update(overrides)
    return SandboxConfig(**base)


@asynccontextmanager
async def running(**overrides: Any) -> AsyncIterator[SandboxServer]:
    server = SandboxServer(sandbox_config(**overrides))
    await server.start()
    try:
        yield server
    finally:
        for conn in list(server.streams.connections):
            if isinstance(conn, CaptureConnection):
                server.streams.connections.discard(conn)
        await server.stop()


async def until(
    predicate: Callable[[], object], timeout_s: float = 5.0, step: float = 0.005
) -> None:
    """Poll ``predicate`` until true; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(step)


class CaptureConnection:
    """Stands in for a market-stream socket inside the exchange: frames go to a list.

    Frames pass through the exchange's real fan-out and depth fault hooks
    (``StreamHub._publish_depth``), so the in-process cases see exactly what a
    socket would carry, at thousands of cases a second.
    """

    def __init__(self, names: set[str], combined: bool = True) -> None:
        self.names = names
        self.combined = combined
        self.frames: list[str] = []

    def send(self, text: str) -> None:
        self.frames.append(text)

    def take(self) -> list[str]:
        frames, self.frames = self.frames, []
        return frames


def attach_capture(server: SandboxServer, names: set[str]) -> CaptureConnection:
    conn = CaptureConnection(names)
    server.streams.connections.add(conn)  # type: ignore[arg-type]
    return conn


def exchange_book(
    server: SandboxServer, symbol: str
) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """The exchange's authoritative book: (update id, bids best first, asks best first)."""
    m = server.engine.market.market(symbol)
    return m.update_id, m.book.levels(Side.BUY), m.book.levels(Side.SELL)


def local_book(
    sync: Any,
) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    return sync.last_update_id, sync.book.levels(Side.BUY), sync.book.levels(Side.SELL)


def random_book(
    rng: random.Random, mid: Decimal, tick: Decimal, depth: int = 5
) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """A valid (uncrossed) book of ``depth`` levels a side around ``mid``."""
    bids = [(mid - tick * rng.randint(1, 40), D(rng.randint(1, 900)) / 100) for _ in range(depth)]
    asks = [(mid + tick * rng.randint(1, 40), D(rng.randint(1, 900)) / 100) for _ in range(depth)]
    return list(dict(bids).items()), list(dict(asks).items())


def limit(
    cid: str,
    price: str,
    qty: str = "0.01",
    side: Side = Side.BUY,
    symbol: str = "BTCUSDT",
    tif: TimeInForce = TimeInForce.GTC,
) -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id="rel",
        instrument_id=symbol,
        client_order_id=cid,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=D(qty),
        price=D(price),
        time_in_force=tif,
    )


def make_rest(server: SandboxServer, **kwargs: Any) -> BinanceRest:
    kwargs.setdefault("timeout_s", 5)
    return BinanceRest(server.rest_url, Credentials(KEY, SECRET), **kwargs)


async def start_venue(
    server: SandboxServer,
    *,
    rest: BinanceRest | None = None,
    stream: UserStreamConfig | None = None,
    monotonic: Callable[[], float] | None = None,
) -> tuple[BinanceVenue, list[Any]]:
    """A started ``BinanceVenue`` with its user stream subscribed; events go to the list."""
    rest = rest or make_rest(server)
    cfg = stream or UserStreamConfig(backoff_initial_s=0.01, backoff_max_s=0.05)
    extra: dict[str, Any] = {} if monotonic is None else {"monotonic": monotonic}

    def factory(venue: BinanceVenue) -> BinanceUserStream:
        return BinanceUserStream(
            server.ws_api_url,
            Credentials(KEY, SECRET),
            rest.clock,
            on_event=venue.on_user_event,
            on_resync=venue.resync,
            has_open_orders=venue.has_open_orders,
            config=cfg,
            **extra,
        )

    venue = BinanceVenue(
        rest,
        user_stream_factory=factory,
        config=VenueConfig(query_backoff_s=(0.02,), skew_margin_ms=100),
    )
    events: list[Any] = []
    await venue.start(events.append)
    await asyncio.wait_for(venue._stream.subscribed_event.wait(), 5)
    return venue, events


async def stop_venue(venue: BinanceVenue) -> None:
    await venue.close()
    await venue.rest.close()


def genesis_fills(events: list[Any]) -> list[tuple[str, str]]:
    """(symbol, trade id) of every OrderFilled Genesis delivered, duplicates kept."""
    return [(e.instrument_id, e.trade_id) for e in events if isinstance(e, OrderFilled)]


def venue_fills(server: SandboxServer) -> list[tuple[str, str]]:
    """(symbol, trade id) of every trade of our account in the exchange's ledger."""
    return [(t["symbol"], str(t["id"])) for t in server.ledger()["trades"]]


def lost_and_doubled(server: SandboxServer, events: list[Any]) -> tuple[int, int]:
    """Lost fills (at the venue, not in Genesis) and double counts (delivered twice)."""
    ours = genesis_fills(events)
    truth = set(venue_fills(server))
    return len(truth - set(ours)), len(ours) - len(set(ours))


@asynccontextmanager
async def market_feed(
    server: SandboxServer,
    symbols: tuple[str, ...],
    kinds: tuple[str, ...] = ("depth@100ms",),
    *,
    rest: BinanceRest | None = None,
    feed_kwargs: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Any]:
    """A running ``BinanceMarketFeed`` on the exchange, its events drained in the background."""
    from genesis.exchange.binance.streams import BinanceMarketFeed, FeedConfig

    own_rest = rest is None
    rest = rest or make_rest(server)
    base: dict[str, Any] = {
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "snapshot_spacing_s": 0.0,
        "snapshot_retry_s": 0.01,
        "handover_timeout_s": 1.0,
        "close_timeout_s": 0.2,
        "ping_interval_s": 1.0,
    }
    base.update(config)
    feed = BinanceMarketFeed(
        server.ws_url, rest, FeedConfig(symbols=symbols, kinds=kinds, **base), **(feed_kwargs or {})
    )
    feed.events = []  # type: ignore[attr-defined]

    async def drain() -> None:
        async for event in feed:
            feed.events.append(event)  # type: ignore[attr-defined]

    task = asyncio.create_task(drain())
    try:
        yield feed
    finally:
        await feed.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if own_rest:
            await rest.close()


def feed_books_match(feed: Any, server: SandboxServer) -> bool:
    """Every book of ``feed`` is valid and equals the exchange's book at the same update id."""
    for symbol in feed.config.symbols:
        sync = feed.book(symbol)
        if not sync.valid or local_book(sync) != exchange_book(server, symbol):
            return False
    return True
