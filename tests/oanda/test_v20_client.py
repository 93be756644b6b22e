"""OANDA's own ``v20`` Python client (3.0.25.0), unmodified, against the local server.

v20 is synchronous (requests), so each call runs in a worker thread while the
server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import TOKEN

v20 = pytest.importorskip("v20")


def _context(server: OandaSandboxServer, **kw: Any) -> Any:
    port = int(server.url.rsplit(":", 1)[1])
    return v20.Context("127.0.0.1", port, ssl=False, token=TOKEN, **kw)


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_v20_reads_account_instruments_and_pricing(server: OandaSandboxServer) -> None:
    """Accounts, account details, instrument terms and prices parse in v20's own models."""
    ctx = _context(server)
    accounts = (await _call(ctx.account.list)).get("accounts", 200)
    account_id = accounts[0].id
    account = (await _call(ctx.account.get, account_id)).get("account", 200)
    assert (account.currency, account.balance, account.openTradeCount) == ("USD", 100000.0, 0)
    (inst,) = (await _call(ctx.account.instruments, account_id)).get("instruments", 200)
    assert (inst.name, inst.pipLocation, inst.displayPrecision) == ("GBP_USD", -4, 5)
    (price,) = (await _call(ctx.pricing.get, account_id, instruments="GBP_USD")).get("prices", 200)
    assert (price.bids[0].price, price.asks[0].price) == (1.57576, 1.57585)


async def test_v20_market_order_with_dependents_and_partial_close(
    server: OandaSandboxServer,
) -> None:
    """v20's order.market, trade.close (partial) and position.close round-trip exactly."""
    ctx = _context(server)
    account_id = server.engine.account.id
    resp = await _call(
        ctx.order.market, account_id, instrument="GBP_USD", units=1000,
        takeProfitOnFill={"price": "1.60000"}, stopLossOnFill={"price": "1.55000"},
    )  # fmt: skip
    fill = resp.get("orderFillTransaction", 201)
    assert (fill.type, fill.price, fill.tradeOpened.units) == ("ORDER_FILL", 1.57585, 1000.0)
    (trade,) = (await _call(ctx.trade.list_open, account_id)).get("trades", 200)
    assert (trade.takeProfitOrder.price, trade.stopLossOrder.price) == (1.6, 1.55)
    resp = await _call(ctx.trade.close, account_id, trade.id, units="250")
    reduced = resp.get("orderFillTransaction", 200).tradeReduced
    assert (reduced.units, reduced.realizedPL) == (-250.0, -0.0225)
    resp = await _call(ctx.position.close, account_id, "GBP_USD", longUnits="ALL")
    closed = resp.get("longOrderFillTransaction", 200).tradesClosed
    assert [(c.units, c.realizedPL) for c in closed] == [(-750.0, -0.0675)]


async def test_v20_sees_rejections_with_oanda_codes(server: OandaSandboxServer) -> None:
    """A refused order is a 400 whose body v20 parses: the reject transaction and errorCode."""
    ctx = _context(server)
    resp = await _call(ctx.order.market, server.engine.account.id, instrument="GBP_USD", units=0)
    assert resp.status == 400
    assert resp.body["errorCode"] == "UNITS_INVALID"
    assert resp.body["orderRejectTransaction"].type == "MARKET_ORDER_REJECT"


async def test_v20_wrong_token_is_401(server: OandaSandboxServer) -> None:
    """A token the server does not know gets OANDA's 401 body."""
    port = int(server.url.rsplit(":", 1)[1])
    ctx = v20.Context("127.0.0.1", port, ssl=False, token="not-the-token")
    resp = await _call(ctx.account.list)
    assert resp.status == 401
    assert resp.body["errorMessage"] == "Insufficient authorization to perform request."


async def test_v20_pricing_stream_gives_prices_and_heartbeats(server: OandaSandboxServer) -> None:
    """v20's stream parser sees ClientPrice then PricingHeartbeat lines."""
    ctx = _context(server)
    resp = await _call(ctx.pricing.stream, server.engine.account.id, instruments="GBP_USD")

    def first_three() -> list[str]:
        return [name for name, _ in itertools.islice(resp.parts(), 3)]

    names = await _call(first_three)
    assert names == ["pricing.ClientPrice", "pricing.PricingHeartbeat", "pricing.PricingHeartbeat"]


async def test_v20_unix_datetime_format(server: OandaSandboxServer) -> None:
    """With Accept-Datetime-Format UNIX, times are seconds.nanos."""
    ctx = _context(server, datetime_format="UNIX")
    resp = await _call(ctx.pricing.get, server.engine.account.id, instruments="GBP_USD")
    assert resp.get("prices", 200)[0].time == "1328054460.000000000"


async def test_v20_take_profit_order_on_a_trade(server: OandaSandboxServer) -> None:
    """v20's order.take_profit attaches an exit to an open trade, visible on the trade."""
    ctx = _context(server)
    account_id = server.engine.account.id
    resp = await _call(ctx.order.market, account_id, instrument="GBP_USD", units=-100)
    trade_id = resp.get("orderFillTransaction", 201).tradeOpened.tradeID
    resp = await _call(ctx.order.take_profit, account_id, tradeID=trade_id, price="1.57000")
    assert resp.get("orderCreateTransaction", 201).type == "TAKE_PROFIT_ORDER"
    trade = (await _call(ctx.trade.get, account_id, trade_id)).get("trade", 200)
    assert (trade.takeProfitOrder.price, trade.takeProfitOrder.state) == (1.57, "PENDING")


async def test_v20_transaction_stream(server: OandaSandboxServer) -> None:
    """v20's transaction stream parser sees the heartbeat, then the order and its fill."""
    ctx = _context(server)
    account_id = server.engine.account.id
    resp = await _call(ctx.transaction.stream, account_id)
    status, _ = server.engine.create_order(
        {"order": {"type": "MARKET", "instrument": "GBP_USD", "units": "100"}}
    )
    assert status == 201

    def until_two_transactions() -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        for name, msg in resp.parts():  # heartbeats may come between (every 0.05 s here)
            seen.append((name, msg.type))
            if sum(t != "HEARTBEAT" for _, t in seen) == 2:
                return seen
        return seen

    seen = await _call(until_two_transactions)
    assert seen[0] == ("transaction.TransactionHeartbeat", "HEARTBEAT")
    assert [s for s in seen if s[1] != "HEARTBEAT"] == [
        ("transaction.Transaction", "MARKET_ORDER"),
        ("transaction.Transaction", "ORDER_FILL"),
    ]
