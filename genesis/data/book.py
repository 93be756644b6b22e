"""L2 order book and the Binance snapshot+diff synchronisation state machine.

Theory of operation
===================

``OrderBook`` is a plain L2 book: for each side a ``dict`` price -> quantity
holding every level, plus a *window*: the prices nearest the touch kept
sorted ascending with ``bisect``. The bid window holds every bid at or above
its edge price, the ask window every ask at or below its edge (no edge: the
whole side). Best bid is the window's last price, best ask its first, so
both are O(1); an update of an existing level is one dict store; a level
appearing or vanishing inside the window costs a binary search and a short
memmove, and outside it nothing more than the dict store. Depth diffs touch
mostly levels far from the touch (a median of 50 to 90 levels away on the
BTCUSDT recording), which is why the window pays: a window of 16 to 128
levels (refilled from the dict when it runs short, trimmed when it grows)
made applying the recording's diffs 1.8x faster than one sorted list of
every level (``benchmarks/book.py``). A walk past the window (a taker order
through more than its depth, a full-depth query) sorts the levels beyond it
when it gets there, and from then on that side keeps every level sorted: a
reader that reads deep once reads deep again, and re-sorting a deep side on
every query would cost it far more than the window saves.
Prices and quantities are the venue's Decimals, never floats; only
``imbalance`` (an analytics figure) is a float.

``BookSync`` owns one ``OrderBook`` and replays Binance's "manage a local
order book" procedure (protocol reference §10) over events in *arrival*
order. It never does I/O: when it needs a snapshot it says so through the
returned ``SyncOutcome`` and the caller fetches one.

Update ids. A diff covers ids ``U..u``. Its predecessor id ``prev`` is the
venue's ``pu`` when present (USD-M futures, where ids are not contiguous
between events) and ``U - 1`` otherwise (spot, where they are). With that one
definition the rules become:

1. Before the first snapshot, and whenever the book is invalid, diffs are
   buffered (§10 step 1). The buffer is bounded; overflow drops the oldest,
   which a later snapshot then detects as "too old".
2. On a snapshot with ``lastUpdateId = L`` the book is replaced, buffered
   diffs with ``u <= L`` are dropped as stale (§10 step 4), and the rest are
   replayed through rule 3.
3. The first diff after a snapshot must satisfy ``prev <= L < u``; for spot
   that is exactly ``U <= L + 1 <= u`` (§10 step 5, the ``+1`` form the
   2021 recording confirms); for futures it accepts the event holding ``L``
   or the one right after it (``pu == L``). Every later diff must satisfy ``prev == u`` of
   the previous diff: ``U == u_prev + 1`` on spot, ``pu == u_prev`` on
   futures (§10 step 7, "normally each event's U equals the previous u+1";
   we treat any other value as a gap rather than patching).
4. A diff with ``u <= last_update_id`` is stale: counted and ignored, never a
   gap (a late duplicate or an event the snapshot already contains).
5. Anything else is a gap: the book is marked invalid, its levels stay frozen
   at the last good state (never patched, never partially updated), and the
   offending diff starts a new buffer, because a fresh snapshot may well
   fall inside it. A later snapshot heals the book through rule 2.
6. A book that is crossed after a diff (best bid >= best ask) is treated as a
   gap too (§10 notes). The crossing diff *has* been applied; the book is
   invalid until the next snapshot.
7. A snapshot older than the current valid state is ignored (STALE);
   ``reset()`` models a reconnect (§10 step 8): buffer cleared, book invalid.

Deleting an absent level is normal (§10 step 7). A zero quantity in a
snapshot is ignored. Binance shows at most 5,000 levels per side, so levels
beyond the snapshot appear only when they change: deep-book figures are
approximate, the top of book is exact.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Final

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot
from genesis.core.money import ROUND_CEILING, ROUND_FLOOR, quantize
from genesis.errors import DataError

__all__ = ["BookSync", "BookSyncStats", "Level", "OrderBook", "SharedBooks", "SyncOutcome"]

Level = tuple[Decimal, Decimal]
_ZERO: Final = Decimal(0)
DEFAULT_MAX_BUFFERED: Final = 10_000
_WINDOW: Final = 64  # the sorted levels nearest the touch after a refill or a trim
_WINDOW_MIN: Final = 16  # fewer, with levels beyond the edge: refill from the dict
_WINDOW_MAX: Final = 128  # more: trim the far end back to _WINDOW
_NO_CAP: Final = 1 << 62  # a side read past its window: every level stays sorted


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value < 1):
        raise ValueError(f"invalid `{name}` {value!r}; expected an int >= 1 or None")


def _check_positive(name: str, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(f"invalid `{name}` {value!r}; expected a finite Decimal > 0")


class OrderBook:
    """An L2 book of one instrument: price levels with exact Decimal quantities.

    Side arguments name the *book* side (``Side.BUY`` = bids, ``Side.SELL`` =
    asks), except ``vwap_to_size`` which takes the *order* side.
    """

    __slots__ = (
        "_ask_cap",
        "_ask_edge",
        "_ask_px",
        "_asks",
        "_bid_cap",
        "_bid_edge",
        "_bid_px",
        "_bids",
        "_mid",
        "instrument_id",
    )

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        self._bids: dict[Decimal, Decimal] = {}  # every level
        self._asks: dict[Decimal, Decimal] = {}
        # the windows, ascending: every bid >= _bid_edge (best last), every ask <=
        # _ask_edge (best first); an edge of None: the window is the whole side
        self._bid_px: list[Decimal] = []
        self._ask_px: list[Decimal] = []
        self._bid_edge: Decimal | None = None
        self._ask_edge: Decimal | None = None
        # a window longer than this is trimmed; once a query has read past a side's
        # window, that side keeps every level sorted (its reader reads deep: no re-sorts)
        self._bid_cap = self._ask_cap = _WINDOW_MAX
        # (best bid, best ask, their mid): mid() is read far more often than the top moves
        self._mid: tuple[Decimal | None, Decimal | None, Decimal] = (None, None, _ZERO)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.instrument_id}, bids={len(self._bids)}, asks={len(self._asks)}, "
            f"best_bid={self.best_bid()}, best_ask={self.best_ask()})"
        )

    # --- mutation -------------------------------------------------------------

    def clear(self) -> None:
        """Remove every level on both sides."""
        self._bids.clear()
        self._asks.clear()
        self._bid_px, self._bid_edge = [], None
        self._ask_px, self._ask_edge = [], None

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book; levels with quantity 0 are skipped."""
        self._bids = {price: qty for price, qty in bids if qty}
        self._asks = {price: qty for price, qty in asks if qty}
        self._bid_px, self._bid_edge = _window(self._bids, self._bid_cap, best_high=True)
        self._ask_px, self._ask_edge = _window(self._asks, self._ask_cap, best_high=False)

    def apply_delta(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each level's quantity; quantity 0 deletes (deleting an absent level is a no-op)."""
        self._apply_bids(bids)
        self._apply_asks(asks)

    # The hot path: one dict probe per level; a bisect only when a level appears or vanishes
    # inside the window. The two methods mirror each other.

    def _apply_bids(self, levels: Iterable[Level]) -> None:
        book, px, edge = self._bids, self._bid_px, self._bid_edge
        for price, qty in levels:
            if qty:
                if price not in book and (edge is None or price >= edge):
                    insort(px, price)
                book[price] = qty
            elif book.pop(price, None) is not None and (edge is None or price >= edge):
                del px[bisect_left(px, price)]
        if len(px) > self._bid_cap or (edge is not None and len(px) < _WINDOW_MIN):
            self._bid_px, self._bid_edge = _refit(book, px, best_high=True)

    def _apply_asks(self, levels: Iterable[Level]) -> None:
        book, px, edge = self._asks, self._ask_px, self._ask_edge
        for price, qty in levels:
            if qty:
                if price not in book and (edge is None or price <= edge):
                    insort(px, price)
                book[price] = qty
            elif book.pop(price, None) is not None and (edge is None or price <= edge):
                del px[bisect_left(px, price)]
        if len(px) > self._ask_cap or (edge is not None and len(px) < _WINDOW_MIN):
            self._ask_px, self._ask_edge = _refit(book, px, best_high=False)

    def update(self, side: Side, price: Decimal, qty: Decimal) -> None:
        """Set one level of the ``side`` book (``qty`` 0 deletes it)."""
        if side is Side.BUY:
            self.apply_delta(((price, qty),), ())
        else:
            self.apply_delta((), ((price, qty),))

    # --- top of book ----------------------------------------------------------

    def best_bid(self) -> Level | None:
        """The highest bid as ``(price, qty)``, or None when there are no bids."""
        if not self._bid_px:
            return None
        price = self._bid_px[-1]
        return price, self._bids[price]

    def best_ask(self) -> Level | None:
        """The lowest ask as ``(price, qty)``, or None when there are no asks."""
        if not self._ask_px:
            return None
        price = self._ask_px[0]
        return price, self._asks[price]

    def mid(self) -> Decimal | None:
        """``(best bid + best ask) / 2`` in quote currency, or None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        bid, ask = self._bid_px[-1], self._ask_px[0]
        cached = self._mid
        if bid is cached[0] and ask is cached[1]:
            return cached[2]
        mid = (bid + ask) / 2
        self._mid = (bid, ask, mid)
        return mid

    def spread(self) -> Decimal | None:
        """``best ask - best bid`` in quote currency (negative if crossed), or None."""
        if not self._bid_px or not self._ask_px:
            return None
        return self._ask_px[0] - self._bid_px[-1]

    def microprice(self) -> Decimal | None:
        """Size-weighted mid: ``(bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty)``.

        The price leans toward the side with less size (the side likely to
        move). Division rounds to the Decimal context precision (28 digits).
        Returns None when a side is empty.
        """
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid[0] * ask[1] + ask[0] * bid[1]) / (bid[1] + ask[1])

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask (an invalid book)."""
        return bool(self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0])

    # --- depth ----------------------------------------------------------------

    def level_count(self, side: Side) -> int:
        """Number of price levels on the ``side`` book."""
        return len(self._bids if side is Side.BUY else self._asks)

    def levels(self, side: Side, n: int | None = None) -> list[Level]:
        """The best ``n`` levels of the ``side`` book (all when None), best first.

        Raises:
            ValueError: ``n`` is not None and < 1.
        """
        _check_count("n", n)
        book = self._bids if side is Side.BUY else self._asks
        return [(price, book[price]) for price in self._prices(side, n)]

    def cumulative_depth(self, side: Side, n: int | None = None) -> list[Level]:
        """The best ``n`` levels as ``(price, total qty at this price or better)``.

        Raises:
            ValueError: ``n`` is not None and < 1.
        """
        total = _ZERO
        result: list[Level] = []
        for price, qty in self.levels(side, n):
            total += qty
            result.append((price, total))
        return result

    def depth_by_bucket(
        self, side: Side, bucket: Decimal, levels: int | None = None
    ) -> list[Level]:
        """Quantity aggregated into price buckets of width ``bucket``, best first.

        Bid prices round down to a multiple of ``bucket``, ask prices round up,
        so each bucket's price is the worst price inside it. At most ``levels``
        buckets are returned (all when None).

        Raises:
            ValueError: ``bucket`` is not a positive Decimal, or ``levels`` < 1.
        """
        _check_positive("bucket", bucket)
        _check_count("levels", levels)
        rounding = ROUND_FLOOR if side is Side.BUY else ROUND_CEILING
        result: list[Level] = []
        current: Decimal | None = None
        total = _ZERO
        for price, qty in self._walk(side):
            key = quantize(price, bucket, rounding)
            if key != current:
                if current is not None:
                    result.append((current, total))
                    if len(result) == levels:
                        return result
                current, total = key, _ZERO
            total += qty
        if current is not None:
            result.append((current, total))
        return result

    def imbalance(self, levels: int = 1) -> float | None:
        """``(bid qty - ask qty) / (bid qty + ask qty)`` over the best ``levels`` per side.

        Returns a float in [-1, 1] (+1: only bids), or None when both sides are empty.

        Raises:
            ValueError: ``levels`` < 1.
        """
        _check_count("levels", levels)
        bid_qty = sum((self._bids[p] for p in self._prices(Side.BUY, levels)), _ZERO)
        ask_qty = sum((self._asks[p] for p in self._prices(Side.SELL, levels)), _ZERO)
        total = bid_qty + ask_qty
        if not total:
            return None
        return float((bid_qty - ask_qty) / total)

    def vwap_to_size(self, side: Side, qty: Decimal) -> Decimal | None:
        """Average price to fill ``qty`` at once by walking the opposite book.

        ``side`` is the *order* side: a buy walks the asks, a sell the bids.
        The result is exact up to the Decimal context precision (28 digits).
        Returns None when the visible depth is smaller than ``qty``.

        Raises:
            ValueError: ``qty`` is not a positive Decimal.
        """
        _check_positive("qty", qty)
        remaining, cost = qty, _ZERO
        for price, available in self._walk(side.opposite):
            if available >= remaining:
                return (cost + price * remaining) / qty
            cost += price * available
            remaining -= available
        return None

    def walk(self, side: Side) -> Iterator[Level]:
        """The book side's levels best first, lazily (stop reading where you need no more);
        valid only while the book is not changed."""
        return self._walk(side)

    def _walk(self, side: Side) -> Iterator[Level]:
        # Best first: the window without copying it, then (only if the walk gets there)
        # the levels beyond its edge, sorted then and kept: that side's window becomes
        # the whole side for good (a reader that reads deep once will again).
        if side is Side.BUY:
            bids, edge = self._bids, self._bid_edge
            for price in reversed(self._bid_px):
                yield price, bids[price]
            if edge is not None:
                rest = sorted([p for p in bids if p < edge])
                self._bid_px, self._bid_edge = rest + self._bid_px, None
                self._bid_cap = _NO_CAP
                for price in reversed(rest):
                    yield price, bids[price]
        else:
            asks, edge = self._asks, self._ask_edge
            for price in self._ask_px:
                yield price, asks[price]
            if edge is not None:
                rest = sorted([p for p in asks if p > edge])
                self._ask_px, self._ask_edge = self._ask_px + rest, None
                self._ask_cap = _NO_CAP
                for price in rest:
                    yield price, asks[price]

    def _prices(self, side: Side, n: int | None) -> list[Decimal]:
        """The best ``n`` prices (all when None), best first."""
        if side is Side.BUY:
            px, whole = self._bid_px, self._bid_edge is None
            if n is not None and (n <= len(px) or whole):
                return px[: -n - 1 : -1]
            if whole:
                return px[::-1]
        else:
            px, whole = self._ask_px, self._ask_edge is None
            if n is not None and (n <= len(px) or whole):
                return px[:n]
            if whole:
                return px[:]
        return [price for price, _ in islice(self._walk(side), n)]


