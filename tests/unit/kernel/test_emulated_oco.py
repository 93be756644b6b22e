"""OCO exits on a venue without lists (EX-1): the kernel keeps the list (execution.oco).

Bars are the real bundled BTCUSDT 1-minute bars (index 0 = 2021-12-31 23:01 UTC):
the entry, a market buy on bar 0's close, fills at bar 1's open (46377.0); bar 8 is
the first after it to trade at or below 46375.0 (low 46372.0) and bar 9 the first to
reach 46440.0 (high 46456.0). The instrument is the real BTCUSDT of 2021-10-12.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genesis.core.commands import CancelOrder, Command, EngageKillSwitch, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import (
    Bar,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderUpdated,
    TradeTick,
)
from genesis.core.orders import Order
from genesis.execution.emulation import CAPABILITIES, VenueCapabilities
from genesis.kernel.kernel import Kernel
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, make_kernel, real_bars
from genesis.testing.instruments import lookup

D = Decimal
BARS = real_bars(0, 12)
NOW = BARS[1].ts_open
# a venue with stops but no lists: the stop leg is held all the same (one leg at the venue)
STOPS_NO_LISTS = VenueCapabilities(
    CAPABILITIES["simulated"].order_types, oco=False, iceberg=False, modify=True
)


class _Protected(Strategy[StrategyParams]):
    """Buys 0.01 BTC at market on its first bar with the class's stop and target."""

    stop = D("46300")
    target = D("46440")

    def on_start(self) -> None:
        self.sent = False
        self.events: list[OrderEvent] = []

    def on_bar(self, bar: Bar) -> None:
        if not self.sent:
            self.sent = True
            entry = self.ctx.orders.market(
                bar.instrument_id, Side.BUY, "0.01", stop_loss=self.stop,
                take_profit=self.target,
            )  # fmt: skip
            self.ctx.submit(entry)

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_fill(self, fill: OrderFilled) -> None:
        self.events.append(fill)


class _StopFirst(_Protected):
    stop = D("46375")
    target = D("46500")


def _harness(cls: type[_Protected], caps: VenueCapabilities = CAPABILITIES["ccxt"]) -> Harness:
    harness = Harness.build(cls, StrategyParams())
    harness.kernel.emulator.set_capabilities("binance", caps)
    return harness


def _submits(commands: list[Command]) -> list[SubmitOrder]:
    return [c for c in commands if isinstance(c, SubmitOrder)]


def _legs(harness: Harness) -> tuple[Any, Any]:
    _, stop, target = _submits(harness.commands)[:3]
    kernel = harness.kernel
    return kernel.oms.get(stop.client_order_id), kernel.oms.get(target.client_order_id)


def test_both_legs_are_placed_the_target_at_the_venue_and_the_stop_held() -> None:
    """After the entry fills, the target goes alone (no oco_group) and the stop is held:
    its intent is journaled (emulated) and both name the list in oco_emulated."""
    harness = _harness(_Protected, STOPS_NO_LISTS).run(BARS[:3])
    entry, stop, target = _submits(harness.commands)
    assert (stop.order_type, stop.emulated, stop.oco_group) == (OrderType.STOP_MARKET, True, "")
    assert (target.order_type, target.emulated, target.oco_group) == (OrderType.LIMIT, False, "")
    assert stop.oco_emulated == target.oco_emulated == entry.client_order_id
    assert harness.venue.open_order_ids() == [target.client_order_id]
    assert [o.status for o in harness.kernel.oms.open_orders()] == [OrderStatus.ACCEPTED] * 2


def test_the_target_fills_and_the_held_stop_is_cancelled_here() -> None:
    """Bar 9 reaches 46440: the target sells 0.01 there; the stop ends CANCELED without
    a command for it ever reaching the venue."""
    harness = _harness(_Protected).run(BARS[:10])
    stop, target = _legs(harness)
    sells = [f for f in harness.fills if f.side is Side.SELL]
    assert [(f.last_qty, f.last_px) for f in sells] == [(D("0.01000"), D("46440.00"))]
    assert (stop.status, target.status) == (OrderStatus.CANCELED, OrderStatus.FILLED)
    assert [c for c in harness.commands if c.client_order_id == stop.client_order_id] == [
        c for c in _submits(harness.commands) if c.emulated
    ]
    assert harness.kernel.portfolio.position_qty("BTCUSDT", "s1") == 0


