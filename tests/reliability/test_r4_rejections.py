"""R4: definitive rejections, end to end through BinanceVenue and the test exchange.

The venue is given a loosened copy of BTCUSDT's filters (and a symbol the exchange does not
list) so that orders the exchange must refuse pass the local checks and reach the wire.
Cases covered end to end: 12 of the plan's 14. Not here: -1102 (the venue's parameter
builder cannot omit a mandatory parameter) and NOTIONAL (no symbol of the 2021 exchangeInfo
has that filter); both are covered by tests/sandbox (exchange side) and tests/binance
(mapping).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderRejected
from genesis.exchange.sandbox import SandboxServer

from .conftest import SYMBOL, order, posts, sandbox_config, start_venue, until

D = Decimal


def loose_info(server: SandboxServer, step: str = "0.00000001") -> dict[str, Any]:
    raw = copy.deepcopy(server.info.symbols[SYMBOL].raw)
    raw["filters"] = [
        {"filterType": "PRICE_FILTER", "minPrice": "0.00000001", "maxPrice": "0",
         "tickSize": "0.00000001"},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "0", "stepSize": step},
    ]  # fmt: skip
    fake = {**copy.deepcopy(raw), "symbol": "FAKEUSDT"}
    return {"symbols": [raw, fake]}


@pytest.fixture
async def poor() -> AsyncIterator[SandboxServer]:
    """An account with little USDT and 1 BTC; last price 40000."""
    server = SandboxServer(sandbox_config(balances={"USDT": D(1000), "BTC": D(1)}))
    await server.start()
    server.set_book(SYMBOL, [(D("40000"), D("5"))], [(D("40001"), D("5"))])
    server.trade(SYMBOL, D("40000"), D("0.1"))
    server.flush()
    try:
        yield server
    finally:
        await server.stop()


def sell(cid: str, qty: str, price: str | None, kind: OrderType = OrderType.LIMIT) -> SubmitOrder:
    return order(cid, side=Side.SELL, kind=kind, qty=qty, price=price)


CASES: list[tuple[str, SubmitOrder, str, str]] = [
    ("balance", order("r4-balance", qty="0.1", price="39000"), "-2010", "INSUFFICIENT_BALANCE"),
    ("maker", order("r4-maker", price="40001", post_only=True), "-2010", "WOULD_TAKE"),
    (
        "trigger",
        order("r4-trigger", kind=OrderType.STOP_LIMIT, qty="0.001", price="39000", trigger="39000"),
        "-2010",
        "WOULD_TRIGGER",
    ),
    ("price", sell("r4-price", "0.001", "40000.005"), "-1013", "FILTER_PRICE_FILTER"),
    ("lot", sell("r4-lot", "0.0000015", "40000"), "-1013", "FILTER_LOT_SIZE"),
    ("notional", sell("r4-notional", "0.0001", "40000"), "-1013", "FILTER_MIN_NOTIONAL"),
    (
        "market_lot",
        sell("r4-mlot", "200", None, OrderType.MARKET),
        "-1013",
        "FILTER_MARKET_LOT_SIZE",
    ),
]


async def test_definitive_rejections_are_mapped_without_retry(
    poor: SandboxServer, session: aiohttp.ClientSession
) -> None:
    """Each case: one OrderRejected (code, machine reason, venue sentence) and exactly 1 POST."""
    events: list[Any] = []
    venue = await start_venue(poor, session, events.append, info=loose_info(poor))
    fake = msgspec.structs.replace(order("r4-symbol"), instrument_id="FAKEUSDT")
    cases = [*CASES, ("symbol", fake, "-1121", "BAD_PARAMETER")]
    for _name, cmd, _code, _reason in cases:
        venue.execute(cmd, 0)
    fine = await start_venue(poor, session, events.append, info=loose_info(poor, "0.000000001"))
    precision = sell("r4-precision", "0.000000001", "40000")  # 9 decimals: beyond the asset's 8
    fine.execute(precision, 0)
    cases.append(("precision", precision, "-1111", "BAD_PARAMETER"))
    await until(lambda: sum(isinstance(e, OrderRejected) for e in events) == len(cases))
    for n in range(200):  # MAX_NUM_ORDERS: 200 resting orders, then one more
        poor.external_order(symbol=SYMBOL, side="SELL", type="LIMIT", timeInForce="GTC",
                            quantity="0.001", price=str(50000 + n), newClientOrderId=f"r4-x{n}")  # fmt: skip
    cases.append(("max_orders", sell("r4-max", "0.001", "60000"), "-1013",
                  "FILTER_MAX_NUM_ORDERS"))  # fmt: skip
    venue.execute(cases[-1][1], 0)
    await until(lambda: sum(isinstance(e, OrderRejected) for e in events) == len(cases))
    await venue.close()
    await fine.close()
    got = {e.client_order_id: e for e in events if isinstance(e, OrderRejected)}
    for _name, cmd, code, reason in cases:
        rejected = got[cmd.client_order_id]
        assert (rejected.code, rejected.reason.split(":")[0]) == (code, reason)
        assert len(rejected.reason.split(": ", 1)[1]) > 10  # the venue's human sentence
        assert posts(poor, cmd.client_order_id) == 1  # 0 retries
    assert len(cases) == 10  # + 2 auth cases below: 12 of the 14


@pytest.mark.parametrize(("key", "secret", "code"), [
    ("CANARYKEYreliability0123456789", "CANARYSECRETwrong", "-1022"),
    ("CANARYKEYunknown", "CANARYSECRETreliability0123456789", "-2015"),
])  # fmt: skip
async def test_auth_errors_reject_and_halt(
    poor: SandboxServer, session: aiohttp.ClientSession, key: str, secret: str, code: str
) -> None:
    """-1022 and -2015: rejected with the code, on_auth_error called once, no retry."""
    events: list[Any] = []
    halted: list[Any] = []
    venue = await start_venue(poor, session, events.append, key=key, secret=secret,
                              on_auth_error=halted.append)  # fmt: skip
    venue.execute(order(f"r4-auth{code}"), 0)
    await until(lambda: bool(events))
    await venue.close()
    assert [(type(e), e.code, e.reason.split(":")[0]) for e in events] == [
        (OrderRejected, code, "AUTH")
    ]
    assert len(halted) == 1
    assert posts(poor, f"r4-auth{code}") == 1
