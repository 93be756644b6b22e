"""Triangular arbitrage over every currency cycle of a venue (SPEC AN-2).

Theory of operation
===================

Graph. Each TRADING symbol joins two assets (base, quote). A *triangle* is a
set of three assets each pair of which has a symbol. ``VenueGraph`` lists the
assets sorted, and for every symbol ``(a, b)`` with ``a < b`` every common
neighbour ``c > b``: each triangle is found exactly once, in a deterministic
order. A triangle gives two *directed cycles*, ``a -> b -> c -> a`` and
``a -> c -> b -> a``; rotating a cycle gives the same trade, so each is kept
once, starting at its smallest asset (the asset its size and profit are
counted in). A cycle's id is its position in ``VenueGraph.cycles``.

Legs and rates. A leg converts its source asset into its target asset on one
symbol: from quote to base it *buys* at the ask (``1 / ask`` base per quote),
from base to quote it *sells* at the bid (``bid`` quote per base). The taker
fee is charged on what the leg receives, so every rate is multiplied by
``1 - fee_bps / 10_000``. A cycle is an opportunity when the product of its
three top-of-book rates exceeds ``1 + threshold_bps / 10_000``.

Sizing. Each leg is a concave piecewise-linear function of its input: level
``(p, q)`` of the book it walks absorbs ``p * q`` quote at rate ``1 / p``
(buy, asks) or ``q`` base at rate ``p`` (sell, bids), fees applied. Their
composition is concave too, so the cycle's *marginal* rate (the product of the
three current levels' rates) only falls as the start amount grows. The walk
advances all three books together, one segment at a time: a segment ends
where the first of the three current levels runs out (leg ``k`` consumes
``x * r_0 * ... * r_{k-1}`` of its input for a start amount ``x``). It stops
when the marginal rate no longer beats the bar, or when a book has no level
left (``depth_limited``). The result is the largest start amount of which
every unit still earns more than the threshold: with threshold 0 it is the
amount that maximises profit. Floats are fine here (analytics); Decimals
become floats only as levels are read, and only as many levels as the walk
needs.

Incremental. ``TriangleScanner`` keeps two floats per symbol (its sell and
buy rate after fees, 0.0 while the symbol has no valid book) in one flat list,
and per symbol two precomputed tuples of ``(cycle id, rate index x 3)``: the
cycles that sell on it and those that buy on it. ``update(symbol, book)``
refreshes that symbol's two rates and re-evaluates only its cycles: three list
reads and two products per cycle, and a depth walk only for a cycle that beats
the bar. A cycle that lacks a book has a zero rate and can never qualify, so
it needs no branch. Rounded products are monotone in each factor, so when a
side's rate did not rise none of its cycles can have become an opportunity:
that side is skipped unless a current opportunity runs through the symbol
(its size may have changed). Cycles through other symbols cannot have
changed, so after every update the opportunities are exactly those
``scan_all`` (the brute force, every cycle from scratch) finds; the tests
check that after every update of the real recordings. Levels read as floats
for a walk are kept per book side until that book changes, so the cycles
sharing a book convert its levels once.

The caller keeps the books (``BookReplay`` runs ``BookSync`` over recorded
events) and must call ``update`` after every change of a book, passing None
while it is invalid (not synchronised, gap, crossed): the scanner reads the
books of a cycle's other legs when it sizes it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot
from genesis.data.book import BookSync, OrderBook
from genesis.data.capture import read_binance_streams, read_spot_capture
from genesis.data.capture_venues import read_gemini_l2
from genesis.errors import ConfigError

__all__ = [
    "DEFAULT_FEE_BPS",
    "GEMINI_QUOTES",
    "BookEvent",
    "BookReplay",
    "Cycle",
    "CycleRecord",
    "Leg",
    "Opportunity",
    "Pair",
    "ReplayReport",
    "TriangleScanner",
    "VenueGraph",
    "add_arguments",
    "evaluate_cycle",
    "graph_from_symbols",
    "load_exchange_info",
    "read_book_events",
    "replay",
    "run",
    "scan_all",
]

DEFAULT_FEE_BPS: Final = 10.0
# Gemini's quote currencies; a symbol's quote is its longest matching suffix.
GEMINI_QUOTES: Final = ("USD", "BTC", "ETH", "EUR", "GBP", "SGD", "DAI", "GUSD", "USDT")
_BPS: Final = 10_000.0
_GZIP_MAGIC: Final = b"\x1f\x8b"
_FIRST_LEVELS: Final = 16  # levels read per book before the walk asks for more

BookEvent = BookSnapshot | BookDelta


# --- the graph -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    """A tradable symbol joining ``base`` and ``quote``."""

    symbol: str
    base: str
    quote: str


@dataclass(frozen=True, slots=True)
class Leg:
    """One conversion of a cycle: ``source`` into ``target`` on ``symbol``.

    ``buy`` is True when the leg spends the quote for the base at the ask.
    """

    symbol: str
    buy: bool
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Cycle:
    """A directed currency cycle ``assets[0] -> assets[1] -> assets[2] -> assets[0]``."""

    assets: tuple[str, str, str]
    legs: tuple[Leg, Leg, Leg]

    @property
    def start(self) -> str:
        """The asset the cycle starts and ends in (its smallest name)."""
        return self.assets[0]

    def __str__(self) -> str:
        return "->".join((*self.assets, self.assets[0]))


class VenueGraph:
    """The currency graph of one venue: its pairs, triangles and directed cycles.

    Attributes:
        pairs: symbol -> Pair, in the order given.
        assets: every asset of a pair, sorted.
        triangles: each set of three mutually connected assets once, sorted.
        cycles: two directed cycles per triangle; a cycle's id is its index.
    """

    __slots__ = ("_links", "_through", "assets", "cycles", "pairs", "triangles")

    def __init__(self, pairs: Iterable[Pair]) -> None:
        """Build the graph.

        Raises:
            ValueError: a symbol repeats, joins an asset to itself, or two
                symbols join the same two assets.
        """
        self.pairs: dict[str, Pair] = {}
        self._links: dict[str, dict[str, Pair]] = {}
        for pair in pairs:
            self._add(pair)
        self.assets = tuple(sorted(self._links))
        self.triangles = tuple(self._find_triangles())
        self.cycles = tuple(c for t in self.triangles for c in self._directed(t))
        through: dict[str, list[int]] = {symbol: [] for symbol in self.pairs}
        for cycle_id, cycle in enumerate(self.cycles):
            for leg in cycle.legs:
                through[leg.symbol].append(cycle_id)
        self._through = {symbol: tuple(ids) for symbol, ids in through.items()}

    def __repr__(self) -> str:
        return (
            f"VenueGraph(symbols={len(self.pairs)}, assets={len(self.assets)}, "
            f"triangles={len(self.triangles)}, cycles={len(self.cycles)})"
        )

    def cycles_through(self, symbol: str) -> tuple[int, ...]:
        """Ids of the cycles with a leg on ``symbol`` (empty for an unknown symbol)."""
        return self._through.get(symbol, ())

    def _add(self, pair: Pair) -> None:
        if pair.symbol in self.pairs:
            raise ValueError(f"symbol {pair.symbol} appears twice")
        if pair.base == pair.quote:
            raise ValueError(f"symbol {pair.symbol} joins {pair.base} to itself")
        other = self._links.get(pair.base, {}).get(pair.quote)
        if other is not None:
            raise ValueError(
                f"symbols {other.symbol} and {pair.symbol} both join {pair.base} and {pair.quote}"
            )
        self.pairs[pair.symbol] = pair
        self._links.setdefault(pair.base, {})[pair.quote] = pair
        self._links.setdefault(pair.quote, {})[pair.base] = pair

    def _find_triangles(self) -> Iterator[tuple[str, str, str]]:
        links = self._links
        for a in self.assets:
            for b in sorted(x for x in links[a] if x > a):
                for c in sorted(x for x in links[a].keys() & links[b].keys() if x > b):
                    yield a, b, c

    def _directed(self, triangle: tuple[str, str, str]) -> tuple[Cycle, Cycle]:
        a, b, c = triangle
        return self._cycle((a, b, c)), self._cycle((a, c, b))

    def _cycle(self, assets: tuple[str, str, str]) -> Cycle:
        a, b, c = assets
        return Cycle(assets=assets, legs=(self._leg(a, b), self._leg(b, c), self._leg(c, a)))

    def _leg(self, source: str, target: str) -> Leg:
        pair = self._links[source][target]
        return Leg(symbol=pair.symbol, buy=pair.quote == source, source=source, target=target)


def load_exchange_info(path: str | Path) -> VenueGraph:
    """The graph of the TRADING symbols of a Binance ``exchangeInfo`` response.

    Args:
        path: the JSON, plain or gzipped (``genesis.resources.EXCHANGE_INFO``).

    Raises:
        ConfigError: the file is missing or unreadable, is not JSON, or is not
            an exchangeInfo document (message names the file and the reason).
    """
    document = _read_json(Path(path))
    symbols = document.get("symbols") if isinstance(document, dict) else None
    if not isinstance(symbols, list):
        raise ConfigError(f"{path}: no `symbols` list; expected a Binance exchangeInfo response")
    try:
        return VenueGraph(_trading_pairs(symbols))
    except (TypeError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: bad symbol entry ({exc})") from None


def graph_from_symbols(symbols: Iterable[str], quotes: Sequence[str] = GEMINI_QUOTES) -> VenueGraph:
    """The graph of concatenated symbols (``BTCUSD`` = BTC/USD), split at the longest quote suffix.

    Raises:
        ConfigError: a symbol ends with none of ``quotes``, or two symbols join the same assets.
    """
    pairs = []
    for symbol in symbols:
        quote = max((q for q in quotes if symbol.endswith(q) and len(symbol) > len(q)), key=len,
                    default=None)  # fmt: skip
        if quote is None:
            raise ConfigError(f"symbol {symbol!r} ends with no known quote asset {quotes}")
        pairs.append(Pair(symbol=symbol, base=symbol[: -len(quote)], quote=quote))
    try:
        return VenueGraph(pairs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, EOFError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None
    try:
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ConfigError(f"{path}: invalid JSON ({exc})") from None


def _trading_pairs(symbols: list[Any]) -> Iterator[Pair]:
    for entry in symbols:
        if entry["status"] == "TRADING":
            yield Pair(symbol=entry["symbol"], base=entry["baseAsset"], quote=entry["quoteAsset"])


# --- evaluation and sizing -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """A cycle beating the bar, sized by the depth of its three books.

    Attributes:
        cycle: the directed cycle; amounts are in ``cycle.start``.
        rate: product of the three top-of-book rates after fees (> 1 + threshold).
        start_amount: the largest amount of which every unit beats the threshold.
        end_amount: what ``start_amount`` becomes after the three legs and fees.
        depth_limited: the walk stopped because a book ran out of levels.
    """

    cycle: Cycle
    rate: float
    start_amount: float
    end_amount: float
    depth_limited: bool

    @property
    def profit(self) -> float:
        """Expected profit in the start asset: ``end_amount - start_amount``."""
        return self.end_amount - self.start_amount

    @property
    def profit_rate(self) -> float:
        """Profit per unit of start amount (after fees, over the whole size)."""
        return self.profit / self.start_amount


def _fee_and_bar(fee_bps: float, threshold_bps: float) -> tuple[float, float]:
    # Options are checked once, at construction (rate multiplier, bar to beat).
    if not (math.isfinite(fee_bps) and 0 <= fee_bps < _BPS):
        raise ValueError(f"invalid fee_bps {fee_bps!r}; expected 0 <= fee_bps < 10000")
    if not (math.isfinite(threshold_bps) and threshold_bps > -_BPS):
        raise ValueError(f"invalid threshold_bps {threshold_bps!r}; expected a number > -10000")
    return 1.0 - fee_bps / _BPS, 1.0 + threshold_bps / _BPS


def _top_rates(book: OrderBook | None, fee_mult: float) -> tuple[float, float]:
    # (sell rate at the bid, buy rate at the ask) after fees; 0.0 for a missing side.
    # The one place top-of-book rates are computed: scanner and brute force agree bit for bit.
    if book is None:
        return 0.0, 0.0
    bid, ask = book.best_bid(), book.best_ask()
    return (
        float(bid[0]) * fee_mult if bid is not None else 0.0,
        fee_mult / float(ask[0]) if ask is not None else 0.0,
    )


def _segments(book: OrderBook, buy: bool, fee_mult: float) -> Iterator[tuple[float, float]]:
    # The leg's levels, best first, as (input capacity, rate after fees); read lazily.
    side = Side.SELL if buy else Side.BUY  # a buy walks the asks, a sell the bids
    done, wanted = 0, _FIRST_LEVELS
    while True:
        levels = book.levels(side, wanted)
        for price, qty in levels[done:]:
            p, q = float(price), float(qty)
            yield (p * q, fee_mult / p) if buy else (q, p * fee_mult)
        if len(levels) < wanted:
            return
        done, wanted = wanted, wanted * 4


def _walk(legs: Sequence[Iterator[tuple[float, float]]], bar: float) -> tuple[float, float, bool]:
    """Walk three legs' levels together; return (start amount, end amount, depth limited)."""
    # Unrolled over the three legs: this loop runs once per level consumed.
    l0, l1, l2 = legs
    (c0, r0), (c1, r1), (c2, r2) = next(l0), next(l1), next(l2)
    spent = got = 0.0
    while (rate := r0 * r1 * r2) > bar:
        s1, s2 = r0, r0 * r1  # leg k's input per unit of start amount: 1, r0, r0 * r1
        x0, x1, x2 = c0, c1 / s1, c2 / s2  # start amount that empties each current level
        step = min(x0, x1, x2)
        spent += step
        got += step * rate
        if x0 <= step:
            if (level := next(l0, None)) is None:
                return spent, got, True
            c0, r0 = level
        else:
            c0 -= step
        if x1 <= step:
            if (level := next(l1, None)) is None:
                return spent, got, True
            c1, r1 = level
        else:
            c1 -= step * s1
        if x2 <= step:
            if (level := next(l2, None)) is None:
                return spent, got, True
            c2, r2 = level
        else:
            c2 -= step * s2
    return spent, got, False


