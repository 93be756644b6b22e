"""The kernel's data engine: last prices, bars, quotes and L2 books, as read-only views."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from genesis.core.events import Bar, BookDelta, BookSnapshot, QuoteTick, TradeTick

__all__ = ["MarketView"]

_TWO = Decimal(2)


class MarketView:
    """Latest market state per instrument, updated by the kernel before strategies run.

    Books are kept by an injected factory (``book_factory(instrument_id)``
    returns an object with ``apply(event)``), so the engine does not care which
    synchronisation procedure a venue needs.
    """

    __slots__ = ("_book_factory", "books", "last_bar", "last_price", "last_quote")

    def __init__(self, book_factory: Callable[[str], Any] | None = None) -> None:
        self.last_price: dict[str, Decimal] = {}
        self.last_bar: dict[str, Bar] = {}
        self.last_quote: dict[str, QuoteTick] = {}
        self.books: dict[str, Any] = {}
        self._book_factory = book_factory

    def price(self, instrument_id: str) -> Decimal | None:
        """The last traded price (bar close, trade, or quote mid), or None before any data."""
        return self.last_price.get(instrument_id)

    def book(self, instrument_id: str) -> Any:
        """The L2 book kept for ``instrument_id``, or None."""
        return self.books.get(instrument_id)

    def on_bar(self, bar: Bar) -> None:
        self.last_bar[bar.instrument_id] = bar
        self.last_price[bar.instrument_id] = bar.close

    def on_trade(self, trade: TradeTick) -> None:
        self.last_price[trade.instrument_id] = trade.price

    def on_quote(self, quote: QuoteTick) -> None:
        self.last_quote[quote.instrument_id] = quote
        if quote.instrument_id not in self.last_price or quote.instrument_id not in self.books:
            self.last_price[quote.instrument_id] = (quote.bid + quote.ask) / _TWO

    def on_book(self, update: BookSnapshot | BookDelta) -> None:
        book = self.books.get(update.instrument_id)
        if book is None:
            if self._book_factory is None:
                return
            book = self.books[update.instrument_id] = self._book_factory(update.instrument_id)
        book.apply(update)
