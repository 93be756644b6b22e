"""Several venues: each venue's account funds only its own orders (books, balances and
positions per venue)."""

from __future__ import annotations

from decimal import Decimal as D

from genesis.core.commands import SubmitOrder
from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import RecordingLog

T0 = 1_670_889_660_000_000_000


def _inst(venue: str) -> Instrument:
    return Instrument(
        symbol="BTCUSD", base="BTC", quote="USD", tick_size=D("0.1"), step_size=D(1),
        venue=venue.upper(),
    )  # fmt: skip


class _Idle(Strategy[StrategyParams]):
    """Orders are placed by the test through its context."""


def test_an_order_is_funded_by_its_own_venue_only() -> None:
    """17,000 USD buys 1 BTC on bybit (which holds 20,000) but not on binance (1,000), though
    the two together hold enough."""
    table = {"BTCUSD": _inst("binance"), "bybit:BTCUSD": _inst("bybit")}
    spec = SessionSpec(
        instruments=table, balances={"USD": D(21_000)}, base_currency="USD", start_ns=T0,
        venue_balances={"binance": {"USD": D(1_000)}, "bybit": {"USD": D(20_000)}},
        strategies=[StrategySpec(cls=_Idle, strategy_id="s", params=StrategyParams(),
                                 instruments=("BTCUSD", "bybit:BTCUSD"))],
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    kernel.start()
    for iid in table:
        kernel.market.last_price[iid] = D(17_000)
    ctx = kernel.strategies["s"].ctx
    ctx.submit(ctx.orders.market("BTCUSD", Side.BUY, "1"))
    ctx.submit(ctx.orders.market("bybit:BTCUSD", Side.BUY, "1"))
    commands = kernel.cancel_all()  # hands out what the submits queued (and cancels them)
    sent = [c.instrument_id for c in commands if isinstance(c, SubmitOrder)]
    assert sent == ["bybit:BTCUSD"]
    assert kernel.risk.rejections["INSUFFICIENT_CASH"] == 1  # binance's, before it was sent
