"""FX accounting invariants under arbitrary fills and rollovers (hypothesis).

Prices are the real closing bids and asks of the bundled FXCM GBPUSD month. For a USD
account (the quote currency) the ledger's NAV must equal the kernel portfolio's equity
after every event, financing included, and its balance the sum of its journal.
"""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from itertools import islice
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderFilled
from genesis.core.fx import fx_pair
from genesis.portfolio import Portfolio
from genesis.portfolio.financing import next_rollover_ns
from genesis.portfolio.fxledger import FxLedger

D = Decimal
DATA = Path(__file__).resolve().parents[1] / "data"
T0 = 1_328_054_460_000_000_000  # 2012-02-01 00:01 UTC


def _closes(name: str) -> list[Decimal]:
    with gzip.open(DATA / name, "rt", encoding="ascii") as fh:
        return [D(r["close"]) for r in islice(csv.DictReader(fh), 3000)]


QUOTES = [
    (b, a)
    for b, a in zip(
        _closes("gbpusd-1m-2012-02-bid.csv.gz"),
        _closes("gbpusd-1m-2012-02-ask.csv.gz"),
        strict=True,
    )
    if a >= b
]
PAIR = fx_pair("GBPUSD").with_rates(long_rate=D("-0.025"), short_rate=D("0.004"))

step = st.tuples(
    st.sampled_from(["fill", "rollover"]),
    st.integers(0, len(QUOTES) - 1),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 250_000),
)


def _fill(n: int, side: Side, units: int, price: Decimal) -> OrderFilled:
    return OrderFilled(
        ts_event=T0 + n, ts_init=T0 + n, instrument_id="GBPUSD", client_order_id=f"c{n}",
        strategy_id="s1", venue="SIM", trade_id=f"t{n}", side=side, last_qty=D(units),
        last_px=price, fee=D(0), fee_currency="USD", liquidity=LiquiditySide.TAKER,
        venue_order_id=f"v{n}",
    )  # fmt: skip


@settings(max_examples=120, deadline=None, database=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_nav_equals_kernel_equity_and_the_journal_after_every_event(
    steps: list[tuple[str, int, Side, int]],
) -> None:
    cash = D(1_000_000)
    ledger = FxLedger(PAIR, "GBPUSD", "USD", cash)
    portfolio = Portfolio(
        {"GBPUSD": PAIR.instrument()}, balances={"USD": cash}, base_currency="USD"
    )
    rollover = next_rollover_ns(T0)
    for n, (kind, index, side, units) in enumerate(steps):
        bid, ask = QUOTES[index]
        mid = (bid + ask) / 2
        if kind == "fill":
            price = ask if side is Side.BUY else bid
            ledger.fill(T0 + n, side, D(units), price)
            portfolio.apply_fill(_fill(n, side, units, price))
        else:
            entry = ledger.rollover(rollover, mid)
            if entry is not None:
                portfolio.book_financing("USD", entry.amount)
                assert entry.amount * entry.units <= 0  # a long pays, a short receives
            rollover = next_rollover_ns(rollover)
        portfolio.mark("GBPUSD", mid)
        assert ledger.nav(mid) == portfolio.equity()
        assert ledger.units == portfolio.position_qty("GBPUSD")
        assert ledger.balance == cash + ledger.realized - ledger.fees + ledger.financing
        assert ledger.financing == sum((e.amount for e in ledger.entries), D(0))
        assert portfolio.financing_by_currency().get("USD", D(0)) == ledger.financing