def test_the_stop_triggers_cancels_the_target_then_sells_once_the_cancel_is_confirmed() -> None:
    """Bar 8 (low 46372) touches the 46375 stop: the target is cancelled at once; the
    venue confirms at bar 9; only then the stop goes as a market sell, filled at bar 10's
    open (46435.0). Never two sells at the venue."""
    harness = _harness(_StopFirst).run(BARS[:9])
    stop, target = _legs(harness)
    after_trigger = list(harness.commands)
    harness.run(BARS[9:11])
    released = [c for c in _submits(harness.commands) if c.client_order_id == stop.client_order_id]
    assert isinstance(after_trigger[-1], CancelOrder)
    assert after_trigger[-1].client_order_id == target.client_order_id
    assert [(c.order_type, c.quantity) for c in released if not c.emulated] == [
        (OrderType.MARKET, D("0.01000"))
    ]
    assert released[-1] not in after_trigger  # sent when bar 9 brought the confirmation
    assert released[-1].ts_init == BARS[9].ts_open
    sells = [f for f in harness.fills if f.side is Side.SELL]
    assert [(f.last_qty, f.last_px, f.ts_event) for f in sells] == [
        (D("0.01000"), D("46435.0"), BARS[10].ts_open)
    ]
    assert (stop.status, target.status) == (OrderStatus.FILLED, OrderStatus.CANCELED)


def test_a_native_list_on_the_same_bars_is_one_venue_list() -> None:
    """The same strategy where the venue has lists: both legs carry oco_group, none held."""
    harness = Harness.build(_StopFirst, StrategyParams()).run(BARS[:3])
    entry, stop, target = _submits(harness.commands)
    assert stop.oco_group == target.oco_group == entry.client_order_id
    assert (stop.emulated, stop.oco_emulated, target.oco_emulated) == (False, "", "")


# --- the kernel alone, fed the venue's events -------------------------------------------


class _Idle(Strategy[StrategyParams]):
    """Does nothing by itself: the test drives the kernel."""

    def on_start(self) -> None:
        self.events: list[OrderEvent] = []

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)


