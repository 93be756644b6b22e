"""Kernel: bar → strategy → risk → command; the strategy fence; denials; attached exits; OMS.

Bars are consecutive real BTCUSDT perpetual 1-minute bars (index 0 =
2021-12-31 23:01 UTC, closing at 46377.0; 23:02 opens at 46377.0). The
instrument is the real BTCUSDT of the 2021-10-12 exchangeInfo.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import (
    Bar,
    Event,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    TimerFired,
)
from genesis.core.orders import Order
from genesis.kernel.kernel import Kernel
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, RecordingLog, make_kernel, make_venue, real_bars

D = Decimal
BARS = real_bars(0, 5)
S = TypeVar("S", bound=Strategy[Any])


class _Buyer(Strategy[StrategyParams]):
    """Buys 0.01 BTC at market on its first bar; counts fills."""

    def on_start(self) -> None:
        self.bars = 0
        self.fills: list[OrderFilled] = []

    def on_bar(self, bar: Bar) -> None:
        self.bars += 1
        if self.bars == 1:
            self.ctx.submit(self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.01"))

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


class _Raiser(Strategy[StrategyParams]):
    """Fails on every bar."""

    def on_start(self) -> None:
        self.calls = 0

    def on_bar(self, bar: Bar) -> None:
        self.calls += 1
        raise ZeroDivisionError("division by zero in user code")


class _Tracer(Strategy[StrategyParams]):
    """Buys 0.1 BTC on its first bar and traces hook entry, exit and order events."""

    def on_start(self) -> None:
        self.trace: list[str] = []

    def on_bar(self, bar: Bar) -> None:
        self.trace.append("on_bar:start")
        if len(self.trace) == 1:
            self.order = self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.1", confidence=0.9)
            self.ctx.submit(self.order)
        self.trace.append("on_bar:end")

    def on_order(self, event: OrderEvent) -> None:
        self.trace.append(f"on_order:{type(event).__name__}:{self.order.status.value}")


class _Bracket(Strategy[StrategyParams]):
    """On its first bar buys 0.01 BTC with a stop 1% below and a target 2% above the close."""

    def on_start(self) -> None:
        self.sent = False

    def on_bar(self, bar: Bar) -> None:
        if not self.sent:
            self.sent = True
            entry = self.ctx.orders.market(
                bar.instrument_id,
                Side.BUY,
                "0.01",
                stop_loss=bar.close * D("0.99"),
                take_profit=bar.close * D("1.02"),
            )
            self.ctx.submit(entry)


class _SubmitThenCancel(Strategy[StrategyParams]):
    """Submits a resting buy at 46000 and changes its mind in the same hook."""

    def on_bar(self, bar: Bar) -> None:
        order = self.ctx.orders.limit(bar.instrument_id, Side.BUY, "0.01", "46000")
        self.ctx.submit(order)
        self.ctx.cancel(order)


class _Timed(Strategy[StrategyParams]):
    """Sets a timer one second after start and records when it fires."""

    def on_start(self) -> None:
        self.fired: list[TimerFired] = []
        self.ctx.set_timer("check", self.ctx.clock.now_ns() + 1_000_000_000)

    def on_timer(self, timer: TimerFired) -> None:
        self.fired.append(timer)


def _kernel(*strategies: tuple[str, type[Strategy[Any]]], tier: Tier | None = None) -> Kernel:
    kernel = make_kernel(tier=tier, balances={"USDT": D(10_000)})
    for strategy_id, cls in strategies:
        kernel.add_strategy(cls, strategy_id, StrategyParams(), ("BTCUSDT",))
    kernel.start()
    return kernel


def _feed(kernel: Kernel, bar: Bar) -> list[Any]:
    kernel.clock.advance_to(bar.ts_event)  # type: ignore[attr-defined]
    return list(kernel.handle(bar))


def _strategy(kernel: Kernel, strategy_id: str, cls: type[S]) -> S:
    strategy = kernel.strategies[strategy_id]
    assert isinstance(strategy, cls)
    return strategy


def _order(kernel: Kernel, client_order_id: str) -> Order:
    order = kernel.oms.get(client_order_id)
    assert order is not None
    return order


def _harness(cls: type[Strategy[Any]]) -> Harness:
    return Harness.build(cls, StrategyParams(), cash=D(10_000))


def test_bar_reaches_the_strategy_and_returns_a_submit_command() -> None:
    """A market buy placed on 23:01's close becomes one SubmitOrder, stamped at the close."""
    kernel = _kernel(("s1", _Buyer))

    (command,) = _feed(kernel, BARS[0])

    assert isinstance(command, SubmitOrder)
    assert (command.side, command.order_type, command.quantity) == (
        Side.BUY,
        OrderType.MARKET,
        D("0.01000"),
    )
    assert command.client_order_id == f"s1-{BARS[0].ts_event}-1"
    assert _order(kernel, command.client_order_id).status is OrderStatus.SUBMITTED


