"""Smart order routing maths (SPEC ST-X5): split a quantity across venues by all-in cost.

Theory of operation
-------------------
Each venue offers the levels of the side an order takes from (asks for a buy,
bids for a sell), best first, with their sizes, and charges a taker fee
``f`` (bps of the notional). What one unit at price ``p`` really costs or
yields is its *all-in* price::

    buy:  p * (1 + f / 10_000)          sell: p * (1 - f / 10_000)

The cost of a split is the sum over venues of what each venue's walk costs,
and a venue's walk is separable level by level. So the cheapest split of
``q`` units is the fractional-knapsack greedy: merge every venue's levels into
one list ordered by all-in price (lowest first for a buy, highest first for
a sell) and take them whole until ``q`` is reached, the last one in part.
Within a venue the all-in prices keep the levels' order, so the merge takes
each venue's levels best first, as its matching engine fills them. Ties go to
the venue listed first: the split is a pure function of its inputs.

Lots. A venue fills only multiples of its instrument's step. The greedy
split is exact for divisible quantities; with steps, each venue's share is
rounded down to its step, and what that rounding left over is handed out
again one lot at a time, each lot to the venue whose next lot is cheapest
all-in (walked from where its share ends) while it has the depth. That
moves at most one lot per venue away from the divisible optimum.

Depth. Only what the venues show is liquidity. When the visible levels hold
less than ``q`` the route fills what they hold and says how much is left
(``Route.unfilled``); the caller decides whether to wait for the next update
or to look elsewhere (a dark pool: ``genesis.exchange.darkpool``).

Each child carries the worst price its walk reaches (``limit``): sent as an
IOC limit at that price, a child can fill only within the route, however the
book moved on its way. Everything here is exact ``Decimal``; nothing reads a
clock, a book object or a venue: callers pass plain levels (a top-of-book
quote is one level a side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from genesis.core.enums import Side
from genesis.core.money import ROUND_DOWN, ZERO, quantize

__all__ = [
    "Child",
    "Route",
    "VenueLiquidity",
    "all_in_price",
    "best_single_venue",
    "route",
    "saving_bps",
]

Level = tuple[Decimal, Decimal]
_BPS: Final = Decimal(10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueLiquidity:
    """What one venue shows an order of a given side, and what it charges.

    Attributes:
        venue: the name the route's children carry (an instrument id, e.g. ``bybit:BTCUSD``).
        levels: (price, size) on the side the order takes from, best first; sizes in base
            units as the venue fills them.
        fee_bps: the venue's taker fee in basis points of the notional.
        step: the venue's quantity increment (None: any quantity).

    Raises:
        ValueError: a negative fee, a step that is not positive, or a level with a
            non-positive price or a negative size.
    """

    venue: str
    levels: tuple[Level, ...]
    fee_bps: Decimal
    step: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.fee_bps.is_finite() or self.fee_bps < 0:
            raise ValueError(f"venue {self.venue}: invalid `fee_bps` {self.fee_bps}, expected >= 0")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"venue {self.venue}: invalid `step` {self.step}, expected > 0")
        for price, size in self.levels:
            if not price > 0 or size < 0:
                raise ValueError(f"venue {self.venue}: invalid level ({price}, {size})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Child:
    """One venue's share of a route.

    Attributes:
        venue: as in :class:`VenueLiquidity`.
        qty: base units.
        notional: ``sum(price * size)`` of the levels taken, before fees (quote currency).
        fee: the venue's taker fee on that notional (quote currency).
        limit: the worst price the walk reaches: an IOC limit there stays within the route.
    """

    venue: str
    qty: Decimal
    notional: Decimal
    fee: Decimal
    limit: Decimal

    @property
    def vwap(self) -> Decimal:
        """Average price before fees."""
        return self.notional / self.qty


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """A split of ``requested`` units of ``side`` across venues, children in venue order."""

    side: Side
    requested: Decimal
    children: tuple[Child, ...]

    @property
    def filled(self) -> Decimal:
        return sum((c.qty for c in self.children), ZERO)

    @property
    def unfilled(self) -> Decimal:
        """What the visible depth could not carry."""
        return self.requested - self.filled

    @property
    def notional(self) -> Decimal:
        return sum((c.notional for c in self.children), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((c.fee for c in self.children), ZERO)

    @property
    def all_in(self) -> Decimal:
        """Quote currency paid with fees (a buy), or received after fees (a sell)."""
        return self.notional + self.fees if self.side is Side.BUY else self.notional - self.fees

    @property
    def all_in_price(self) -> Decimal | None:
        """``all_in`` per unit filled; None when nothing fills."""
        filled = self.filled
        return self.all_in / filled if filled else None

    def child(self, venue: str) -> Child | None:
        return next((c for c in self.children if c.venue == venue), None)


def all_in_price(price: Decimal, fee_bps: Decimal, side: Side) -> Decimal:
    """What one unit at ``price`` costs a buyer, or yields a seller, after a ``fee_bps`` fee."""
    rate = fee_bps / _BPS
    return price * (1 + rate) if side is Side.BUY else price * (1 - rate)


def route(side: Side, qty: Decimal, venues: Sequence[VenueLiquidity]) -> Route:
    """Split ``qty`` across ``venues`` at the lowest all-in cost (module essay).

    Returns:
        The route: one child per venue that takes a positive quantity, in the
        order the venues were given; ``unfilled`` > 0 when their depth is short.

    Raises:
        ValueError: ``qty`` is not a finite positive Decimal, or two venues share a name.
    """
    _check_qty(qty)
    if len({v.venue for v in venues}) != len(venues):
        raise ValueError(f"venues repeat a name: {[v.venue for v in venues]}")
    shares = _greedy(side, qty, venues)
    if any(v.step is not None for v in venues):
        shares = _in_lots(side, qty, venues, shares)
    children = [_child(side, v, share) for v, share in zip(venues, shares, strict=True) if share]
    return Route(side=side, requested=qty, children=tuple(children))


def best_single_venue(side: Side, qty: Decimal, venues: Sequence[VenueLiquidity]) -> Route | None:
    """Everything on one venue: the cheapest all-in route among the venues whose depth
    carries all of ``qty`` (first listed on a tie); None when no venue carries it alone.

    Raises:
        ValueError: as :func:`route`.
    """
    whole = [r for r in (route(side, qty, (v,)) for v in venues) if r.unfilled == 0]
    if not whole:
        return None
    if side is Side.BUY:
        return min(whole, key=lambda r: r.all_in)
    return max(whole, key=lambda r: r.all_in)


def saving_bps(split: Route, single: Route) -> Decimal:
    """How much better ``split`` is than ``single`` for the same filled quantity, in bps of
    ``single``'s all-in amount (>= 0: the split costs less, or yields more).

    Raises:
        ValueError: the two routes are for different sides or fill different quantities.
    """
    if split.side is not single.side or split.filled != single.filled or not single.filled:
        raise ValueError("saving_bps compares two routes of one side filling the same quantity")
    better = (single.all_in - split.all_in) * split.side.sign  # a sell: more received is better
    return better / single.all_in * _BPS


# --- the walk ----------------------------------------------------------------------------


def _check_qty(qty: Decimal) -> None:
    if not isinstance(qty, Decimal) or not qty.is_finite() or qty <= 0:
        raise ValueError(f"invalid `qty` {qty!r}; expected a finite Decimal > 0")


def _greedy(side: Side, qty: Decimal, venues: Sequence[VenueLiquidity]) -> list[Decimal]:
    """Each venue's share of the divisible optimum: levels merged by all-in price."""
    sign = 1 if side is Side.BUY else -1  # order by sign * all-in: cheapest (or richest) first
    merged = sorted(
        (sign * all_in_price(price, v.fee_bps, side), i, sign * price, size)
        for i, v in enumerate(venues)
        for price, size in v.levels
        if size > 0
    )
    shares = [ZERO] * len(venues)
    left = qty
    for _, i, _, size in merged:
        take = min(size, left)
        shares[i] += take
        left -= take
        if not left:
            break
    return shares


