"""Cross-venue arbitrage on one instrument quoted by several venues (SPEC AN-1).

An opportunity is a buy on venue A at A's ask and a simultaneous sell on
venue B at B's bid, both as takers. Per unit bought at ``a`` and sold at
``b``, with taker fee rates ``fa`` and ``fb``, the profit after fees is
``b(1 - fb) - a(1 + fa)``; its *net* edge in bps of the money spent on the buy
side is::

    net_bps = (b(1 - fb) - a(1 + fa)) / a * 10_000          gross_bps = (b - a) / a * 10_000

An opportunity exists when the top-of-book net edge reaches the threshold
(default 30 bps, SPEC's 0.3%).

Size. Both books are walked together, best levels first (A's asks upward, B's
bids downward), and a unit is taken only while *its own* (marginal) net edge
still reaches the threshold: every unit traded clears the threshold, so the
average does too, and with a zero threshold this is the size that maximises
the profit. The size is also capped by the depth shown (the smaller of the
two sides) and by an optional ``max_qty``. With top-of-book quotes the depth
is the quoted sizes: one level each. The walk is O(levels taken).

Incremental use. :class:`CrossVenueArbitrage` keeps the latest top of book
(or the best ``depth`` levels) per venue of one symbol; each update re-checks
the updated venue against every other one in both directions, O(venues x
levels), and returns the best opportunity by expected profit. A venue whose
state is older than ``max_age_ns`` in event time is left out: a quote from a
minute ago is not a price one can trade against now.

Prices and sizes stay the venues' Decimals (the comparisons are exact); the
bps figures and the expected profit are floats (analytics, never orders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from genesis.core.enums import Side
from genesis.core.events import QuoteTick
from genesis.core.instruments import split_instrument_id
from genesis.data.book import Level, OrderBook

__all__ = [
    "ArbitrageStats",
    "CrossVenueArbitrage",
    "Opportunity",
    "VenueQuote",
    "best_cross",
    "cross",
]

DEFAULT_THRESHOLD_BPS: Final = 30.0
_ZERO: Final = Decimal(0)
_BPS: Final = Decimal(10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """Buy ``qty`` on ``buy_venue`` and sell it on ``sell_venue`` at once, both as taker.

    Attributes:
        ts: event time (ns) of the update that revealed it.
        symbol: the instrument, as both venues name it (``BTCUSD``).
        buy_venue / sell_venue: venue names (``bybit``, ``binance``).
        buy_price / sell_price: the VWAPs of the walk, before fees.
        best_ask / best_bid: the touch prices on the buy and sell venues.
        qty: base units, every one clearing the threshold (module essay).
        gross_bps: ``(sell_price - buy_price) / buy_price`` in bps.
        net_bps: the same after both taker fees, in bps of the buy notional.
        top_net_bps: the net edge of the first unit (touch against touch).
        expected_profit: quote currency after fees, if both legs fill at these VWAPs.
    """

    ts: int
    symbol: str
    buy_venue: str
    sell_venue: str
    buy_price: Decimal
    sell_price: Decimal
    best_ask: Decimal
    best_bid: Decimal
    qty: Decimal
    gross_bps: float
    net_bps: float
    top_net_bps: float
    expected_profit: float

    @property
    def notional(self) -> Decimal:
        """What the buy leg costs before fees, in quote currency."""
        return self.qty * self.buy_price


@dataclass(frozen=True, slots=True)
class ArbitrageStats:
    """Counters of a :class:`CrossVenueArbitrage`: updates seen, updates that found one."""

    updates: int
    opportunities: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueQuote:
    """One venue's tradable side of the book at ``ts``: levels best first."""

    venue: str
    ts: int
    bids: Sequence[Level]
    asks: Sequence[Level]


