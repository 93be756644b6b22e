"""Emulated order types (EX-1, EX-3) on real Binance BTCUSDT trades of 2021-01-08.

The 2,001 prints in tests/data start at 39432.48; print 12 is 39430.31 and print 17 the
first at 39430.30 (the low of the file); the price then climbs to 39550.00 (its high,
around print 1500) and falls back to about 39465.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.core.events import OrderEvent, OrderFilled, OrderTriggered, TradeTick
from genesis.core.orders import Order
from genesis.data.loaders import read_trades
from genesis.execution.emulation import CAPABILITIES, Emulator
from genesis.execution.factory import OrderFactory
from genesis.kernel.driver import Driver
from genesis.kernel.support import submit_command
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import make_kernel, make_venue
from genesis.testing.instruments import BTCUSDT, lookup

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
TRADES = list(read_trades(DATA / "binance-btcusdt-trades-2021-01-08.csv.gz", BTCUSDT))
PRICES = [t.price for t in TRADES]
BALANCES = {"USDT": D(100_000), "BTC": D(1)}


class _Once(Strategy[StrategyParams]):
    """Submits ``build(ctx)`` on the first print; records its order events and fills."""

    def on_start(self) -> None:
        self.order: Order | None = None
        self.events: list[OrderEvent] = []

    def on_trade(self, trade: TradeTick) -> None:
        if self.order is None:
            self.order = self.build()
            self.ctx.submit(self.order)

    def build(self) -> Order:
        raise NotImplementedError

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_fill(self, fill: OrderFilled) -> None:
        self.events.append(fill)


class _Trailing(_Once):
    def build(self) -> Order:
        return self.ctx.orders.trailing_stop(BTCUSDT, Side.SELL, "0.01", offset="50")


class _Iceberg(_Once):
    def build(self) -> Order:
        return self.ctx.orders.iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")


def _run(cls: type[_Once], count: int = len(TRADES)) -> tuple[Driver, _Once, list[Command]]:
    kernel = make_kernel(balances=BALANCES, start_ns=TRADES[0].ts_init)
    strategy = kernel.add_strategy(cls, "s1", StrategyParams(), [BTCUSDT])
    commands: list[Command] = []
    driver = Driver(kernel, make_venue(balances=BALANCES), on_command=commands.append)
    driver.run(TRADES[:count])
    assert isinstance(strategy, _Once)
    return driver, strategy, commands


def _emulator() -> tuple[Emulator, list[OrderEvent], list[Command]]:
    events: list[OrderEvent] = []
    commands: list[Command] = []
    emulator = Emulator(
        instruments=lookup, emit=events.append, send=commands.append, reduce_only=set()
    )
    return emulator, events, commands


def _sent(commands: list[Command]) -> list[SubmitOrder]:
    """The orders that went to a venue (not the held orders' journaled intents)."""
    return [c for c in commands if isinstance(c, SubmitOrder) and not c.emulated]


def _intent(order: Order) -> SubmitOrder:
    return submit_command(order, order.ts_init, "", reduce_only=False)


def _factory() -> OrderFactory:
    from genesis.core.clock import SimClock

    return OrderFactory("s1", SimClock(TRADES[0].ts_init), lookup)


def _expected_trailing_trigger(offset: Decimal) -> tuple[int, Decimal]:
    """Independently: the print where a sell trailing ``offset`` behind the high triggers."""
    mark = PRICES[0]
    for i, price in enumerate(PRICES[1:], start=1):
        mark = max(mark, price)
        if price <= mark - offset:
            return i, mark
    raise AssertionError("never triggers")


def test_trailing_sell_stop_ratchets_to_the_high_and_triggers_once() -> None:
    """Trailing 50.00 behind the high (39550.00) it triggers on the first print at or below
    39500.00, once, and its market order sells 0.01 BTC at that print's price."""
    index, high = _expected_trailing_trigger(D("50"))
    _, strategy, commands = _run(_Trailing)
    triggered = [e for e in strategy.events if isinstance(e, OrderTriggered)]
    fills = [e for e in strategy.events if isinstance(e, OrderFilled)]
    released = _sent(commands)
    assert high == D("39550.00")
    assert [e.ts_event for e in triggered] == [TRADES[index].ts_init]
    assert [(c.order_type, c.quantity) for c in released] == [(OrderType.MARKET, D("0.01"))]
    assert [(f.last_qty, f.last_px) for f in fills] == [(D("0.01"), PRICES[index])]


def test_trailing_stop_waits_while_the_price_rises() -> None:
    """Before the peak the stop only ratchets: held, watermark at the high so far."""
    driver, strategy, _ = _run(_Trailing, count=1000)
    assert strategy.order is not None
    state = driver.kernel.emulator.state(strategy.order.client_order_id)
    assert strategy.order.status is OrderStatus.ACCEPTED
    assert state is not None
    assert (state.watermark, state.trigger) == (max(PRICES[:1000]), max(PRICES[:1000]) - 50)


def test_market_if_touched_buy_triggers_exactly_at_its_level() -> None:
    """A buy MIT at 39430.30 ignores print 12 (39430.31) and triggers on print 17 (39430.30)."""
    emulator, events, commands = _emulator()
    order = _factory().market_if_touched(BTCUSDT, Side.BUY, "0.01", "39430.30")
    emulator.accept(order, TRADES[0].ts_init, PRICES[0], _intent(order))
    hit = None
    for i, trade in enumerate(TRADES[1:40], start=1):
        emulator.on_prices(BTCUSDT, (trade.price,), (trade.price,), trade.ts_init)
        if hit is None and any(isinstance(e, OrderTriggered) for e in events):
            hit = i
    assert hit == 17
    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderTriggered"]
    assert [(c.order_type, c.client_order_id) for c in _sent(commands)] == [
        (OrderType.MARKET, order.client_order_id)
    ]


def test_limit_if_touched_is_released_as_its_limit() -> None:
    """A sell LIT touched at 39500.00 is released as a limit at 39510.00."""
    emulator, _, commands = _emulator()
    order = _factory().limit_if_touched(BTCUSDT, Side.SELL, "0.01", "39500", "39510")
    emulator.accept(order, TRADES[0].ts_init, PRICES[0], _intent(order))
    for trade in TRADES:
        emulator.on_prices(BTCUSDT, (trade.price,), (trade.price,), trade.ts_init)
    released = _sent(commands)
    assert [(c.order_type, c.price) for c in released] == [(OrderType.LIMIT, D("39510.00"))]


@given(st.lists(st.sampled_from(PRICES), min_size=1, max_size=60))
def test_a_sell_trailing_stop_never_loosens(prices: list[Decimal]) -> None:
    """Whatever real prices come, the sell trailing trigger never moves down."""
    emulator, _, _ = _emulator()
    order = _factory().trailing_stop(BTCUSDT, Side.SELL, "0.01", offset_bps="20")
    emulator.accept(order, TRADES[0].ts_init, PRICES[0], _intent(order))
    seen: list[Decimal] = []
    for price in prices:
        emulator.on_prices(BTCUSDT, (price,), (price,), TRADES[0].ts_init)
        state = emulator.state(order.client_order_id)
        assert state is not None
        if state.triggered:
            break
        assert state.trigger is not None
        seen.append(state.trigger)
    assert seen == sorted(seen)


def test_iceberg_releases_the_next_slice_when_one_fills() -> None:
    """A 0.003 BTC sell at 39440.00 showing 0.001 goes out as three slices, one at a time;
    the strategy sees only the parent, filled 0.003 at 39440.00 or better."""
    driver, strategy, commands = _run(_Iceberg)
    order = strategy.order
    assert order is not None
    slices = _sent(commands)
    child_fills = [e for e in driver.order_events if isinstance(e, OrderFilled)]
    parent_fills = [e for e in strategy.events if isinstance(e, OrderFilled)]
    cid = order.client_order_id
    assert [(c.client_order_id, c.quantity) for c in slices] == [
        (f"{cid}-s{n}", D("0.001")) for n in (1, 2, 3)
    ]
    for n in (1, 2, 3):  # each slice filled completely before the next went out
        assert sum(f.last_qty for f in child_fills if f.client_order_id == f"{cid}-s{n}") == D(
            "0.001"
        )
    assert {f.client_order_id for f in parent_fills} == {cid}
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, D("0.003"))
    # the first slice rests and is reached at its price; a later slice arrives with the
    # market through its limit and takes the last print, never worse than 39440.00
    assert parent_fills[0].last_px == D("39440.00")
    assert min(f.last_px for f in parent_fills) == D("39440.00")


