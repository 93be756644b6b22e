"""OrderBook queries and BookSync on real Binance books (the bundled captures)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, MarketEvent
from genesis.data.book import BookSync, OrderBook, SharedBooks, SyncOutcome
from genesis.data.capture import read_binance_streams, read_futures_depth_csv, read_spot_capture
from genesis.errors import DataError
from genesis.resources import SPOT_CAPTURE

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
STREAMS = DATA / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
FUTURES_SNAPSHOT = DATA / "binance-futures-btcusdt-depth-snapshot.csv.gz"
FUTURES_UPDATES = DATA / "binance-futures-btcusdt-depth-updates.csv.gz"

# The five best levels of the NKNUSDT REST snapshot in the spot capture (lastUpdateId 499869752).
NKN_BIDS = (
    (D("0.35210000"), D("672.00000000")),
    (D("0.35200000"), D("1144.00000000")),
    (D("0.35190000"), D("3260.00000000")),
    (D("0.35180000"), D("3052.00000000")),
    (D("0.35160000"), D("15356.00000000")),
)
NKN_ASKS = (
    (D("0.35250000"), D("3959.00000000")),
    (D("0.35260000"), D("3199.00000000")),
    (D("0.35270000"), D("4201.00000000")),
    (D("0.35280000"), D("703.00000000")),
    (D("0.35290000"), D("6718.00000000")),
)

BookEvent = BookSnapshot | BookDelta


def _nkn_book() -> OrderBook:
    book = OrderBook("NKNUSDT")
    book.apply_snapshot(NKN_BIDS, NKN_ASKS)
    return book


def _book_events(events: Iterable[MarketEvent], symbol: str | None = None) -> list[BookEvent]:
    return [
        e
        for e in events
        if isinstance(e, BookSnapshot | BookDelta) and symbol in (None, e.instrument_id)
    ]


def _replay(events: Iterable[BookEvent]) -> dict[str, BookSync]:
    syncs: dict[str, BookSync] = {}
    for event in events:
        sync = syncs.setdefault(event.instrument_id, BookSync(event.instrument_id))
        sync.apply(event)
    return syncs


def _top(sync: BookSync) -> tuple[str, str, str, str]:
    bid, ask = sync.book.best_bid(), sync.book.best_ask()
    assert bid is not None
    assert ask is not None
    return str(bid[0]), str(bid[1]), str(ask[0]), str(ask[1])


def _snapshot_of(sync: BookSync) -> BookSnapshot:
    return BookSnapshot(
        instrument_id=sync.instrument_id,
        ts_event=0,
        ts_init=0,
        last_update_id=sync.last_update_id,
        bids=tuple(sync.book.levels(Side.BUY)),
        asks=tuple(sync.book.levels(Side.SELL)),
    )


@pytest.fixture(scope="module")
def capture_events() -> list[BookEvent]:
    return _book_events(read_spot_capture(SPOT_CAPTURE))


@pytest.fixture(scope="module")
def nkn_events(capture_events: list[BookEvent]) -> list[BookEvent]:
    return [e for e in capture_events if e.instrument_id == "NKNUSDT"]


@pytest.fixture(scope="module")
def streams_events() -> list[BookEvent]:
    return _book_events(read_binance_streams(STREAMS))


# --- OrderBook queries -----------------------------------------------------------


def test_best_bid_and_ask_are_the_top_levels() -> None:
    """best_bid/best_ask return the highest bid and the lowest ask with their sizes."""
    book = _nkn_book()

    assert (book.best_bid(), book.best_ask()) == (NKN_BIDS[0], NKN_ASKS[0])


def test_empty_book_queries_return_none() -> None:
    """Every top-of-book query of an empty book is None and the book is not crossed."""
    book = OrderBook("NKNUSDT")

    results = (book.best_bid(), book.best_ask(), book.mid(), book.spread(), book.microprice())

    assert results == (None, None, None, None, None)
    assert (book.imbalance(), book.is_crossed()) == (None, False)


def test_mid_and_spread() -> None:
    """mid is the average of the touch prices and spread their difference."""
    book = _nkn_book()

    assert (book.mid(), book.spread()) == (D("0.3523"), D("0.0004"))


def test_microprice_leans_toward_the_thin_side() -> None:
    """microprice weights each touch price by the opposite side's size."""
    book = _nkn_book()

    # (0.3521 * 3959 + 0.3525 * 672) / (672 + 3959): the thin bid pulls it down.
    assert book.microprice() == D("0.3521580436190887497300798964")


