"""The native client against the local v20 server: instruments, pricing, orders, closes."""

from __future__ import annotations

from typing import Any

import pytest

from genesis.errors import InvalidOrder, OrderRejectedByVenue
from genesis.exchange.oanda import OandaClient, OrderTerms, exit_order_request, order_request
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda_sandbox import OandaSandboxServer
from tests.oanda.conftest import ASK0, ASK1, BID0, D


async def _place(client: OandaClient, **terms: Any) -> dict[str, Any]:
    """Build and send one GBP_USD order; the raw v20 answer."""
    body = order_request(OrderTerms(instrument="GBP_USD", **terms), client.instrument("GBP_USD"))
    return await client.create_order(body)


async def test_instrument_terms_come_from_the_venue(client: OandaClient) -> None:
    """pipLocation, displayPrecision, tradeUnitsPrecision and marginRate are parsed exactly."""
    inst = client.instrument("GBP_USD")
    assert (inst.pip_location, inst.display_precision, inst.trade_units_precision) == (-4, 5, 0)
    assert inst.margin_rate == D("0.0333")
    assert inst.pip == D("0.0001")


async def test_pricing_is_the_first_replayed_minute(client: OandaClient) -> None:
    """The REST price is the bundled file's first bid/ask close."""
    (price,) = await client.pricing(["GBP_USD"])
    assert (price.bid, price.ask, price.time) == (BID0, ASK0, "2012-02-01T00:01:00.000000000Z")


async def test_market_buy_fills_at_the_ask_with_dependent_orders(client: OandaClient) -> None:
    """A market buy takes the ask; its take-profit and stop-loss wait on the new trade."""
    out = await _place(client, type="MARKET", units=D(1000), take_profit=D("1.58000"),
                       stop_loss_distance=D("0.00200"), client_id="entry-1")  # fmt: skip
    fill = out["orderFillTransaction"]
    assert isinstance(fill, dict)
    assert (fill["price"], fill["units"], fill["clientOrderID"]) == ("1.57585", "1000", "entry-1")
    (trade,) = await client.trades()
    assert trade["currentUnits"] == "1000"
    assert trade["takeProfitOrder"]["price"] == "1.58000"
    assert trade["stopLossOrder"]["price"] == "1.57385"  # 1.57585 - 0.00200


async def test_partial_trade_close_then_position_close(client: OandaClient) -> None:
    """Closing 400 of 1000 units realizes 400 x (bid - ask); the position close takes the rest."""
    await _place(client, type="MARKET", units=D(1000))
    (trade,) = await client.trades()
    out = await client.close_trade(trade["id"], D(400))
    reduced = out["orderFillTransaction"]["tradeReduced"]
    assert (reduced["units"], reduced["price"], reduced["realizedPL"]) == (
        "-400",
        "1.57576",
        "-0.0360",
    )
    assert (await client.trade(trade["id"]))["currentUnits"] == "600"
    out = await client.close_position("GBP_USD", long_units="ALL")
    closed = out["longOrderFillTransaction"]["tradesClosed"]
    assert [(c["units"], c["realizedPL"]) for c in closed] == [("-600", "-0.0540")]
    summary = await client.summary()
    assert (summary["balance"], summary["openTradeCount"]) == ("99999.9100", 0)


async def test_oversized_trade_close_is_rejected(client: OandaClient) -> None:
    """Closing more units than the trade holds is refused with OANDA's code; the trade stays."""
    await _place(client, type="MARKET", units=D(-500))
    (trade,) = await client.trades()
    with pytest.raises(OrderRejectedByVenue) as info:
        await client.close_trade(trade["id"], D(501))
    assert info.value.code == "CLOSE_TRADE_UNITS_EXCEED_TRADE_SIZE"
    assert (await client.trade(trade["id"]))["currentUnits"] == "-500"