def test_raising_hook_disables_only_that_strategy() -> None:
    """A strategy raising in on_bar is disabled with StrategyErrored; its peer still trades."""
    kernel = _kernel(("bad", _Raiser), ("good", _Buyer))

    commands = _feed(kernel, BARS[0])
    _feed(kernel, BARS[1])

    assert [c.strategy_id for c in commands] == ["good"]
    (error,) = kernel.errors
    assert (error.strategy_id, error.hook, error.error_type) == (
        "bad",
        "on_bar",
        "ZeroDivisionError",
    )
    assert (_strategy(kernel, "bad", _Raiser).calls, _strategy(kernel, "good", _Buyer).bars) == (
        1,
        2,
    )


def test_risk_refusal_arrives_as_order_denied_after_the_hook() -> None:
    """A Sniper buy of 0.1 BTC (46% of equity) is denied; on_order sees it after on_bar ends."""
    kernel = _kernel(("s1", _Tracer), tier=Tier.SNIPER)

    commands = _feed(kernel, BARS[0])

    tracer = _strategy(kernel, "s1", _Tracer)
    assert tracer.trace == ["on_bar:start", "on_bar:end", "on_order:OrderDenied:DENIED"]
    assert (commands, kernel.denied, dict(kernel.risk.rejections)) == (
        [],
        1,
        {"MAX_POSITION_SIZE": 1},
    )


def test_denied_order_is_not_open() -> None:
    """The denied order is DENIED and no longer among the strategy's open orders."""
    kernel = _kernel(("s1", _Tracer), tier=Tier.SNIPER)

    _feed(kernel, BARS[0])

    assert _strategy(kernel, "s1", _Tracer).order.status is OrderStatus.DENIED
    assert kernel.oms.open_orders() == []


def test_stop_and_target_become_an_oco_exit_pair_after_the_entry_fills() -> None:
    """After the entry fills at 46377.0, a 45913.23 stop and a 47304.54 target share one group."""
    harness = _harness(_Bracket)

    harness.run(BARS[:2])

    entry, stop, target = harness.commands
    assert isinstance(entry, SubmitOrder)
    assert isinstance(stop, SubmitOrder)
    assert isinstance(target, SubmitOrder)
    assert (stop.order_type, stop.side, stop.trigger_price) == (
        OrderType.STOP_MARKET,
        Side.SELL,
        D("45913.23"),
    )
    assert (target.order_type, target.side, target.price) == (
        OrderType.LIMIT,
        Side.SELL,
        D("47304.54"),
    )
    assert stop.oco_group == target.oco_group == entry.client_order_id
    assert stop.quantity == target.quantity == D("0.01000")


def test_no_exits_before_the_entry_fills() -> None:
    """While the entry is only submitted, no exit order exists."""
    harness = _harness(_Bracket)

    harness.run(BARS[:1])

    assert [c.client_order_id for c in harness.commands if isinstance(c, SubmitOrder)] == [
        f"s1-{BARS[0].ts_event}-1"
    ]
    assert len(harness.commands) == 1


def test_exits_are_sent_to_the_venue_and_accepted() -> None:
    """On the next bar both exit legs are accepted by the venue and stay working."""
    harness = _harness(_Bracket)

    harness.run(BARS[:3])

    assert len(harness.venue.open_order_ids()) == 2
    assert [o.status for o in harness.kernel.oms.open_orders()] == [OrderStatus.ACCEPTED] * 2