def test_imbalance_over_one_and_five_levels() -> None:
    """imbalance is (bid qty - ask qty) / total over the requested depth."""
    book = _nkn_book()

    assert book.imbalance() == pytest.approx((672 - 3959) / 4631)
    assert book.imbalance(levels=5) == pytest.approx((23484 - 18780) / 42264)


def test_imbalance_is_one_when_only_bids() -> None:
    """A book with bids only has imbalance +1."""
    book = OrderBook("NKNUSDT")
    book.apply_snapshot(NKN_BIDS, ())

    assert book.imbalance(levels=3) == 1.0


def test_vwap_to_size_buy_walks_the_asks() -> None:
    """A 5,000 NKN buy takes all 3,959 at 0.3525 and 1,041 at 0.3526."""
    book = _nkn_book()

    assert book.vwap_to_size(Side.BUY, D("5000")) == D("0.35252082")


def test_vwap_to_size_sell_within_the_best_bid() -> None:
    """A sell no larger than the best bid fills entirely at the best bid."""
    book = _nkn_book()

    assert book.vwap_to_size(Side.SELL, D("672")) == D("0.3521")


def test_vwap_to_size_is_none_beyond_visible_depth() -> None:
    """One unit more than the 18,780 NKN visible on the asks cannot be priced."""
    book = _nkn_book()

    assert book.vwap_to_size(Side.BUY, D("18781")) is None


def test_levels_best_first_per_side() -> None:
    """levels returns bids descending and asks ascending, truncated to n."""
    book = _nkn_book()

    assert book.levels(Side.BUY, 2) == list(NKN_BIDS[:2])
    assert book.levels(Side.SELL) == list(NKN_ASKS)


def test_cumulative_depth_adds_sizes_from_the_touch() -> None:
    """cumulative_depth gives the size available at each price or better."""
    book = _nkn_book()

    assert book.cumulative_depth(Side.SELL, 3) == [
        (D("0.35250000"), D("3959")),
        (D("0.35260000"), D("7158")),
        (D("0.35270000"), D("11359")),
    ]


def test_depth_by_bucket_floors_bids() -> None:
    """Bids aggregate into buckets at the bucket's lower edge."""
    book = _nkn_book()

    result = book.depth_by_bucket(Side.BUY, D("0.001"))

    assert result == [(D("0.352"), D("1816")), (D("0.351"), D("21668"))]


def test_depth_by_bucket_ceils_asks_and_limits_count() -> None:
    """Asks aggregate at the bucket's upper edge; levels caps the number of buckets."""
    book = _nkn_book()

    assert book.depth_by_bucket(Side.SELL, D("0.0005")) == [
        (D("0.3525"), D("3959")),
        (D("0.3530"), D("14821")),
    ]
    assert book.depth_by_bucket(Side.SELL, D("0.0005"), levels=1) == [(D("0.3525"), D("3959"))]


def test_delta_zero_quantity_deletes_and_absent_delete_is_noop() -> None:
    """Deleting the best bid promotes the next level; deleting an absent level changes nothing."""
    book = _nkn_book()

    book.apply_delta(((D("0.35210000"), D("0")), (D("0.30000000"), D("0"))), ())

    assert book.best_bid() == NKN_BIDS[1]
    assert book.level_count(Side.BUY) == 4


def test_delta_inserts_and_replaces_levels() -> None:
    """A new price inside the spread becomes the touch; an existing price takes the new size."""
    book = _nkn_book()

    book.apply_delta(((D("0.35220000"), D("100")),), ((D("0.35250000"), D("1")),))

    assert (book.best_bid(), book.best_ask()) == (
        (D("0.35220000"), D("100")),
        (D("0.35250000"), D("1")),
    )


def test_is_crossed_when_bid_reaches_ask() -> None:
    """A bid at the best ask price crosses the book."""
    book = _nkn_book()

    book.update(Side.BUY, D("0.35250000"), D("1"))

    assert book.is_crossed()


