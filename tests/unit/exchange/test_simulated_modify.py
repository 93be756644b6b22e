"""SimulatedVenue amends in place (EX-2): on real BTCUSDT 1-minute bars.

Bar 1 (23:02) runs 46377.0 -> 46411.0 (low 46377.0); an order sent at bar 0's close
reaches a zero-latency venue at bar 1's open.
"""

from __future__ import annotations

from decimal import Decimal

from genesis.core.commands import ModifyOrder
from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderEvent, OrderModifyRejected, OrderUpdated
from genesis.exchange.simulated import SimulatedVenue
from genesis.testing.builders import make_venue, real_bars, submit

D = Decimal
BARS = real_bars(0, 5)


def _modify(quantity: str, price: str | None = None, cid: str = "s1-1") -> ModifyOrder:
    return ModifyOrder(
        ts_init=BARS[1].ts_event, strategy_id="s1", instrument_id="BTCUSDT",
        client_order_id=cid, quantity=D(quantity), price=None if price is None else D(price),
    )  # fmt: skip


def _resting(venue: SimulatedVenue, **kw: object) -> list[OrderEvent]:
    """A 0.01 BTC buy at 46000.00 (below every bar here) placed at bar 0's close."""
    venue.process(BARS[0])
    order = submit(Side.BUY, "0.01", OrderType.LIMIT, price="46000", **kw)  # type: ignore[arg-type]
    venue.execute(order, BARS[0].ts_event)
    return venue.process(BARS[1])


def _after(venue: SimulatedVenue, command: ModifyOrder) -> list[OrderEvent]:
    venue.execute(command, BARS[1].ts_event)
    return venue.deliver_until(BARS[1].ts_event)


def test_a_modify_moves_the_lock_with_the_terms() -> None:
    """0.01 at 46000 locks 460 USDT; amended to 0.02 at 45000 it locks 900 USDT."""
    venue = make_venue()
    _resting(venue)
    [updated] = _after(venue, _modify("0.02", "45000"))
    assert isinstance(updated, OrderUpdated)
    assert (updated.quantity, updated.price) == (D("0.02"), D("45000"))
    assert venue.account.free("USDT") == D(100_000) - D(900)


def test_a_modify_the_account_cannot_pay_is_refused_and_keeps_the_old_lock() -> None:
    """With 1,000 USDT, 0.1 BTC at 46000 (4,600) is -2010; the 460 USDT lock stays."""
    venue = make_venue(balances={"USDT": D(1000)})
    _resting(venue)
    [refused] = _after(venue, _modify("0.1"))
    assert isinstance(refused, OrderModifyRejected)
    assert (refused.code, venue.account.free("USDT")) == ("-2010", D(540))


def test_a_post_only_modify_that_would_take_is_refused() -> None:
    """A post-only buy moved to 46500 (above bar 1's close, 46411) would take: refused."""
    venue = make_venue()
    _resting(venue, post_only=True)
    [refused] = _after(venue, _modify("0.01", "46500"))
    assert isinstance(refused, OrderModifyRejected)
    assert "post-only" in refused.reason


def test_a_modify_of_an_unknown_order_is_refused() -> None:
    """A client id the venue does not work is -2011 (unknown or finished)."""
    venue = make_venue()
    _resting(venue)
    [refused] = _after(venue, _modify("0.01", "45000", cid="nope"))
    assert isinstance(refused, OrderModifyRejected)
    assert refused.code == "-2011"


def test_a_modify_of_an_oco_leg_is_refused() -> None:
    """A leg of an OCO list is never amended (the list would lose its shared lock)."""
    venue = make_venue()
    _resting(venue, oco_group="g1")
    [refused] = _after(venue, _modify("0.01", "45000"))
    assert isinstance(refused, OrderModifyRejected)
    assert "OCO" in refused.reason
