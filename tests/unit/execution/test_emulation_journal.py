"""What the emulator hands the journal (``take_changes``) and how it holds an order again.

Real Binance BTCUSDT prints of 2021-01-08 (tests/data) drive a trailing stop; an iceberg is
driven by hand-made slice events, as a live venue would send them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from genesis.core.clock import SimClock
from genesis.core.commands import Command, SubmitOrder
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import OrderAccepted, OrderEvent, OrderFilled
from genesis.core.orders import Order
from genesis.data.loaders import read_trades
from genesis.execution.emulation import EmulatedState, Emulator
from genesis.execution.factory import OrderFactory
from genesis.kernel.kernel import Kernel
from genesis.kernel.support import submit_command
from genesis.testing.builders import fill, make_kernel
from genesis.testing.instruments import BTCUSDT, lookup

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
TRADES = list(read_trades(DATA / "binance-btcusdt-trades-2021-01-08.csv.gz", BTCUSDT))
PRICES = [t.price for t in TRADES]
T0 = TRADES[0].ts_init


def _emulator() -> tuple[Emulator, list[OrderEvent], list[Command]]:
    events: list[OrderEvent] = []
    commands: list[Command] = []
    emulator = Emulator(
        instruments=lookup, emit=events.append, send=commands.append, reduce_only=set()
    )
    emulator.track_changes()
    return emulator, events, commands


def _factory() -> OrderFactory:
    return OrderFactory("s1", SimClock(T0), lookup)


def _held(emulator: Emulator, order: Order) -> None:
    """Hold ``order`` as the kernel does: SUBMITTED, accepted here."""
    order.apply(_submitted(order))
    emulator.accept(order, T0, PRICES[0], submit_command(order, T0, "", reduce_only=False))


def _submitted(order: Order) -> OrderEvent:
    from genesis.core.events import OrderSubmitted
    from genesis.kernel.support import event_ids

    return OrderSubmitted(**event_ids(order, T0))


def test_a_trailing_stop_journals_one_state_per_ratchet_and_none_without_one() -> None:
    """Over the first 300 prints the state handed out changes exactly when the high does,
    and each one handed out is the one held at that moment."""
    emulator, _, _ = _emulator()
    order = _factory().trailing_stop(BTCUSDT, Side.SELL, "0.01", offset="50")
    _held(emulator, order)
    emulator.take_changes()  # the acceptance
    taken: list[EmulatedState] = []
    for price in PRICES[1:300]:
        emulator.on_prices(BTCUSDT, (price,), (price,), T0)
        taken += emulator.take_changes()[1]
    highs = [p for i, p in enumerate(PRICES[1:300], 1) if p > max(PRICES[:i])]
    assert [s.watermark for s in taken] == highs
    assert [s.trigger for s in taken] == [h - 50 for h in highs]
    assert taken[-1] == emulator.state(order.client_order_id)


def test_nothing_is_handed_out_without_tracking() -> None:
    """A backtest's emulator keeps no record of changes (nobody journals them)."""
    emulator = Emulator(instruments=lookup, emit=lambda e: None, send=lambda c: None,
                        reduce_only=set())  # fmt: skip
    order = _factory().trailing_stop(BTCUSDT, Side.SELL, "0.01", offset="50")
    _held(emulator, order)
    for price in PRICES[1:100]:
        emulator.on_prices(BTCUSDT, (price,), (price,), T0)
    assert emulator.take_changes() == ([], [])


