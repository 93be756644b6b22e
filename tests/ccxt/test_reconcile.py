"""Reconciler without I/O: one fill intake for stream, cache and REST; terminal after fills."""

from __future__ import annotations

from collections import Counter
from typing import Any

from genesis.core.events import OrderEvent, OrderFilled
from genesis.exchange.ccxt.reconcile import Reconciler
from genesis.exchange.ccxt.tracking import Tracked
from genesis.retry import BackoffPolicy

from .conftest import D, Side, submit


class StubSession:
    """No streams; ``fetch_my_trades`` answers ``rest_trades``; ccxt's cache holds ``cache``."""

    venue = "TEST"

    def __init__(self) -> None:
        self.rest_trades: list[dict[str, Any]] = []
        self.cache: list[dict[str, Any]] | None = None

    def has(self, feature: str) -> bool:
        return False

    def cached(self, method: str, symbol: str | None = None) -> Any:
        return self.cache

    async def call(self, what: str, *args: Any, **kwargs: Any) -> Any:
        assert what == "fetch_my_trades"
        return list(self.rest_trades)


def trade(trade_id: str, order: str = "42", amount: str = "0.5") -> dict[str, Any]:
    return {
        "id": trade_id,
        "order": order,
        "timestamp": 1_700_000_000_000,
        "side": "buy",
        "amount": amount,
        "price": "40000",
        "fee": {"cost": "0.02", "currency": "USDT"},
        "takerOrMaker": "maker",
    }


def reconciler() -> tuple[Reconciler, StubSession, list[OrderEvent], Tracked]:
    session = StubSession()
    events: list[OrderEvent] = []
    rec = Reconciler(
        session,  # type: ignore[arg-type]
        "TEST",
        {},
        emit=events.append,
        clock=lambda: 1,
        stats=Counter(),
        market_type="spot",
        poll_s=1.0,
        reconcile_s=30.0,
        backoff=BackoffPolicy(initial_s=0.1, cap_s=1.0),
        seed=0,
    )
    t = Tracked(cmd=submit("c1", Side.BUY, "1", "40000"), symbol="BTC/USDT", sent_mono=0, sent_ms=0)
    rec.orders["c1"] = t
    return rec, session, events, t


def kinds(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


async def test_trade_from_stream_then_rest_is_one_fill():
    """The REST copy of a streamed trade is counted as a duplicate, not delivered."""
    rec, session, events, t = reconciler()
    await rec.adopt(t, {"id": "42", "status": "open", "filled": "0"})
    await rec.on_stream_trades([trade("7")], "stream")
    session.rest_trades = [trade("7")]
    await rec.sync_fills("BTC/USDT")
    assert kinds(events) == ["OrderAccepted", "OrderFilled"]
    assert (rec.stats["fill_stream"], rec.stats["fill_duplicate_rest"]) == (1, 1)
    assert t.filled == D("0.5")


async def test_cache_copies_are_not_counted_as_duplicates():
    """ccxt's cache is re-read after every result: its old trades are skipped silently."""
    rec, _, events, t = reconciler()
    await rec.adopt(t, {"id": "42", "status": "open", "filled": "0"})
    await rec.on_stream_trades([trade("7")], "stream")
    await rec.on_stream_trades([trade("7"), trade("8")], "cache")
    assert [e.trade_id for e in events if isinstance(e, OrderFilled)] == ["7", "8"]
    assert (rec.stats["fill_cache"], rec.stats["fill_duplicate_cache"]) == (1, 0)


async def test_trade_streamed_before_the_placement_answer_is_delivered_at_adoption():
    """A trade of an order whose venue id is not known yet is parked, then delivered in order."""
    rec, _, events, t = reconciler()
    await rec.on_stream_trades([trade("7", amount="1")], "stream")
    assert events == []
    await rec.adopt(t, {"id": "42", "status": "closed", "filled": "1"})
    assert kinds(events) == ["OrderAccepted", "OrderFilled"]
    assert (t.state, rec.stats["fill_parked"]) == ("done", 1)


async def test_terminal_state_waits_for_the_fills_it_covers():
    """Cancelled with 0.5 filled but no trade seen yet: closing; the fill, then OrderCanceled."""
    rec, session, events, t = reconciler()
    await rec.adopt(t, {"id": "42", "status": "canceled", "filled": "0.5"})
    assert (kinds(events), t.state) == (["OrderAccepted"], "closing")
    session.rest_trades = [trade("7")]
    await rec.sync_fills("BTC/USDT")
    assert kinds(events) == ["OrderAccepted", "OrderFilled", "OrderCanceled"]
    assert t.state == "done"


async def test_an_unchanged_streamed_order_is_applied_once():
    """The same order update read again (result, then cache) changes nothing the second time."""
    rec, _, events, _ = reconciler()
    order = {"id": "42", "clientOrderId": "c1", "status": "open", "filled": "0"}
    await rec.on_stream_orders([order], "stream")
    await rec.on_stream_orders([order], "cache")
    assert kinds(events) == ["OrderAccepted"]
    assert rec.stats["stream_order_update"] == 1