def _in_lots(
    side: Side, qty: Decimal, venues: Sequence[VenueLiquidity], shares: list[Decimal]
) -> list[Decimal]:
    """Round each share down to its venue's step, then re-place the rest lot by lot."""
    lots = [
        s if v.step is None else quantize(s, v.step, ROUND_DOWN)
        for v, s in zip(venues, shares, strict=True)
    ]
    left = qty - sum(lots, ZERO)
    while left > 0:
        best: tuple[Decimal, int, Decimal] | None = None
        for i, v in enumerate(venues):
            lot = min(left, _depth(v) - lots[i]) if v.step is None else v.step
            if lot <= 0 or lot > left or lots[i] + lot > _depth(v):
                continue
            unit = _walk_cost(side, v, lots[i], lot) / lot
            key = unit if side is Side.BUY else -unit
            if best is None or key < best[0]:
                best = (key, i, lot)
        if best is None:
            break
        _, i, lot = best
        lots[i] += lot
        left -= lot
    return lots


def _depth(venue: VenueLiquidity) -> Decimal:
    return sum((size for _, size in venue.levels), ZERO)


def _walk_cost(side: Side, venue: VenueLiquidity, start: Decimal, qty: Decimal) -> Decimal:
    """All-in amount of the ``qty`` units that follow the first ``start`` on ``venue``."""
    notional, skip, left = ZERO, start, qty
    for price, size in venue.levels:
        usable = size - min(size, skip)
        skip -= min(size, skip)
        take = min(usable, left)
        notional += price * take
        left -= take
        if not left:
            break
    return all_in_price(notional, venue.fee_bps, side)


def _child(side: Side, venue: VenueLiquidity, qty: Decimal) -> Child:
    notional, left, limit = ZERO, qty, ZERO
    for price, size in venue.levels:
        if size <= 0:
            continue
        take = min(size, left)
        notional += price * take
        left -= take
        limit = price
        if not left:
            break
    assert not left, "a share never exceeds its venue's depth"
    fee = notional * venue.fee_bps / _BPS
    return Child(venue=venue.venue, qty=qty, notional=notional, fee=fee, limit=limit)
