"""Equity of an FX account: each currency priced by the session instrument quoting it,
whatever the instrument id's format (``oanda:GBP_USD``), before any fill of it.

Prices are real: GBP/USD bid 1.57576 / ask 1.57585 (the 2012-02-01 00:00 closes of
tests/data/gbpusd-1m-2012-02-*.csv.gz, mid 1.575805); USD/JPY bid 86.655 / ask 86.728
(the first TrueFX quote of tests/data/usdjpy-quotes-2013-01.csv.gz, mid 86.6915).
"""

from __future__ import annotations

from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.events import QuoteTick
from genesis.core.instruments import Instrument
from genesis.execution.factory import OrderFactory
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.kernel import Kernel
from genesis.portfolio import Portfolio
from genesis.testing.builders import RecordingLog, fill

D = Decimal
GBP_USD, USD_JPY = "oanda:GBP_USD", "oanda:USD_JPY"
GBP_BID, GBP_ASK = D("1.57576"), D("1.57585")
JPY_BID, JPY_ASK = D("86.655"), D("86.728")
TABLE = {
    GBP_USD: Instrument(symbol="GBP_USD", base="GBP", quote="USD", tick_size=D("0.00001"),
                        step_size=D(1), min_qty=D(1), venue="OANDA", source="oanda",
                        margin_rate=D("0.0333")),
    USD_JPY: Instrument(symbol="USD_JPY", base="USD", quote="JPY", tick_size=D("0.001"),
                        step_size=D(1), min_qty=D(1), venue="OANDA", source="oanda",
                        margin_rate=D("0.04")),
}  # fmt: skip


def _kernel(iid: str, balances: dict[str, Decimal], bid: Decimal, ask: Decimal) -> Kernel:
    """A kernel on a USD account holding ``balances``, no fill journaled, one quote seen."""
    spec = SessionSpec(instruments={iid: TABLE[iid]}, balances=balances, base_currency="USD",
                       marks={iid: bid})  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    kernel.handle(QuoteTick(ts_event=1, ts_init=1, instrument_id=iid, bid=bid, ask=ask,
                            bid_size=D(0), ask_size=D(0)))  # fmt: skip
    return kernel


def test_a_position_opened_outside_is_valued_at_the_mid() -> None:
    """2,000,000 GBP bought at the ask elsewhere (no fill here): NAV 100,000 less the
    spread to the mid, 2,000,000 x 0.000045 = 90 (was -3,051,520: GBP unpriced)."""
    bought = D(2_000_000)
    kernel = _kernel(GBP_USD, {"GBP": bought, "USD": 100_000 - bought * GBP_ASK}, GBP_BID, GBP_ASK)
    assert kernel.portfolio.equity() == D("99910.000000")
    assert kernel.portfolio.unvalued == ()


def test_a_short_opened_outside_is_not_overstated() -> None:
    """1,000 GBP sold at the bid: NAV 100,000 less 1,000 x 0.000045 (was 101,575.76)."""
    kernel = _kernel(GBP_USD, {"GBP": D(-1000), "USD": 100_000 + 1000 * GBP_BID}, GBP_BID, GBP_ASK)
    assert kernel.portfolio.equity() == D("99999.955000")
    assert kernel.portfolio.unvalued == ()


def test_usd_jpy_on_a_usd_account_is_valued_and_margined_in_usd() -> None:
    """USD_JPY prices JPY at 1/mark: 100,000 USD is the equity, a 1,000 unit buy needs 40 USD
    (4% of 1,000 USD) and passes; 3,000,000 units need 120,000 USD and are refused."""
    kernel = _kernel(USD_JPY, {"USD": D(100_000), "JPY": D(0)}, JPY_BID, JPY_ASK)
    assert kernel.portfolio.equity() == D(100_000)
    orders = OrderFactory("s1", kernel.clock, TABLE.__getitem__)
    assert kernel.refusal(orders.market(USD_JPY, Side.BUY, "1000")) is None
    assert kernel.refusal(orders.market(USD_JPY, Side.BUY, "3000000")) == (
        "INSUFFICIENT_MARGIN",
        "buy 3000000 USD_JPY needs 120000.0000 USD margin (0.04 of its value),"
        " 100000.0000 USD available",
    )


def test_usd_jpy_fill_values_the_yen_paid_at_the_inverse_of_the_mark() -> None:
    """1,000 USD bought at 86.728: USD 101,000, JPY -86,728, at the mid 86.6915 the yen
    are 1,000.42103... USD: equity 99,999.57896... (not rounded)."""
    kernel = _kernel(USD_JPY, {"USD": D(100_000), "JPY": D(0)}, JPY_BID, JPY_ASK)
    kernel.portfolio.apply_fill(
        fill(Side.BUY, "1000", str(JPY_ASK), instrument_id=USD_JPY, fee_currency="JPY")
    )
    equity = kernel.portfolio.equity()
    assert equity == D(101_000) - D(86_728) / D("86.6915")
    assert equity.quantize(D("0.0001")) == D("99999.5790")
    assert not kernel.portfolio.equity_above(D("99999.58"))
    assert kernel.portfolio.equity_above(D("99999.57"))


def test_the_inverse_falls_as_the_mark_rises() -> None:
    """A JPY balance alone, priced by USD_JPY: the one-asset guard of ``equity_above``
    (valid for an asset whose value rises with its mark) is not used for it."""
    portfolio = Portfolio(TABLE, balances={"USD": D(0), "JPY": D(86_655)}, base_currency="USD")
    portfolio.price_by([USD_JPY])
    portfolio.mark(USD_JPY, JPY_BID)
    assert portfolio.equity() == D(1000)
    assert portfolio.equity_above(D(999))
    portfolio.mark(USD_JPY, JPY_ASK)
    assert portfolio.equity() == D(86_655) / JPY_ASK
    assert not portfolio.equity_above(D("999.5"))


def test_a_direct_quote_comes_before_an_inverse_and_ids_equal_to_asset_base_first() -> None:
    """GBP is priced by GBPUSD when the session has it, not by a venue-qualified GBP/USD
    listed first; an unknown id is skipped."""
    gbpusd = Instrument(symbol="GBPUSD", base="GBP", quote="USD", tick_size=D("0.00001"),
                        step_size=D(1), min_qty=D(1))  # fmt: skip
    table = {**TABLE, "GBPUSD": gbpusd}
    portfolio = Portfolio(table, balances={"USD": D(0), "GBP": D(1000)}, base_currency="USD")
    portfolio.price_by([GBP_USD, "GBPUSD", "nowhere:XYZ"])
    portfolio.mark(GBP_USD, GBP_BID)
    assert portfolio.equity() == 0
    assert portfolio.unvalued == ("GBP",)
    portfolio.mark("GBPUSD", GBP_ASK)
    assert portfolio.equity() == 1000 * GBP_ASK