def cross(
    buy: VenueQuote,
    sell: VenueQuote,
    *,
    buy_fee_bps: float,
    sell_fee_bps: float,
    threshold_bps: float = DEFAULT_THRESHOLD_BPS,
    max_qty: Decimal | None = None,
    symbol: str = "",
) -> Opportunity | None:
    """The opportunity of buying on ``buy`` and selling on ``sell``, or None below the threshold.

    Args:
        buy / sell: the two venues' levels (``buy.asks`` and ``sell.bids`` are walked).
        buy_fee_bps / sell_fee_bps: taker fee rates of the two venues, bps.
        threshold_bps: the smallest net edge a unit may have, bps.
        max_qty: the largest size wanted (None: the depth decides).
        symbol: copied into the result.

    Returns:
        None when a side is empty, ``max_qty`` is 0, or the first unit's net
        edge is below the threshold; the result's ``ts`` is the later of the two.

    Raises:
        ValueError: a fee is negative.
    """
    if buy_fee_bps < 0 or sell_fee_bps < 0:
        raise ValueError(f"invalid fees {buy_fee_bps!r}/{sell_fee_bps!r} bps; expected >= 0")
    buy_factor = 1 + (_dec(buy_fee_bps) + _dec(threshold_bps)) / _BPS
    sell_factor = 1 - _dec(sell_fee_bps) / _BPS
    qty, cost, proceeds = _walk(buy.asks, sell.bids, buy_factor, sell_factor, max_qty)
    if not qty:
        return None
    buy_px, sell_px = cost / qty, proceeds / qty
    fa, fb = _dec(buy_fee_bps) / _BPS, _dec(sell_fee_bps) / _BPS
    profit = proceeds * (1 - fb) - cost * (1 + fa)
    ask, bid = buy.asks[0][0], sell.bids[0][0]
    return Opportunity(
        ts=max(buy.ts, sell.ts), symbol=symbol, buy_venue=buy.venue, sell_venue=sell.venue,
        buy_price=buy_px, sell_price=sell_px, best_ask=ask, best_bid=bid, qty=qty,
        gross_bps=float((sell_px - buy_px) / buy_px * _BPS),
        net_bps=float(profit / cost * _BPS),
        top_net_bps=float((bid * (1 - fb) - ask * (1 + fa)) / ask * _BPS),
        expected_profit=float(profit),
    )  # fmt: skip


def _walk(
    asks: Sequence[Level],
    bids: Sequence[Level],
    buy_factor: Decimal,
    sell_factor: Decimal,
    max_qty: Decimal | None,
) -> tuple[Decimal, Decimal, Decimal]:
    """(qty, buy cost, sell proceeds) of the units whose marginal net edge clears the bar."""
    i = j = 0
    qty = cost = proceeds = _ZERO
    left_a = asks[0][1] if asks else _ZERO
    left_b = bids[0][1] if bids else _ZERO
    room = max_qty
    while i < len(asks) and j < len(bids) and (room is None or room > 0):
        ask, bid = asks[i][0], bids[j][0]
        if bid * sell_factor < ask * buy_factor:  # this unit's net edge is below threshold
            break
        take = min(left_a, left_b) if room is None else min(left_a, left_b, room)
        qty, cost, proceeds = qty + take, cost + ask * take, proceeds + bid * take
        left_a, left_b = left_a - take, left_b - take
        room = None if room is None else room - take
        if not left_a and (i := i + 1) < len(asks):
            left_a = asks[i][1]
        if not left_b and (j := j + 1) < len(bids):
            left_b = bids[j][1]
    return qty, cost, proceeds


def best_cross(
    a: VenueQuote,
    b: VenueQuote,
    fee_bps: Mapping[str, float],
    *,
    threshold_bps: float = DEFAULT_THRESHOLD_BPS,
    max_qty: Decimal | None = None,
    symbol: str = "",
) -> Opportunity | None:
    """The better of buying on ``a``/selling on ``b`` and the reverse (at most one can clear a
    non-negative threshold: both would need each venue's ask below the other's bid)."""
    found = []
    for buy, sell in ((a, b), (b, a)):
        fees = {"buy_fee_bps": fee_bps[buy.venue], "sell_fee_bps": fee_bps[sell.venue]}
        found.append(
            cross(buy, sell, **fees, threshold_bps=threshold_bps, max_qty=max_qty, symbol=symbol)
        )
    return max((o for o in found if o is not None), key=_profit, default=None)


