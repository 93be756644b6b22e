"""Liquidity (AN-4): slippage of a size and size for a slippage, on hand-made and real books.

The real books are the bundled Binance spot BTCUSDT depth stream of
2024-08-08 23:54-23:59 UTC (genesis/resources), replayed through BookSync from
its REST snapshot; twelve copies are taken along the way.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis import resources
from genesis.analytics.liquidity import (
    Reference,
    execution_cost,
    expected_slippage_bps,
    max_size_for_slippage,
)
from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot
from genesis.data.book import BookSync, OrderBook
from genesis.data.capture import read_binance_streams

D = Decimal
BPS = D(10_000)


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    book = OrderBook("X")
    book.apply_snapshot([(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks])
    return book


# asks 100 x 1, 101 x 2, 110 x 5; bids 99 x 3, 98 x 1
BOOK = _book([("99", "3"), ("98", "1")], [("100", "1"), ("101", "2"), ("110", "5")])


@pytest.fixture(scope="module")
def real_books() -> list[OrderBook]:
    """Twelve copies of the real BTCUSDT book, one every 280 in-sync diffs."""
    sync, books, applied = BookSync("BTCUSDT"), [], 0
    for event in read_binance_streams(resources.BTCUSDT_STREAMS):
        if not isinstance(event, BookDelta | BookSnapshot):
            continue
        sync.apply(event)
        applied += sync.valid
        if sync.valid and applied % 280 == 0:
            copy = OrderBook("BTCUSDT")
            copy.apply_snapshot(sync.book.levels(Side.BUY), sync.book.levels(Side.SELL))
            books.append(copy)
    return books


def _slippage(book: OrderBook, side: Side, qty: Decimal, ref: Decimal) -> Decimal:
    vwap = book.vwap_to_size(side, qty)
    assert vwap is not None
    return side.sign * (vwap - ref) / ref * BPS


def _brute_force(book: OrderBook, side: Side, budget: Decimal, ref: Decimal) -> Decimal:
    """Bisection on the book's own vwap_to_size: the largest size within the budget."""
    lo, hi = D(0), sum((q for _, q in book.levels(side.opposite)), D(0))
    if _slippage(book, side, hi, ref) <= budget:
        return hi
    for _ in range(120):
        mid = (lo + hi) / 2
        if mid > 0 and _slippage(book, side, mid, ref) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def test_buy_takes_whole_levels_then_the_exact_part_of_the_next() -> None:
    """At 100 bps from 100: 100x1 + 101x2 (VWAP 100.67) then 110 only up to VWAP 101: 1/9 more."""
    qty = max_size_for_slippage(BOOK, Side.BUY, 100)

    assert qty.quantize(D("1e-20")) == (D(3) + D(1) / D(9)).quantize(D("1e-20"), "ROUND_DOWN")


def test_a_level_beyond_the_limit_is_taken_whole_when_the_vwap_allows() -> None:
    """At 700 bps (limit 107) the 110 level fits whole (VWAP 106.5): every visible unit, 8."""
    assert max_size_for_slippage(BOOK, Side.BUY, 700) == D(8)


def test_zero_budget_is_the_touch_level() -> None:
    """No slippage allowed: only the best level's quantity."""
    assert max_size_for_slippage(BOOK, Side.BUY, 0) == D(1)
    assert max_size_for_slippage(BOOK, Side.SELL, 0) == D(3)


def test_sell_walks_the_bids() -> None:
    """A sell within 10 bps of 99 (limit 98.901): 3 at 99 plus (98.901x3 - 297)/(98 - 98.901)."""
    qty = max_size_for_slippage(BOOK, Side.SELL, 10)

    assert abs(qty - (D(3) + D("0.297") / D("0.901"))) < D("1e-20")


def test_mid_reference_charges_half_the_spread_first() -> None:
    """From the mid 99.5 a buy cannot fill within 50 bps (half spread is 50.25 bps)."""
    assert max_size_for_slippage(BOOK, Side.BUY, 50, reference=Reference.MID) == 0
    assert max_size_for_slippage(BOOK, Side.BUY, 51, reference=Reference.MID) > 0


def test_empty_side_gives_zero() -> None:
    """No asks: nothing can be bought at any budget."""
    book = _book([("99", "3")], [])

    assert max_size_for_slippage(book, Side.BUY, 1_000) == 0


def test_execution_cost_of_three_units() -> None:
    """3 units cost 100 + 2x101 = 302: VWAP 100.67, 66.7 bps over the touch, 2 levels."""
    cost = execution_cost(BOOK, Side.BUY, D(3))

    assert cost is not None
    assert (cost.notional, cost.levels, cost.reference) == (D(302), 2, D(100))
    assert cost.slippage_bps == pytest.approx(200 / 3)


def test_expected_slippage_is_none_beyond_visible_depth() -> None:
    """9 units when 8 are visible: unknown cost."""
    assert expected_slippage_bps(BOOK, Side.BUY, D(9)) is None


def test_negative_budget_and_zero_qty_are_refused() -> None:
    """Input errors are ValueErrors naming the argument."""
    with pytest.raises(ValueError, match="max_slippage_bps"):
        max_size_for_slippage(BOOK, Side.BUY, -1)
    with pytest.raises(ValueError, match="qty"):
        execution_cost(BOOK, Side.BUY, D(0))


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("budget", [D("0.5"), D(1), D(5), D(20)])
def test_real_book_matches_brute_force(
    real_books: list[OrderBook], side: Side, budget: Decimal
) -> None:
    """On twelve real BTCUSDT books the exact walk equals bisection on vwap_to_size.

    The check recomputes the VWAP with the book's own 28-digit arithmetic, so it
    may land a few 1e-24 bps past the budget that the answer itself respects.
    """
    for book in real_books:
        best = book.best_ask() if side is Side.BUY else book.best_bid()
        assert best is not None
        ref = best[0]

        qty = max_size_for_slippage(book, side, budget)

        assert _slippage(book, side, qty, ref) <= budget + D("1e-18")  # 28-digit VWAP noise
        assert abs(qty - _brute_force(book, side, budget, ref)) < D("1e-12")


def test_real_book_slippage_is_exactly_the_budget_at_the_answer(
    real_books: list[OrderBook],
) -> None:
    """Where the answer ends inside a level, its VWAP sits on the budget (1 bps) to 1e-9."""
    for book in real_books:
        qty = max_size_for_slippage(book, Side.BUY, 1)

        assert expected_slippage_bps(book, Side.BUY, qty) == pytest.approx(1.0, abs=1e-9)


def test_real_book_first_copy_is_pinned(real_books: list[OrderBook]) -> None:
    """The first copy (bid 61852.14, ask 61852.15): 1 bps buys 0.6691 BTC, 5 bps sells 70.2."""
    book = real_books[0]

    buy = max_size_for_slippage(book, Side.BUY, 1)
    sell = max_size_for_slippage(book, Side.SELL, 5)

    assert len(real_books) == 12
    assert buy.quantize(D("0.0001"), "ROUND_DOWN") == D("0.6691")
    assert sell.quantize(D("0.1"), "ROUND_DOWN") == D("70.2")
