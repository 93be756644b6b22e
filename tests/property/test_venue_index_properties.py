"""Hypothesis: the venue's resting-order index changes nothing but the cost.

An event visits only the eager orders and the resting limits its reach can cross
(``simulated._Resting``). The reference is the same venue made to visit every
working order on every event (its bounds forced wide before each event, so each
event takes the full pass). Random orders — limits near and far from the market,
stop-limits, market and IOC orders, amends and cancels — go to both on the real
Binance BTCUSDT streams of 2024-08-08 (quotes, trades, L2 book); both must
answer with the same events, in the same order, and end with the same balances.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.commands import CancelOrder, Command, ModifyOrder, SubmitOrder
from genesis.core.enums import OrderType, Side, TimeInForce
from genesis.core.events import MarketEvent, QuoteTick
from genesis.data.sources import open_events
from genesis.exchange.simulated import SimulatedVenue
from genesis.testing.builders import make_venue

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
EVENTS: list[MarketEvent] = list(
    itertools.islice(
        open_events(DATA / "binance-spot-btcusdt-streams-2024-08-08.txt.gz", "BTCUSDT"), 1500
    )
)
BALANCES = {"USDT": D(10_000_000), "BTC": D(100)}
WIDE = D("Infinity")

# offsets from the last mid, in dollars: crossing, at the touch, near, far away
offsets = st.sampled_from([-40, -8, -4, -2, -1, 0, 1, 2, 4, 8, 40, -2000, 2000])
order_terms = st.tuples(
    st.sampled_from(["limit", "limit", "limit", "stop_limit", "market", "ioc"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    offsets,
    st.sampled_from(["0.001", "0.01", "0.5"]),
)
actions = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60),  # events before the action
        st.one_of(
            order_terms.map(lambda t: ("submit", t)),
            order_terms.map(lambda t: ("submit", t)),
            st.tuples(st.integers(0, 40), offsets).map(lambda t: ("amend", t)),
            st.tuples(st.integers(0, 40), offsets).map(lambda t: ("amend", t)),
            st.integers(0, 40).map(lambda n: ("cancel", n)),
        ),
    ),
    min_size=12,
    max_size=40,
)


def _submit(n: int, terms: tuple[str, Side, int, str], mid: Decimal, ts: int) -> SubmitOrder:
    kind, side, offset, qty = terms
    price = (mid + offset).quantize(D("0.01"))
    order_type = {"limit": OrderType.LIMIT, "ioc": OrderType.LIMIT,
                  "stop_limit": OrderType.STOP_LIMIT, "market": OrderType.MARKET}[kind]  # fmt: skip
    return SubmitOrder(
        ts_init=ts, strategy_id="p", instrument_id="BTCUSDT", client_order_id=f"p-{n}",
        side=side, order_type=order_type, quantity=D(qty),
        price=None if kind == "market" else price,
        trigger_price=price if kind == "stop_limit" else None,
        time_in_force=TimeInForce.IOC if kind == "ioc" else TimeInForce.GTC,
    )  # fmt: skip


def _commands(plan: list[tuple[int, tuple[str, object]]]) -> dict[int, list[Command]]:
    """The plan as commands keyed by the event index they go in before."""
    at, mid, out = 0, D(0), {}
    submits: list[SubmitOrder] = []
    for gap, (action, arg) in plan:
        at = min(at + gap, len(EVENTS) - 1)
        for event in EVENTS[: at + 1][::-1]:
            if type(event) is QuoteTick:
                mid = (event.bid + event.ask) / 2
                break
        ts = EVENTS[at].ts_init
        if action == "submit":
            submits.append(_submit(len(submits), arg, mid, ts))  # type: ignore[arg-type]
            command: Command = submits[-1]
        elif not submits:
            continue
        elif action == "amend":
            n, offset = arg  # type: ignore[misc]
            old = submits[n % len(submits)]
            command = ModifyOrder(
                ts_init=ts, strategy_id="p", instrument_id="BTCUSDT",
                client_order_id=old.client_order_id, quantity=old.quantity,
                price=(mid + offset).quantize(D("0.01")) if old.price is not None else None,
                trigger_price=old.trigger_price,
            )  # fmt: skip
        else:
            old = submits[arg % len(submits)]  # type: ignore[operator]
            command = CancelOrder(
                ts_init=ts, strategy_id="p", instrument_id="BTCUSDT",
                client_order_id=old.client_order_id,
            )  # fmt: skip
        out.setdefault(at, []).append(command)
    return out


def _run(commands: dict[int, list[Command]], full_pass: bool) -> tuple[list[object], object]:
    venue: SimulatedVenue = make_venue(balances=BALANCES)
    seen: list[object] = []
    for i, event in enumerate(EVENTS):
        for command in commands.get(i, ()):
            venue.execute(command, event.ts_init)
        if full_pass:  # the reference: every working order visited on this event
            for resting in venue._resting.values():
                resting.max_buy, resting.min_sell = WIDE, -WIDE
        seen += venue.process(event)
    return seen, (venue.account.balances(), {c: venue.account.free(c) for c in BALANCES})


@settings(max_examples=60, deadline=None, derandomize=True)
@given(actions)
def test_the_index_answers_as_a_pass_over_every_order(
    plan: list[tuple[int, tuple[str, object]]],
) -> None:
    commands = _commands(plan)
    indexed, indexed_account = _run(commands, full_pass=False)
    reference, reference_account = _run(commands, full_pass=True)
    assert indexed == reference
    assert indexed_account == reference_account


def test_a_deep_grid_is_not_visited_until_the_price_reaches_it() -> None:
    """200 buys far below the market rest untouched; the eager set holds none of them."""
    venue = make_venue(balances=BALANCES)
    first = next(e for e in EVENTS if type(e) is QuoteTick)
    for n in range(200):
        venue.execute(_submit(n, ("limit", Side.BUY, -2000 - n, "0.001"), first.bid, 0), 0)
    events = []
    for event in EVENTS[:300]:
        events += venue.process(event)
    assert len(events) == 200  # each accepted, none filled
    resting = venue._resting["BTCUSDT"]
    assert resting.eager == {}
    assert resting.max_buy == (first.bid - 2000).quantize(D("0.01"))


def test_an_amended_price_is_watched_from_the_next_event() -> None:
    """A far buy, at rest, amended up to the lowest ask still to come (below the ask of the
    moment): it rests there and fills when the market falls to it, as in the full pass."""
    quotes = [(i, e) for i, e in enumerate(EVENTS) if type(e) is QuoteTick]
    at, now = max(quotes[: len(quotes) // 2], key=lambda q: q[1].ask)  # a high of the day
    low = min(e.ask for i, e in quotes if i > at)
    assert low < now.ask  # the real prints do fall below the amended price later
    first = _submit(0, ("limit", Side.BUY, -2000, "0.01"), now.bid, EVENTS[0].ts_init)
    amend = ModifyOrder(
        ts_init=now.ts_init, strategy_id="p", instrument_id="BTCUSDT",
        client_order_id=first.client_order_id, quantity=first.quantity, price=low,
    )  # fmt: skip
    commands: dict[int, list[Command]] = {0: [first], at: [amend]}
    indexed, _ = _run(commands, full_pass=False)
    reference, _ = _run(commands, full_pass=True)
    assert indexed == reference
    assert [type(e).__name__ for e in indexed][-1] == "OrderFilled"
