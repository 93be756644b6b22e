"""The kernel's data engine: last prices, bars, quotes and L2 books, as read-only views."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from genesis.core.enums import Side
from genesis.core.events import Bar, BookDelta, BookSnapshot, QuoteTick, TradeTick
from genesis.data.book import BookSync, OrderBook

__all__ = ["MarketView"]

_TWO: Final = Decimal(2)


class MarketView:
    """Latest market state per instrument, updated by the kernel before strategies run.

    L2 books are kept by ``BookSync`` (the exact snapshot + diff procedure);
    ``book()`` returns a book only while it is in sync, so a strategy never
    reads a book with a gap in it.
    """

    __slots__ = ("_book_factory", "books", "last_bar", "last_price", "last_quote")

    def __init__(self, book_factory: Callable[[str], BookSync] = BookSync) -> None:
        self.last_price: dict[str, Decimal] = {}
        self.last_bar: dict[str, Bar] = {}
        self.last_quote: dict[str, QuoteTick] = {}
        self.books: dict[str, BookSync] = {}
        self._book_factory = book_factory

    def price(self, instrument_id: str) -> Decimal | None:
        """The last traded price (bar close, trade, or quote mid), or None before any data."""
        return self.last_price.get(instrument_id)

    def mid(self, instrument_id: str) -> Decimal | None:
        """The mid of the in-sync book, else of the last quote, else the last price."""
        book = self.book(instrument_id)
        if book is not None and (mid := book.mid()) is not None:
            return mid
        quote = self.last_quote.get(instrument_id)
        if quote is not None:
            return (quote.bid + quote.ask) / _TWO
        return self.last_price.get(instrument_id)

    def book(self, instrument_id: str) -> OrderBook | None:
        """The L2 book of ``instrument_id`` while it is in sync, else None."""
        sync = self.books.get(instrument_id)
        return sync.book if sync is not None and sync.valid else None

    def expected_slippage(
        self, instrument_id: str, side: Side, qty: Decimal, limit: Decimal | None = None
    ) -> Decimal | None:
        """The slippage a taker of ``qty`` can expect now, as a fraction of the mid (RK-1).

        With an in-sync L2 book: the book is walked for ``qty`` (the average price of
        the levels it takes); when the visible depth is short of ``qty`` the rest is
        priced at the last visible level, a lower bound. Without a book: half the last
        quote's spread (its size is not read). Neither (bars, trades only): None, and
        the slippage check does not apply. A limit order's price caps the estimate (it
        never fills beyond it), so a passive limit expects none (0 or less).
        """
        book = self.book(instrument_id)
        mid: Decimal | None
        if book is not None and (mid := book.mid()) is not None:
            fill = _walk(book, side, qty)
        else:
            quote = self.last_quote.get(instrument_id)
            if quote is None:
                return None
            mid = (quote.bid + quote.ask) / _TWO
            fill = quote.ask if side is Side.BUY else quote.bid
        if fill is None or mid <= 0:
            return None
        if limit is not None:
            fill = min(fill, limit) if side is Side.BUY else max(fill, limit)
        return (fill - mid) / mid if side is Side.BUY else (mid - fill) / mid

    def on_bar(self, bar: Bar) -> None:
        self.last_bar[bar.instrument_id] = bar
        self.last_price[bar.instrument_id] = bar.close

    def on_trade(self, trade: TradeTick) -> None:
        self.last_price[trade.instrument_id] = trade.price

    def on_quote(self, quote: QuoteTick) -> Decimal | None:
        """Keep the quote; return its mid when it sets the last price (no price seen yet,
        or no L2 book of the instrument: a book's mid prices it otherwise), else None."""
        instrument_id = quote.instrument_id
        self.last_quote[instrument_id] = quote
        if instrument_id in self.books and instrument_id in self.last_price:
            return None
        mid = self.last_price[instrument_id] = (quote.bid + quote.ask) / _TWO
        return mid

    def on_book(self, update: BookSnapshot | BookDelta) -> Decimal | None:
        """Apply the update; return the in-sync book's mid, now the last price, or None."""
        sync = self.books.get(update.instrument_id)
        if sync is None:
            sync = self.books[update.instrument_id] = self._book_factory(update.instrument_id)
        sync.apply(update)
        if sync.valid and (mid := sync.book.mid()) is not None:
            self.last_price[update.instrument_id] = mid
            return mid
        return None


def _walk(book: OrderBook, side: Side, qty: Decimal) -> Decimal | None:
    """Average price of taking ``qty`` from ``book``; a shortfall at the last level."""
    remaining, cost, last = qty, Decimal(0), None
    for price, available in book.walk(side.opposite):
        take = min(available, remaining)
        cost += price * take
        remaining -= take
        last = price
        if remaining <= 0:
            break
    if last is None or qty <= 0:
        return None
    return (cost + last * remaining) / qty
