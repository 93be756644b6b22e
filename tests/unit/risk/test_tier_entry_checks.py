"""The tier's entry checks added for RK-1: leverage, expected slippage, correlation.

Each is pure over a ``RiskInput``; the boundary is tested just under and just
over the limit, and an exit (reduce-only, or shrinking the position) passes
whatever the figure. Prices: the real close 46377.0 of the first bundled
BTCUSDT bar, and the first real Binance spot quote of 2021-01-08 (bid
39432.99, ask 39433.62, tests/data); the L2 book is the real Binance spot
BTCUSDT book of 2024-08-08 (tests/data).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

from genesis.core.enums import OrderType, Side
from genesis.core.events import BookDelta, BookSnapshot, QuoteTick
from genesis.data.capture import read_binance_streams
from genesis.kernel.market import MarketView
from genesis.risk.checks import RiskInput, check_correlation, check_leverage, check_slippage
from genesis.risk.limits import TIER_LIMITS, Tier
from genesis.testing.builders import order
from genesis.testing.instruments import BTCUSDT, instrument

D = Decimal
STREAMS = (
    Path(__file__).resolve().parents[2] / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
)
SNIPER = TIER_LIMITS[Tier.SNIPER]
BASE = RiskInput(
    instrument=instrument("BTCUSDT"),
    reference_price=D("46377.0"),
    equity=D(10_000),
    free_quote=D(10_000),
    free_base=D(0),
    position_qty=D(0),
    fee_rate=D("0.001"),
    tier=Tier.SNIPER,
    limits=SNIPER,
    requires_stop_loss=False,
    reduce_only=False,
    increases=True,
)


def _risk(**changes: object) -> RiskInput:
    return BASE.replace(**changes)


def test_leverage_at_the_limit_passes() -> None:
    """Gross 10,000 on 10,000 equity is exactly 1x: allowed."""
    assert check_leverage(order(), _risk(gross_after=D(10_000))) is None


def test_leverage_just_over_the_limit_is_refused_with_value_and_limit() -> None:
    """Gross 10,000.01 on 10,000 equity is over 1x: MAX_LEVERAGE names both."""
    refusal = check_leverage(order(), _risk(gross_after=D("10000.01")))

    assert refusal is not None
    assert refusal.code == "MAX_LEVERAGE"
    assert "10000.01 = 1.00x equity" in refusal.message
    assert "allows 1x (10000.00)" in refusal.message


def test_leverage_of_an_exit_is_not_checked() -> None:
    """A reduce-only order, or one that does not grow the position, always passes."""
    over = _risk(gross_after=D(50_000))

    assert check_leverage(order(), over.replace(reduce_only=True)) is None
    assert check_leverage(order(), over.replace(increases=False)) is None


def test_configured_leverage_is_the_limit() -> None:
    """A 2x tier allows 19,999 of gross on 10,000 of equity."""
    limits = dataclasses.replace(SNIPER, max_leverage=D(2))

    assert check_leverage(order(), _risk(limits=limits, gross_after=D(19_999))) is None


def test_slippage_just_under_the_limit_passes() -> None:
    """0.0999% expected slippage is under the 0.1% limit."""
    assert check_slippage(order(), _risk(expected_slippage=D("0.000999"))) is None


def test_slippage_just_over_the_limit_is_refused() -> None:
    """0.1001% is over 0.1%: MAX_SLIPPAGE names the estimate and the limit."""
    refusal = check_slippage(order(), _risk(expected_slippage=D("0.001001")))

    assert refusal is not None
    assert refusal.code == "MAX_SLIPPAGE"
    assert "expects 0.1001% slippage" in refusal.message
    assert "allows 0.1000%" in refusal.message


def test_slippage_unknown_or_on_an_exit_passes() -> None:
    """No book and no quote (None), or an exit, is never refused for slippage."""
    assert check_slippage(order(), _risk(expected_slippage=None)) is None
    assert check_slippage(order(), _risk(expected_slippage=D(1), reduce_only=True)) is None


def test_correlation_at_the_limit_passes() -> None:
    """0.7 with a held instrument is at, not over, the limit."""
    assert check_correlation(order(), _risk(correlated=("binance:ETHUSDT", 0.7, 30))) is None


def test_correlation_over_the_limit_is_refused_naming_the_held_instrument() -> None:
    """0.7001 over 30 returns with ETHUSDT held: MAX_CORRELATION says all of it."""
    refusal = check_correlation(order(), _risk(correlated=("binance:ETHUSDT", 0.7001, 30)))

    assert refusal is not None
    assert refusal.code == "MAX_CORRELATION"
    assert "held on binance:ETHUSDT: correlation 0.700 over 30 returns" in refusal.message


def test_correlation_of_an_exit_passes() -> None:
    """Closing a position never fails the correlation check."""
    risk = _risk(correlated=("binance:ETHUSDT", 0.99, 100), increases=False)

    assert check_correlation(order(Side.SELL), risk) is None


def _quoted() -> MarketView:
    market = MarketView()
    market.on_quote(
        QuoteTick(
            ts_event=1, ts_init=1, instrument_id=BTCUSDT, bid=D("39432.99"), ask=D("39433.62"),
            bid_size=D(1), ask_size=D(1),
        )
    )  # fmt: skip
    return market


def test_quote_slippage_is_half_the_spread() -> None:
    """A market buy at the real quote expects (ask - mid) / mid = 0.315 / 39433.305."""
    slip = _quoted().expected_slippage(BTCUSDT, Side.BUY, D("0.01"))

    assert slip == (D("39433.62") - D("39433.305")) / D("39433.305")


def test_passive_limit_expects_no_slippage() -> None:
    """A buy limited at the bid never pays more than it: its estimate is below zero."""
    slip = _quoted().expected_slippage(BTCUSDT, Side.BUY, D("0.01"), D("39432.99"))

    assert slip is not None
    assert slip < 0


def test_no_quote_no_book_gives_no_estimate() -> None:
    """Bars carry no depth: the estimate is None and the check does not apply."""
    assert MarketView().expected_slippage(BTCUSDT, Side.SELL, D(1)) is None


def test_limit_type_order_is_accepted_by_the_checks() -> None:
    """A limit entry within every limit passes all three checks."""
    entry = order(Side.BUY, "0.01", OrderType.LIMIT, price="46377.0")
    risk = _risk(gross_after=D(464), expected_slippage=D(0), correlated=None)

    assert [
        check(entry, risk) for check in (check_leverage, check_slippage, check_correlation)
    ] == [
        None,
        None,
        None,
    ]


def _real_book() -> MarketView:
    """The real Binance spot BTCUSDT book of 2024-08-08 (tests/data), 51 updates in."""
    market, n = MarketView(), 0
    for event in read_binance_streams(STREAMS):
        if isinstance(event, BookSnapshot | BookDelta):
            market.on_book(event)
            n += 1
            if n > 50 and market.book(event.instrument_id) is not None:
                return market
    raise AssertionError("the recording never gave an in-sync book")


def test_book_slippage_walks_the_real_book_for_the_quantity() -> None:
    """A 5 BTC buy pays the asks' average for 5 BTC: (vwap - mid) / mid of the real book."""
    market = _real_book()
    book = market.book("BTCUSDT")
    assert book is not None
    mid, vwap = book.mid(), book.vwap_to_size(Side.BUY, D(5))
    assert mid is not None
    assert vwap is not None

    slip = market.expected_slippage("BTCUSDT", Side.BUY, D(5))

    assert slip == (vwap - mid) / mid
    assert D("0.0001") < slip < D("0.00011")  # 0.0103%: deeper levels cost more than the top


def test_book_slippage_grows_with_size_until_the_limit() -> None:
    """On the real book a 50 BTC sell stays under 0.1%, and the estimate rises with size."""
    market = _real_book()

    small, large = (market.expected_slippage("BTCUSDT", Side.SELL, D(q)) for q in (1, 50))

    assert small is not None
    assert large is not None
    assert small < large < SNIPER.max_slippage_pct
