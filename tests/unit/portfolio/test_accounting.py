"""LotBook: FIFO / LIFO / average-cost lots on real BTCUSDT prices, exact Decimals.

Prices are real closes and opens of the BTCUSDT perpetual 1-minute bars in
genesis/resources/btcusdt-perp-1m-2022-01.csv.gz (2021-12-31 23:01 to 23:10 UTC).
Fees are 0.04 % of notional (the Binance futures taker rate), worked by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.enums import AccountingMethod, Side
from genesis.errors import DataError
from genesis.portfolio.accounting import ClosedLot, LotBook

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
T0 = 1_640_991_660_000_000_000  # 2021-12-31 23:01:00 UTC, ns
MINUTE = 60_000_000_000

# Real prices from the bundled bars (timestamp = bar open).
OPEN_2301 = D("46319.0")  # open of 23:01
CLOSE_2301 = D("46377.0")  # close of 23:01
CLOSE_2302 = D("46411.0")
CLOSE_2305 = D("46427.0")
CLOSE_2304 = D("46420.0")
CLOSE_2306 = D("46435.0")


def _two_buys_then_sell(method: AccountingMethod) -> tuple[LotBook, list[ClosedLot]]:
    """Buy 0.5 @ 46319.0, buy 0.3 @ 46411.0, then sell 0.6 @ 46435.0 (fees 0.04 %)."""
    book = LotBook(method, instrument_id="BTCUSDT", strategy_id="s1")
    book.apply(T0, BUY, D("0.5"), OPEN_2301, D("9.2638"))
    book.apply(T0 + MINUTE, BUY, D("0.3"), CLOSE_2302, D("5.56932"))
    closed = book.apply(T0 + 5 * MINUTE, SELL, D("0.6"), CLOSE_2306, D("11.1444"))
    return book, closed


def test_fifo_closes_oldest_lot_first_with_pro_rata_fees() -> None:
    """FIFO realises the 46319.0 lot, then 0.1 of the 46411.0 lot; fees split by quantity."""
    book, closed = _two_buys_then_sell(AccountingMethod.FIFO)

    assert [(c.quantity, c.entry_px, c.gross_pnl, c.fees, c.net_pnl) for c in closed] == [
        (D("0.5"), OPEN_2301, D("58.0"), D("18.5508"), D("39.4492")),
        (D("0.1"), CLOSE_2302, D("2.4"), D("3.71384"), D("-1.31384")),
    ]
    assert (book.qty, book.avg_open_px, book.open_fees) == (D("0.2"), CLOSE_2302, D("3.71288"))


def test_lifo_closes_newest_lot_first() -> None:
    """LIFO realises the 46411.0 lot first, then 0.3 of the 46319.0 lot."""
    book, closed = _two_buys_then_sell(AccountingMethod.LIFO)

    assert [(c.quantity, c.entry_px, c.gross_pnl, c.fees, c.net_pnl) for c in closed] == [
        (D("0.3"), CLOSE_2302, D("7.2"), D("11.14152"), D("-3.94152")),
        (D("0.3"), OPEN_2301, D("34.8"), D("11.13048"), D("23.66952")),
    ]
    assert (book.qty, book.avg_open_px, book.open_fees) == (D("0.2"), OPEN_2301, D("3.70552"))


def test_average_cost_realises_against_the_pooled_average() -> None:
    """AVERAGE pools 0.8 @ 46353.5 and realises 0.6 * (46435.0 - 46353.5) = 48.9."""
    book, closed = _two_buys_then_sell(AccountingMethod.AVERAGE)

    assert [(c.quantity, c.entry_px, c.gross_pnl, c.fees, c.net_pnl) for c in closed] == [
        (D("0.6"), D("46353.5"), D("48.9"), D("22.26924"), D("26.63076")),
    ]
    assert (book.qty, book.avg_open_px, book.open_cost) == (D("0.2"), D("46353.5"), D("9270.7"))


@pytest.mark.parametrize(
    ("method", "realized", "unrealized"),
    [
        (AccountingMethod.FIFO, D("60.4"), D("1.8")),
        (AccountingMethod.LIFO, D("42.0"), D("20.2")),
        (AccountingMethod.AVERAGE, D("48.9"), D("13.3")),
    ],
)
def test_unrealized_at_a_real_close_and_methods_agree_on_the_total(
    method: AccountingMethod, realized: Decimal, unrealized: Decimal
) -> None:
    """At the 23:04 close 46420.0 each method splits the same 62.2 USDT differently."""
    book, _ = _two_buys_then_sell(method)

    pnl = (book.realized_pnl, book.unrealized_pnl(CLOSE_2304))

    assert pnl == (realized, unrealized)
    assert sum(pnl) == D("62.2")


def test_sell_larger_than_long_flips_to_short() -> None:
    """Selling 0.8 against a 0.5 long closes it and opens a 0.3 short at the fill price."""
    book = LotBook(instrument_id="BTCUSDT", strategy_id="s1")
    book.apply(T0, BUY, D("0.5"), OPEN_2301, D("9.2638"))

    closed = book.apply(T0 + MINUTE, SELL, D("0.8"), CLOSE_2301, D("14.84064"))

    assert [(c.direction, c.quantity, c.gross_pnl, c.fees) for c in closed] == [
        ("LONG", D("0.5"), D("29.0"), D("18.5392")),
    ]
    assert (book.qty, book.avg_open_px, book.open_fees) == (D("-0.3"), CLOSE_2301, D("5.56524"))


def test_closing_a_short_realises_price_fall_as_profit_and_rise_as_loss() -> None:
    """A 0.3 short opened at 46377.0 and bought back at 46420.0 loses 12.9 before fees."""
    book = LotBook(instrument_id="BTCUSDT", strategy_id="s1")
    book.apply(T0, SELL, D("0.3"), CLOSE_2301, D("5.56524"))

    closed = book.apply(T0 + 3 * MINUTE, BUY, D("0.3"), CLOSE_2304, D("5.5704"))

    assert closed == [
        ClosedLot(
            instrument_id="BTCUSDT",
            strategy_id="s1",
            direction="SHORT",
            quantity=D("0.3"),
            entry_ts=T0,
            entry_px=CLOSE_2301,
            exit_ts=T0 + 3 * MINUTE,
            exit_px=CLOSE_2304,
            gross_pnl=D("-12.9"),
            fees=D("11.13564"),
            net_pnl=D("-24.03564"),
        )
    ]
    assert book.qty == 0


def test_partial_closes_allocate_entry_fee_without_dust() -> None:
    """Three closes of thirds of one lot carry fees summing exactly to the fees paid."""
    book = LotBook(instrument_id="BTCUSDT", strategy_id="s1")
    book.apply(T0, BUY, D("0.003"), OPEN_2301, D("0.1"))
    closed = []

    for minute, px in enumerate((CLOSE_2301, CLOSE_2302, CLOSE_2305), start=1):
        closed += book.apply(T0 + minute * MINUTE, SELL, D("0.001"), px, D("0"))

    assert [c.fees for c in closed] == [
        D("0.033333333333"),  # 0.1 / 3 at 12 decimals
        D("0.033333333334"),  # half of the 0.066666666667 left, rounded half-even
        D("0.033333333333"),  # the last close takes what is left
    ]
    assert sum(c.fees for c in closed) == book.fees_paid == D("0.1")
    assert book.open_fees == 0


def test_one_fill_closing_three_lots_splits_its_fee_without_dust() -> None:
    """A sell closing three equal lots gives each a third of its fee; the last takes the rest."""
    book = LotBook(instrument_id="BTCUSDT", strategy_id="s1")
    for minute, px in enumerate((OPEN_2301, CLOSE_2301, CLOSE_2302)):
        book.apply(T0 + minute * MINUTE, BUY, D("0.001"), px, D("0"))

    closed = book.apply(T0 + 5 * MINUTE, SELL, D("0.003"), CLOSE_2306, D("0.1"))

    assert [c.fees for c in closed] == [
        D("0.033333333333"),
        D("0.033333333333"),
        D("0.033333333334"),
    ]


def test_average_cost_partial_closes_leave_no_cost_dust() -> None:
    """Closing a three-fill pool in thirds realises exactly the cash P&L, with no cost left."""
    book = LotBook(AccountingMethod.AVERAGE, instrument_id="BTCUSDT", strategy_id="s1")
    for minute, px in enumerate((OPEN_2301, CLOSE_2301, CLOSE_2302)):
        book.apply(T0 + minute * MINUTE, BUY, D("0.001"), px, D("0"))

    for minute in range(3):
        book.apply(T0 + (5 + minute) * MINUTE, SELL, D("0.001"), CLOSE_2306, D("0"))

    assert book.realized_pnl == 3 * D("0.001") * CLOSE_2306 - D("0.001") * (
        OPEN_2301 + CLOSE_2301 + CLOSE_2302
    )
    assert (book.qty, book.open_cost) == (D("0"), D("0"))


def test_flat_book_reports_zero_average_and_unrealized() -> None:
    """A book with no open lots has avg_open_px 0 and no unrealized P&L at any mark."""
    book = LotBook(AccountingMethod.LIFO)

    assert (book.qty, book.avg_open_px, book.unrealized_pnl(CLOSE_2304)) == (D("0"),) * 3


@pytest.mark.parametrize(
    ("qty", "px"), [(D("0"), OPEN_2301), (D("0.1"), D("-1")), (D("NaN"), OPEN_2301)]
)
def test_non_positive_fill_is_refused_and_changes_nothing(qty: Decimal, px: Decimal) -> None:
    """A fill with qty or px not > 0 raises DataError and leaves the book as it was."""
    book = LotBook(instrument_id="BTCUSDT")
    book.apply(T0, BUY, D("0.5"), OPEN_2301, D("9.2638"))

    with pytest.raises(DataError, match="BTCUSDT"):
        book.apply(T0 + MINUTE, SELL, qty, px, D("1"))

    assert (book.qty, book.fees_paid, book.open_lots()) == (
        D("0.5"),
        D("9.2638"),
        [(T0, D("0.5"), OPEN_2301)],
    )
