"""Margin invariants (hypothesis): netting, exits, and the simulated venue's account.

The venue property replays the first real GBPUSD quotes of the bundled FXCM month
(2012-02) and sends arbitrary market orders, long and short, on a 10,000 USD account.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import Side
from genesis.core.events import OrderFilled, QuoteTick
from genesis.core.fx import fx_pair
from genesis.core.margin import exposure_units, order_margin
from genesis.data.fxbars import BidAskStats, read_bid_ask_bars
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.testing.builders import submit

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
RATE = D("0.0333")
units = st.integers(min_value=-500_000, max_value=500_000).map(D)
sizes = st.integers(min_value=1, max_value=500_000).map(D)
prices = st.integers(min_value=50_000, max_value=250_000).map(lambda n: D(n).scaleb(-5))


def _quotes(count: int) -> list[QuoteTick]:
    events = read_bid_ask_bars(
        DATA / "gbpusd-1m-2012-02-bid.csv.gz", DATA / "gbpusd-1m-2012-02-ask.csv.gz",
        "GBPUSD", BidAskStats(),
    )  # fmt: skip
    out: list[QuoteTick] = []
    for event in events:
        if isinstance(event, QuoteTick):
            out.append(event)
            if len(out) == count:
                break
    return out


QUOTES = _quotes(40)


@given(position=units, buys=sizes, sells=sizes, qty=sizes, price=prices, buy=st.booleans())
def test_an_order_needs_exactly_what_it_adds_to_the_worst_case(
    position: Decimal, buys: Decimal, sells: Decimal, qty: Decimal, price: Decimal, buy: bool
) -> None:
    """Margin before plus what the order needs is the margin after, or more when the order
    only nets (never negative)."""
    side = Side.BUY if buy else Side.SELL
    need = order_margin(RATE, price, position, buys, sells, side, qty)
    after_buys, after_sells = (buys + qty, sells) if buy else (buys, sells + qty)
    before = RATE * price * exposure_units(position, buys, sells)
    after = RATE * price * exposure_units(position, after_buys, after_sells)
    assert need >= 0
    assert before + need == max(before, after)


@given(position=units.filter(lambda u: u != 0), share=st.integers(1, 200), price=prices)
def test_an_exit_never_needs_margin(position: Decimal, share: int, price: Decimal) -> None:
    """Up to twice the position the other way (close, or flip to no larger): nothing."""
    qty = max(D(1), (abs(position) * share / 100).to_integral_value())
    side = Side.SELL if position > 0 else Side.BUY
    assert order_margin(RATE, price, position, D(0), D(0), side, qty) == 0


@settings(max_examples=40, deadline=None)
@given(orders=st.lists(st.tuples(st.booleans(), sizes), min_size=1, max_size=30))
def test_the_venue_keeps_margin_within_nav_and_units_in_step_with_fills(
    orders: list[tuple[bool, Decimal]],
) -> None:
    """Whatever is sent, a fill that grows the position leaves its margin at most the NAV
    (an order that would not is rejected) give or take the fill's own half spread (the
    check is at the mid, before the fill pays it); the units are the signed sum of the
    fills and the base balance equals them."""
    pair = fx_pair("GBPUSD")
    inst = pair.instrument()
    venue = SimulatedVenue(
        instruments={"GBPUSD": inst}.__getitem__, balances={"USD": D(10_000)},
        fees=FeeModel(maker_bps=D(0), taker_bps=D(0)),
    )  # fmt: skip
    signed = D(0)
    for i, ((buy, qty), quote) in enumerate(zip(orders, QUOTES, strict=False)):
        venue.process(quote)
        side = Side.BUY if buy else Side.SELL
        cmd = submit(side, qty, instrument_id="GBPUSD", client_order_id=f"s1-{i}")
        venue.execute(cmd, quote.ts_init)
        for event in venue.deliver_until(quote.ts_init):
            if isinstance(event, OrderFilled):
                signed += event.side.sign * event.last_qty
                held = venue.account.units("GBPUSD")
                mid = (quote.bid + quote.ask) / 2
                nav = venue.account.total("USD") + held * mid
                grew = abs(held) > abs(held - event.side.sign * event.last_qty)
                if grew:
                    half_spread = event.last_qty * (quote.ask - quote.bid) / 2
                    assert abs(held) * mid * RATE <= nav + half_spread
        assert venue.account.units("GBPUSD") == signed
        assert venue.account.total("GBP") == signed