def test_snapshot_replaces_everything() -> None:
    """A snapshot drops every earlier level and skips zero quantities."""
    book = _nkn_book()

    book.apply_snapshot(NKN_BIDS[2:], ((D("0.36"), D("0")), NKN_ASKS[4]))

    assert book.levels(Side.BUY) == list(NKN_BIDS[2:])
    assert book.levels(Side.SELL) == [NKN_ASKS[4]]


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda b: b.levels(Side.BUY, 0), "n"),
        (lambda b: b.imbalance(0), "levels"),
        (lambda b: b.depth_by_bucket(Side.BUY, D("0")), "bucket"),
        (lambda b: b.vwap_to_size(Side.BUY, D("-1")), "qty"),
    ],
)
def test_bad_query_arguments_raise(call: Callable[[OrderBook], object], name: str) -> None:
    """Non-positive counts, buckets and sizes raise ValueError naming the argument."""
    book = _nkn_book()

    with pytest.raises(ValueError, match=f"invalid `{name}`"):
        call(book)


# --- BookSync on the real captures -------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "applied", "stale", "last_id", "top"),
    [
        (
            "NKNUSDT",
            149,
            1,
            499870179,
            ("0.35270000", "9602.00000000", "0.35310000", "152.00000000"),
        ),
        ("BLZETH", 9, 1, 281916638, ("0.00006547", "100.00000000", "0.00006560", "1528.00000000")),
        (
            "LRCBTC",
            13,
            2,
            259345563,
            ("0.00000637", "2500.00000000", "0.00000638", "2285.00000000"),
        ),
        ("RUNEEUR", 1, 1, 15602513, ("6.25100000", "69.30000000", "6.26900000", "69.30000000")),
    ],
)
def test_spot_capture_replays_without_gaps(
    capture_events: list[BookEvent],
    symbol: str,
    applied: int,
    stale: int,
    last_id: int,
    top: tuple[str, str, str, str],
) -> None:
    """Every capture symbol syncs with zero gaps and ends on the pinned top of book."""
    syncs = _replay(capture_events)

    stats = syncs[symbol].statistics()

    assert (stats.applied, stats.gaps, stats.stale_dropped, stats.snapshots) == (
        applied,
        0,
        stale,
        1,
    )
    assert (stats.valid, stats.last_update_id, stats.buffered) == (True, last_id, 0)
    assert _top(syncs[symbol]) == top


def test_spot_capture_first_diff_is_buffered_then_dropped_by_the_snapshot(
    nkn_events: list[BookEvent],
) -> None:
    """The NKNUSDT diff ending at the snapshot id is buffered, then dropped as stale."""
    sync = BookSync("NKNUSDT")

    outcomes = [sync.apply(e) for e in nkn_events[:3]]

    assert outcomes == [SyncOutcome.BUFFERED, SyncOutcome.APPLIED, SyncOutcome.APPLIED]
    assert sync.statistics().stale_dropped == 1


def test_lrcbtc_late_diff_inside_the_snapshot_is_stale(capture_events: list[BookEvent]) -> None:
    """LRCBTC diff 259345540..259345543 arrives after snapshot 259345543: STALE, not a gap."""
    lrc = [e for e in capture_events if e.instrument_id == "LRCBTC"]
    sync = BookSync("LRCBTC")

    outcomes = [sync.apply(e) for e in lrc[:3]]

    assert outcomes == [SyncOutcome.BUFFERED, SyncOutcome.APPLIED, SyncOutcome.STALE]


def test_streams_file_replays_without_gaps(streams_events: list[BookEvent]) -> None:
    """The 2024 BTCUSDT recording: 3 diffs buffered before the snapshot, then 3,449 applied."""
    sync = _replay(streams_events)["BTCUSDT"]

    stats = sync.statistics()

    assert (stats.applied, stats.gaps, stats.stale_dropped, stats.valid) == (3449, 0, 2, True)
    assert stats.last_update_id == 50093421584
    assert _top(sync) == ("61685.99000000", "1.00870000", "61686.00000000", "2.29327000")


def _raw_book_tickers(lines: Iterator[str]) -> dict[tuple[str, int], tuple[Decimal, ...]]:
    tickers = {}
    for line in lines:
        if "bookTicker" in line:
            data = json.loads(line)["data"]
            tickers[data["s"], data["u"]] = tuple(D(data[k]) for k in "bBaA")
    return tickers


