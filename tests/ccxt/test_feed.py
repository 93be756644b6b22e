"""The polling market data feed against the local exchange."""

from __future__ import annotations

from genesis.core.events import BookSnapshot, QuoteTick, TradeTick

from .conftest import D


async def test_feed_yields_quote_book_and_trades_once(venue, server):
    """Top of book, the book with its update id, and each public trade exactly once."""
    v, _ = venue
    server.trade("BTCUSDT", D("40000.50"), D("0.25"))
    feed = v.market_data(["BTCUSDT"], ("quote_book", "book", "trades"), interval_s=0.01)
    got = []
    async for event in feed:
        got.append(event)
        if len(got) == 3:
            break
    quote, book, trade = got
    assert isinstance(quote, QuoteTick)
    assert isinstance(book, BookSnapshot)
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size) == (
        D("40000"),
        D("40001"),
        D("1"),
        D("0.5"),
    )
    assert book.last_update_id > 0
    assert book.bids == ((D("40000"), D("1")), (D("39999"), D("2")))
    assert isinstance(trade, TradeTick)
    assert (trade.price, trade.size) == (D("40000.50"), D("0.25"))
    assert feed.stats["trades"] == 1
