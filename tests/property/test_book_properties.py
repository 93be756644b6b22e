"""OrderBook and BookSync invariants under random diff sequences (hypothesis).

Prices and sizes are drawn from the real NKNUSDT depth snapshot of the
bundled spot capture: bids from its bid prices, asks from its ask prices (so
a book is never crossed), sizes from its level quantities or 0 (a delete).
Update ids start at that snapshot's real ``lastUpdateId``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, PriceLevels
from genesis.data.book import BookSync, OrderBook, SyncOutcome
from genesis.resources import SPOT_CAPTURE

D = Decimal
SETTINGS = settings(max_examples=200, deadline=None, database=None)
SYMBOL = "NKNUSDT"


def _nkn_snapshot() -> tuple[int, list[Decimal], list[Decimal], list[Decimal]]:
    with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["kind"] == "rest" and SYMBOL in record["path"]:
                data = record["data"]
                bids, asks = data["bids"][:60], data["asks"][:60]
                sizes = sorted({D(q) for _, q in bids + asks})
                return data["lastUpdateId"], [D(p) for p, _ in bids], [D(p) for p, _ in asks], sizes
    raise AssertionError("no NKNUSDT depth snapshot in the bundled capture")


FIRST_ID, BID_PRICES, ASK_PRICES, SIZES = _nkn_snapshot()
Model = dict[Side, dict[Decimal, Decimal]]


def _levels(prices: list[Decimal]) -> st.SearchStrategy[PriceLevels]:
    size = st.one_of(st.just(D("0E-8")), st.sampled_from(SIZES))
    return st.lists(st.tuples(st.sampled_from(prices), size), max_size=6).map(tuple)


@dataclass(frozen=True)
class Scenario:
    """A snapshot-consistent story: initial book, diffs with ids, arrival order."""

    initial: Model
    changes: list[tuple[PriceLevels, PriceLevels]]
    ids: list[tuple[int, int, int]]  # (U, u, pu) per diff; pu -1 on spot
    futures: bool


@st.composite
def scenarios(draw: st.DrawFn, min_diffs: int = 1) -> Scenario:
    futures = draw(st.booleans())
    changes = draw(
        st.lists(
            st.tuples(_levels(BID_PRICES), _levels(ASK_PRICES)), min_size=min_diffs, max_size=12
        )
    )
    ids, last = [], FIRST_ID
    for _ in changes:
        skipped = draw(st.integers(0, 40)) if futures else 0  # futures ids jump between events
        first = last + 1 + skipped
        final = first + draw(st.integers(0, 5))
        ids.append((first, final, last if futures else -1))
        last = final
    initial = {
        Side.BUY: dict(draw(_levels(BID_PRICES))),
        Side.SELL: dict(draw(_levels(ASK_PRICES))),
    }
    initial = {side: {p: q for p, q in book.items() if q} for side, book in initial.items()}
    return Scenario(initial=initial, changes=changes, ids=ids, futures=futures)


def _apply(model: Model, bids: PriceLevels, asks: PriceLevels) -> Model:
    result = {side: dict(book) for side, book in model.items()}
    for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
        for price, qty in levels:
            if qty:
                result[side][price] = qty
            else:
                result[side].pop(price, None)
    return result


def _state_after(s: Scenario, k: int) -> Model:
    model = s.initial
    for bids, asks in s.changes[:k]:
        model = _apply(model, bids, asks)
    return model


def _snapshot(model: Model, last_id: int) -> BookSnapshot:
    return BookSnapshot(
        instrument_id=SYMBOL,
        ts_event=0,
        ts_init=0,
        last_update_id=last_id,
        bids=tuple(sorted(model[Side.BUY].items(), reverse=True)),
        asks=tuple(sorted(model[Side.SELL].items())),
    )


def _delta(s: Scenario, index: int) -> BookDelta:
    (bids, asks), (first, last, prev) = s.changes[index], s.ids[index]
    return BookDelta(
        instrument_id=SYMBOL,
        ts_event=0,
        ts_init=0,
        first_update_id=first,
        last_update_id=last,
        prev_update_id=prev,
        bids=bids,
        asks=asks,
    )


def _book_levels(book: OrderBook) -> tuple[list[tuple[Decimal, Decimal]], ...]:
    return book.levels(Side.BUY), book.levels(Side.SELL)


def _model_levels(model: Model) -> tuple[list[tuple[Decimal, Decimal]], ...]:
    return sorted(model[Side.BUY].items(), reverse=True), sorted(model[Side.SELL].items())


# --- (a) OrderBook equals a plain dict model -------------------------------------------


@SETTINGS
@given(
    st.lists(
        st.tuples(_levels(BID_PRICES + ASK_PRICES), _levels(BID_PRICES + ASK_PRICES)), max_size=30
    )
)
def test_order_book_matches_a_dict_model(diffs: list[tuple[PriceLevels, PriceLevels]]) -> None:
    """Any diff sequence leaves the book equal to a dict model, with consistent best prices."""
    book = OrderBook(SYMBOL)
    model: Model = {Side.BUY: {}, Side.SELL: {}}

    for bids, asks in diffs:
        book.apply_delta(bids, asks)
        model = _apply(model, bids, asks)

    want_bids, want_asks = _model_levels(model)
    assert _book_levels(book) == (want_bids, want_asks)
    assert (book.best_bid(), book.best_ask()) == (
        want_bids[0] if want_bids else None,
        want_asks[0] if want_asks else None,
    )


# --- (b) snapshot + contiguous diffs equals a later snapshot ---------------------------


@SETTINGS
@given(scenarios(), st.data())
def test_snapshot_plus_diffs_equals_the_final_snapshot(s: Scenario, data: st.DataObject) -> None:
    """Whatever arrives before the snapshot, the synced book equals the final state."""
    n = len(s.changes)
    k = data.draw(st.integers(0, n - 1), label="snapshot after diff k")
    arrived_before = data.draw(st.integers(0, n), label="diffs arriving before the snapshot")
    # The snapshot may sit inside diff k+1's id range, holding part of its changes.
    first, last, _ = s.ids[k]
    inside = data.draw(st.integers(first - 1, last - 1), label="snapshot id")
    partial = data.draw(st.integers(0, len(s.changes[k][0])), label="diff k+1 bid levels in it")
    state = _state_after(s, k)
    if inside >= first:
        state = _apply(state, s.changes[k][0][:partial], ())
    snapshot = _snapshot(state, inside)
    sync = BookSync(SYMBOL)
    deltas = [_delta(s, i) for i in range(n)]
    events: list[BookSnapshot | BookDelta] = [
        *deltas[:arrived_before],
        snapshot,
        *deltas[arrived_before:],
    ]

    for event in events:
        sync.apply(event)

    stats = sync.statistics()
    assert (stats.gaps, stats.valid, stats.applied, stats.stale_dropped) == (0, True, n - k, k)
    assert _book_levels(sync.book) == _model_levels(_state_after(s, n))


# --- (c) a missing diff is always a gap -------------------------------------------------


@SETTINGS
@given(scenarios(min_diffs=2), st.data())
def test_dropping_any_diff_is_a_gap(s: Scenario, data: st.DataObject) -> None:
    """Removing one diff the snapshot needs (not the last) is reported as a gap; book invalid."""
    n = len(s.changes)
    lost = data.draw(st.integers(0, n - 2), label="lost diff")
    arrived_before = data.draw(st.integers(0, n), label="diffs arriving before the snapshot")
    deltas = [_delta(s, i) for i in range(n) if i != lost]
    sync = BookSync(SYMBOL)
    snapshot = _snapshot(s.initial, FIRST_ID)
    events: list[BookSnapshot | BookDelta] = [
        *deltas[:arrived_before],
        snapshot,
        *deltas[arrived_before:],
    ]

    outcomes = [sync.apply(event) for event in events]

    assert SyncOutcome.GAP in outcomes
    assert (sync.statistics().gaps, sync.valid) == (1, False)


# --- (d) a refused diff never changes the book -------------------------------------------


@SETTINGS
@given(scenarios(), st.data())
def test_refused_diffs_never_change_the_book(s: Scenario, data: st.DataObject) -> None:
    """Offered in any order, every diff that is not APPLIED leaves the levels untouched."""
    order = data.draw(st.permutations(range(len(s.changes))), label="arrival order")
    sync = BookSync(SYMBOL)
    sync.apply(_snapshot(s.initial, FIRST_ID))
    unchanged = []

    for index in order:
        before = _book_levels(sync.book)
        outcome = sync.apply(_delta(s, index))
        if outcome is not SyncOutcome.APPLIED:
            unchanged.append(_book_levels(sync.book) == before)

    assert all(unchanged)


# --- (e) a deep book: the sorted window near the touch and the levels beyond it --------


def _btc_snapshot() -> BookSnapshot:
    """The real REST snapshot of the bundled BTCUSDT streams: 1,000 levels a side."""
    from genesis.data.sources import open_events
    from genesis.resources import BTCUSDT_STREAMS

    for event in open_events(BTCUSDT_STREAMS, "BTCUSDT"):
        if isinstance(event, BookSnapshot):
            return event
    raise AssertionError("no snapshot in the bundled BTCUSDT streams")


BTC_SNAPSHOT = _btc_snapshot()
BTC_BIDS = [p for p, _ in BTC_SNAPSHOT.bids]  # best first
BTC_ASKS = [p for p, _ in BTC_SNAPSHOT.asks]
BTC_SIZES = sorted({q for _, q in BTC_SNAPSHOT.bids[:50]})


def _deep_levels(prices: list[Decimal]) -> st.SearchStrategy[PriceLevels]:
    """Up to 60 changes a diff, from the touch to 400 levels deep (the recording's diffs
    touch levels a median of 50 to 90 away), a third of them deletes."""
    index = st.one_of(st.integers(0, 20), st.integers(0, 399))
    size = st.one_of(st.just(D(0)), st.sampled_from(BTC_SIZES), st.sampled_from(BTC_SIZES))
    return st.lists(st.tuples(index.map(prices.__getitem__), size), max_size=60).map(tuple)


@SETTINGS
@given(
    st.lists(st.tuples(_deep_levels(BTC_BIDS), _deep_levels(BTC_ASKS)), max_size=40),
    st.booleans(),
)
def test_a_deep_book_answers_every_query_as_a_dict_model(
    diffs: list[tuple[PriceLevels, PriceLevels]], deep: bool
) -> None:
    """From the real 1,000-level snapshot, after every diff: best prices, the best n levels,
    a lazy walk, imbalance and VWAP equal the model's. ``deep``: every query also reads
    past the window (the side then keeps every level sorted); else they stay near the
    touch while the window trims and refills, and only the final check reads it all."""
    book = OrderBook("BTCUSDT")
    book.apply_snapshot(BTC_SNAPSHOT.bids, BTC_SNAPSHOT.asks)
    model: Model = {Side.BUY: dict(BTC_SNAPSHOT.bids), Side.SELL: dict(BTC_SNAPSHOT.asks)}
    depths = (1, 16, 64, 129, 700) if deep else (1, 5, 16)

    for bids, asks in diffs:
        book.apply_delta(bids, asks)
        model = _apply(model, bids, asks)
        want_bids, want_asks = _model_levels(model)
        assert (book.best_bid(), book.best_ask()) == (want_bids[0], want_asks[0])
        for n in depths:
            assert book.levels(Side.BUY, n) == want_bids[:n]
            assert book.levels(Side.SELL, n) == want_asks[:n]
        walked = 300 if deep else 16
        assert list(islice(book.walk(Side.SELL), walked)) == want_asks[:walked]
        assert book.imbalance(levels=5) == _imbalance(want_bids[:5], want_asks[:5])
    if not deep:  # the queries above stayed inside a window (it was not the whole book)
        assert book._bid_edge is not None
        assert book._ask_edge is not None

    assert _book_levels(book) == _model_levels(model)
    assert book.vwap_to_size(Side.BUY, D(5)) == _vwap(_model_levels(model)[1], D(5))
    for bids, asks in diffs[:5]:  # a side read past its window stays exact as it changes
        book.apply_delta(bids, asks)
        model = _apply(model, bids, asks)
    assert _book_levels(book) == _model_levels(model)


def _imbalance(bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> float:
    bid_qty, ask_qty = sum(q for _, q in bids), sum(q for _, q in asks)
    return float((bid_qty - ask_qty) / (bid_qty + ask_qty))


def _vwap(levels: list[tuple[Decimal, Decimal]], qty: Decimal) -> Decimal | None:
    remaining, cost = qty, D(0)
    for price, available in levels:
        take = min(available, remaining)
        cost, remaining = cost + price * take, remaining - take
        if not remaining:
            return cost / qty
    return None


def test_emptying_the_top_of_a_deep_book_refills_from_beyond_the_window() -> None:
    """Deleting the best 500 bids one at a time, the best bid is always the next real level;
    then re-adding them above the rest keeps the book equal to the snapshot."""
    book = OrderBook("BTCUSDT")
    book.apply_snapshot(BTC_SNAPSHOT.bids, BTC_SNAPSHOT.asks)

    for i, (price, _) in enumerate(BTC_SNAPSHOT.bids[:500]):
        book.update(Side.BUY, price, D(0))
        assert book.best_bid() == BTC_SNAPSHOT.bids[i + 1]
    for price, qty in reversed(BTC_SNAPSHOT.bids[:500]):
        book.update(Side.BUY, price, qty)

    assert book.levels(Side.BUY) == list(BTC_SNAPSHOT.bids)
    assert book.levels(Side.BUY, 3) == list(BTC_SNAPSHOT.bids[:3])


def test_a_level_at_the_window_edge_comes_back_inside_it() -> None:
    """Every one of the best 200 bids and asks deleted and set again, one at a time: the
    book equals the snapshot after each (the level at a window's edge belongs to it)."""
    book = OrderBook("BTCUSDT")
    book.apply_snapshot(BTC_SNAPSHOT.bids, BTC_SNAPSHOT.asks)

    for side, levels in ((Side.BUY, BTC_SNAPSHOT.bids), (Side.SELL, BTC_SNAPSHOT.asks)):
        for price, qty in levels[:200]:
            book.update(side, price, D(0))
            book.update(side, price, qty)
            assert book.levels(side, 200) == list(levels[:200])