def test_duplicate_fill_is_ignored() -> None:
    """Replaying the 46377.0 fill changes neither the order, the position nor the strategy."""
    harness = _harness(_Buyer)
    harness.run(BARS[:2])
    (fill,) = harness.fills

    commands = harness.kernel.handle(fill)

    kernel = harness.kernel
    assert (list(commands), kernel.oms.statistics().duplicate_fills) == ([], 1)
    assert kernel.portfolio.position_qty("BTCUSDT", "s1") == D("0.01")
    assert len(_strategy(kernel, "s1", _Buyer).fills) == 1


def test_illegal_event_is_logged_counted_and_changes_nothing() -> None:
    """A cancel for the filled order is refused: logged, counted, the order untouched."""
    harness = _harness(_Buyer)
    harness.run(BARS[:2])
    (fill,) = harness.fills
    kernel = harness.kernel
    order = _order(kernel, fill.client_order_id)
    before = order.state()
    late = OrderCanceled(
        ts_event=fill.ts_event,
        ts_init=fill.ts_event,
        client_order_id=fill.client_order_id,
        strategy_id="s1",
        instrument_id="BTCUSDT",
    )

    kernel.handle(late)

    assert isinstance(kernel.log, RecordingLog)
    assert "order_event_refused" in kernel.log.events("error")
    assert (order.state(), kernel.oms.statistics().illegal_events) == (before, 1)


def test_duplicate_strategy_id_is_refused() -> None:
    """Two strategies cannot share an id: ValueError naming it."""
    kernel = _kernel(("s1", _Buyer))

    with pytest.raises(ValueError, match="s1"):
        kernel.add_strategy(_Buyer, "s1", StrategyParams(), ("BTCUSDT",))


def test_event_of_unknown_type_raises_type_error() -> None:
    """An event type the kernel has no handler for is a TypeError naming the type."""
    kernel = _kernel()

    with pytest.raises(TypeError, match="Event"):
        kernel.handle(Event(ts_event=0, ts_init=0))


def test_timer_reaches_the_strategy_named_in_its_prefix() -> None:
    """A timer set as "check" by s1 fires as "s1:check" into s1's on_timer."""
    kernel = _kernel(("s1", _Timed))

    for timer in kernel.clock.advance_to(BARS[0].ts_open + 1_000_000_000):  # type: ignore[attr-defined]
        kernel.handle(timer)

    assert [t.name for t in _strategy(kernel, "s1", _Timed).fired] == ["s1:check"]


def test_cancelling_a_just_submitted_order_does_not_disable_the_strategy() -> None:
    """Submit then cancel in one hook: the kernel emits the submit and the cancel, no fault."""
    kernel = _kernel(("s1", _SubmitThenCancel))

    commands = _feed(kernel, BARS[0])

    assert kernel.errors == []
    assert [type(c).__name__ for c in commands] == ["SubmitOrder", "CancelOrder"]


class _Ticker(Strategy[StrategyParams]):
    """Sets a one-minute timer at start and counts its firings."""

    def on_start(self) -> None:
        self.fired = 0
        self.ctx.set_timer("tick", BARS[0].ts_open, 60_000_000_000)

    def on_timer(self, timer: TimerFired) -> None:
        self.fired += 1


def test_a_strategy_named_by_its_import_path_gets_its_timers() -> None:
    """An id holding ':' ("pkg.mod:Class", as a backtest by path names it) still owns
    "<id>:tick": five one-minute bars from the first open to the last close, six firings
    (none before: the timer was routed by the text before the first ':')."""
    kernel = make_kernel(start_ns=0)
    kernel.add_strategy(_Ticker, "pkg.mod:Ticker", StrategyParams(), (BARS[0].instrument_id,))
    harness = Harness(kernel, make_venue())

    harness.run(BARS[:5])

    ticker = kernel.strategies["pkg.mod:Ticker"]
    assert ticker.fired == 6  # type: ignore[attr-defined]