def test_cancelling_an_iceberg_cancels_its_working_slice() -> None:
    """Cancelled before any print reaches 39440.00, the parent sends one CancelOrder (slice 1)
    and ends CANCELED."""
    driver, strategy, commands = _run(_Iceberg, count=5)
    order = strategy.order
    assert order is not None
    driver.send(driver.kernel.cancel_all("s1"))
    cancels = [c.client_order_id for c in commands if isinstance(c, CancelOrder)]
    assert cancels == [f"{order.client_order_id}-s1"]
    assert order.status is OrderStatus.CANCELED


def test_every_venue_table_lacks_the_emulated_types() -> None:
    """Trailing, if-touched and iceberg are emulated on every venue: backtest == paper == live."""
    emulated = {
        OrderType.TRAILING_STOP_MARKET,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    }
    assert all(
        not (caps.order_types & emulated) and not caps.iceberg for caps in CAPABILITIES.values()
    )


def test_a_trailing_stop_adopted_after_a_restart_triggers_exactly_once() -> None:
    """Journaled at print 1000 (intent and watermark) and adopted by a fresh kernel, the stop
    keeps its watermark and triggers once, on the same print as an uninterrupted run."""
    index, _ = _expected_trailing_trigger(D("50"))
    first, _, _ = _run(_Trailing, count=1000)
    [(intent, state)] = first.kernel.emulated_intents()
    kernel = make_kernel(balances=BALANCES, start_ns=TRADES[999].ts_init)
    kernel.add_strategy(_Trailing, "s1", StrategyParams(), [BTCUSDT])
    order = kernel.adopt(intent, emulated=state)
    commands: list[Command] = []
    driver = Driver(kernel, make_venue(balances=BALANCES), on_command=commands.append)
    driver.start()
    for trade in TRADES[1000:]:
        driver.step(trade)
    triggered = [e for e in driver.order_events if e.client_order_id == order.client_order_id]
    assert state.watermark == max(PRICES[:1000])
    # (the fresh strategy instance places a stop of its own: only the adopted one counts)
    released = [c for c in _sent(commands) if c.client_order_id == order.client_order_id]
    assert [c.order_type for c in released] == [OrderType.MARKET]
    assert [e.ts_event for e in triggered if isinstance(e, OrderFilled)] == [TRADES[index].ts_init]
    assert (order.status, order.filled_qty) == (OrderStatus.FILLED, D("0.01"))