@pytest.mark.parametrize("source", ["capture", "streams"])
def test_rebuilt_book_matches_the_venues_book_ticker(
    source: str, capture_events: list[BookEvent], streams_events: list[BookEvent]
) -> None:
    """Whenever a bookTicker id equals the book's id, the rebuilt touch equals Binance's."""
    if source == "capture":
        with gzip.open(SPOT_CAPTURE, "rt", encoding="utf-8") as fh:
            tickers = _raw_book_tickers(json.dumps(json.loads(r)["data"]) for r in fh)
        events = capture_events
    else:
        with gzip.open(STREAMS, "rt", encoding="utf-8") as fh:
            tickers = _raw_book_tickers(line.partition(" ")[2] for line in fh)
        events = streams_events
    syncs: dict[str, BookSync] = {}
    matches = []

    for event in events:
        sync = syncs.setdefault(event.instrument_id, BookSync(event.instrument_id))
        sync.apply(event)
        key = (event.instrument_id, sync.last_update_id)
        if sync.valid and key in tickers:
            matches.append(tuple(D(x) for x in _top(sync)) == tickers[key])

    assert (len(matches), all(matches)) == ({"capture": 26, "streams": 564}[source], True)


def test_deleting_any_applied_diff_is_a_gap(nkn_events: list[BookEvent]) -> None:
    """Removing any one of NKNUSDT's applied diffs (but the last) is reported at the next diff."""
    diff_indices = range(
        2, len(nkn_events) - 1
    )  # [0] buffered diff, [1] snapshot; last: no successor
    detected = []

    for index in diff_indices:
        sync = BookSync("NKNUSDT")
        outcomes = [sync.apply(e) for i, e in enumerate(nkn_events) if i != index]
        stats = sync.statistics()
        detected.append(
            outcomes[index] is SyncOutcome.GAP
            and set(outcomes[index + 1 :]) <= {SyncOutcome.BUFFERED}
            and (stats.gaps, stats.valid) == (1, False)
        )

    assert (len(detected), all(detected)) == (148, True)


def test_a_later_snapshot_heals_a_gap(nkn_events: list[BookEvent]) -> None:
    """After a gap, a snapshot taken 40 diffs later resyncs and the book matches the full replay."""
    reference = BookSync("NKNUSDT")
    for event in nkn_events[:60]:
        reference.apply(event)
    later_snapshot = _snapshot_of(reference)
    for event in nkn_events[60:]:
        reference.apply(event)
    sync = BookSync("NKNUSDT")
    for event in nkn_events[:20] + nkn_events[21:70]:  # diff 20 lost
        sync.apply(event)

    healed = sync.apply(later_snapshot)
    for event in nkn_events[70:]:
        sync.apply(event)

    stats = sync.statistics()
    assert healed is SyncOutcome.APPLIED
    assert (stats.gaps, stats.resyncs, stats.valid, stats.snapshots) == (1, 1, True, 2)
    assert sync.book.levels(Side.BUY) == reference.book.levels(Side.BUY)
    assert sync.book.levels(Side.SELL) == reference.book.levels(Side.SELL)


def test_a_snapshot_older_than_the_buffer_is_a_gap(nkn_events: list[BookEvent]) -> None:
    """Diffs buffered from after a lost diff do not chain onto an older snapshot."""
    sync = BookSync("NKNUSDT")
    events = [nkn_events[0], *nkn_events[3:6]]  # diffs 499869753.. lost before the snapshot

    outcomes = [sync.apply(e) for e in events] + [sync.apply(nkn_events[1])]

    assert outcomes[-1] is SyncOutcome.GAP
    assert sync.statistics().buffered == 3


def test_buffer_overflow_drops_the_oldest(nkn_events: list[BookEvent]) -> None:
    """With room for one diff, the straddling diff is lost and the snapshot cannot sync."""
    sync = BookSync("NKNUSDT", max_buffered=1)
    events = [nkn_events[0], nkn_events[2], nkn_events[3], nkn_events[1]]

    outcomes = [sync.apply(e) for e in events]

    assert outcomes[-1] is SyncOutcome.GAP
    assert sync.statistics().buffered == 1


def test_older_snapshot_is_ignored_while_valid(nkn_events: list[BookEvent]) -> None:
    """A snapshot older than a valid book is STALE and changes nothing."""
    sync = _replay(nkn_events)["NKNUSDT"]
    before = sync.book.levels(Side.BUY)

    outcome = sync.apply(nkn_events[1])

    assert (outcome, sync.book.levels(Side.BUY), sync.valid) == (SyncOutcome.STALE, before, True)