def test_a_release_is_handed_out_with_its_row_before_the_order_it_sends() -> None:
    """The MIT buy at 39430.30 triggers on print 17: the state marked released and the
    parent's row (TRIGGERED) are handed out in the round whose command releases it."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    kernel.emulator.track_changes()
    kernel.handle(TRADES[0])
    order = _factory().market_if_touched(BTCUSDT, Side.BUY, "0.01", "39430.30")
    assert kernel.submit(order)[0] is None
    kernel.emulator.take_changes()
    sent: list[Command] = []
    for trade in TRADES[1:17]:
        sent += kernel.handle(trade)
    quiet = kernel.emulator.take_changes()

    released = kernel.handle(TRADES[17])
    orders, states = kernel.emulator.take_changes()

    assert (sent, quiet) == ([], ([], []))  # no ratchet, no release: nothing to journal
    assert [(c.client_order_id, c.order_type.value) for c in released
            if isinstance(c, SubmitOrder)] == [(order.client_order_id, "MARKET")]  # fmt: skip
    assert [(o.client_order_id, o.status) for o in orders] == [
        (order.client_order_id, OrderStatus.TRIGGERED)
    ]
    assert [(s.triggered, s.trigger) for s in states] == [(True, D("39430.30"))]


@given(st.lists(st.sampled_from(PRICES), min_size=1, max_size=40))
def test_handed_out_states_end_at_the_held_state(prices: list[Decimal]) -> None:
    """Whatever prices come, the last state handed out is the state held (latest wins)."""
    emulator, _, _ = _emulator()
    order = _factory().trailing_stop(BTCUSDT, Side.SELL, "0.01", offset_bps="20")
    _held(emulator, order)
    last: EmulatedState | None = None
    for price in prices:
        emulator.on_prices(BTCUSDT, (price,), (price,), T0)
        states = emulator.take_changes()[1]
        last = states[-1] if states else last
    assert last is not None
    assert last == emulator.state(order.client_order_id)


# --- icebergs: slices and their rows ---------------------------------------------------


def _slice_fill(order: Order, n: int, qty: str, trade: str) -> OrderFilled:
    return fill(Side.SELL, qty, "39440.00", trade_id=trade, venue="BINANCE",
                client_order_id=f"{order.client_order_id}-s{n}", ts=T0 + n)  # fmt: skip


def test_slice_rows_follow_the_venue_and_the_parent_row_its_fills() -> None:
    """Slice 1 acknowledged and filled: its row FILLED 0.001, slice 2's row SUBMITTED, the
    parent's PARTIALLY_FILLED 0.001; the state names slice 2 with 0.001 left."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    kernel.emulator.track_changes()
    order = _factory().iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")
    assert kernel.submit(order)[0] is None
    kernel.emulator.take_changes()
    s1 = f"{order.client_order_id}-s1"
    ack = OrderAccepted(ts_event=T0, ts_init=T0, client_order_id=s1, strategy_id="s1",
                        instrument_id=BTCUSDT, venue_order_id="77")  # fmt: skip
    kernel.handle(ack)
    commands = kernel.handle(_slice_fill(order, 1, "0.001", "9001"))
    orders, states = kernel.emulator.take_changes()
    rows = {o.client_order_id: (o.status, o.filled_qty) for o in orders}
    assert rows == {
        s1: (OrderStatus.FILLED, D("0.001")),
        order.client_order_id: (OrderStatus.PARTIALLY_FILLED, D("0.001")),
        f"{order.client_order_id}-s2": (OrderStatus.SUBMITTED, D(0)),
    }
    assert [(s.slice_no, s.slice_leaves) for s in states] == [(2, D("0.001"))]
    assert [(c.client_order_id, c.quantity) for c in commands if isinstance(c, SubmitOrder)] == [
        (f"{order.client_order_id}-s2", D("0.001"))
    ]