def _sized(
    cycle: Cycle, legs: Sequence[Iterator[tuple[float, float]]], rate: float, bar: float
) -> Opportunity:
    spent, got, limited = _walk(legs, bar)
    return Opportunity(
        cycle=cycle, rate=rate, start_amount=spent, end_amount=got, depth_limited=limited
    )


def evaluate_cycle(
    cycle: Cycle,
    books: Mapping[str, OrderBook],
    *,
    fee_bps: float = DEFAULT_FEE_BPS,
    threshold_bps: float = 0.0,
) -> Opportunity | None:
    """The cycle's opportunity from scratch, or None when it does not beat the bar.

    A cycle whose leg has no book in ``books`` (or an empty side) is not one.

    Raises:
        ValueError: ``fee_bps`` outside [0, 10000) or ``threshold_bps`` <= -10000.
    """
    fee_mult, bar = _fee_and_bar(fee_bps, threshold_bps)
    return _evaluate(cycle, books, fee_mult, bar)


def _evaluate(
    cycle: Cycle, books: Mapping[str, OrderBook], fee_mult: float, bar: float
) -> Opportunity | None:
    present, rates = [], []
    for leg in cycle.legs:
        book = books.get(leg.symbol)
        if book is None:
            return None
        present.append(book)
        rates.append(_top_rates(book, fee_mult)[leg.buy])
    rate = rates[0] * rates[1] * rates[2]  # in leg order, as the scanner multiplies
    if rate <= bar:
        return None
    legs = [_segments(b, leg.buy, fee_mult) for b, leg in zip(present, cycle.legs, strict=True)]
    return _sized(cycle, legs, rate, bar)