def _window(
    book: dict[Decimal, Decimal], cap: int = _WINDOW_MAX, *, best_high: bool
) -> tuple[list[Decimal], Decimal | None]:
    """A fresh window of ``book`` (ascending) and its edge: the ``_WINDOW`` best prices
    (highest for bids), or every price and no edge when there are no more than that or
    the side keeps every level (``cap`` is ``_NO_CAP``)."""
    if len(book) <= _WINDOW or cap == _NO_CAP:
        return sorted(book), None
    # a full sort, not heapq.nlargest: a book's keys come mostly in order, and timsort
    # takes 17 us for 1,000 levels where nlargest took 310 us
    if best_high:
        top = sorted(book)[-_WINDOW:]
        return top, top[0]
    top = sorted(book)[:_WINDOW]
    return top, top[-1]


def _refit(
    book: dict[Decimal, Decimal], px: list[Decimal], *, best_high: bool
) -> tuple[list[Decimal], Decimal | None]:
    """A window grown past ``_WINDOW_MAX`` trimmed at its far end, or one shrunk below
    ``_WINDOW_MIN`` refilled from ``book``; the window and its edge."""
    if len(px) < _WINDOW_MIN:
        return _window(book, best_high=best_high)
    if best_high:
        del px[: len(px) - _WINDOW]
        return px, px[0]
    del px[_WINDOW:]
    return px, px[-1]