def test_an_adopted_iceberg_moves_on_with_its_working_slice_and_ignores_repeated_fills() -> None:
    """Adopted with slice 1 filled and slice 2 working (0.0004 of 0.001 filled): the venue
    repeats slice 2's fill (ignored), fills the rest (slice 3 goes), then slice 3: the
    parent ends FILLED 0.003, each trade booked once."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    order = _factory().iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")
    intent = msgspec.structs.replace(submit_command(order, T0, "", False), emulated=True)
    s2 = msgspec.structs.replace(intent, client_order_id=f"{order.client_order_id}-s2",
                                 quantity=D("0.001"), display_qty=None, emulated=False)  # fmt: skip
    first, part = _slice_fill(order, 1, "0.001", "1"), _slice_fill(order, 2, "0.0004", "2")
    parent_fills = [msgspec.structs.replace(f, client_order_id=order.client_order_id)
                    for f in (first, part)]  # fmt: skip
    state = EmulatedState(client_order_id=order.client_order_id, slice_no=2,
                          slice_leaves=D("0.0006"))  # fmt: skip
    adopted = kernel.adopt(intent, parent_fills, state, (s2, (part,)))

    repeated = kernel.handle(part)
    rest = kernel.handle(_slice_fill(order, 2, "0.0006", "3"))
    last = kernel.handle(_slice_fill(order, 3, "0.001", "4"))

    assert repeated == ()
    assert [(c.client_order_id, c.quantity) for c in rest if isinstance(c, SubmitOrder)] == [
        (f"{order.client_order_id}-s3", D("0.001"))
    ]
    assert last == ()
    assert (adopted.status, adopted.filled_qty) == (OrderStatus.FILLED, D("0.003"))
    assert adopted.trade_ids == ("1", "2", "3", "4")
    assert kernel.oms.statistics().duplicate_fills == 1


def test_an_adopted_iceberg_between_slices_sends_the_next_on_resume() -> None:
    """Slice 2 completed while the process was down: nothing goes at adoption; resume sends
    slice 3 for what is left (0.001)."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    order = _factory().iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")
    intent = msgspec.structs.replace(submit_command(order, T0, "", False), emulated=True)
    fills = [msgspec.structs.replace(_slice_fill(order, n, "0.001", str(n)),
                                     client_order_id=order.client_order_id)
             for n in (1, 2)]  # fmt: skip
    state = EmulatedState(client_order_id=order.client_order_id, slice_no=2)
    adopted = kernel.adopt(intent, fills, state)
    assert kernel.emulator.children == {}

    commands = kernel.resume_emulated([order.client_order_id])

    assert [(c.client_order_id, c.quantity) for c in commands if isinstance(c, SubmitOrder)] == [
        (f"{order.client_order_id}-s3", D("0.001"))
    ]
    assert (adopted.status, adopted.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.002"))


def test_resume_under_the_kill_switch_cancels_the_iceberg_here() -> None:
    """The kill switch was restored engaged: the next slice is refused, the parent cancelled
    locally, nothing sent."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    order = _factory().iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")
    intent = msgspec.structs.replace(submit_command(order, T0, "", False), emulated=True)
    adopted = kernel.adopt(intent, (), EmulatedState(client_order_id=order.client_order_id))
    kernel.restore_kill_switch("operator stop", "operator")

    commands = kernel.resume_emulated([order.client_order_id])

    assert commands == ()
    assert adopted.status is OrderStatus.CANCELED


def _adopted_with_unfilled_slice_2() -> tuple[Order, Kernel]:
    """A kernel holding the iceberg again after a restart: slice 1 filled, slice 2 journaled
    (intent durable) but nothing known of it at the venue."""
    kernel = make_kernel(balances={"USDT": D(100_000), "BTC": D(1)}, start_ns=T0)
    order = _factory().iceberg(BTCUSDT, Side.SELL, "0.003", "39440", "0.001")
    intent = msgspec.structs.replace(submit_command(order, T0, "", False), emulated=True)
    s2 = msgspec.structs.replace(intent, client_order_id=f"{order.client_order_id}-s2",
                                 quantity=D("0.001"), display_qty=None, emulated=False)  # fmt: skip
    first = msgspec.structs.replace(_slice_fill(order, 1, "0.001", "1"),
                                    client_order_id=order.client_order_id)  # fmt: skip
    state = EmulatedState(client_order_id=order.client_order_id, slice_no=2,
                          slice_leaves=D("0.001"))  # fmt: skip
    return kernel.adopt(intent, [first], state, (s2, ())), kernel


def _rejected(order: Order, n: int) -> OrderEvent:
    from genesis.core.events import OrderRejected

    return OrderRejected(ts_event=T0 + 9, ts_init=T0 + 9, strategy_id="s1",
                         instrument_id=BTCUSDT, client_order_id=f"{order.client_order_id}-s{n}",
                         code="NOT_PLACED", reason="NOT_PLACED: proven absent at the venue")  # fmt: skip


def test_an_adopted_slice_the_venue_never_had_is_replaced_by_the_next() -> None:
    """The venue proves slice 2 absent (crash between its commit and its send): slice 3
    goes for the same 0.001 and the parent keeps working."""
    adopted, kernel = _adopted_with_unfilled_slice_2()

    commands = kernel.handle(_rejected(adopted, 2))

    assert [(c.client_order_id, c.quantity) for c in commands if isinstance(c, SubmitOrder)] == [
        (f"{adopted.client_order_id}-s3", D("0.001"))
    ]
    assert (adopted.status, adopted.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.001"))


def test_a_slice_rejected_after_it_was_seen_at_the_venue_still_ends_the_parent() -> None:
    """Once the venue acknowledged the adopted slice, a rejection of it is the venue's
    word on the order: the parent ends (cancelled), nothing more is sent."""
    adopted, kernel = _adopted_with_unfilled_slice_2()
    s2 = f"{adopted.client_order_id}-s2"
    ack = OrderAccepted(ts_event=T0, ts_init=T0, client_order_id=s2, strategy_id="s1",
                        instrument_id=BTCUSDT, venue_order_id="78")  # fmt: skip
    kernel.handle(ack)

    commands = kernel.handle(_rejected(adopted, 2))

    assert commands == ()
    assert adopted.status is OrderStatus.CANCELED