def scan_all(
    graph: VenueGraph,
    books: Mapping[str, OrderBook],
    *,
    fee_bps: float = DEFAULT_FEE_BPS,
    threshold_bps: float = 0.0,
) -> dict[int, Opportunity]:
    """Brute force: every cycle of ``graph`` evaluated from ``books`` -> {cycle id: opportunity}.

    The reference for ``TriangleScanner`` and the naive baseline of the benchmark.

    Raises:
        ValueError: as ``evaluate_cycle``.
    """
    fee_mult, bar = _fee_and_bar(fee_bps, threshold_bps)
    found = {}
    for cycle_id, cycle in enumerate(graph.cycles):
        opportunity = _evaluate(cycle, books, fee_mult, bar)
        if opportunity is not None:
            found[cycle_id] = opportunity
    return found


# --- the incremental scanner -----------------------------------------------------


class TriangleScanner:
    """Current triangular opportunities of one venue, re-evaluated per book update.

    See the module essay. ``opportunities`` maps cycle id -> Opportunity and is
    exactly what ``scan_all`` would return on the books last given to ``update``.
    """

    __slots__ = ("_active", "_bar", "_books", "_buys", "_depth", "_fee_mult", "_found", "_legs",
                 "_rates", "_sells", "_slot", "fee_bps", "graph", "threshold_bps")  # fmt: skip

    def __init__(
        self, graph: VenueGraph, *, fee_bps: float = DEFAULT_FEE_BPS, threshold_bps: float = 0.0
    ) -> None:
        """Index every cycle by the symbols of its legs; no symbol has a book yet.

        Args:
            graph: the venue's graph.
            fee_bps: taker fee per leg, in basis points of what the leg receives.
            threshold_bps: a cycle must beat ``1 + threshold`` (may be negative
                to watch near misses).

        Raises:
            ValueError: ``fee_bps`` outside [0, 10000) or ``threshold_bps`` <= -10000.
        """
        self._fee_mult, self._bar = _fee_and_bar(fee_bps, threshold_bps)
        self.graph, self.fee_bps, self.threshold_bps = graph, fee_bps, threshold_bps
        self._slot = {symbol: slot for slot, symbol in enumerate(graph.pairs)}
        # Per leg side, index 2 * slot + buy: the rate after fees (0.0 without a book)
        # and the levels read as floats since the book last changed.
        self._rates = [0.0] * (2 * len(self._slot))
        self._depth: list[_Depth | None] = [None] * (2 * len(self._slot))
        self._books: list[OrderBook | None] = [None] * len(self._slot)
        self._legs = [self._rate_indices(cycle) for cycle in graph.cycles]
        self._sells = [self._index(symbol, buy=False) for symbol in graph.pairs]
        self._buys = [self._index(symbol, buy=True) for symbol in graph.pairs]
        self._active = [0] * len(self._slot)  # current opportunities through each symbol
        self._found: dict[int, Opportunity] = {}

    @property
    def opportunities(self) -> Mapping[int, Opportunity]:
        """Cycle id -> current opportunity (a live view; copy it to keep it)."""
        return self._found

    def update(self, symbol: str, book: OrderBook | None) -> None:
        """Take ``symbol``'s new book (None: invalid) and re-evaluate the cycles through it.

        A symbol outside the graph is ignored. The book is kept by reference and
        read again when a cycle through another symbol is sized.
        """
        slot = self._slot.get(symbol)
        if slot is None:
            return
        self._books[slot] = book
        self._depth[2 * slot] = self._depth[2 * slot + 1] = None
        rates = self._rates
        old_sell, old_buy = rates[2 * slot], rates[2 * slot + 1]
        sell, buy = rates[2 * slot], rates[2 * slot + 1] = _top_rates(book, self._fee_mult)
        # A cycle's rate only grows with its legs' rates (IEEE products are monotone),
        # so a side whose rate did not rise cannot make a new opportunity; it is
        # skipped unless an opportunity through this symbol has to be re-checked.
        active = self._active[slot]
        if sell > old_sell or active:
            self._scan(self._sells[slot])
        if buy > old_buy or active:
            self._scan(self._buys[slot])

    def cycle_rate(self, cycle_id: int) -> float:
        """The cycle's product of top-of-book rates after fees (0.0 while a leg has no book)."""
        a, b, c = self._legs[cycle_id]
        return self._rates[a] * self._rates[b] * self._rates[c]

    def _scan(self, cycles: tuple[tuple[int, int, int, int], ...]) -> None:
        # The hot loop: three list reads and two products per cycle.
        rates, bar, found = self._rates, self._bar, self._found
        for cycle_id, a, b, c in cycles:
            rate = rates[a] * rates[b] * rates[c]
            if rate > bar:
                if cycle_id not in found:
                    self._count(cycle_id, 1)
                found[cycle_id] = self._size(cycle_id, rate)
            elif cycle_id in found:
                del found[cycle_id]
                self._count(cycle_id, -1)

    def _count(self, cycle_id: int, delta: int) -> None:
        for index in self._legs[cycle_id]:
            self._active[index >> 1] += delta

    def _size(self, cycle_id: int, rate: float) -> Opportunity:
        legs = [iter(self._leg_depth(index)) for index in self._legs[cycle_id]]
        return _sized(self.graph.cycles[cycle_id], legs, rate, self._bar)

    def _leg_depth(self, index: int) -> _Depth:
        depth = self._depth[index]
        if depth is None:
            book = self._books[index >> 1]
            assert book is not None  # a missing book has rate 0.0 and never beats the bar
            depth = self._depth[index] = _Depth(_segments(book, bool(index & 1), self._fee_mult))
        return depth

    def _index(self, symbol: str, *, buy: bool) -> tuple[tuple[int, int, int, int], ...]:
        # (cycle id, rate index of each leg) of the cycles that buy (or sell) on ``symbol``
        graph = self.graph
        return tuple(
            (cycle_id, *self._legs[cycle_id])
            for cycle_id in graph.cycles_through(symbol)
            if any(leg.symbol == symbol and leg.buy is buy for leg in graph.cycles[cycle_id].legs)
        )

    def _rate_indices(self, cycle: Cycle) -> tuple[int, int, int]:
        a, b, c = (2 * self._slot[leg.symbol] + leg.buy for leg in cycle.legs)
        return a, b, c


