"""Smart order routing maths (ST-X5): the split by all-in price, depth and lots, and the proof
on the bundled two-venue data that the split beats the best single venue net of fees.

The proof data: the same BTCUSD inverse perpetual quoted by Binance COIN-M and Bybit on
2022-12-13 (genesis/resources, one quote per minute at the bar's close; 398 minutes quoted on
both). Taker fees: Binance 5 bps, Bybit 6 bps. The quote files' sizes are contracts, and the
contracts differ: a Binance COIN-M BTCUSD contract is worth 100 USD, a Bybit inverse BTCUSD
contract 1 USD. Two views are pinned:

* **BTC** (what the venues really showed): size in BTC = contracts x face value (USD) / price,
  no lot rounding. Binance's ask carried a median 12.0 BTC, Bybit's 5.3 BTC.
* **as given** (what the backtest's simulated venues fill): contracts read as BTC, lots of 1,
  as the instruments inferred from the files have it. The tops then carry thousands of "BTC",
  so depth rarely binds.

With top-of-book quotes each venue shows one level a side; beyond it there is no depth.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis.analytics.liquidity import execution_cost
from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, QuoteTick
from genesis.data.book import BookSync, OrderBook
from genesis.data.capture import read_spot_capture
from genesis.data.loaders import read_quote_bars
from genesis.execution.router import (
    Route,
    VenueLiquidity,
    all_in_price,
    best_single_venue,
    route,
    saving_bps,
)
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES, BYBIT_BTCUSD_1M_QUOTES, SPOT_CAPTURE

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
FEE_BPS: Final = {"binance": D(5), "bybit": D(6)}
FACE_USD: Final = {"binance": D(100), "bybit": D(1)}  # one contract's value


def _venue(
    name: str, levels: list[tuple[str, str]], fee: str, step: str | None = None
) -> VenueLiquidity:
    return VenueLiquidity(
        venue=name,
        levels=tuple((D(p), D(q)) for p, q in levels),
        fee_bps=D(fee),
        step=None if step is None else D(step),
    )


def _split(found: Route) -> dict[str, Decimal]:
    return {c.venue: c.qty for c in found.children}


# --- the maths ---------------------------------------------------------------------------


def test_all_in_price_adds_the_fee_to_a_buy_and_takes_it_from_a_sell() -> None:
    """100 at 5 bps costs a buyer 100.05 and yields a seller 99.95."""
    assert all_in_price(D(100), D(5), BUY) == D("100.05")
    assert all_in_price(D(100), D(5), SELL) == D("99.95")


def test_the_fee_can_make_the_higher_price_the_cheaper_venue() -> None:
    """A 100.00 ask at 10 bps (100.10 all-in) loses to a 100.05 ask at 0 bps."""
    cheap_price = _venue("a", [("100.00", "1")], "10")
    no_fee = _venue("b", [("100.05", "1")], "0")

    found = route(BUY, D(1), [cheap_price, no_fee])

    assert _split(found) == {"b": D(1)}
    assert found.all_in == D("100.05")


def test_the_split_walks_both_books_level_by_level_by_all_in_price() -> None:
    """Levels interleave across venues: a1, b1, a2 (b2 is the dearest and is not reached)."""
    a = _venue("a", [("100", "1"), ("101", "2")], "0")
    b = _venue("b", [("100.5", "1"), ("102", "5")], "0")

    found = route(BUY, D(3), [a, b])

    assert _split(found) == {"a": D(2), "b": D(1)}
    assert (found.notional, found.unfilled) == (D("301.5"), D(0))
    assert [c.limit for c in found.children] == [D(101), D("100.5")]


def test_a_sell_takes_the_highest_proceeds_after_fees_first() -> None:
    """Bids 100 (6 bps) and 99.99 (0 bps): 99.94 vs 99.99 after fees, so b first."""
    a = _venue("a", [("100", "1")], "6")
    b = _venue("b", [("99.99", "1")], "0")

    found = route(SELL, D("1.5"), [a, b])

    assert _split(found) == {"b": D(1), "a": D("0.5")}
    assert found.all_in == D("99.99") + D("50") - D("0.03")


def test_depth_short_of_the_quantity_is_reported_unfilled() -> None:
    """Two venues showing 3 units in all leave 2 of 5 unfilled."""
    found = route(BUY, D(5), [_venue("a", [("1", "1")], "0"), _venue("b", [("1", "2")], "0")])

    assert (found.filled, found.unfilled) == (D(3), D(2))


def test_lots_are_rounded_down_and_the_rest_placed_by_marginal_cost() -> None:
    """a (lots of 1) holds 1.6 at the best price; its 0.6 goes back to b (lots of 0.5)."""
    a = _venue("a", [("100", "1.6"), ("103", "10")], "0", step="1")
    b = _venue("b", [("101", "10")], "0", step="0.5")

    found = route(BUY, D(3), [a, b])

    assert _split(found) == {"a": D(1), "b": D(2)}


def test_a_quantity_no_lot_fits_stays_unfilled() -> None:
    """3.7 with lots of 1 and 0.5: 3.5 goes, 0.2 cannot."""
    a = _venue("a", [("100", "10")], "0", step="1")
    b = _venue("b", [("100.1", "10")], "0", step="0.5")

    found = route(BUY, D("3.7"), [a, b])

    assert _split(found) == {"a": D(3), "b": D("0.5")}
    assert found.unfilled == D("0.2")


def test_best_single_venue_is_the_cheapest_venue_that_carries_it_all() -> None:
    """a is cheaper but shows 1; b carries all 2; no venue carries 20."""
    a = _venue("a", [("100", "1")], "5")
    b = _venue("b", [("100.1", "5")], "6")

    single = best_single_venue(BUY, D(2), [a, b])

    assert single is not None
    assert _split(single) == {"b": D(2)}
    assert best_single_venue(BUY, D(20), [a, b]) is None


def test_saving_bps_is_positive_when_the_split_costs_less() -> None:
    """Taking a's cheaper unit first saves 0.5 bps on two units bought at b."""
    a = _venue("a", [("100", "1")], "0")
    b = _venue("b", [("100.02", "5")], "0")
    single = best_single_venue(BUY, D(2), [a, b])
    assert single is not None

    assert saving_bps(route(BUY, D(2), [a, b]), single) == D("0.02") / D("200.04") * 10_000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: route(BUY, D(0), []), "invalid `qty`"),
        (lambda: route(BUY, D(1), [_venue("a", [], "0"), _venue("a", [], "0")]), "repeat"),
        (lambda: _venue("a", [], "-1"), "invalid `fee_bps`"),
        (lambda: _venue("a", [("0", "1")], "0"), "invalid level"),
        (lambda: _venue("a", [], "0", step="0"), "invalid `step`"),
    ],
)
def test_bad_input_is_refused(call: Callable[[], object], message: str) -> None:
    """A non-positive quantity, a repeated venue, a negative fee, a zero price or step."""
    with pytest.raises(ValueError, match=message):
        call()