class CrossVenueArbitrage:
    """Incremental detector for one symbol on several venues (module essay).

    Feed it quotes (``on_quote``) or books (``on_book``) of instruments
    ``VENUE:SYMBOL`` (a bare symbol is on the default venue); each call
    returns the best opportunity the update reveals, or None.
    """

    __slots__ = (
        "_depth",
        "_fees",
        "_found",
        "_max_age_ns",
        "_quotes",
        "_threshold",
        "_updates",
    )

    def __init__(
        self,
        fee_bps: Mapping[str, float],
        *,
        threshold_bps: float = DEFAULT_THRESHOLD_BPS,
        depth: int = 20,
        max_age_ns: int | None = None,
    ) -> None:
        """Set the venues' taker fees and the rules; every venue fed must have a fee.

        Args:
            fee_bps: venue name (lower case) -> taker fee, bps.
            threshold_bps: smallest net edge per unit, bps (default 30 = 0.3%).
            depth: book levels per side read from ``on_book``.
            max_age_ns: leave out a venue whose last update is older than this
                (event time) when another venue updates; None: no limit.

        Raises:
            ValueError: a negative fee or age, or ``depth`` < 1.
        """
        if any(fee < 0 for fee in fee_bps.values()):
            raise ValueError(f"invalid `fee_bps` {dict(fee_bps)!r}; expected fees >= 0")
        if depth < 1 or (max_age_ns is not None and max_age_ns < 0):
            raise ValueError(f"invalid depth {depth} or max_age_ns {max_age_ns}")
        self._fees = {venue.lower(): float(fee) for venue, fee in fee_bps.items()}
        self._threshold = threshold_bps
        self._depth = depth
        self._max_age_ns = max_age_ns
        self._quotes: dict[str, VenueQuote] = {}  # venue -> latest state
        self._updates = self._found = 0

    def statistics(self) -> ArbitrageStats:
        """A frozen copy of the counters."""
        return ArbitrageStats(self._updates, self._found)

    def on_quote(self, quote: QuoteTick, max_qty: Decimal | None = None) -> Opportunity | None:
        """Take a top-of-book quote (its sizes are the depth; a side of size 0 is empty).

        Its time is ``ts_init``, when it was seen: venues' own clocks differ.
        """
        bids = ((quote.bid, quote.bid_size),) if quote.bid_size > 0 else ()
        asks = ((quote.ask, quote.ask_size),) if quote.ask_size > 0 else ()
        return self.update(quote.instrument_id, quote.ts_init, bids, asks, max_qty)

    def on_book(
        self, instrument_id: str, ts: int, book: OrderBook, max_qty: Decimal | None = None
    ) -> Opportunity | None:
        """Take the best ``depth`` levels of a book that is in sync."""
        depth = self._depth
        bids, asks = book.levels(Side.BUY, depth), book.levels(Side.SELL, depth)
        return self.update(instrument_id, ts, bids, asks, max_qty)

    def update(
        self,
        instrument_id: str,
        ts: int,
        bids: Sequence[Level],
        asks: Sequence[Level],
        max_qty: Decimal | None = None,
    ) -> Opportunity | None:
        """Replace one venue's levels (best first) and check it against the others.

        Raises:
            ValueError: the venue has no fee configured.
            ConfigError: ``instrument_id`` is malformed.
        """
        venue, symbol = split_instrument_id(instrument_id)
        if venue not in self._fees:
            raise ValueError(f"venue {venue!r} has no taker fee; configured: {sorted(self._fees)}")
        mine = self._quotes[venue] = VenueQuote(venue=venue, ts=ts, bids=bids, asks=asks)
        self._updates += 1
        best: Opportunity | None = None
        for other in self._quotes.values():
            if other is mine or (self._max_age_ns is not None and ts - other.ts > self._max_age_ns):
                continue
            found = best_cross(
                mine, other, self._fees, threshold_bps=self._threshold, max_qty=max_qty,
                symbol=symbol,
            )  # fmt: skip
            if found is not None and (best is None or found.expected_profit > best.expected_profit):
                best = found
        self._found += best is not None
        return best

    def edge_bps(self, buy_venue: str, sell_venue: str, *, net: bool = True) -> float | None:
        """The touch-against-touch edge of buying on one venue and selling on the other, bps.

        Net of both taker fees unless ``net`` is False. Measured on the latest
        states whatever their age (None when a side is unknown or empty); the
        persistence test of ``ranking`` feeds on it.
        """
        buy, sell = self._quotes.get(buy_venue), self._quotes.get(sell_venue)
        if buy is None or sell is None or not buy.asks or not sell.bids:
            return None
        ask, bid = float(buy.asks[0][0]), float(sell.bids[0][0])
        if not net:
            return (bid - ask) / ask * 10_000
        fa, fb = self._fees[buy_venue] / 10_000, self._fees[sell_venue] / 10_000
        return (bid * (1 - fb) - ask * (1 + fa)) / ask * 10_000

    def last_update_ns(self, venue: str) -> int | None:
        """Event time of ``venue``'s latest update, or None before any."""
        state = self._quotes.get(venue)
        return None if state is None else state.ts


def _dec(value: float) -> Decimal:
    return Decimal(str(value))


def _profit(opportunity: Opportunity) -> float:
    return opportunity.expected_profit
