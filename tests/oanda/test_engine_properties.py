"""Invariants of the sandbox's account (sans-I/O): money and units are conserved exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.exchange.oanda_sandbox.closes import close_trade
from genesis.exchange.oanda_sandbox.engine import Engine
from genesis.exchange.oanda_sandbox.market import GBP_USD, QuoteReplay, load_quotes

_QUOTES = load_quotes()
_STEPS = st.lists(
    st.tuples(st.integers(-5000, 5000).filter(bool), st.integers(0, 3), st.booleans()),
    min_size=1,
    max_size=25,
)


def _engine() -> Engine:
    return Engine(GBP_USD, QuoteReplay(_QUOTES), Decimal(100_000), lambda tx: None)


def _market(units: int) -> dict[str, Any]:
    return {"order": {"type": "MARKET", "instrument": "GBP_USD", "units": str(units)}}


@settings(max_examples=60, deadline=None)
@given(_STEPS)
def test_balance_units_and_ids_are_conserved(steps: list[tuple[int, int, bool]]) -> None:
    """After any run of market orders, partial closes and replay steps: the balance is the
    opening balance plus every fill's P/L, open units are the sum of filled units, and
    transaction ids run 1..n without a gap."""
    engine = _engine()
    filled = Decimal(0)
    for units, minutes, close_half in steps:
        status, out = engine.create_order(_market(units))
        assert status == 201
        filled += Decimal(out["orderFillTransaction"]["units"])
        if close_half and engine.account.open_trades():
            trade = engine.account.open_trades()[0]
            half = max(1, int(abs(trade.current_units)) // 2)
            status, out = close_trade(engine, trade.id, {"units": str(half)})
            assert status == 200
            filled += Decimal(out["orderFillTransaction"]["units"])
        engine.advance(minutes)
    acct = engine.account
    fills = [tx for tx in acct.transactions if tx["type"] == "ORDER_FILL"]
    assert acct.balance == Decimal(100_000) + sum(Decimal(tx["pl"]) for tx in fills)
    assert acct.balance == Decimal(100_000) + sum(t.realized_pl for t in acct.trades.values())
    assert sum(t.current_units for t in acct.open_trades()) == filled
    assert [tx["id"] for tx in acct.transactions] == [
        str(i) for i in range(1, len(acct.transactions) + 1)
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["GBP_USD", "MARKET", "LIMIT", "STOP", "GTD", "FOK", "1.57", "-1", "NaN", "1e9"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(["type", "instrument", "units", "price", "timeInForce", "gtdTime",
                         "priceBound", "positionFill", "clientExtensions", "takeProfitOnFill",
                         "stopLossOnFill", "trailingStopLossOnFill", "distance", "id"]),
        children,
        max_size=6,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.one_of(_JSON, st.builds(lambda o: {"order": o}, _JSON)))
def test_any_order_body_is_answered_and_a_refusal_changes_nothing(body: object) -> None:
    """Arbitrary JSON never raises: 201, or 400 with a reject transaction and no new
    order, trade or balance change."""
    engine = _engine()
    status, out = engine.create_order(body)
    assert status in (201, 400)
    if status == 400:
        assert out["orderRejectTransaction"]["type"].endswith("_ORDER_REJECT")
        assert out["errorCode"] == out["orderRejectTransaction"]["rejectReason"]
        assert engine.orders == {}
        assert engine.account.trades == {}
        assert engine.account.balance == Decimal(100_000)
