"""CcxtVenue on ccxt.pro's binance class: fills and order states by stream, against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderAccepted, OrderCanceled, OrderFilled
from genesis.exchange.ccxt import CcxtVenue
from genesis.exchange.sandbox import SandboxServer

from .conftest import FAST_RETRY, D, Events, eventually, pro_binance_at, submit

# Long enough that within a test only the streams (and the backfill after a gap) can
# deliver: a fill counted as ``fill_rest`` there came from the backfill, never a poll.
QUIET_POLL_S = 30.0


def streaming(server: SandboxServer, **overrides: Any) -> CcxtVenue:
    options: dict[str, Any] = {
        "poll_interval_s": QUIET_POLL_S,
        "reconcile_interval_s": QUIET_POLL_S,
        "resolve_interval_s": 0.02,
        "settle_s": 0.4,
        "backoff": FAST_RETRY,
    }
    options.update(overrides)
    return CcxtVenue(pro_binance_at(server), **options)


def streams_live(v: CcxtVenue) -> bool:
    stats = v.statistics()
    return stats.get("watch_my_trades_live") == stats.get("watch_orders_live") == 1


@pytest.fixture
async def live(server: SandboxServer) -> AsyncIterator[tuple[CcxtVenue, Events]]:
    v = streaming(server)
    events = Events()
    await v.start(events.append)
    await eventually(lambda: streams_live(v))
    try:
        yield v, events
    finally:
        await v.close()


def ledger_fills(server: SandboxServer) -> list[tuple[str, D, D, D]]:
    return sorted(
        (str(t["id"]), D(t["qty"]), D(t["price"]), D(t["commission"]))
        for t in server.ledger()["trades"]
    )


def our_fills(events: Events) -> list[tuple[str, D, D, D]]:
    return sorted((f.trade_id, f.last_qty, f.last_px, f.fee) for f in events.of(OrderFilled))


async def test_mode_is_streaming_when_has_watch_methods(live):
    """A ccxt.pro exchange with watchMyTrades/watchOrders streams both (said in statistics)."""
    v, _ = live
    stats = v.statistics()
    assert (stats["user_stream_fills"], stats["user_stream_orders"]) == (1, 1)


async def test_market_fill_arrives_once_through_watch_my_trades(live, server):
    """A market buy's fill comes from watch_my_trades, once, equal to the ledger's trade."""
    v, events = live
    v.execute(submit("mkt-s1", Side.BUY, "0.01"), 0)
    [fill] = await events.wait_for(OrderFilled, "mkt-s1")
    [trade] = server.ledger()["trades"]
    assert (fill.trade_id, fill.last_qty, fill.last_px, fill.fee, fill.fee_currency) == (
        str(trade["id"]),
        D(trade["qty"]),
        D(trade["price"]),
        D(trade["commission"]),
        trade["commissionAsset"],
    )
    assert fill.liquidity is LiquiditySide.TAKER
    assert (v.stats["fill_stream"], v.stats["fill_rest"]) == (1, 0)


async def test_rest_backfill_of_a_streamed_fill_is_a_duplicate(live, server):
    """Polling my trades after the stream delivered a fill counts a duplicate, emits nothing."""
    v, events = live
    v.execute(submit("lim-s1", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "lim-s1")
    server.trade("BTCUSDT", D("38999.00"), D("0.5"))  # crosses the resting buy: maker fill
    [fill] = await events.wait_for(OrderFilled, "lim-s1")
    await v._rec.sync_fills("BTC/USDT")
    assert events.of(OrderFilled) == [fill]
    assert (v.stats["fill_stream"], v.stats["fill_duplicate_rest"]) == (1, 1)


async def test_cancel_reported_by_the_order_stream(live, server):
    """A resting order cancelled "in the UI" is closed by the watch_orders update."""
    v, events = live
    v.execute(submit("ui-1", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "ui-1")
    server.external_cancel("BTCUSDT", "ui-1")
    await events.wait_for(OrderCanceled, "ui-1")
    assert v.stats["stream_order_update"] >= 2
    assert v.stats["poll_symbol"] <= 1  # at most the initial backfill; no polling


async def test_stream_duplicates_are_delivered_once(live, server):
    """The user stream sending each executionReport twice still gives one fill per trade."""
    v, events = live
    server.faults.arm("user.duplicate", times=-1)
    v.execute(submit("dup-1", Side.BUY, "0.01"), 0)
    v.execute(submit("dup-2", Side.SELL, "0.01"), 0)
    await events.wait_for(OrderFilled, n=2)
    assert server.faults.stats["user.duplicate"] >= 2
    assert our_fills(events) == ledger_fills(server)


async def test_dropped_stream_reconnects_and_backfills_without_loss_or_duplicates(live, server):
    """Sockets cut mid-run and refused: the fill made meanwhile comes from the backfill, the
    next from the stream again; every ledger trade arrives exactly once."""
    v, events = live
    v.execute(submit("gap-1", Side.BUY, "0.001", "39000.00"), 0)
    v.execute(submit("gap-2", Side.BUY, "0.001", "38000.00"), 0)
    await events.wait_for(OrderAccepted, n=2)
    server.faults.refuse_connects = True
    await server.close_sockets()
    server.trade("BTCUSDT", D("38999.00"), D("0.001"))  # fills gap-1 while nothing listens
    await eventually(lambda: v.statistics()["watch_my_trades_gaps"] >= 1)
    server.faults.refuse_connects = False
    await events.wait_for(OrderFilled, "gap-1")
    await eventually(lambda: streams_live(v))
    server.trade("BTCUSDT", D("37999.00"), D("0.001"))  # fills gap-2, streamed again
    await events.wait_for(OrderFilled, "gap-2")
    assert our_fills(events) == ledger_fills(server)
    assert len(ledger_fills(server)) == 2
    assert (v.stats["fill_rest"], v.stats["fill_stream"]) == (1, 1)  # backfill, then stream


async def test_exchange_without_watch_methods_falls_back_to_polling(server):
    """``has`` without watchMyTrades/watchOrders: polled fills, no user stream opened."""
    exchange = pro_binance_at(server)
    exchange.has = {**exchange.has, "watchMyTrades": False, "watchOrders": False}
    v = CcxtVenue(exchange, poll_interval_s=0.05, resolve_interval_s=0.02, settle_s=0.4)
    events = Events()
    await v.start(events.append)
    try:
        v.execute(submit("poll-1", Side.BUY, "0.001", "39000.00"), 0)
        await events.wait_for(OrderAccepted, "poll-1")
        server.trade("BTCUSDT", D("38999.00"), D("0.5"))
        [fill] = await events.wait_for(OrderFilled, "poll-1")
        stats = v.statistics()
    finally:
        await v.close()
    assert (stats["user_stream_fills"], stats["user_stream_orders"]) == (0, 0)
    assert (stats["fill_rest"], stats.get("fill_stream", 0)) == (1, 0)
    assert fill.trade_id == str(server.ledger()["trades"][0]["id"])
    assert not server.users.sessions


async def test_market_order_sweeping_two_levels_streams_both_fills(live, server):
    """Two trade reports back to back (one ccxt read batch): both fills arrive, once each."""
    v, events = live
    server.set_book(
        "BTCUSDT",
        bids=[(D("40000.00"), D("1"))],
        asks=[(D("40001.00"), D("0.05")), (D("40002.00"), D("1"))],
    )
    server.flush()
    v.execute(submit("sweep-1", Side.BUY, "0.06"), 0)  # 0.05 at 40001, then 0.01 at 40002
    await events.wait_for(OrderFilled, "sweep-1", n=2)
    assert our_fills(events) == ledger_fills(server)
    assert [(f.last_qty, f.last_px) for f in events.of(OrderFilled)] == [
        (D("0.05"), D("40001")),
        (D("0.01"), D("40002")),
    ]
    assert v.stats["fill_rest"] == 0


async def test_fills_read_by_ccxt_in_one_batch_all_arrive_from_the_stream(live, server):
    """One print crossing two resting orders: two reports in one read; both fills, no REST."""
    v, events = live
    v.execute(submit("batch-1", Side.BUY, "0.001", "39000.00"), 0)
    v.execute(submit("batch-2", Side.BUY, "0.001", "38500.00"), 0)
    await events.wait_for(OrderAccepted, n=2)
    server.trade("BTCUSDT", D("38000.00"), D("0.5"))  # crosses both: two executionReports
    await events.wait_for(OrderFilled, n=2)
    assert our_fills(events) == ledger_fills(server)
    assert v.stats["fill_stream"] + v.stats["fill_cache"] == 2
    assert v.stats["fill_rest"] == 0


async def test_terminated_user_stream_resubscribes_and_backfills(live, server):
    """eventStreamTerminated (socket kept open) is a gap: resubscribed, the fill made meanwhile
    delivered once."""
    v, events = live
    v.execute(submit("term-1", Side.BUY, "0.001", "39000.00"), 0)
    await events.wait_for(OrderAccepted, "term-1")
    server.faults.user_silenced = True  # nothing reaches the stream until it is resubscribed
    assert server.terminate_user_streams() == 1
    server.trade("BTCUSDT", D("38999.00"), D("0.001"))
    await eventually(lambda: v.statistics()["watch_my_trades_gaps"] >= 1)
    server.faults.user_silenced = False
    await events.wait_for(OrderFilled, "term-1")
    await eventually(lambda: streams_live(v))
    assert our_fills(events) == ledger_fills(server)
    assert v.stats["fill_rest"] == 1
    assert [s.subscription for s in server.users.sessions] == [1]  # a new subscription


async def test_silently_dropped_report_is_caught_by_reconciliation(server):
    """An executionReport the venue never sent (no gap to notice) is fetched by the slow
    reconciliation poll, once."""
    v = streaming(server, reconcile_interval_s=0.1)
    events = Events()
    await v.start(events.append)
    try:
        await eventually(lambda: streams_live(v))
        v.execute(submit("drop-r1", Side.BUY, "0.001", "39000.00"), 0)
        await events.wait_for(OrderAccepted, "drop-r1")
        server.faults.arm("user.drop")
        server.trade("BTCUSDT", D("38999.00"), D("0.001"))
        await events.wait_for(OrderFilled, "drop-r1")
    finally:
        await v.close()
    assert server.faults.stats["user.drop"] == 1
    assert our_fills(events) == ledger_fills(server)
    assert (v.stats["fill_rest"], v.stats.get("fill_stream", 0)) == (1, 0)
