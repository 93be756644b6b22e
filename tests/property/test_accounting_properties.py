"""Accounting invariants under shuffled, duplicated and arbitrary fills (hypothesis).

Prices are drawn from real data only: BTCUSDT closes of the bundled 1-minute
perpetual bars and NKNUSDT levels of the bundled Binance spot depth snapshot.
Quantities are whole multiples of each instrument's real step size.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Sequence
from decimal import Decimal
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import AccountingMethod, LiquiditySide, Side
from genesis.core.events import OrderFilled
from genesis.core.instruments import load_exchange_info
from genesis.portfolio import Portfolio
from genesis.resources import BTCUSDT_1M_BARS, EXCHANGE_INFO, SPOT_CAPTURE

D = Decimal
T0 = 1_640_991_660_000_000_000  # 2021-12-31 23:01:00 UTC, ns
INSTRUMENTS = load_exchange_info(EXCHANGE_INFO)
START = {"USDT": D("1000000"), "BNB": D("10")}
FEE_RATES = (D("0"), D("0.0001"), D("0.0004"), D("0.001"))
SETTINGS = settings(max_examples=150, deadline=None, database=None)


def _btc_closes(rows: int) -> list[Decimal]:
    with gzip.open(BTCUSDT_1M_BARS, "rt", encoding="ascii") as fh:
        return [D(row["close"]) for row in islice(csv.DictReader(fh), rows)]


def _nkn_depth_prices() -> list[Decimal]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["kind"] == "rest" and "NKNUSDT" in record["path"]:
                levels = record["data"]["bids"][:40] + record["data"]["asks"][:40]
                return [D(price) for price, _ in levels]
    raise AssertionError("no NKNUSDT depth snapshot in the bundled capture")


PRICES = {"BTCUSDT": _btc_closes(2000), "NKNUSDT": _nkn_depth_prices()}
MAX_STEPS = {"BTCUSDT": 200_000, "NKNUSDT": 50_000}  # up to 2 BTC, 50,000 NKN
METHODS = list(AccountingMethod)


def steps(max_steps: int) -> st.SearchStrategy[int]:
    """Any size, or one of a few round sizes so that fills often close lots exactly."""
    round_sizes = [max_steps // 200, max_steps // 100, max_steps // 40]
    return st.one_of(st.sampled_from(round_sizes), st.integers(1, max_steps))


@st.composite
def fills_for(
    draw: st.DrawFn,
    instrument_id: str,
    strategy_id: str = "s1",
    *,
    quote_fees_only: bool = False,
    max_size: int = 12,
) -> list[OrderFilled]:
    """A sequence of fills of one (strategy, instrument) book, fees in 0 to 0.1 %."""
    instrument = INSTRUMENTS.get(instrument_id)
    currencies = (
        [instrument.quote] if quote_fees_only else [instrument.quote, instrument.base, "BNB"]
    )
    fills = []
    for n in range(draw(st.integers(1, max_size))):
        qty = instrument.step_size * draw(steps(MAX_STEPS[instrument_id]))
        px = draw(st.sampled_from(PRICES[instrument_id]))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        rate = draw(st.sampled_from(FEE_RATES))
        currency = draw(st.sampled_from(currencies))
        fee = qty * px * rate if currency == instrument.quote else qty * rate
        fills.append(_fill(strategy_id, instrument_id, n, side, qty, px, fee, currency))
    return fills


def _fill(
    strategy_id: str,
    instrument_id: str,
    n: int,
    side: Side,
    qty: Decimal,
    px: Decimal,
    fee: Decimal,
    fee_currency: str,
) -> OrderFilled:
    ts = T0 + n * 60_000_000_000
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        client_order_id=f"{strategy_id}-{n}",
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        venue="BINANCE",
        trade_id=f"{strategy_id}-{n}",
        side=side,
        last_qty=qty,
        last_px=px,
        fee=fee,
        fee_currency=fee_currency,
        liquidity=LiquiditySide.TAKER,
    )


def _run(
    fills: Sequence[OrderFilled], method: AccountingMethod = AccountingMethod.FIFO
) -> Portfolio:
    portfolio = Portfolio(INSTRUMENTS.get, method=method, balances=START)
    for fill in fills:
        portfolio.apply_fill(fill)
    for instrument_id, prices in PRICES.items():
        portfolio.mark(instrument_id, prices[-1])
    return portfolio


def _state(pf: Portfolio, books: Sequence[tuple[str, str]]) -> tuple[object, ...]:
    per_book = [
        (pf.position(iid, sid), pf.closed_lots(strategy_id=sid, instrument_id=iid))
        for sid, iid in books
    ]
    return (pf.balances(), pf.positions(), pf.fees_by_currency(), per_book)


BOOKS = [(sid, iid) for sid in ("alpha", "beta") for iid in ("BTCUSDT", "NKNUSDT")]


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[OrderFilled], list[OrderFilled]]:
    """Fills of four books, once book after book and once interleaved in any order."""
    per_book = [draw(fills_for(iid, sid, max_size=8)) for sid, iid in BOOKS]
    labels = [k for k, fills in enumerate(per_book) for _ in fills]
    order = draw(st.permutations(labels))
    cursors = [iter(fills) for fills in per_book]
    return [f for fills in per_book for f in fills], [next(cursors[k]) for k in order]


@SETTINGS
@given(streams=interleavings(), method=st.sampled_from(METHODS))
def test_interleaving_independent_books_changes_nothing(
    streams: tuple[list[OrderFilled], list[OrderFilled]], method: AccountingMethod
) -> None:
    """Any interleaving of per-book fill sequences gives the same balances, positions and lots."""
    sequential, interleaved = streams

    a, b = _run(sequential, method), _run(interleaved, method)

    assert _state(a, BOOKS) == _state(b, BOOKS)


@st.composite
def with_duplicates(draw: st.DrawFn) -> tuple[list[OrderFilled], list[OrderFilled]]:
    """Fills of one book, and the same stream with replays inserted after their originals."""
    fills = draw(fills_for(draw(st.sampled_from(list(PRICES)))))
    stream = list(fills)
    for _ in range(draw(st.integers(1, 2 * len(fills)))):
        original = draw(st.sampled_from(fills))
        first = stream.index(original)
        stream.insert(draw(st.integers(first + 1, len(stream))), original)
    return fills, stream


@SETTINGS
@given(streams=with_duplicates(), method=st.sampled_from(METHODS))
def test_replayed_fills_change_nothing(
    streams: tuple[list[OrderFilled], list[OrderFilled]], method: AccountingMethod
) -> None:
    """Replaying fills (same trade ids) anywhere later in the stream is a no-op returning None."""
    fills, stream = streams
    pf = Portfolio(INSTRUMENTS.get, method=method, balances=START)

    results = [pf.apply_fill(fill) for fill in stream]
    for instrument_id, prices in PRICES.items():
        pf.mark(instrument_id, prices[-1])

    assert sum(r is None for r in results) == len(stream) - len(fills)
    books = sorted({(f.strategy_id, f.instrument_id) for f in fills})
    assert _state(pf, books) == _state(_run(fills, method), books)


@SETTINGS
@given(
    instrument_id=st.sampled_from(list(PRICES)),
    method=st.sampled_from(METHODS),
    data=st.data(),
)
def test_pnl_conserves_equity_exactly_with_quote_fees(
    instrument_id: str, method: AccountingMethod, data: st.DataObject
) -> None:
    """Net realised + unrealised - open entry fees equals the equity change, to the last digit."""
    fills = data.draw(fills_for(instrument_id, quote_fees_only=True, max_size=20))
    mark = data.draw(st.sampled_from(PRICES[instrument_id]))
    pf = Portfolio(INSTRUMENTS.get, method=method, balances={"USDT": D("1000000")})

    for fill in fills:
        pf.apply_fill(fill)
    pf.mark(instrument_id, mark)

    book = pf.book(instrument_id, "s1")
    assert book is not None
    net = sum((lot.net_pnl for lot in pf.closed_lots()), D(0))
    assert net + book.unrealized_pnl(mark) - book.open_fees == pf.equity() - D("1000000")
    assert sum((lot.fees for lot in pf.closed_lots()), D(0)) + book.open_fees == book.fees_paid


@st.composite
def flat_round_trips(draw: st.DrawFn) -> list[OrderFilled]:
    """A fill sequence plus one last fill that brings the position back to flat."""
    instrument_id = draw(st.sampled_from(list(PRICES)))
    fills = draw(fills_for(instrument_id, quote_fees_only=True, max_size=15))
    position = sum((f.last_qty if f.side is Side.BUY else -f.last_qty for f in fills), D(0))
    if position:
        px = draw(st.sampled_from(PRICES[instrument_id]))
        side = Side.SELL if position > 0 else Side.BUY
        qty = abs(position)
        fills.append(
            _fill("s1", instrument_id, len(fills), side, qty, px, qty * px * D("0.0004"), "USDT")
        )
    return fills


@SETTINGS
@given(fills=flat_round_trips())
def test_methods_agree_on_total_pnl_once_flat(fills: list[OrderFilled]) -> None:
    """FIFO, LIFO and AVERAGE realise the same gross and net P&L once the position is flat."""
    instrument_id = fills[0].instrument_id

    results = []
    for method in METHODS:
        pf = _run(fills, method)
        lots = pf.closed_lots()
        results.append(
            (
                pf.position(instrument_id).qty,
                sum((lot.gross_pnl for lot in lots), D(0)),
                sum((lot.net_pnl for lot in lots), D(0)),
            )
        )

    assert results[0][0] == 0
    assert results[0] == results[1] == results[2]


@SETTINGS
@given(
    fills=fills_for("BTCUSDT", quote_fees_only=True),
    marks=st.lists(st.sampled_from(PRICES["BTCUSDT"]), min_size=1, max_size=30),
    offset=st.decimals(min_value=D(-5000), max_value=D(5000), places=6),
    cash_only=st.booleans(),
)
def test_equity_above_agrees_with_equity(
    fills: list[OrderFilled], marks: list[Decimal], offset: Decimal, cash_only: bool
) -> None:
    """equity_above(floor) is equity() > floor at every mark, while one floor is kept
    (the guard price it remembers) and across the fills that move the balances."""
    start = {"USDT": START["USDT"]} if cash_only else START
    portfolio = Portfolio(INSTRUMENTS.get, balances=start)
    portfolio.mark("BTCUSDT", marks[0])
    floor = portfolio.equity() + offset  # one object, as the kernel keeps its quiet floor
    for n, mark in enumerate(marks):
        if n < len(fills):
            portfolio.apply_fill(fills[n])
        portfolio.mark("BTCUSDT", mark)
        above = portfolio.equity_above(floor)
        assert above == (portfolio.equity() > floor)