def test_reset_invalidates_and_buffers(nkn_events: list[BookEvent]) -> None:
    """After reset (a reconnect) diffs are buffered until the next snapshot."""
    sync = _replay(nkn_events[:10])["NKNUSDT"]

    sync.reset()
    outcome = sync.apply(nkn_events[10])

    assert (outcome, sync.valid, sync.statistics().buffered) == (SyncOutcome.BUFFERED, False, 1)


def test_event_for_another_instrument_raises(nkn_events: list[BookEvent]) -> None:
    """A BLZETH sync refuses an NKNUSDT diff with DataError."""
    sync = BookSync("BLZETH")

    with pytest.raises(DataError, match="NKNUSDT"):
        sync.apply(nkn_events[0])


def test_crossing_diff_invalidates_the_book(nkn_events: list[BookEvent]) -> None:
    """A diff that puts a bid at the best ask leaves the book CROSSED and invalid."""
    sync = _replay(nkn_events[:3])["NKNUSDT"]
    ask = sync.book.best_ask()
    assert ask is not None
    crossing = BookDelta(
        instrument_id="NKNUSDT",
        ts_event=0,
        ts_init=0,
        first_update_id=sync.last_update_id + 1,
        last_update_id=sync.last_update_id + 1,
        bids=((ask[0], D("1")),),
    )

    outcome = sync.apply(crossing)

    assert (outcome, outcome.needs_snapshot, sync.valid) == (SyncOutcome.CROSSED, True, False)
    assert sync.statistics().crossed == 1


# --- futures (pu) ---------------------------------------------------------------------


def _futures_events() -> tuple[BookSnapshot, BookDelta]:
    snapshot, delta = [
        *read_futures_depth_csv(FUTURES_SNAPSHOT),
        *read_futures_depth_csv(FUTURES_UPDATES),
    ]
    assert isinstance(snapshot, BookSnapshot)
    assert isinstance(delta, BookDelta)
    return snapshot, delta


def test_futures_excerpt_does_not_chain_onto_its_snapshot() -> None:
    """The excerpt's diff (pu 2098041693400) is 620 s after its snapshot: a GAP, book invalid."""
    snapshot, delta = _futures_events()
    sync = BookSync("BTCUSDT")

    outcomes = (sync.apply(snapshot), sync.apply(delta))

    assert outcomes == (SyncOutcome.APPLIED, SyncOutcome.GAP)
    assert (sync.statistics().gaps, sync.valid) == (1, False)


def test_futures_diff_chains_by_pu() -> None:
    """With the snapshot re-stamped at the diff's pu, the diff applies although U != pu + 1."""
    snapshot, delta = _futures_events()
    sync = BookSync("BTCUSDT")
    rebased = msgspec.structs.replace(snapshot, last_update_id=delta.prev_update_id)

    resent = msgspec.structs.replace(delta)  # the same diff decoded again
    outcomes = (sync.apply(rebased), sync.apply(delta), sync.apply(resent))

    assert outcomes == (SyncOutcome.APPLIED, SyncOutcome.APPLIED, SyncOutcome.STALE)
    assert _top(sync) == ("20472.10", "22.276", "20472.20", "4.211")
    assert sync.last_update_id == 2098041696700


def test_shared_books_apply_each_event_once(nkn_events: list[BookEvent]) -> None:
    """Two readers of one ``SharedBooks`` (a venue and the kernel's view) each hand over every
    event: they hold the same book, equal to one fed once, and no event counts twice."""
    books = SharedBooks()
    venue_side, kernel_side = books("NKNUSDT"), books("NKNUSDT")
    alone = BookSync("NKNUSDT")
    for event in nkn_events:
        first = venue_side.apply(event)
        assert kernel_side.apply(event) is first is alone.apply(event)

    assert venue_side is kernel_side
    assert venue_side.book.levels(Side.BUY) == alone.book.levels(Side.BUY)
    assert venue_side.statistics() == alone.statistics()


def test_an_event_handed_again_after_a_reset_is_buffered(nkn_events: list[BookEvent]) -> None:
    """A reconnect (``reset``) forgets the last event: the same diff fed again is buffered for
    the next snapshot, not answered from memory."""
    sync = _replay(nkn_events[:10])["NKNUSDT"]
    last = nkn_events[9]

    sync.reset()

    assert sync.apply(last) is SyncOutcome.BUFFERED
    assert sync.statistics().buffered == 1
