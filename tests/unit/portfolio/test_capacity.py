"""Strategy capacity (PF-4): the size at which expected slippage eats the edge."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from genesis.analytics.liquidity import Reference, expected_slippage_bps
from genesis.core.enums import Side
from genesis.core.events import BookSnapshot
from genesis.data.book import BookSync, OrderBook
from genesis.portfolio.accounting import ClosedLot
from genesis.portfolio.capacity import Edge, EdgeBook, estimate_capacity
from genesis.testing import streams
from genesis.testing.instruments import BTCUSDT, instrument

BTC = instrument(BTCUSDT)


@pytest.fixture(scope="module")
def book() -> OrderBook:
    """The real BTCUSDT L2 book of 2024-08-08 (the recording's REST snapshot)."""
    snapshot = next(e for e in streams.events() if isinstance(e, BookSnapshot))
    sync = BookSync(BTCUSDT)
    sync.apply(snapshot)
    assert sync.valid
    return sync.book


def _lot(gross: str, qty: str = "0.5", entry: str = "56000") -> ClosedLot:
    return ClosedLot(
        instrument_id=BTCUSDT, strategy_id="s1", direction="LONG", quantity=D(qty),
        entry_ts=0, entry_px=D(entry), exit_ts=1, exit_px=D(entry), gross_pnl=D(gross),
        fees=D(0), net_pnl=D(gross),
    )  # fmt: skip


def _edge(*gross: str) -> Edge:
    edges = EdgeBook()
    edges.on_closed(_lot(g) for g in gross)
    edge = edges.of("s1", BTCUSDT)
    assert edge is not None
    return edge


def test_edge_is_the_mean_gross_return_per_trade() -> None:
    """Two trades of +10 and +4 bps on 28,000 notional: a 7 bps edge."""
    edge = _edge("28", "11.2")  # 10 bps and 4 bps of 0.5 x 56000

    assert edge.trades == 2
    assert edge.mean_return_bps == pytest.approx(7.0)
    assert edge.gross_pnl == D("39.2")


def test_capacity_from_a_real_book_is_where_slippage_meets_half_the_edge(book) -> None:
    """On the real book: at the capacity each side costs at most half the edge from the
    mid, and one step more costs more on at least one side."""
    edge = _edge("28", "11.2")

    estimate = estimate_capacity("s1", BTCUSDT, BTC, edge, book=book)

    assert estimate.method == "book"
    assert estimate.reason is None
    qty = estimate.capacity_base
    assert qty is not None
    assert qty > 0
    budget = estimate.inputs["budget_per_order_bps"]
    assert budget == pytest.approx(3.5)
    for side in Side:
        assert expected_slippage_bps(book, side, qty, reference=Reference.MID) <= budget
    more = qty + BTC.step_size
    assert (
        max(expected_slippage_bps(book, side, more, reference=Reference.MID) for side in Side)
        > budget
    )
    assert estimate.capacity_quote == (qty * book.mid()).quantize(D("1e-8"), rounding="ROUND_DOWN")


def test_capacity_grows_with_the_edge(book) -> None:
    """A larger edge affords a larger order on the same real book."""
    small = estimate_capacity("s1", BTCUSDT, BTC, _edge("28"), book=book)
    large = estimate_capacity("s1", BTCUSDT, BTC, _edge("280"), book=book)

    assert large.capacity_quote > small.capacity_quote


def test_an_edge_below_half_the_spread_has_zero_capacity(book) -> None:
    """A tiny edge against the real spread: capacity 0, and it says why."""
    spread_bps = float((book.best_ask()[0] - book.best_bid()[0]) / book.mid()) * 1e4
    gross = str(D(repr(spread_bps / 4)) * D("2.8"))  # edge = spread/4 bps on 28,000

    estimate = estimate_capacity("s1", BTCUSDT, BTC, _edge(gross), book=book)

    assert estimate.capacity_quote == 0
    assert estimate.reason == "spread_exceeds_edge"


def test_capacity_from_the_strategy_fills_without_a_book() -> None:
    """No book: the line through its fills' slippage versus size reaches half the edge."""
    fills = [(1_000.0 * n, 0.5 + 0.001 * n * 1_000.0 / 1_000.0) for n in range(1, 7)]
    edge = _edge("28")  # 10 bps gross; the fills paid 0.5035 bps on average

    estimate = estimate_capacity("s1", BTCUSDT, BTC, edge, fills=fills)

    budget = (10.0 + 2 * 0.5035) / 2
    assert estimate.method == "fills"
    assert float(estimate.capacity_quote) == pytest.approx((budget - 0.5) / 0.000001, rel=1e-9)


@pytest.mark.parametrize(
    ("edge", "fills", "reason"),
    [
        (None, [], "no_trades"),
        ("-28", [], "no_edge"),
        ("28", [], "no_market"),
        ("28", [(1000.0, 1.0)] * 3, "too_few_fills"),
        ("28", [(1000.0 * n, 1.0) for n in range(1, 7)], "slippage_flat"),
    ],
)
def test_no_estimate_comes_with_its_reason(edge, fills, reason) -> None:
    """Without trades, edge, market or a usable curve there is no number, only a reason."""
    estimate = estimate_capacity(
        "s1", BTCUSDT, BTC, None if edge is None else _edge(edge), fills=fills
    )

    assert estimate.capacity_quote is None
    assert estimate.reason == reason
    assert estimate.as_fields()["capacity_quote"] is None
