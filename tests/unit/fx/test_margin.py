"""FX on margin: the netted margin arithmetic, the kernel's check and the simulated venue.

Prices are the first real GBPUSD quotes of the bundled FXCM month
(tests/data/gbpusd-1m-2012-02-*.csv.gz): 2012-02-01 00:01 bid 1.57576 / ask 1.57585
(mid 1.575805), 00:02 bid 1.57543 / ask 1.57552. Margin rate 0.0333 (30:1), 10,000 USD.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.enums import OrderType, Side
from genesis.core.events import OrderFilled, OrderRejected, QuoteTick
from genesis.core.fx import fx_pair
from genesis.core.margin import exposure_units, in_account, order_margin, pending_units
from genesis.data.fxbars import BidAskStats, read_bid_ask_bars
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.execution.factory import OrderFactory
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.kernel import Kernel
from genesis.testing.builders import RecordingLog, submit
from genesis.testing.instruments import instrument

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data"
PAIR = fx_pair("GBPUSD")
GBPUSD = PAIR.instrument()
RATE = D("0.0333")


def _quotes() -> list[QuoteTick]:
    events = read_bid_ask_bars(
        DATA / "gbpusd-1m-2012-02-bid.csv.gz", DATA / "gbpusd-1m-2012-02-ask.csv.gz",
        "GBPUSD", BidAskStats(),
    )  # fmt: skip
    quotes: list[QuoteTick] = []
    for event in events:
        if isinstance(event, QuoteTick):
            quotes.append(event)
            if len(quotes) == 2:
                return quotes
    raise AssertionError("the bundled month has quotes")


Q1, Q2 = _quotes()


def test_the_quotes_are_the_ones_the_docstring_names() -> None:
    assert (Q1.bid, Q1.ask, Q2.bid, Q2.ask) == (
        D("1.57576"), D("1.57585"), D("1.57543"), D("1.57552"),
    )  # fmt: skip


# --- the arithmetic ---------------------------------------------------------------


def test_an_opening_order_needs_its_units_at_the_rate() -> None:
    """Flat, selling 100,000 at 1.575805 needs 0.0333 x 157,580.5 = 5,247.43065."""
    need = order_margin(RATE, D("1.575805"), D(0), D(0), D(0), Side.SELL, D(100_000))
    assert need == D("5247.4306500")


def test_a_reducing_or_flipping_order_needs_nothing_more() -> None:
    """Short 150,000: buying 150,000 closes, buying 250,000 flips to a smaller long."""
    for qty in (D(150_000), D(250_000)):
        assert order_margin(RATE, D("1.5"), D(-150_000), D(0), D(0), Side.BUY, qty) == 0


def test_working_orders_are_netted_worst_case() -> None:
    """Long 10,000 with a 10,000 sell working: worst case 10,000 either way; a second
    10,000 sell takes the worst case to a 10,000 short: still 10,000 (nothing more)."""
    assert exposure_units(D(10_000), D(0), D(10_000)) == D(10_000)
    assert order_margin(RATE, D(1), D(10_000), D(0), D(10_000), Side.SELL, D(10_000)) == 0
    assert order_margin(RATE, D(1), D(10_000), D(0), D(10_000), Side.SELL, D(20_000)) == D(
        "333.0000"
    )


def test_oco_legs_on_one_side_count_once_and_the_excluded_order_not_at_all() -> None:
    orders = [
        ("a", "list", Side.SELL, D(1000)),
        ("b", "list", Side.SELL, D(1000)),
        ("c", "", Side.BUY, D(300)),
        ("d", "", Side.SELL, D(200)),
    ]
    assert pending_units(orders, "", "") == (D(300), D(1200))
    assert pending_units(orders, "d", "list") == (D(300), D(0))


def test_margin_is_stated_in_the_account_currency_or_not_at_all() -> None:
    """Quote: itself. Base: divided by the price. A third currency: None (a cross)."""
    assert in_account(D("3.33"), D("1.5"), "USD", "GBP", "USD") == D("3.33")
    assert in_account(D("3.33"), D("1.5"), "USD", "GBP", "GBP") == D("2.22")
    assert in_account(D("3.33"), D("1.5"), "USD", "GBP", "EUR") is None


def test_a_margin_rate_outside_0_1_is_a_config_error() -> None:
    from genesis.core.instruments import Instrument
    from genesis.errors import ConfigError

    with pytest.raises(ConfigError, match="margin_rate"):
        Instrument(
            symbol="GBPUSD", base="GBP", quote="USD", tick_size=D("0.00001"),
            step_size=D(1), margin_rate=D(0),
        )  # fmt: skip


# --- the simulated venue ------------------------------------------------------------


def _venue(cash: str = "10000") -> SimulatedVenue:
    return SimulatedVenue(
        instruments={"GBPUSD": GBPUSD}.__getitem__,
        balances={"USD": D(cash)},
        fees=FeeModel(maker_bps=D(0), taker_bps=D(0)),
    )


def _send(venue: SimulatedVenue, side: Side, qty: int, cid: str, **kw: object) -> list[object]:
    venue.execute(
        submit(side, D(qty), instrument_id="GBPUSD", client_order_id=cid, **kw),  # type: ignore[arg-type]
        Q1.ts_init,
    )
    return list(venue.deliver_until(Q1.ts_init))


def test_the_venue_opens_a_short_at_the_bid_without_holding_gbp() -> None:
    """Selling 150,000 GBPUSD (margin 7,871.15 of 10,000) fills at the bid 1.57576:
    GBP -150,000, USD 10,000 + 236,364."""
    venue = _venue()
    venue.process(Q1)
    [fill] = _send(venue, Side.SELL, 150_000, "s1-1")
    assert isinstance(fill, OrderFilled)
    assert (fill.last_px, fill.last_qty) == (D("1.57576"), D(150_000))
    assert venue.account.balances() == {"GBP": D(-150_000), "USD": D("246364.00000")}
    assert venue.account.units("GBPUSD") == D(-150_000)


def test_the_venue_rejects_what_the_margin_does_not_cover_and_changes_nothing() -> None:
    """Short 150,000, a further 50,000 needs 2,623.72 of margin; NAV 9,993.25 less the
    short's 7,871.15 leaves 2,122.10: -2010, balances as they were."""
    venue = _venue()
    venue.process(Q1)
    _send(venue, Side.SELL, 150_000, "s1-1")
    before = venue.account.balances()
    [rejected] = _send(venue, Side.SELL, 50_000, "s1-2")
    assert isinstance(rejected, OrderRejected)
    assert rejected.code == "-2010"
    assert rejected.reason == ("insufficient margin: 2623.7153 USD needed, 2122.1040 free")
    assert venue.account.balances() == before