_levels = st.lists(st.tuples(st.integers(1, 50), st.integers(0, 20)), min_size=1, max_size=5).map(
    lambda rows: tuple((D(100) + D(p) / 10, D(q)) for p, q in sorted(rows))
)


@given(_levels, _levels, st.integers(0, 30), st.integers(0, 30), st.integers(1, 60))
def test_the_split_is_never_worse_than_one_venue(
    a: tuple[tuple[Decimal, Decimal], ...],
    b: tuple[tuple[Decimal, Decimal], ...],
    fee_a: int,
    fee_b: int,
    qty: int,
) -> None:
    """For any two books and fees: the split fills at least as much as any single venue, and
    costs no more than the best single venue that carries the whole quantity."""
    venues = [
        VenueLiquidity(venue="a", levels=a, fee_bps=D(fee_a)),
        VenueLiquidity(venue="b", levels=b, fee_bps=D(fee_b)),
    ]
    split = route(BUY, D(qty), venues)
    single = best_single_venue(BUY, D(qty), venues)

    assert all(split.filled >= route(BUY, D(qty), [v]).filled for v in venues)
    assert single is None or split.all_in <= single.all_in


# --- real depth: the 2021 spot capture ------------------------------------------------------


def _nkn_books() -> tuple[OrderBook, OrderBook]:
    """The real NKNUSDT book at its REST snapshot, and again after 25 s of diffs."""
    sync = BookSync("NKNUSDT")
    first: OrderBook | None = None
    start = 0
    for event in read_spot_capture(SPOT_CAPTURE):
        if event.instrument_id != "NKNUSDT" or not isinstance(event, BookSnapshot | BookDelta):
            continue
        sync.apply(event)
        if first is None and sync.valid:
            first, start = _copy(sync.book), event.ts_init
        elif first is not None and event.ts_init - start >= 25_000_000_000 and sync.valid:
            return first, sync.book
    raise AssertionError("the capture holds no 25 s of NKNUSDT book")


