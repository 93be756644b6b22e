"""What a restart does in the kernel: adopted orders, exits for what filled while down, the
kill switch restored, OCO lists only when both legs pass risk (review findings, pinned)."""

from __future__ import annotations

from decimal import Decimal as D

from genesis.core.commands import CancelOrder, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import OrderFilled
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel

NOW = 1_640_995_260_000_000_000


class _Idle(Strategy[StrategyParams]):
    """Does nothing by itself: the test drives the kernel."""


def _kernel(btc: str = "0"):  # type: ignore[no-untyped-def]
    """A started kernel; ``btc``: what the venue holds (a restart's balances are the venue's)."""
    kernel = make_kernel(balances={"USDT": D(10_000), "BTC": D(btc)}, start_ns=NOW)
    kernel.add_strategy(_Idle, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    return kernel


def _entry(cid: str = "s1-1-1", **kw: object) -> SubmitOrder:
    fields: dict[str, object] = {
        "ts_init": NOW, "strategy_id": "s1", "instrument_id": "BTCUSDT", "client_order_id": cid,
        "correlation_id": cid, "side": Side.BUY, "order_type": OrderType.MARKET,
        "quantity": D("0.01"), "stop_loss": D("45000.00"), "take_profit": D("48000.00"),
    }  # fmt: skip
    fields.update(kw)
    return SubmitOrder(**fields)  # type: ignore[arg-type]


def _fill(cid: str, qty: str, px: str = "46377.00", trade: str = "7") -> OrderFilled:
    return OrderFilled(
        ts_event=NOW, ts_init=NOW, client_order_id=cid, strategy_id="s1", instrument_id="BTCUSDT",
        venue="BINANCE", trade_id=trade, side=Side.BUY, last_qty=D(qty), last_px=D(px),
        fee=D(0), fee_currency="USDT", liquidity=LiquiditySide.TAKER,
    )  # fmt: skip


def test_an_entry_that_filled_while_down_gets_its_stop_and_target() -> None:
    """Adopted already FILLED (its fills journaled or backfilled): exits are sent at adoption."""
    kernel = _kernel(btc="0.01")
    fill = _fill("s1-1-1", "0.01")
    kernel.portfolio.restore_fill(fill)
    order = kernel.adopt(_entry(), [fill])
    assert order.status is OrderStatus.FILLED
    commands = list(kernel.protect_adopted(["s1-1-1"]))
    assert [(c.order_type, c.side) for c in commands if isinstance(c, SubmitOrder)] == [
        (OrderType.STOP_MARKET, Side.SELL),
        (OrderType.LIMIT, Side.SELL),
    ]


def test_an_entry_whose_exits_are_still_working_gets_none_again() -> None:
    """The exits were adopted too (same correlation id, reduce-only): nothing is sent twice."""
    kernel = _kernel()
    fill = _fill("s1-1-1", "0.01")
    kernel.adopt(_entry(), [fill])
    stop = _entry("s1-1-2", correlation_id="s1-1-1", side=Side.SELL,
                  order_type=OrderType.STOP_MARKET, trigger_price=D("45000.00"),
                  reduce_only=True, stop_loss=None, take_profit=None)  # fmt: skip
    kernel.adopt(stop)
    assert list(kernel.protect_adopted(["s1-1-1", "s1-1-2"])) == []


def test_a_restored_kill_switch_blocks_without_touching_the_orders() -> None:
    """Restored as journaled: entries denied, adopted orders untouched until real cancels go."""
    kernel = _kernel()
    kernel.adopt(_entry(order_type=OrderType.LIMIT, price=D("40000.00")))
    kernel.restore_kill_switch("operator stops trading", "operator")
    assert kernel.risk.kill_switch == "operator stops trading"
    assert kernel.oms.get("s1-1-1").status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
    cancels = list(kernel.cancel_all())
    assert [type(c) for c in cancels] == [CancelOrder]


def test_exits_are_one_list_only_when_both_legs_pass_risk() -> None:
    """A stop the filters refuse (tick, notional...) must not leave its target waiting for it."""
    kernel = _kernel(btc="0.01")
    entry = _entry(stop_loss=D("0.001"))  # below BTCUSDT's minimum price: the stop is refused
    kernel.adopt(entry, [])
    kernel.portfolio.mark("BTCUSDT", D("46377.00"))
    fill = _fill("s1-1-1", "0.01")
    commands = list(kernel.handle(fill))
    submits = [c for c in commands if isinstance(c, SubmitOrder)]
    assert [(c.order_type, c.oco_group) for c in submits] == [(OrderType.LIMIT, "")]


def test_flatten_sells_only_once_the_positions_exits_are_cancelled() -> None:
    """A live venue runs commands concurrently: the closing sell would race the cancel of the
    OCO exits that lock the base. It goes only after both legs report cancelled."""
    from genesis.core.events import OrderCanceled

    kernel = _kernel(btc="0.01")
    fill = _fill("s1-1-1", "0.01")
    kernel.portfolio.restore_fill(fill)
    kernel.adopt(_entry(), [fill])
    legs = [
        _entry("s1-1-2", correlation_id="s1-1-1", side=Side.SELL, order_type=OrderType.STOP_MARKET,
               trigger_price=D("45000.00"), reduce_only=True, oco_group="s1-1-1",
               stop_loss=None, take_profit=None),
        _entry("s1-1-3", correlation_id="s1-1-1", side=Side.SELL, order_type=OrderType.LIMIT,
               price=D("48000.00"), reduce_only=True, oco_group="s1-1-1",
               stop_loss=None, take_profit=None),
    ]  # fmt: skip
    for leg in legs:
        kernel.adopt(leg)
    kernel.market.last_price["BTCUSDT"] = D("46377.00")  # a market order needs a price seen
    first = list(kernel.flatten())
    assert [type(c) for c in first] == [CancelOrder]  # one request cancels the list
    closing: list[object] = []
    for leg in legs:
        canceled = OrderCanceled(
            ts_event=NOW, ts_init=NOW, client_order_id=leg.client_order_id, strategy_id="s1",
            instrument_id="BTCUSDT",
        )  # fmt: skip
        closing += kernel.handle(canceled)
    [sell] = closing
    assert isinstance(sell, SubmitOrder)
    assert (sell.side, sell.order_type, sell.quantity) == (Side.SELL, OrderType.MARKET, D("0.01"))