class _Depth:
    """One book side's levels as (input capacity, rate) floats, converted once, as far as read.

    Many cycles share a symbol; each sizing walks the same converted levels
    until the book changes (the scanner then drops this object).
    """

    __slots__ = ("_source", "levels")

    def __init__(self, source: Iterator[tuple[float, float]]) -> None:
        self._source = source
        self.levels: list[tuple[float, float]] = []

    def __iter__(self) -> Iterator[tuple[float, float]]:
        levels, index = self.levels, 0
        while True:
            if index == len(levels):
                level = next(self._source, None)
                if level is None:
                    return
                levels.append(level)
            yield levels[index]
            index += 1


# --- replaying recorded books ----------------------------------------------------


class BookReplay:
    """One ``BookSync`` per symbol over recorded events; ``books`` holds the valid books."""

    __slots__ = ("_syncs", "books")

    def __init__(self) -> None:
        self._syncs: dict[str, BookSync] = {}
        self.books: dict[str, OrderBook] = {}

    def apply(self, event: BookEvent) -> OrderBook | None:
        """Apply one book event; return the symbol's book, or None while it is invalid."""
        symbol = event.instrument_id
        sync = self._syncs.get(symbol)
        if sync is None:
            sync = self._syncs[symbol] = BookSync(symbol)
        sync.apply(event)
        if sync.valid:
            self.books[symbol] = sync.book
            return sync.book
        self.books.pop(symbol, None)
        return None