# --- synchronisation -----------------------------------------------------------


class SyncOutcome(enum.Enum):
    """What ``BookSync`` did with one event."""

    APPLIED = "APPLIED"  # the book changed and is valid
    BUFFERED = "BUFFERED"  # held until a snapshot arrives (no snapshot yet, or book invalid)
    STALE = "STALE"  # older than the book's state: ignored, not an error
    GAP = "GAP"  # ids do not chain: book invalid, fetch a new snapshot
    CROSSED = "CROSSED"  # the diff left best bid >= best ask: book invalid, fetch a snapshot

    @property
    def needs_snapshot(self) -> bool:
        """True when the caller should fetch a fresh REST snapshot."""
        return self is SyncOutcome.GAP or self is SyncOutcome.CROSSED


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSyncStats:
    """Counters of one ``BookSync`` (R19 ``statistics()``).

    Attributes:
        applied: diffs applied to the book.
        gaps: sequence gaps (and crossed books) detected.
        stale_dropped: diffs ignored because the book already contained them.
        snapshots: snapshots loaded.
        resyncs: snapshots that made the book valid again after it was lost.
        crossed: diffs that left the book crossed (also counted in ``gaps``).
        buffered: diffs currently waiting for a snapshot.
        valid: whether the book currently mirrors the venue.
        last_update_id: update id the book state corresponds to (-1 before any snapshot).
    """

    applied: int
    gaps: int
    stale_dropped: int
    snapshots: int
    resyncs: int
    crossed: int
    buffered: int
    valid: bool
    last_update_id: int