def _copy(book: OrderBook) -> OrderBook:
    copy = OrderBook(book.instrument_id)
    copy.apply_snapshot(book.levels(BUY), book.levels(SELL))
    return copy


def test_one_venue_route_walks_a_real_book_as_the_liquidity_analytics_do() -> None:
    """On the real NKNUSDT asks, the route's notional for 50,000 NKN is the book walk's."""
    book, _ = _nkn_books()
    venue = VenueLiquidity(venue="binance", levels=tuple(book.levels(SELL, 200)), fee_bps=D(10))

    found = route(BUY, D(50_000), [venue])
    walked = execution_cost(book, BUY, D(50_000))

    assert walked is not None
    assert found.notional == walked.notional


def test_the_split_of_two_real_books_is_the_brute_force_optimum() -> None:
    """Two real NKNUSDT books (25 s apart, 10 and 7.5 bps): no split of 60,000 NKN in lots
    of 100 costs less all-in than the router's."""
    early, late = _nkn_books()
    venues = [
        VenueLiquidity(venue="a", levels=tuple(early.levels(SELL, 200)), fee_bps=D(10)),
        VenueLiquidity(venue="b", levels=tuple(late.levels(SELL, 200)), fee_bps=D("7.5")),
    ]
    qty = D(60_000)

    found = route(BUY, qty, venues)
    brute = min(
        route(BUY, D(x), venues[:1]).all_in + route(BUY, qty - D(x), venues[1:]).all_in
        for x in range(100, 60_000, 100)
    )

    assert len(found.children) == 2  # both books are used
    assert found.all_in <= brute


# --- the proof on the two-venue data ------------------------------------------------------


def _minutes() -> list[tuple[QuoteTick, QuoteTick]]:
    """(Binance, Bybit) quotes of every minute both venues quoted."""
    binance = {q.ts_init: q for q in read_quote_bars(BINANCE_BTCUSD_1M_QUOTES, "binance")}
    bybit = {q.ts_init: q for q in read_quote_bars(BYBIT_BTCUSD_1M_QUOTES, "bybit")}
    return [(binance[t], bybit[t]) for t in sorted(binance.keys() & bybit.keys())]


MINUTES: Final = _minutes()


def _liquidity(quote: QuoteTick, side: Side, in_btc: bool) -> VenueLiquidity:
    venue = quote.instrument_id
    price, size = (quote.ask, quote.ask_size) if side is BUY else (quote.bid, quote.bid_size)
    if in_btc:
        size = size * FACE_USD[venue] / price
    step = None if in_btc else D(1)
    return VenueLiquidity(venue=venue, levels=((price, size),), fee_bps=FEE_BPS[venue], step=step)


def _per_minute(side: Side, qty: Decimal, in_btc: bool) -> tuple[int, int, int, int, Decimal]:
    """(split better, equal, only the split fills, neither fills, USD saved where a single
    venue carries ``qty``) over the 398 minutes."""
    better = equal = only = neither = 0
    saved = D(0)
    for quotes in MINUTES:
        venues = [_liquidity(q, side, in_btc) for q in quotes]
        split, single = route(side, qty, venues), best_single_venue(side, qty, venues)
        if single is None:
            only, neither = (only + 1, neither) if split.unfilled == 0 else (only, neither + 1)
            continue
        gain = (single.all_in - split.all_in) * side.sign
        assert gain >= 0  # never worse: the greedy split is optimal
        better, equal = (better + 1, equal) if gain > 0 else (better, equal + 1)
        saved += gain
    return better, equal, only, neither, saved.quantize(D("0.0001"))


def test_the_data_is_398_minutes_on_both_venues() -> None:
    """Bybit stops at 12:00; 398 minutes carry a quote from both."""
    assert len(MINUTES) == 398