def test_a_held_orders_intent_is_journaled_but_never_reaches_the_venue() -> None:
    """The trailing stop's intent goes out marked emulated (for the journal); the venue sees
    nothing until the release."""
    _, strategy, commands = _run(_Trailing, count=500)
    intents = [c for c in commands if isinstance(c, SubmitOrder) and c.emulated]
    assert strategy.order is not None
    assert [(c.client_order_id, c.order_type, c.trailing_offset) for c in intents] == [
        (strategy.order.client_order_id, OrderType.TRAILING_STOP_MARKET, D("50.00"))
    ]
    assert _sent(commands) == []


def test_a_live_restart_holds_a_journaled_emulated_intent_again() -> None:
    """Recovery's rule: an emulated intent without a journaled release is held (watching), with
    one it is the venue's (released)."""
    from genesis.daemon.emulated import held_state

    _, _, commands = _run(_Trailing, count=5)
    [intent] = [c for c in commands if isinstance(c, SubmitOrder) and c.emulated]
    release = SubmitOrder(
        ts_init=intent.ts_init, strategy_id="s1", instrument_id=BTCUSDT,
        client_order_id=intent.client_order_id, side=Side.SELL, order_type=OrderType.MARKET,
        quantity=D("0.01"),
    )  # fmt: skip
    watching, released = held_state(intent, None, None), held_state(intent, release, None)
    assert watching is not None
    assert released is not None
    assert (watching.triggered, released.triggered) == (False, True)
    assert held_state(release, None, None) is None


def test_a_held_if_touched_order_restored_from_its_intent_alone_still_triggers() -> None:
    """A live restart rebuilds the held state from the intent (no trigger in it): the order's
    own trigger stays, and the MIT buy at 39430.30 still triggers on print 17."""
    from genesis.daemon.emulated import held_state

    emulator, events, commands = _emulator()
    order = _factory().market_if_touched(BTCUSDT, Side.BUY, "0.01", "39430.30")
    intent = msgspec.structs.replace(_intent(order), emulated=True)  # as the kernel sends it
    state = held_state(intent, None, None)
    assert state is not None

    emulator.restore(order, state)
    hit = None
    for i, trade in enumerate(TRADES[1:40], start=1):
        emulator.on_prices(BTCUSDT, (trade.price,), (trade.price,), trade.ts_init)
        if hit is None and any(isinstance(e, OrderTriggered) for e in events):
            hit = i

    assert hit == 17
    assert [c.client_order_id for c in _sent(commands)] == [order.client_order_id]


def test_an_entry_the_gate_refuses_at_its_trigger_is_cancelled_not_released() -> None:
    """A kill switch or pause that came while the MIT buy was held: at its trigger it is
    cancelled here and nothing reaches the venue."""
    emulator, events, commands = _emulator()
    emulator.gate = lambda order: ("KILL_SWITCH", "new orders are blocked: test")
    order = _factory().market_if_touched(BTCUSDT, Side.BUY, "0.01", "39430.30")
    emulator.accept(order, TRADES[0].ts_init, PRICES[0], _intent(order))

    for trade in TRADES[1:40]:
        emulator.on_prices(BTCUSDT, (trade.price,), (trade.price,), trade.ts_init)

    assert [type(e).__name__ for e in events] == ["OrderAccepted", "OrderCanceled"]
    assert _sent(commands) == []
