"""Modify on Binance spot (EX-2): the real connector's cancelReplace against the loopback exchange.

The loopback book is set by hand (best bid 40000, best ask 40001), as the other sandbox
integration tests do: the exchange's behaviour, not the prices, is what is tested here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from genesis.core.commands import CancelOrder, ModifyOrder
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModifyRejected,
    OrderUpdated,
)
from genesis.exchange.sandbox import SandboxConfig, SandboxServer
from tests.binance.test_sandbox_integration import KEY, SECRET, buy, start_venue, stop, until

D = Decimal


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(
        SandboxConfig(api_key=KEY, api_secret=SECRET, balances={"USDT": D("10000")}, replay=False)
    )
    await server.start()
    server.set_book("BTCUSDT", [(D("40000"), D("1"))], [(D("40001"), D("1"))])
    server.flush()
    yield server
    await server.stop()


def modify(cid: str, price: str, quantity: str = "0.01") -> ModifyOrder:
    return ModifyOrder(
        ts_init=0, strategy_id="s", instrument_id="BTCUSDT", client_order_id=cid,
        quantity=D(quantity), price=D(price),
    )  # fmt: skip


def _of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_a_price_modify_replaces_the_order_under_a_derived_client_id(
    sandbox: SandboxServer,
) -> None:
    """39000 -> 39500: one OrderUpdated, no OrderCanceled; the venue holds s-9-1-r1 at 39500."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-9-1", "39000"), 0)
    await until(lambda: bool(_of(events, OrderAccepted)))
    venue.execute(modify("s-9-1", "39500"), 0)
    await until(lambda: bool(_of(events, OrderUpdated)))
    await asyncio.sleep(0.2)  # the cancel's and the new order's executionReports too
    open_orders = await venue.rest.open_orders("BTCUSDT")
    await stop(venue)
    assert [type(e) for e in events] == [OrderAccepted, OrderUpdated]
    assert _of(events, OrderUpdated)[0].price == D("39500")
    assert [(o["clientOrderId"], D(o["price"])) for o in open_orders] == [("s-9-1-r1", D("39500"))]


async def test_a_modify_that_crosses_fills_as_the_original_order(sandbox: SandboxServer) -> None:
    """Moved up to 40001 the replacement takes the ask: the fill is s-9-2's, once."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-9-2", "39000"), 0)
    await until(lambda: bool(_of(events, OrderAccepted)))
    venue.execute(modify("s-9-2", "40001"), 0)
    await until(lambda: bool(_of(events, OrderFilled)))
    await asyncio.sleep(0.2)
    await stop(venue)
    fills = _of(events, OrderFilled)
    assert [(f.client_order_id, f.last_qty, f.last_px) for f in fills] == [
        ("s-9-2", D("0.01"), D("40001"))
    ]
    assert not _of(events, OrderCanceled)


async def test_modify_of_a_cancelled_order_is_rejected_and_places_nothing(
    sandbox: SandboxServer,
) -> None:
    """STOP_ON_FAILURE: the cancel half fails (-2022 at the venue), nothing new is placed."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-9-3", "39000"), 0)
    await until(lambda: bool(_of(events, OrderAccepted)))
    venue.execute(
        CancelOrder(ts_init=0, strategy_id="s", instrument_id="BTCUSDT", client_order_id="s-9-3"),
        0,
    )
    await until(lambda: bool(_of(events, OrderCanceled)))
    venue.execute(modify("s-9-3", "39500"), 0)
    await until(lambda: bool(_of(events, OrderModifyRejected)))
    open_orders = await venue.rest.open_orders("BTCUSDT")
    await stop(venue)
    assert open_orders == []
    assert _of(events, OrderModifyRejected)[0].code == "-2011"


async def test_the_sandbox_answers_a_failed_cancel_replace_with_both_halves(
    sandbox: SandboxServer,
) -> None:
    """Binance's shape: 400, code -2022, data.cancelResult FAILURE, newOrderResult NOT_ATTEMPTED."""
    venue, _ = await start_venue(sandbox)
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "0.01"), ("price", "39000"), ("newClientOrderId", "x-1"),
              ("cancelReplaceMode", "STOP_ON_FAILURE"), ("cancelOrigClientOrderId", "nope")]  # fmt: skip
    try:
        await venue.rest.cancel_replace(params, venue.rest.clock.now_ms())
    except Exception as exc:
        error: Exception = exc
    await stop(venue)
    assert type(error).__name__ == "OrderRejectedByVenue"
    assert getattr(error, "code", None) == -2022