class BookSync:
    """Binance snapshot+diff synchronisation for one instrument (see the module essay).

    Feed every ``BookSnapshot`` and ``BookDelta`` in arrival order through
    ``apply``; when an outcome's ``needs_snapshot`` is True, fetch a REST
    snapshot and feed it too. Read the book only while ``valid`` is True.
    """

    __slots__ = (
        "_applied",
        "_buffer",
        "_crossed",
        "_first",
        "_gaps",
        "_last_id",
        "_lost",
        "_resyncs",
        "_seen",
        "_seen_outcome",
        "_snapshots",
        "_stale",
        "_valid",
        "book",
        "instrument_id",
    )

    def __init__(self, instrument_id: str, *, max_buffered: int = DEFAULT_MAX_BUFFERED) -> None:
        """Create an empty, invalid book that buffers diffs until the first snapshot.

        Args:
            instrument_id: the only instrument this sync accepts.
            max_buffered: diffs kept while waiting for a snapshot; the oldest go first.

        Raises:
            ValueError: ``max_buffered`` < 1.
        """
        _check_count("max_buffered", max_buffered)
        self.instrument_id = instrument_id
        self.book = OrderBook(instrument_id)
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._valid = False
        self._first = False  # the next diff is the first after a snapshot (rule 3)
        self._lost = False  # a valid book was invalidated and not yet healed
        self._last_id = -1
        self._applied = self._gaps = self._stale = self._snapshots = 0
        self._resyncs = self._crossed = 0
        # the last event ``apply`` consumed, and its outcome (a shared book sees it twice)
        self._seen: BookSnapshot | BookDelta | None = None
        self._seen_outcome = SyncOutcome.STALE

    @property
    def valid(self) -> bool:
        """True while the book mirrors the venue's book at ``last_update_id``."""
        return self._valid

    @property
    def last_update_id(self) -> int:
        """The update id the book's levels correspond to (-1 before any snapshot)."""
        return self._last_id

    def apply(self, event: BookSnapshot | BookDelta) -> SyncOutcome:
        """Consume one book event in arrival order; see ``apply_delta``/``apply_snapshot``.

        The event object just consumed, handed again, changes nothing and returns the
        same outcome: a book shared by several readers (``SharedBooks``) is fed each
        event by each of them and applies it once.
        """
        if event is self._seen:
            return self._seen_outcome
        if type(event) is BookDelta:
            outcome = self.apply_delta(event)
        else:
            assert isinstance(event, BookSnapshot)
            outcome = self.apply_snapshot(event)
        self._seen, self._seen_outcome = event, outcome
        return outcome

    def apply_delta(self, delta: BookDelta) -> SyncOutcome:
        """Apply, buffer or refuse one diff (rules 1, 3, 4, 5 and 6 of the essay).

        Returns:
            APPLIED, BUFFERED, STALE, GAP or CROSSED. Only APPLIED and CROSSED
            change the book's levels.

        Raises:
            DataError: the diff belongs to another instrument.
        """
        if delta.instrument_id != self.instrument_id:
            raise self._wrong_instrument(delta.instrument_id)
        if not self._valid:  # rule 1 (§10 step 1): hold until a snapshot
            self._buffer.append(delta)
            return SyncOutcome.BUFFERED
        last = self._last_id
        if delta.last_update_id <= last:  # rule 4 (§10 steps 4 and 7): already in the book
            self._stale += 1
            return SyncOutcome.STALE
        prev = delta.prev_update_id
        if prev < 0:
            prev = delta.first_update_id - 1  # spot: ids are contiguous, U - 1 precedes U
        # Rule 3: U == last + 1 (pu == last); the first diff after a snapshot may
        # straddle it, U <= L + 1 <= u (§10 step 5). Anything else is a gap (step 7).
        if prev != last and not (self._first and prev < last):
            return self._lose(delta, SyncOutcome.GAP)
        book = self.book
        book.apply_delta(delta.bids, delta.asks)
        self._last_id = delta.last_update_id
        self._first = False
        self._applied += 1
        if book.is_crossed():
            return self._lose(delta, SyncOutcome.CROSSED)
        return SyncOutcome.APPLIED

    def apply_snapshot(self, snapshot: BookSnapshot) -> SyncOutcome:
        """Load a REST snapshot, then replay the buffered diffs (rule 2).

        Returns:
            APPLIED when the book is valid afterwards; STALE when the book is
            valid and already newer (snapshot ignored); GAP when the buffered
            diffs do not chain onto it (snapshot too old, or a gap inside the
            buffer); CROSSED when the snapshot or a replayed diff is crossed.

        Raises:
            DataError: the snapshot belongs to another instrument.
        """
        if snapshot.instrument_id != self.instrument_id:
            raise self._wrong_instrument(snapshot.instrument_id)
        if self._valid and snapshot.last_update_id <= self._last_id:
            return SyncOutcome.STALE
        self.book.apply_snapshot(snapshot.bids, snapshot.asks)
        self._snapshots += 1
        self._last_id = snapshot.last_update_id
        if self.book.is_crossed():
            self._valid = False
            self._gaps += 1
            self._crossed += 1
            return SyncOutcome.CROSSED
        return self._replay_buffer()

    def reset(self) -> None:
        """Forget the buffer and invalidate the book, as after a reconnect (§10 step 8)."""
        self._seen = None  # an event handed again after a reconnect is new to the book
        self._buffer.clear()
        self._lost = self._lost or self._valid
        self._valid = False

    def statistics(self) -> BookSyncStats:
        """A frozen copy of the counters."""
        return BookSyncStats(
            applied=self._applied,
            gaps=self._gaps,
            stale_dropped=self._stale,
            snapshots=self._snapshots,
            resyncs=self._resyncs,
            crossed=self._crossed,
            buffered=len(self._buffer),
            valid=self._valid,
            last_update_id=self._last_id,
        )

    def _replay_buffer(self) -> SyncOutcome:
        self._valid = True
        self._first = True
        pending = list(self._buffer)
        self._buffer.clear()
        result = SyncOutcome.APPLIED
        for delta in pending:
            outcome = self.apply_delta(delta)
            if outcome.needs_snapshot and result is SyncOutcome.APPLIED:
                result = outcome
        if self._valid and self._lost:
            self._resyncs += 1
            self._lost = False
        return result

    def _lose(self, delta: BookDelta, outcome: SyncOutcome) -> SyncOutcome:
        # The book stays frozen at its last state; the offending diff opens a new
        # buffer because the next snapshot may fall inside its id range.
        self._valid = False
        self._lost = True
        self._gaps += 1
        if outcome is SyncOutcome.CROSSED:
            self._crossed += 1
        self._buffer.clear()
        self._buffer.append(delta)
        return outcome

    def _wrong_instrument(self, instrument_id: str) -> DataError:
        return DataError(
            f"book event for {instrument_id!r} offered to the {self.instrument_id!r} book"
        )


class SharedBooks:
    """One ``BookSync`` per instrument for every reader that asks: a book factory.

    A simulated venue and the kernel's market view driven by one ``Driver`` see
    the same book events in the same order, so their books are equal at every
    step. Handing both this factory keeps one book per instrument instead of
    two: each reader still applies every event, and ``BookSync.apply`` applies
    an event once however many readers hand it over.
    """

    __slots__ = ("_syncs",)

    def __init__(self) -> None:
        self._syncs: dict[str, BookSync] = {}

    def __call__(self, instrument_id: str) -> BookSync:
        sync = self._syncs.get(instrument_id)
        if sync is None:
            sync = self._syncs[instrument_id] = BookSync(instrument_id)
        return sync