@pytest.mark.parametrize(
    ("order", "code"),
    [
        ({"type": "MARKET", "instrument": "GBP_USD", "units": "0"}, "UNITS_INVALID"),
        ({"type": "MARKET", "instrument": "GBP_USD", "units": "1.5"}, "UNITS_PRECISION_EXCEEDED"),
        ({"type": "MARKET", "instrument": "EUR_USD", "units": "10"}, "INSTRUMENT_UNKNOWN"),
        (
            {"type": "LIMIT", "instrument": "GBP_USD", "units": "10", "price": "1.500001"},
            "PRICE_PRECISION_EXCEEDED",
        ),
        ({"type": "LIMIT", "instrument": "GBP_USD", "units": "10"}, "PRICE_MISSING"),
        (
            {"type": "MARKET", "instrument": "GBP_USD", "units": "10", "timeInForce": "GTC"},
            "TIME_IN_FORCE_INVALID",
        ),
        ({"type": "MARKET", "instrument": "GBP_USD", "units": "100000000"}, "INSUFFICIENT_MARGIN"),
    ],
)
async def test_rejected_orders_carry_the_reject_reason(
    client: OandaClient, server: OandaSandboxServer, order: dict[str, str], code: str
) -> None:
    """A refused order raises with OANDA's errorCode and opens nothing."""
    with pytest.raises(OrderRejectedByVenue) as info:
        await client.create_order({"order": order})
    assert info.value.code == code
    assert server.engine.account.open_trades() == []


async def test_client_refuses_off_grid_prices_before_sending(client: OandaClient) -> None:
    """A price finer than displayPrecision never leaves the process."""
    with pytest.raises(InvalidOrder, match="displayPrecision"):
        await _place(client, type="LIMIT", units=D(10), price=D("1.575851"))