async def test_a_replacement_the_account_cannot_pay_leaves_the_order_cancelled(
    sandbox: SandboxServer,
) -> None:
    """409 / -2021: the cancel went through, the 1 BTC replacement (39,500 USDT > 10,000) did
    not: the order ends OrderCanceled, once, and nothing is open."""
    venue, events = await start_venue(sandbox)
    venue.execute(buy("s-9-4", "39000"), 0)
    await until(lambda: bool(_of(events, OrderAccepted)))
    venue.execute(modify("s-9-4", "39500", quantity="1"), 0)
    await until(lambda: bool(_of(events, OrderCanceled)))
    await asyncio.sleep(0.2)
    open_orders = await venue.rest.open_orders("BTCUSDT")
    await stop(venue)
    assert open_orders == []
    assert [type(e) for e in events] == [OrderAccepted, OrderCanceled]


async def test_a_restart_after_a_modify_adopts_the_replacement(sandbox: SandboxServer) -> None:
    """Modified to 0.02 at 39500 (s-9-5-r1), then the process dies: a new connector recovering
    the journaled intent (0.01 at 39000) finds the replacement, announces its terms, never
    resends the original, and a print through 39500 fills it as s-9-5."""
    first, seen = await start_venue(sandbox)
    first.execute(buy("s-9-5", "39000"), 0)
    await until(lambda: bool(_of(seen, OrderAccepted)))
    first.execute(modify("s-9-5", "39500", quantity="0.02"), 0)
    await until(lambda: bool(_of(seen, OrderUpdated)))
    await stop(first)

    venue, events = await start_venue(sandbox)
    venue.recover(buy("s-9-5", "39000"), resend=False)
    await until(lambda: bool(_of(events, OrderUpdated)))
    sandbox.trade("BTCUSDT", D("39400"), D("1"), buyer_maker=True)
    await until(lambda: bool(_of(events, OrderFilled)))
    await asyncio.sleep(0.2)
    await stop(venue)
    [updated] = _of(events, OrderUpdated)
    fills = _of(events, OrderFilled)
    assert (updated.quantity, updated.price) == (D("0.02"), D("39500"))
    assert [(f.client_order_id, f.last_qty, f.last_px) for f in fills] == [
        ("s-9-5", D("0.02"), D("39500"))
    ]
    assert not _of(events, OrderCanceled)
    assert len(sandbox.ledger()["orders"]["s-9-5"]) == 1  # the original was never resent


async def test_a_refused_modify_leaves_no_id_gap_a_restart_would_stop_at(
    sandbox: SandboxServer,
) -> None:
    """A modify the venue refuses up front (400, -1013: nothing cancelled, nothing placed)
    gives its replacement id back; the next modify goes out as s-9-7-r1, and a restart
    probing r1, r2... finds it (it used to go out as r2: the probe stopped at the missing
    r1, resolved the cancelled original as ended and left the replacement working unseen)."""
    first, seen = await start_venue(sandbox)
    first.execute(buy("s-9-7", "39000"), 0)
    await until(lambda: bool(_of(seen, OrderAccepted)))
    sandbox.faults.arm("order.error_before", status=400, code=-1013)
    first.execute(modify("s-9-7", "39100"), 0)
    await until(lambda: bool(_of(seen, OrderModifyRejected)))
    first.execute(modify("s-9-7", "39500", quantity="0.02"), 0)
    await until(lambda: bool(_of(seen, OrderUpdated)))
    await stop(first)

    venue, events = await start_venue(sandbox)
    venue.recover(buy("s-9-7", "39000"), resend=False)
    await until(lambda: bool(_of(events, OrderUpdated) or _of(events, OrderCanceled)))
    await stop(venue)
    assert _of(seen, OrderModifyRejected)[0].code == "-1013"
    [updated] = _of(events, OrderUpdated)
    assert (updated.quantity, updated.price) == (D("0.02"), D("39500"))
    assert not _of(events, OrderCanceled)
    assert "s-9-7-r1" in sandbox.ledger()["orders"]
    assert "s-9-7-r2" not in sandbox.ledger()["orders"]