def test_the_venue_always_lets_a_short_be_bought_back() -> None:
    """With the margin used up, buying back the short fills at the ask (flat again)."""
    venue = _venue()
    venue.process(Q1)
    _send(venue, Side.SELL, 150_000, "s1-1")
    [fill] = _send(venue, Side.BUY, 150_000, "s1-2")
    assert isinstance(fill, OrderFilled)
    assert fill.last_px == D("1.57585")
    assert venue.account.units("GBPUSD") == 0
    assert venue.account.balances() == {"USD": D("9986.50000")}  # 150,000 x 0.00009 spread


def test_a_working_order_holds_margin_back() -> None:
    """A resting 150,000 sell limit above the market uses 7,871.15; a second is refused."""
    venue = _venue()
    venue.process(Q1)
    limit = {"order_type": OrderType.LIMIT, "price": "1.60000"}
    _send(venue, Side.SELL, 150_000, "s1-1", **limit)
    [rejected] = _send(venue, Side.SELL, 150_000, "s1-2", **limit)
    assert isinstance(rejected, OrderRejected)
    assert "insufficient margin" in rejected.reason


def test_a_spot_instrument_still_needs_the_base_to_sell() -> None:
    """BTCUSDT (no margin rate): a sell without BTC is rejected as before."""
    btc = instrument("BTCUSDT")
    venue = SimulatedVenue(
        instruments={"BTCUSDT": btc}.__getitem__, balances={"USDT": D(100_000)},
        fees=FeeModel(maker_bps=D(0), taker_bps=D(0)),
    )  # fmt: skip
    venue.execute(submit(Side.SELL, "0.01", OrderType.LIMIT, price="50000"), Q1.ts_init)
    [rejected] = venue.deliver_until(Q1.ts_init)
    assert isinstance(rejected, OrderRejected)
    assert rejected.reason == "insufficient balance: 0.01 BTC needed, 0 free"