async def test_limit_rests_then_fills_at_its_price_or_better(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A buy limit below the ask rests; the next minute's ask 1.57552 is below it and fills."""
    out = await _place(client, type="LIMIT", units=D(100), price=D("1.57560"), client_id="lim")
    assert "orderFillTransaction" not in out
    assert (await client.order("@lim"))["state"] == "PENDING"
    server.advance()
    order = await client.order("@lim")
    assert order["state"] == "FILLED"
    (trade,) = await client.trades()
    assert trade["price"] == str(ASK1)


async def test_cancel_by_client_id_and_cancel_again(client: OandaClient) -> None:
    """A pending order cancels once; the second cancel is a 404 ORDER_DOESNT_EXIST."""
    await _place(client, type="STOP", units=D(100), price=D("1.60000"), client_id="stp")
    out = await client.cancel_order("@stp")
    assert out["orderCancelTransaction"]["reason"] == "CLIENT_REQUEST"
    with pytest.raises(OandaNotFound) as info:
        await client.cancel_order("@stp")
    assert info.value.code == "ORDER_DOESNT_EXIST"


async def test_fok_limit_not_marketable_is_cancelled(client: OandaClient) -> None:
    """A FOK limit below the ask is cancelled at once (BOUNDS_VIOLATION), opening nothing."""
    out = await _place(client, type="LIMIT", units=D(100), price=D("1.57500"), time_in_force="FOK")
    assert out["orderCancelTransaction"]["reason"] == "BOUNDS_VIOLATION"
    assert await client.trades() == []


async def test_market_price_bound_violated_is_cancelled(client: OandaClient) -> None:
    """A market buy bounded below the ask does not fill."""
    out = await _place(client, type="MARKET", units=D(100), price_bound=D("1.57580"))
    assert out["orderCancelTransaction"]["reason"] == "BOUNDS_VIOLATION"


async def test_gtd_limit_expires(client: OandaClient, server: OandaSandboxServer) -> None:
    """A GTD order is cancelled TIME_IN_FORCE_EXPIRED once the replay passes its time."""
    await _place(client, type="LIMIT", units=D(100), price=D("1.50000"), time_in_force="GTD",
                 gtd_time="2012-02-01T00:02:30.000000000Z", client_id="gtd")  # fmt: skip
    server.advance()
    assert (await client.order("@gtd"))["state"] == "PENDING"
    server.advance()
    order = await client.order("@gtd")
    assert order["state"] == "CANCELLED"


async def test_stop_loss_closes_the_trade(client: OandaClient, server: OandaSandboxServer) -> None:
    """A long's stop loss triggers when the bid falls to it and cancels the take profit."""
    await _place(client, type="MARKET", units=D(1000), stop_loss=D("1.57500"),
                 take_profit=D("1.59000"))  # fmt: skip
    server.set_quote(D("1.57490"), D("1.57499"))
    (trade,) = await client.trades("CLOSED")
    assert trade["realizedPL"] == "-0.9500"  # 1000 x (1.57490 - 1.57585)
    assert trade["averageClosePrice"] == "1.57490"
    assert await client.pending_orders() == []


async def test_trailing_stop_ratchets_then_fires(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """The trailing level follows the bid up by its distance and fires when the bid falls back."""
    await _place(client, type="MARKET", units=D(1000), trailing_stop_distance=D("0.00050"))
    server.set_quote(D("1.57700"), D("1.57710"))
    (trade,) = await client.trades()
    assert trade["trailingStopLossOrder"]["trailingStopValue"] == "1.57650"
    server.set_quote(D("1.57650"), D("1.57660"))
    (trade,) = await client.trades("CLOSED")
    assert trade["realizedPL"] == "0.6500"  # 1000 x (1.57650 - 1.57585)


async def test_market_if_touched_triggers_on_the_level(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A sell MIT above the market fills at market once the bid reaches it."""
    await _place(
        client, type="MARKET_IF_TOUCHED", units=D(-200), price=D("1.57600"), client_id="mit"
    )
    server.set_quote(D("1.57610"), D("1.57619"))
    order = await client.order("@mit")
    assert order["state"] == "FILLED"
    (trade,) = await client.trades()
    assert (trade["price"], trade["currentUnits"]) == ("1.57610", "-200")


async def test_fills_reduce_the_opposite_trade_first(client: OandaClient) -> None:
    """A sell after a buy reduces the long trade (FIFO) before opening a short."""
    await _place(client, type="MARKET", units=D(300))
    out = await _place(client, type="MARKET", units=D(-500))
    fill = out["orderFillTransaction"]
    assert [c["units"] for c in fill["tradesClosed"]] == ["-300"]
    assert fill["tradeOpened"]["units"] == "-200"


async def test_trailing_stop_order_on_an_open_trade(
    client: OandaClient, server: OandaSandboxServer
) -> None:
    """A TRAILING_STOP_LOSS posted for a short trails the ask and buys it back."""
    await _place(client, type="MARKET", units=D(-1000))
    (trade,) = await client.trades()
    inst = client.instrument("GBP_USD")
    body = exit_order_request("TRAILING_STOP_LOSS", trade["id"], inst, distance=D("0.00100"))
    out = await client.create_order(body)
    assert out["orderCreateTransaction"]["type"] == "TRAILING_STOP_LOSS_ORDER"
    server.set_quote(D("1.57300"), D("1.57310"))  # the ask falls: the level follows it down
    assert (await client.trade(trade["id"]))["trailingStopLossOrder"][
        "trailingStopValue"
    ] == "1.57410"
    server.set_quote(D("1.57405"), D("1.57415"))
    closed = await client.trade(trade["id"])
    # sold at the bid 1.57576, bought back at the ask 1.57415 once it reached 1.57410
    assert (closed["state"], closed["realizedPL"]) == ("CLOSED", "1.6100")


async def test_exit_orders_refused_for_missing_trade_or_duplicate(client: OandaClient) -> None:
    """No such trade, or a second stop loss on one trade: OANDA's reject codes."""
    inst = client.instrument("GBP_USD")
    with pytest.raises(OrderRejectedByVenue) as info:
        await client.create_order(exit_order_request("STOP_LOSS", "999", inst, price=D("1.5")))
    assert info.value.code == "TRADE_DOESNT_EXIST"
    await _place(client, type="MARKET", units=D(10), stop_loss=D("1.50000"))
    (trade,) = await client.trades()
    with pytest.raises(OrderRejectedByVenue) as info:
        await client.create_order(
            exit_order_request("STOP_LOSS", trade["id"], inst, price=D("1.5"))
        )
    assert info.value.code == "STOP_LOSS_ORDER_ALREADY_EXISTS"
