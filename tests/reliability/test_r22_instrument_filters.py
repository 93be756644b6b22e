"""R22: orders for all 1,695 symbols of the 2021 exchangeInfo are valid or refused locally.

Orders are built with the connector's own path (``instrument_from_binance`` +
``orderparams.order_params``) from random prices and quantities that stray
outside every filter on purpose; the ones it accepts are sent to the
exchange's ``POST /api/v3/order/test``, which runs the same filter checks as a
placement (PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL, MARKET_LOT_SIZE...) without
needing a balance in 400 assets. Figures: 10,000 orders on the wire with 0
-1013 and 0 -1111 answers; every refusal carries a reason; no exponent in any
parameter; no order for a non-TRADING symbol reaches the wire; no symbol's
instrument divides by a zero step (the 2021 MARKET_LOT_SIZE steps are
"0.00000000").
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.instruments import Instrument, instrument_from_binance
from genesis.errors import ConfigError, InvalidOrder, OrderRejectedByVenue, VenueError
from genesis.exchange.binance.orderparams import order_params
from genesis.resources import EXCHANGE_INFO
from tests.reliability.streams_fixtures import make_rest, running

WIRE_ORDERS = 10_000


def symbols() -> list[dict[str, Any]]:
    with gzip.open(EXCHANGE_INFO, "rt", encoding="utf-8") as fh:
        return list(json.load(fh)["symbols"])


def _log_uniform(rng: random.Random, lo: float, hi: float) -> Decimal:
    x = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return Decimal(f"{x:.12f}") if x < 1e6 else Decimal(int(x))


def command(
    rng: random.Random, n: int, raw: dict[str, Any], inst: Instrument | None
) -> SubmitOrder:
    tick = float(inst.tick_size) if inst else 1e-8
    step = float(inst.step_size) if inst else 1e-8
    top = float(inst.max_price) if inst and inst.max_price else 1e6
    price = _log_uniform(rng, tick / 3, top * 1.5)
    max_qty = float(inst.max_qty) if inst and inst.max_qty else 1e6
    qty = _log_uniform(rng, step / 3, max_qty * 1.5)
    kind = rng.choices(["LIMIT", "LIMIT_MAKER", "MARKET"], [5, 2, 3])[0]
    return SubmitOrder(
        ts_init=0, strategy_id="r22", instrument_id=raw["symbol"], client_order_id=f"r22-{n}",
        side=rng.choice([Side.BUY, Side.SELL]),
        order_type=OrderType.MARKET if kind == "MARKET" else OrderType.LIMIT,
        quantity=qty, price=None if kind == "MARKET" else price,
        time_in_force=TimeInForce.GTC, post_only=kind == "LIMIT_MAKER",
    )  # fmt: skip


async def test_ten_thousand_orders_without_a_filter_rejection() -> None:
    """Local refusals with reasons, then 10,000 orders on the wire: 0 x -1111 and 0 x -1013.

    Before ``Instrument`` modelled MARKET_LOT_SIZE, seed 22 sent 1,043 MARKET
    orders above the symbol's market maxQty and got 1,043 x -1013.
    """
    rng = random.Random(22)
    raws = symbols()
    instruments: dict[str, Instrument | None] = {}
    unbuildable = 0
    for raw in raws:
        try:
            instruments[raw["symbol"]] = instrument_from_binance(raw)
        except ConfigError:
            instruments[raw["symbol"]] = None
            unbuildable += 1
    status = {r["symbol"]: r["status"] for r in raws}
    refused: Counter[str] = Counter()
    exponents = non_trading_on_wire = reasons = 0
    answers: Counter[str] = Counter()
    async with running() as server:
        rest = make_rest(server)
        sem = asyncio.Semaphore(16)

        async def send(params: list[tuple[str, str]]) -> None:
            async with sem:
                try:
                    await rest.request("POST", "/api/v3/order/test", params, signed=True)
                    answers["ok"] += 1
                except OrderRejectedByVenue as exc:
                    answers[str(exc.code)] += 1
                    if exc.code == -1013:
                        answers[str(exc).rpartition(": ")[2]] += 1
                except VenueError as exc:
                    answers[f"{type(exc).__name__}:{exc.code}"] += 1

        pending: list[asyncio.Task[None]] = []
        n = 0
        while len(pending) < WIRE_ORDERS:
            raw = rng.choice(raws)
            cmd = command(rng, n, raw, instruments[raw["symbol"]])
            n += 1
            try:
                params = order_params(cmd, instruments[raw["symbol"]], status[raw["symbol"]])
            except InvalidOrder as exc:
                reasons += not str(exc)
                refused["status" if "TRADING" in str(exc) else "filter"] += 1
                continue
            exponents += sum("e" in v.lower() for k, v in params if k in ("price", "quantity"))
            non_trading_on_wire += status[raw["symbol"]] != "TRADING"
            pending.append(asyncio.create_task(send(params)))
        await asyncio.gather(*pending)
        await rest.close()
    assert len(raws) == 1695
    assert unbuildable == 0
    assert exponents == 0
    assert non_trading_on_wire == 0
    assert reasons == 0  # every refusal says why
    assert refused["status"] > 0
    assert refused["filter"] > 0
    assert sum(answers[k] for k in ("ok", "-2010", "-1013")) == WIRE_ORDERS, answers
    assert answers["-1111"] == 0, answers
    assert answers["-1013"] == 0, answers


@pytest.mark.parametrize("step", ["0.00000000", "0"])
def test_zero_market_lot_step_never_divides(step: str) -> None:
    """A disabled MARKET_LOT_SIZE step (2021: 1,614 symbols) builds an instrument and orders."""
    raw = next(r for r in symbols() if r["symbol"] == "ETHBTC")
    raw = {**raw, "filters": [
        {**f, "stepSize": step} if f["filterType"] == "MARKET_LOT_SIZE" else f
        for f in raw["filters"]]}  # fmt: skip
    inst = instrument_from_binance(raw)
    cmd = SubmitOrder(ts_init=0, strategy_id="r22", instrument_id="ETHBTC", client_order_id="z1",
                      side=Side.BUY, order_type=OrderType.MARKET, quantity=Decimal("1.00001"))  # fmt: skip
    assert ("quantity", "1.0000") in order_params(cmd, inst, "TRADING")


def test_market_order_above_market_lot_size_is_refused_locally() -> None:
    """ETHBTC 2021: LOT_SIZE max 100,000 but MARKET_LOT_SIZE max 873.9: 1,000 must be refused."""
    raw = next(r for r in symbols() if r["symbol"] == "ETHBTC")
    cmd = SubmitOrder(ts_init=0, strategy_id="r22", instrument_id="ETHBTC", client_order_id="m1",
                      side=Side.SELL, order_type=OrderType.MARKET, quantity=Decimal("1000"))  # fmt: skip
    with pytest.raises(InvalidOrder, match="market quantity 1000.0000 is above market_max_qty"):
        order_params(cmd, instrument_from_binance(raw), "TRADING")