# --- the kernel's pre-trade check -----------------------------------------------------


def _kernel(cash: str = "10000") -> tuple[Kernel, OrderFactory]:
    spec = SessionSpec(
        instruments={"GBPUSD": GBPUSD}, balances={"USD": D(cash)}, base_currency="USD",
        start_ns=Q1.ts_init,
    )  # fmt: skip
    kernel = build_kernel(spec, RecordingLog())
    kernel.handle(Q1)
    return kernel, OrderFactory("s1", kernel.clock, {"GBPUSD": GBPUSD}.__getitem__)


def test_the_kernel_lets_a_short_open_within_the_margin() -> None:
    kernel, orders = _kernel()
    assert kernel.refusal(orders.market("GBPUSD", Side.SELL, "150000")) is None


def test_the_kernel_refuses_beyond_the_margin_with_a_clear_sentence() -> None:
    """200,000 at the mid 1.575805 needs 10,494.86 of margin; 10,000 is available."""
    kernel, orders = _kernel()
    refusal = kernel.refusal(orders.market("GBPUSD", Side.SELL, "200000"))
    assert refusal == (
        "INSUFFICIENT_MARGIN",
        "sell 200000 GBPUSD needs 10494.8613 USD margin (0.0333 of its value),"
        " 10000.0000 USD available",
    )


def test_the_kernel_counts_working_orders_against_the_margin() -> None:
    """A 150,000 sell is working (7,871.15 held back): a 50,000 sell is refused, a buy of
    150,000 (netting it) is not."""
    kernel, orders = _kernel()
    denied, _ = kernel.submit(orders.market("GBPUSD", Side.SELL, "150000"))
    assert denied is None
    code = kernel.refusal(orders.market("GBPUSD", Side.SELL, "50000"))
    assert code is not None
    assert code[0] == "INSUFFICIENT_MARGIN"
    assert kernel.refusal(orders.market("GBPUSD", Side.BUY, "150000")) is None


def test_the_kernel_and_venue_trade_a_short_round_trip() -> None:
    """Kernel and venue together: the short fills, the portfolio holds -150,000 GBP, a
    further short is refused by the kernel and the buy-back is allowed."""
    kernel, orders = _kernel()
    venue = _venue()
    venue.process(Q1)
    _, commands = kernel.submit(orders.market("GBPUSD", Side.SELL, "150000"))
    for command in commands:
        venue.execute(command, Q1.ts_init)
    for event in venue.deliver_until(Q1.ts_init):
        kernel.handle(event)
    kernel.handle(Q2)
    assert kernel.portfolio.position_qty("GBPUSD") == D(-150_000)
    assert kernel.portfolio.equity() == D("10000") + D(150_000) * (D("1.57576") - D("1.575475"))
    code = kernel.refusal(orders.market("GBPUSD", Side.SELL, "50000"))
    assert code is not None
    assert code[0] == "INSUFFICIENT_MARGIN"
    assert kernel.refusal(orders.market("GBPUSD", Side.BUY, "150000")) is None