@pytest.mark.parametrize(
    ("side", "qty", "expected"),
    [
        (BUY, "1", (73, 292, 6, 27, D("104.1620"))),
        (BUY, "5", (77, 206, 18, 97, D("795.3682"))),
        (SELL, "1", (43, 323, 9, 23, D("133.3387"))),
        (SELL, "5", (31, 266, 13, 88, D("228.5213"))),
    ],
)
def test_in_btc_the_split_beats_the_best_single_venue_when_a_top_is_short(
    side: Side, qty: str, expected: tuple[int, int, int, int, Decimal]
) -> None:
    """Sizes in BTC: where one venue could take the whole child, the split is cheaper in the
    minutes the cheaper venue's top is smaller than the child (it takes that top, then the
    other venue), and equal otherwise; where no venue could, only the split fills in a few."""
    assert _per_minute(side, D(qty), in_btc=True) == expected


@pytest.mark.parametrize(
    ("side", "qty", "expected"),
    [
        (BUY, "1", (0, 398, 0, 0, D(0))),
        (BUY, "100", (34, 359, 2, 3, D("5757.2895"))),
        (SELL, "100", (45, 350, 2, 1, D("14803.6515"))),
    ],
)
def test_as_given_one_contract_never_needs_a_split(
    side: Side, qty: str, expected: tuple[int, int, int, int, Decimal]
) -> None:
    """Contracts read as BTC: one unit always fits the cheaper venue's top (the split is
    that venue: saving 0, why not); a 100-unit child outgrows it in 34 buy minutes."""
    assert _per_minute(side, D(qty), in_btc=False) == expected


def _parent(side: Side, per_minute: Decimal, policy: str, in_btc: bool) -> tuple[Decimal, Decimal]:
    """Work ``per_minute`` x 398 over the day on a straight line (what did not fill is asked
    for again next minute): (filled, all-in amount) of ``policy``: ``split``, ``touch`` (all to
    the venue with the best all-in touch), or one venue's name."""
    total, filled, amount = per_minute * len(MINUTES), D(0), D(0)
    for k, quotes in enumerate(MINUTES):
        child = total * (k + 1) / len(MINUTES) - filled
        venues = [_liquidity(q, side, in_btc) for q in quotes]
        if policy == "touch":
            touch = [all_in_price(v.levels[0][0], v.fee_bps, side) * side.sign for v in venues]
            venues = [venues[touch.index(min(touch))]]
        elif policy != "split":
            venues = [v for v in venues if v.venue == policy]
        found = route(side, child, venues)
        filled, amount = filled + found.filled, amount + found.all_in
    return filled, amount.quantize(D("0.0001"))


def test_a_parent_worked_over_the_day_as_given_beats_every_fixed_venue() -> None:
    """As given (every child fits one top, so every policy fills the same lots at the same
    minutes): buying 1 a minute, the split pays 6,859,502.6344 USD all-in for 398, 135.68
    less than all on Bybit (0.198 bps) and 2,010.61 less than all on Binance (2.93 bps)."""
    split = _parent(BUY, D(1), "split", in_btc=False)

    assert split == (D(398), D("6859502.6344"))
    assert _parent(BUY, D(1), "bybit", in_btc=False) == (D(398), D("6859638.3150"))
    assert _parent(BUY, D(1), "binance", in_btc=False) == (D(398), D("6861513.2421"))
    assert _parent(SELL, D(1), "split", in_btc=False)[1] == D("6854625.4204")
    assert _parent(SELL, D(1), "binance", in_btc=False)[1] == D("6854615.3778")


def test_a_parent_worked_over_the_day_in_btc_is_decided_by_timing_not_routing() -> None:
    """In BTC, the single-venue policies cannot fill their child in many minutes and buy it
    later. This morning the price fell (Binance mid 17,207.55 at 00:01, 17,150.45 at 07:03)
    before it rose, so lagging the schedule paid: the split's 398 BTC cost 6,859,930.32 USD,
    248.89 (0.36 bps) more than all to the best touch (which fell behind the schedule in 112
    of the minutes); the same-minute comparisons above are the routing's own effect."""
    split = _parent(BUY, D(1), "split", in_btc=True)
    touch = _parent(BUY, D(1), "touch", in_btc=True)

    assert split[1] == D("6859930.3211")
    assert touch[1] == D("6859681.4302")
    assert split[0] == touch[0] == D(398)
