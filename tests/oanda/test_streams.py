"""The native streams against the local server: heartbeats, reconnects, backfill, bad lines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from genesis.exchange.oanda import OandaClient, OrderTerms, PriceStream, TransactionStream
from genesis.exchange.oanda import order_request as build
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import ASK0, ASK1, BID0, BID1, D

T = TypeVar("T")


async def _next(it: AsyncIterator[T]) -> T:
    return await asyncio.wait_for(anext(it), 5.0)


async def _until(predicate: Any) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 5 s")


async def _buy(client: OandaClient, units: int) -> None:
    order = OrderTerms(type="MARKET", instrument="GBP_USD", units=D(units))
    await client.create_order(build(order, client.instrument("GBP_USD")))


async def test_price_stream_snapshot_heartbeats_and_next_minute(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """The stream starts with the current price, sends heartbeats, then the next minute."""
    stream = PriceStream(client, ["GBP_USD"])
    prices = stream.prices()
    first = await _next(prices)
    assert (first.bid, first.ask) == (BID0, ASK0)
    reader = asyncio.ensure_future(_next(prices))  # heartbeats are read while it waits
    await _until(lambda: stream.stats["heartbeats"] >= 2)
    server.advance()
    second = await reader
    assert (second.bid, second.ask, second.time) == (BID1, ASK1, "2012-02-01T00:02:00.000000000Z")
    stream.close()


async def test_price_stream_reconnects_after_a_disconnect(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A dropped stream reconnects and resumes with a fresh snapshot."""
    stream = PriceStream(client, ["GBP_USD"], backoff_s=0.01)
    prices = stream.prices()
    await _next(prices)
    server.faults.arm("stream.disconnect")
    server.advance()  # this line goes out, then the server closes the stream
    assert (await _next(prices)).bid == BID1
    again = await _next(prices)  # the reconnect's snapshot
    assert again.bid == BID1
    assert stream.stats["reconnects"] == 1
    assert stream.stats["connects"] == 2
    assert server.hub.connections == 2
    stream.close()


async def test_silent_stream_is_detected_and_reconnected(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """No line (not even a heartbeat) for stall_s: the client reconnects on its own."""
    stream = PriceStream(client, ["GBP_USD"], stall_s=0.2, backoff_s=0.01)
    prices = stream.prices()
    await _next(prices)
    server.faults.streams_silenced = True
    reader = asyncio.ensure_future(_next(prices))
    await _until(lambda: stream.stats["reconnects"] >= 1)
    server.faults.streams_silenced = False
    price = await reader  # the reconnect's snapshot
    assert (price.bid, price.ask) == (BID0, ASK0)
    assert server.faults.stats["stream.silenced"] >= 1
    stream.close()


async def test_malformed_lines_are_skipped_and_counted(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A garbage line changes nothing: the next good price still arrives."""
    stream = PriceStream(client, ["GBP_USD"])
    prices = stream.prices()
    await _next(prices)
    server.faults.arm("stream.malformed", frame="{not json")
    server.advance()
    assert (await _next(prices)).ask == ASK1
    assert stream.stats["malformed"] == 1
    stream.close()


async def test_transaction_stream_backfills_what_a_break_missed(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """Transactions made while the stream is down arrive after the reconnect, once, in order."""
    stream = TransactionStream(client, backoff_s=0.3)
    txs = stream.transactions()
    reader = asyncio.ensure_future(_next(txs))
    await _until(lambda: stream.stats["connects"] == 1)
    await _buy(client, 100)
    first = await reader
    assert (first["id"], first["type"]) == ("1", "MARKET_ORDER")
    assert (await _next(txs))["type"] == "ORDER_FILL"
    server.faults.arm("stream.disconnect")
    server.faults.arm("stream.refuse_connect")
    await _buy(client, 200)  # tx 3 goes out on the old connection, which then closes
    assert (await _next(txs))["id"] == "3"
    await _buy(client, 300)  # 4..6 happen while the client backs off / is refused
    got = [(await _next(txs))["id"] for _ in range(3)]
    assert got == ["4", "5", "6"]
    assert stream.stats["backfilled"] >= 1
    assert server.faults.stats["stream.refuse_connect"] == 1
    stream.close()


async def test_transaction_stream_sends_heartbeats_with_the_last_id(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """Heartbeats carry lastTransactionID; the stream counts them and yields none."""
    stream = TransactionStream(client)
    task = asyncio.ensure_future(_next(stream.transactions()))
    await _until(lambda: stream.stats["heartbeats"] >= 3)
    assert not task.done()
    assert stream.last_id == "0"
    task.cancel()
    stream.close()
