"""Emulated OCO exits (execution.oco): whatever the venue does and in whatever order, the
venue never holds both legs, and no exit working anywhere is larger than the position.

A kernel on a ccxt-like venue (no stops, no lists) holds 0.01 BTC bought at 46377 with a
stop at 45000 and a target at 48000. A small venue model answers the kernel's commands;
hypothesis draws what happens next: target fills (part or all, also while its cancel is
in flight), prints that may touch the stop, the venue confirming or refusing cancels,
the released stop filling, the operator cancelling a leg.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import OrderStatus, Side
from genesis.core.events import OrderCanceled, OrderCancelRejected
from tests.unit.kernel.test_emulated_oco import _fill, _ids, _protected_kernel, _trade

D = Decimal
STEP = D("0.001")

_actions = st.one_of(
    st.tuples(st.just("fill_target"), st.integers(1, 10)),
    st.tuples(st.just("print"), st.sampled_from(["46000.00", "45000.00", "44990.00"])),
    st.tuples(st.just("confirm"), st.just(0)),
    st.tuples(st.just("refuse"), st.just(0)),
    st.tuples(st.just("fill_stop"), st.just(0)),
    st.tuples(st.just("cancel"), st.sampled_from([0, 1])),
)


class _Venue:
    """What the venue holds: each live order's leaves, and the cancels it has not answered."""

    def __init__(self, target: str) -> None:
        self.live: dict[str, Decimal] = {target: D("0.01")}
        self.cancels: list[str] = []
        self.trades = 0

    def take(self, commands: list[Command]) -> None:
        for c in commands:
            if isinstance(c, SubmitOrder) and not c.emulated:
                self.live[c.client_order_id] = c.quantity
            elif isinstance(c, CancelOrder):
                self.cancels.append(c.client_order_id)

    def trade_id(self) -> str:
        self.trades += 1
        return f"v{self.trades}"


def _step(kernel, venue: _Venue, stop, target, action: tuple[str, int]) -> None:
    kind, arg = action
    out: list[Command] = []
    if kind == "fill_target" and venue.live.get(target.client_order_id, D(0)) > 0:
        qty = min(STEP * arg, venue.live[target.client_order_id])
        venue.live[target.client_order_id] -= qty
        if venue.live[target.client_order_id] == 0:
            del venue.live[target.client_order_id]
        fill = _fill(target.client_order_id, Side.SELL, str(qty), "48000", venue.trade_id())
        out += kernel.handle(fill)
    elif kind == "print":
        out += kernel.handle(_trade(str(arg)))
    elif kind in ("confirm", "refuse") and venue.cancels:
        cid = venue.cancels.pop(0)
        if cid in venue.live and kind == "confirm":
            del venue.live[cid]
            out += kernel.handle(OrderCanceled(**_ids(cid)))
        elif cid in venue.live:
            out += kernel.handle(OrderCancelRejected(**_ids(cid), reason="busy"))
    elif kind == "fill_stop" and stop.client_order_id in venue.live:
        qty = venue.live.pop(stop.client_order_id)
        out += kernel.handle(_fill(stop.client_order_id, Side.SELL, str(qty), "44990",
                                   venue.trade_id()))  # fmt: skip
    elif kind == "cancel":
        leg = (stop, target)[arg]
        if leg.is_open:
            out += kernel.cancel(leg.client_order_id)
    venue.take(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(_actions, max_size=30))
def test_never_both_legs_at_the_venue_and_never_more_than_the_position(
    actions: list[tuple[str, int]],
) -> None:
    """After every step: at most one leg at the venue, what it holds there is within the
    position, and every leg still working (not being cancelled) is within it too."""
    kernel, stop, target, _ = _protected_kernel()
    venue = _Venue(target.client_order_id)
    for action in actions:
        _step(kernel, venue, stop, target, action)
        position = kernel.portfolio.position_qty("BTCUSDT", "s1")
        at_venue = [
            q
            for cid, q in venue.live.items()
            if cid in (stop.client_order_id, target.client_order_id)
        ]
        working = [
            leg.leaves_qty for leg in (stop, target)
            if leg.is_open and leg.status is not OrderStatus.PENDING_CANCEL
        ]  # fmt: skip
        assert position >= 0
        assert len(at_venue) <= 1
        assert sum(at_venue, D(0)) <= position
        assert all(q <= position for q in working)


_FINALE = [("confirm", 0), ("confirm", 0), ("print", "44990.00"), ("confirm", 0),
           ("confirm", 0), ("fill_stop", 0)]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_actions.filter(lambda a: a[0] != "cancel"), max_size=30))
def test_a_stop_that_touched_is_never_stuck(actions: list[tuple[str, int]]) -> None:
    """Whatever happened (refused cancels, fills racing them: the OMS then forgets the
    cancel in flight and refuses the venue's late refusal), once the venue answers and the
    price is through the stop, the position is closed and both legs are finished."""
    kernel, stop, target, _ = _protected_kernel()
    venue = _Venue(target.client_order_id)
    for action in [*actions, *_FINALE, *_FINALE]:
        _step(kernel, venue, stop, target, action)
    assert kernel.portfolio.position_qty("BTCUSDT", "s1") == 0
    assert not stop.is_open
    assert not target.is_open
