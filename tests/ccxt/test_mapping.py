"""Pure conversions from ccxt's unified structures (no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.core.enums import LiquiditySide, Side
from genesis.errors import ConfigError
from genesis.exchange.ccxt.mapping import (
    balances_from_ccxt,
    bar_from_ohlcv,
    book_from_ccxt,
    fill_from_trade,
    instrument_from_market,
)

D = Decimal
MARKET = {
    "id": "BTC-USDT",
    "base": "BTC",
    "quote": "USDT",
    "precision": {"price": "0.1", "amount": "0.00000001"},
    "limits": {
        "amount": {"min": "0.00001", "max": None},
        "price": {"min": None},
        "cost": {"min": "5"},
    },
}


def test_instrument_from_tick_size_market():
    """TICK_SIZE precision (OKX style) gives the increments and limits as Decimals."""
    i = instrument_from_market(MARKET, 4, "OKX")
    assert (i.symbol, i.tick_size, i.step_size, i.min_qty, i.max_qty, i.min_notional) == (
        "BTC-USDT",
        D("0.1"),
        D("0.00000001"),
        D("0.00001"),
        None,
        D("5"),
    )


def test_instrument_from_decimal_places_market():
    """DECIMAL_PLACES precision (Kraken style: 1 and 8 places) gives 0.1 and 1E-8."""
    market = {**MARKET, "precision": {"price": 1, "amount": 8}}
    i = instrument_from_market(market, 2, "KRAKEN")
    assert (i.tick_size, i.step_size) == (D("0.1"), D("1E-8"))


def test_significant_digits_market_is_refused():
    """SIGNIFICANT_DIGITS precision has no fixed increment: ConfigError naming the market."""
    with pytest.raises(ConfigError, match="BTC-USDT"):
        instrument_from_market(MARKET, 3, "X")


def test_fill_from_trade_is_exact():
    """Strings become exact Decimals; fee, currency and maker side are kept."""
    trade = {
        "id": "77",
        "order": "9",
        "timestamp": 1_000,
        "side": "sell",
        "amount": "0.12345678",
        "price": "40000.01",
        "takerOrMaker": "maker",
        "fee": {"cost": "0.00000123", "currency": "BNB"},
    }
    f = fill_from_trade(
        trade, venue="V", instrument_id="BTCUSDT", client_order_id="c", strategy_id="s", ts_init=5
    )
    assert (
        f.trade_id,
        f.side,
        f.last_qty,
        f.last_px,
        f.fee,
        f.fee_currency,
        f.liquidity,
        f.ts_event,
        f.venue_order_id,
    ) == (
        "77",
        Side.SELL,
        D("0.12345678"),
        D("40000.01"),
        D("0.00000123"),
        "BNB",
        LiquiditySide.MAKER,
        1_000_000_000,
        "9",
    )


def test_fill_without_id_is_refused():
    """A trade without an id cannot be deduplicated, so it is refused."""
    with pytest.raises(ValueError, match="trade id"):
        fill_from_trade(
            {"amount": "1", "price": "1"},
            venue="V",
            instrument_id="X",
            client_order_id="c",
            strategy_id="s",
            ts_init=0,
        )


def test_balances_keep_free_and_used_and_drop_empty_assets():
    """ccxt's used is Genesis' locked; assets with nothing are left out."""
    out = balances_from_ccxt({"free": {"BTC": "1.5", "ETH": "0"}, "used": {"BTC": "0.25"}})
    assert {a: (b.free, b.locked) for a, b in out.items()} == {"BTC": (D("1.5"), D("0.25"))}


def test_bar_close_time_is_open_plus_duration():
    """A 1m OHLCV row closes 60 s after it opens; float volumes keep their shortest repr."""
    bar = bar_from_ohlcv([60_000, "1", "2", "0.5", "1.5", 0.1], "X", 60_000, 0)
    assert (bar.ts_open, bar.ts_event, bar.volume) == (60_000_000_000, 120_000_000_000, D("0.1"))


def test_book_keeps_the_best_levels_up_to_depth_and_the_nonce():
    """A ccxt.pro book (float levels, best first) cut to ``depth``; nonce is the update id."""
    book = {
        "nonce": 17,
        "timestamp": 1_700_000_000_000,
        "bids": [[40000.0, 1.0], [39999.5, 2.0], [39999.0, 3.0]],
        "asks": [[40001.0, 0.5], [40002.0, 1.0]],
    }
    snap = book_from_ccxt(book, "binance:BTCUSDT", 5, depth=2)
    assert snap.last_update_id == 17
    assert snap.bids == ((Decimal("40000"), Decimal("1")), (Decimal("39999.5"), Decimal("2")))
    assert snap.asks == ((Decimal("40001"), Decimal("0.5")), (Decimal("40002"), Decimal("1")))
    assert snap.ts_event == 1_700_000_000_000 * 1_000_000