def _protected_kernel(qty: str = "0.01") -> tuple[Kernel, Order, Order, list[Command]]:
    """A kernel on a ccxt-like venue holding ``qty`` BTC from a filled entry: the exits
    (stop 45000, target 48000) placed, the target acknowledged by the venue."""
    kernel = make_kernel(balances={"USDT": D(10_000), "BTC": D(0)}, start_ns=NOW)
    kernel.emulator.set_capabilities("binance", CAPABILITIES["ccxt"])
    kernel.add_strategy(_Idle, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    kernel.handle(TradeTick(**_ids(), price=D("46377.00"), size=D("1"), trade_id="t0",
                            aggressor_side=Side.BUY))  # fmt: skip
    entry = kernel.oms.get(_place_entry(kernel, qty))
    assert entry is not None
    commands = list(kernel.handle(_fill(entry.client_order_id, Side.BUY, qty, "46377.00", "e1")))
    stop_cmd, target_cmd = _submits(commands)
    stop, target = (
        kernel.oms.get(stop_cmd.client_order_id),
        kernel.oms.get(target_cmd.client_order_id),
    )
    kernel.handle(OrderAccepted(**_ids(target_cmd.client_order_id), venue_order_id="v-1"))
    return kernel, stop, target, commands


def _place_entry(kernel: Kernel, qty: str) -> str:
    strategy = kernel.strategies["s1"]
    entry = strategy.ctx.orders.market(
        "BTCUSDT", Side.BUY, qty, stop_loss=D("45000"), take_profit=D("48000")
    )
    denied, _ = kernel.submit(entry)
    assert denied is None
    kernel.handle(OrderAccepted(**_ids(entry.client_order_id), venue_order_id="v-0"))
    return entry.client_order_id


def _ids(cid: str = "") -> dict[str, Any]:
    fields: dict[str, Any] = {"ts_event": NOW, "ts_init": NOW, "instrument_id": "BTCUSDT"}
    if cid:
        fields |= {"client_order_id": cid, "strategy_id": "s1"}
    return fields


def _fill(cid: str, side: Side, qty: str, px: str, trade: str) -> OrderFilled:
    return OrderFilled(
        **_ids(cid), venue="SIM", trade_id=trade, side=side, last_qty=D(qty), last_px=D(px),
        fee=D(0), fee_currency="USDT", liquidity=LiquiditySide.MAKER,
    )  # fmt: skip


def test_a_partial_fill_of_the_target_shrinks_the_held_stop_to_what_is_left() -> None:
    """The target sells 0.004 of 0.01: the stop (held) becomes 0.006, told to the strategy
    as OrderUpdated; the position 0.006 is covered once, never twice."""
    kernel, stop, target, _ = _protected_kernel()
    commands = list(kernel.handle(_fill(target.client_order_id, Side.SELL, "0.004", "48000", "x1")))
    idle = kernel.strategies["s1"]
    updates = [e for e in idle.events if isinstance(e, OrderUpdated)]
    assert commands == []
    assert (stop.quantity, stop.status, target.leaves_qty) == (
        D("0.006"),
        OrderStatus.ACCEPTED,
        D("0.006"),
    )
    assert [(u.client_order_id, u.quantity) for u in updates] == [
        (stop.client_order_id, D("0.006"))
    ]
    assert kernel.portfolio.position_qty("BTCUSDT", "s1") == D("0.006")


def test_the_stop_fired_after_a_partial_fill_sells_only_what_the_target_left() -> None:
    """0.004 sold by the target, then a print at 44990: the target is cancelled; once the
    venue confirms, the stop's market sell is for 0.006."""
    kernel, stop, target, _ = _protected_kernel()
    kernel.handle(_fill(target.client_order_id, Side.SELL, "0.004", "48000", "x1"))
    fired = list(kernel.handle(_trade("44990.00")))
    released = list(kernel.handle(OrderCanceled(**_ids(target.client_order_id))))
    assert [(type(c), c.client_order_id) for c in fired] == [(CancelOrder, target.client_order_id)]
    assert [(c.order_type, c.quantity, c.emulated) for c in _submits(released)] == [
        (OrderType.MARKET, D("0.006"), False)
    ]
    assert stop.status is OrderStatus.TRIGGERED


def test_the_target_filling_while_its_cancel_is_in_flight_cancels_the_parked_stop() -> None:
    """The stop fired, but the target filled before the venue saw the cancel: the stop is
    cancelled here and nothing is sold twice."""
    kernel, stop, target, _ = _protected_kernel()
    kernel.handle(_trade("44990.00"))
    after = list(kernel.handle(_fill(target.client_order_id, Side.SELL, "0.01", "48000", "x1")))
    assert after == []
    assert (stop.status, target.status) == (OrderStatus.CANCELED, OrderStatus.FILLED)
    assert kernel.emulator.state(stop.client_order_id) is None


def test_a_refused_target_cancel_puts_the_stop_back_on_watch() -> None:
    """The venue refused the target's cancel (it still works): the stop watches again, and
    the next touch fires again."""
    kernel, stop, target, _ = _protected_kernel()
    kernel.handle(_trade("44990.00"))
    kernel.handle(OrderCancelRejected(**_ids(target.client_order_id), reason="timeout"))
    again = list(kernel.handle(_trade("44980.00")))
    assert [(type(c), c.client_order_id) for c in again] == [(CancelOrder, target.client_order_id)]
    assert stop.status is OrderStatus.ACCEPTED


def test_cancelling_one_leg_cancels_both() -> None:
    """The operator cancels the stop: it ends here at once, and the target's cancel goes
    to the venue."""
    kernel, stop, target, _ = _protected_kernel()
    commands = list(kernel.cancel(stop.client_order_id))
    assert [(type(c), c.client_order_id) for c in commands] == [
        (CancelOrder, target.client_order_id)
    ]
    assert (stop.status, target.status) == (OrderStatus.CANCELED, OrderStatus.PENDING_CANCEL)


def test_cancelling_the_target_cancels_the_held_stop_too() -> None:
    """The strategy cancels the target: the held stop goes with it."""
    kernel, stop, target, _ = _protected_kernel()
    commands = list(kernel.cancel(target.client_order_id))
    assert [(type(c), c.client_order_id) for c in commands] == [
        (CancelOrder, target.client_order_id)
    ]
    assert stop.status is OrderStatus.CANCELED


def test_a_target_the_venue_cancels_on_its_own_leaves_the_stop_working() -> None:
    """The venue ends the target unasked (its UI, maintenance): the list breaks, the stop
    keeps protecting the position and fires as a lone stop."""
    kernel, _, target, _ = _protected_kernel()
    kernel.handle(OrderCanceled(**_ids(target.client_order_id)))
    fired = list(kernel.handle(_trade("44990.00")))
    assert "oco_list_broken" in kernel.log.events("warning")
    assert [(c.order_type, c.quantity) for c in _submits(fired) if not c.emulated] == [
        (OrderType.MARKET, D("0.01"))
    ]


def test_kill_switch_flatten_cancels_both_legs_then_sells_at_market() -> None:
    """Flatten: the held stop is cancelled here, the target's cancel goes; the closing sell
    waits until the venue confirms it (the target locks the base until then)."""
    kernel, stop, target, _ = _protected_kernel()
    first = list(kernel.handle(EngageKillSwitch(ts_init=NOW, reason="test", flatten=True)))
    closing = list(kernel.handle(OrderCanceled(**_ids(target.client_order_id))))
    assert [(type(c), c.client_order_id) for c in first] == [(CancelOrder, target.client_order_id)]
    assert stop.status is OrderStatus.CANCELED
    assert [(c.side, c.order_type, c.quantity) for c in _submits(closing)] == [
        (Side.SELL, OrderType.MARKET, D("0.01"))
    ]


def test_the_list_is_reserved_once_as_the_venue_locks_it() -> None:
    """With both legs working the kernel holds back 0.01 BTC (the list once, as the venue
    locks the target's 0.01 alone): a further sell of 0.001 is refused for the base."""
    kernel, _, _, _ = _protected_kernel()
    inst = lookup("BTCUSDT")
    quote, base = kernel._pretrade._reserved(inst, "")
    extra = kernel.strategies["s1"].ctx.orders.limit("BTCUSDT", Side.SELL, "0.001", "50000")
    assert (quote, base) == (D(0), D("0.01"))
    assert kernel.refusal(extra) is not None
    assert kernel.refusal(extra)[0] == "INSUFFICIENT_BALANCE"


def test_after_a_partial_fill_the_reservation_follows_the_position() -> None:
    """0.004 sold: both legs now hold 0.006, reserved once (the position is 0.006)."""
    kernel, _, target, _ = _protected_kernel()
    kernel.handle(_fill(target.client_order_id, Side.SELL, "0.004", "48000", "x1"))
    assert kernel._pretrade._reserved(lookup("BTCUSDT"), "") == (D(0), D("0.006"))


def _trade(px: str) -> TradeTick:
    return TradeTick(
        **_ids(), price=D(px), size=D("0.5"), trade_id=f"t{px}", aggressor_side=Side.SELL
    )


# --- restart -------------------------------------------------------------------------------


def test_a_restart_pairs_the_legs_again_from_their_intents() -> None:
    """Adopted from their intents (the target with 0.004 of fills journaled), the legs are
    one list again: the stop covers the 0.006 left and fires by cancelling the target."""
    from genesis.execution.emulation import EmulatedState

    _, _, _, commands = _protected_kernel()
    stop_intent, target_intent = _submits(commands)
    kernel = make_kernel(balances={"USDT": D(10_000), "BTC": D("0.006")}, start_ns=NOW)
    kernel.emulator.set_capabilities("binance", CAPABILITIES["ccxt"])
    kernel.add_strategy(_Idle, "s1", StrategyParams(), ("BTCUSDT",))
    kernel.start()
    held = EmulatedState(client_order_id=stop_intent.client_order_id)
    stop = kernel.adopt(stop_intent, (), held)
    sold = _fill(target_intent.client_order_id, Side.SELL, "0.004", "48000", "x1")
    target = kernel.adopt(target_intent, [sold])
    fired = list(kernel.handle(_trade("44990.00")))
    assert stop_intent.emulated
    assert stop_intent.oco_emulated == target_intent.oco_emulated != ""
    assert (stop.quantity, stop.status) == (D("0.006"), OrderStatus.ACCEPTED)
    assert [(type(c), c.client_order_id) for c in fired] == [(CancelOrder, target.client_order_id)]


def test_the_held_stops_journaled_intent_names_its_list() -> None:
    """``emulated_intents`` (what the shell journals of held orders) keeps oco_emulated."""
    kernel, stop, target, _ = _protected_kernel()
    [(intent, state)] = kernel.emulated_intents()
    assert (intent.client_order_id, intent.oco_emulated) == (
        stop.client_order_id, target.correlation_id,
    )  # fmt: skip
    assert state.triggered is False
