"""Protected entries on a ccxt venue (EX-1): the kernel keeps the OCO list the venue lacks.

The kernel trades as on a ccxt venue (no stops, no lists); its commands go to a CcxtVenue
on ccxt's binance class against the loopback exchange (best bid 40000, best ask 40001).
A leg carrying ``oco_group`` is still refused by the venue (a list it cannot honour must
not go as two independent orders); the kernel now sends the target alone and holds the
stop, so protecting a position works end to end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from genesis.core.commands import Command, SubmitOrder
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    TradeTick,
)
from genesis.execution.emulation import CAPABILITIES
from genesis.kernel.kernel import Kernel
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel

from .conftest import D, Events, eventually, submit


class _Idle(Strategy[StrategyParams]):
    """Does nothing by itself: the test drives the kernel."""


class _Loop:
    """Carries the kernel's commands to the venue and the venue's events to the kernel."""

    def __init__(self, kernel: Kernel, venue: object, events: Events) -> None:
        self.kernel, self.venue, self.events = kernel, venue, events
        self.seen = 0
        self.sent: list[Command] = []

    def send(self, commands: Sequence[Command]) -> None:
        for c in commands:
            self.sent.append(c)
            if not (isinstance(c, SubmitOrder) and c.emulated):
                self.venue.execute(c, 0)  # type: ignore[attr-defined]

    async def until(self, done: Callable[[], bool], within: float = 5.0) -> None:
        def pumped() -> bool:
            while self.seen < len(self.events):
                event: OrderEvent = self.events[self.seen]
                self.seen += 1
                self.send(self.kernel.handle(event))
            return done()

        await eventually(pumped, within)


def _kernel() -> Kernel:
    kernel = make_kernel(balances={"USDT": D(10_000), "BTC": D(0)})
    kernel.emulator.set_capabilities("binance", CAPABILITIES["ccxt"])
    kernel.add_strategy(_Idle, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    kernel.handle(_print("40001.00"))
    return kernel


def _print(px: str) -> TradeTick:
    return TradeTick(
        ts_event=0, ts_init=0, instrument_id="BTCUSDT", price=D(px), size=D("0.1"),
        aggressor_side=Side.SELL, trade_id=f"p{px}",
    )  # fmt: skip


async def _protected(loop: _Loop) -> tuple[str, str]:
    """Buy 0.001 at market with a 39500 stop and a 41000 target; wait for the target to
    rest at the venue. Returns the stop's and the target's client ids."""
    strategy = loop.kernel.strategies["s1"]
    entry = strategy.ctx.orders.market(
        "BTCUSDT", Side.BUY, "0.001", stop_loss=D("39500"), take_profit=D("41000")
    )
    denied, commands = loop.kernel.submit(entry)
    assert denied is None
    loop.send(commands)
    exits = lambda: [c for c in loop.sent if isinstance(c, SubmitOrder) and c.reduce_only]  # noqa: E731
    await loop.until(lambda: len(exits()) == 2)
    stop, target = exits()
    await loop.events.wait_for(OrderAccepted, target.client_order_id)
    return stop.client_order_id, target.client_order_id


async def test_a_leg_naming_a_venue_list_is_still_refused(venue):
    """The safety stays: ``oco_group`` on a ccxt venue is UNSUPPORTED, nothing is placed."""
    v, events = venue
    leg = submit("oco-1", Side.SELL, "0.001", "41000.00")
    v.execute(SubmitOrder(**{**_fields(leg), "oco_group": "g1"}), 0)
    [rejected] = await events.wait_for(OrderRejected, "oco-1")
    assert rejected.code == "UNSUPPORTED"


async def test_the_target_rests_at_the_venue_and_the_stop_is_held(venue, server):
    """Where a list leg used to be refused, the target now rests (0.001 at 41000) and the
    stop never reaches the venue: the kernel holds it."""
    v, events = venue
    loop = _Loop(_kernel(), v, events)
    stop, target = await _protected(loop)
    orders = server.ledger()["orders"]
    assert [o["status"] for o in orders[target]] == ["NEW"]
    assert stop not in orders
    assert events.of(OrderRejected) == []
    assert loop.kernel.oms.get(stop).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


async def test_the_stop_fires_after_the_venue_cancelled_the_target(venue, server):
    """A print at 39400 touches the stop: the target is cancelled first and only then the
    stop goes, a market sell of 0.001 at the bid (40000); the position is flat."""
    v, events = venue
    loop = _Loop(_kernel(), v, events)
    stop, target = await _protected(loop)
    loop.send(loop.kernel.handle(_print("39400.00")))
    await loop.until(lambda: bool(events.of(OrderFilled, stop)))
    order = [type(e) for e in events if e.client_order_id in (stop, target)]
    [sold] = events.of(OrderFilled, stop)
    assert order.index(OrderCanceled) < order.index(OrderFilled)
    assert (sold.side, sold.last_qty, sold.last_px) == (Side.SELL, D("0.001"), D("40000"))
    assert [o["status"] for o in server.ledger()["orders"][target]] == ["CANCELED"]
    assert loop.kernel.portfolio.position_qty("BTCUSDT", "s1") == 0
    released = [c for c in loop.sent if isinstance(c, SubmitOrder) and c.client_order_id == stop]
    assert [(c.order_type, c.emulated) for c in released] == [
        (OrderType.STOP_MARKET, True),
        (OrderType.MARKET, False),
    ]


async def test_the_target_filling_cancels_the_held_stop(venue, server):
    """A print at 41000 fills the resting target: the stop is cancelled in the kernel and
    nothing more reaches the venue."""
    v, events = venue
    loop = _Loop(_kernel(), v, events)
    stop, target = await _protected(loop)
    server.trade("BTCUSDT", D("41001.00"), D("0.5"))
    await loop.until(lambda: bool(events.of(OrderFilled, target)))
    await asyncio.sleep(0.1)
    assert loop.kernel.oms.get(stop).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert stop not in server.ledger()["orders"]
    assert loop.kernel.portfolio.position_qty("BTCUSDT", "s1") == 0


def _fields(cmd: SubmitOrder) -> dict[str, object]:
    return {f: getattr(cmd, f) for f in cmd.__struct_fields__}