def read_book_events(path: str | Path) -> tuple[str, list[BookEvent]]:
    """The book events of a recording and its format, told from its first line.

    Formats: ``binance-capture`` (spot capture JSONL), ``binance-streams``
    (``<ns> <json>`` lines), ``gemini`` (``<time>: <json>`` lines).

    Raises:
        ConfigError: the file is missing or its format is none of these.
        DataError: a line of a known format is malformed (file:line in the message).
    """
    path = Path(path)
    kind = _sniff(path)
    if kind == "gemini":
        events: Iterable[object] = read_gemini_l2(path)
    elif kind == "binance-streams":
        events = read_binance_streams(path)
    else:
        events = read_spot_capture(path)
    return kind, [e for e in events if isinstance(e, BookSnapshot | BookDelta)]


def _sniff(path: Path) -> str:
    try:
        with path.open("rb") as probe:
            gzipped = probe.read(2) == _GZIP_MAGIC
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8") as stream:
            first = next((line for line in stream if line.strip()), "")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None
    head = first.split("{", 1)[0].strip()
    if not head:
        return "binance-capture"
    if head.startswith("wss://") or (head.endswith(":") and _is_number(head[:-1])):
        return "gemini"
    if head.isdigit():
        return "binance-streams"
    raise ConfigError(
        f"{path}: first line {first[:40]!r} is no known recording "
        "(Binance spot capture, Binance stream recording, Gemini v2 recording)"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class CycleRecord:
    """What one cycle did during a replay: updates it was an opportunity after, and its best."""

    cycle: Cycle
    updates: int
    best: Opportunity
    first_ts_ns: int
    last_ts_ns: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; amounts in ``cycle.start``."""
        best = self.best
        return {
            "cycle": str(self.cycle),
            "start_asset": self.cycle.start,
            "updates": self.updates,
            "rate": best.rate,
            "start_amount": best.start_amount,
            "profit": best.profit,
            "profit_rate": best.profit_rate,
            "depth_limited": best.depth_limited,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
        }


@dataclass(slots=True)
class ReplayReport:
    """Opportunities found over a replay, update by update.

    Attributes:
        updates: book events replayed (each one an update of the scanner).
        updates_with_opportunity: updates after which at least one cycle beat the bar.
        symbols: symbols with book events; ``symbols_in_graph`` of them are the venue's.
        evaluated_cycles: cycles whose three books were valid after some update.
        best_rate: the highest cycle rate after fees seen after an update (None if none).
        best_cycle: the cycle of ``best_rate``.
        cycles: cycle id -> its record, for every cycle that was an opportunity.
    """

    updates: int = 0
    updates_with_opportunity: int = 0
    symbols: set[str] = field(default_factory=set)
    symbols_in_graph: int = 0
    evaluated_cycles: set[int] = field(default_factory=set)
    best_rate: float | None = None
    best_cycle: Cycle | None = None
    cycles: dict[int, CycleRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``opportunities`` sorted by best profit rate, best first."""
        records = sorted(self.cycles.values(), key=lambda r: -r.best.profit_rate)
        return {
            "updates": self.updates,
            "updates_with_opportunity": self.updates_with_opportunity,
            "data_symbols": len(self.symbols),
            "data_symbols_in_graph": self.symbols_in_graph,
            "evaluated_cycles": len(self.evaluated_cycles),
            "best_rate": self.best_rate,
            "best_cycle": None if self.best_cycle is None else str(self.best_cycle),
            "opportunity_cycles": len(records),
            "opportunities": [r.to_dict() for r in records],
        }


def replay(
    scanner: TriangleScanner, events: Iterable[BookEvent], books: BookReplay | None = None
) -> ReplayReport:
    """Feed ``events`` through ``BookSync`` into ``scanner``; report what it found per update."""
    books = books or BookReplay()
    report = ReplayReport()
    for event in events:
        symbol = event.instrument_id
        scanner.update(symbol, books.apply(event))
        report.updates += 1
        report.symbols.add(symbol)
        _note_rates(report, scanner, symbol)
        _note_opportunities(report, scanner, event.ts_event)
    report.symbols_in_graph = len(report.symbols & scanner.graph.pairs.keys())
    return report


def _note_rates(report: ReplayReport, scanner: TriangleScanner, symbol: str) -> None:
    for cycle_id in scanner.graph.cycles_through(symbol):
        rate = scanner.cycle_rate(cycle_id)
        if rate == 0.0:
            continue  # a leg has no book
        report.evaluated_cycles.add(cycle_id)
        if report.best_rate is None or rate > report.best_rate:
            report.best_rate, report.best_cycle = rate, scanner.graph.cycles[cycle_id]


def _note_opportunities(report: ReplayReport, scanner: TriangleScanner, ts_ns: int) -> None:
    found = scanner.opportunities
    if found:
        report.updates_with_opportunity += 1
    for cycle_id, opportunity in found.items():
        record = report.cycles.get(cycle_id)
        if record is None:
            report.cycles[cycle_id] = CycleRecord(opportunity.cycle, 1, opportunity, ts_ns, ts_ns)
            continue
        record.updates += 1
        record.last_ts_ns = ts_ns
        if opportunity.profit_rate > record.best.profit_rate:
            record.best = opportunity


# --- command line: ``python -m genesis analyze triangles`` ----------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``analyze triangles``."""
    parser.add_argument(
        "--exchange-info",
        type=Path,
        metavar="FILE",
        help="Binance exchangeInfo JSON, plain or gzipped: the venue's graph "
        "(may be omitted with a Gemini --data recording, whose symbols make the graph)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="CAPTURE",
        help="replay a recording (Binance spot capture or stream recording, Gemini v2 L2) "
        "and report the opportunities found per book update",
    )
    parser.add_argument("--fee-bps", type=float, default=DEFAULT_FEE_BPS,
                        help="taker fee per leg in basis points (default 10)")  # fmt: skip
    parser.add_argument("--threshold-bps", type=float, default=0.0,
                        help="a cycle must beat 1 + threshold (default 0)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    """Run ``analyze triangles``: print the graph and, with ``--data``, the replay's findings.

    Raises:
        ConfigError: a file is missing or unreadable, the exchangeInfo is not
            one, no graph is given, or a fee/threshold is out of range.
        DataError: the recording has a malformed line.
    """
    out = out or sys.stdout
    recording = read_book_events(args.data) if args.data else None
    graph, source = _graph(args.exchange_info, recording)
    try:
        scanner = TriangleScanner(graph, fee_bps=args.fee_bps, threshold_bps=args.threshold_bps)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    result = _graph_summary(graph, source, args.fee_bps, args.threshold_bps)
    if recording is not None:
        kind, events = recording
        result |= {"data": str(args.data), "data_format": kind}
        result |= replay(scanner, events).to_dict()
    out.write(json.dumps(result) + "\n" if args.json else _table(result))
    return 0


def _graph(
    exchange_info: Path | None, recording: tuple[str, list[BookEvent]] | None
) -> tuple[VenueGraph, str]:
    if exchange_info is not None:
        return load_exchange_info(exchange_info), str(exchange_info)
    if recording is not None and recording[0] == "gemini":
        symbols = sorted({event.instrument_id for event in recording[1]})
        return graph_from_symbols(symbols), "symbols of the Gemini recording"
    raise ConfigError(
        "analyze triangles needs --exchange-info FILE (only a Gemini --data recording "
        "brings its own symbols)"
    )


def _graph_summary(graph: VenueGraph, source: str, fee_bps: float,
                   threshold_bps: float) -> dict[str, Any]:  # fmt: skip
    return {
        "graph": source,
        "symbols": len(graph.pairs),
        "assets": len(graph.assets),
        "triangles": len(graph.triangles),
        "directed_cycles": len(graph.cycles),
        "fee_bps": fee_bps,
        "threshold_bps": threshold_bps,
    }


_TABLE_ROWS: Final = (
    ("symbols", "symbols (trading)"),
    ("assets", "assets"),
    ("triangles", "currency triangles"),
    ("directed_cycles", "directed cycles"),
    ("fee_bps", "taker fee per leg (bps)"),
    ("threshold_bps", "threshold (bps)"),
    ("updates", "book updates replayed"),
    ("data_symbols", "symbols with books"),
    ("data_symbols_in_graph", "  of them in the graph"),
    ("evaluated_cycles", "cycles with three books"),
    ("updates_with_opportunity", "updates with an opportunity"),
    ("best_rate", "best cycle rate after fees"),
    ("best_cycle", "  on cycle"),
    ("opportunity_cycles", "cycles that were opportunities"),
)


def _table(result: dict[str, Any]) -> str:
    lines = [f"graph: {result['graph']}"]
    if "data" in result:
        lines.append(f"data:  {result['data']} ({result['data_format']})")
    for key, label in _TABLE_ROWS:
        if key in result:
            lines.append(f"  {label:<32} {_cell(result[key])}")
    if result.get("opportunities"):
        lines.append("")
        lines.append(f"  {'cycle':<22} {'updates':>7} {'rate':>10} {'start amount':>14} "
                     f"{'profit':>12} {'profit rate':>11}")  # fmt: skip
        lines.extend(
            f"  {row['cycle']:<22} {row['updates']:>7} {row['rate']:>10.6f} "
            f"{row['start_amount']:>14.6g} {row['profit']:>12.6g} "
            f"{row['profit_rate'] * _BPS:>8.2f} bp"
            for row in result["opportunities"]
        )
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}" if not value.is_integer() else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
