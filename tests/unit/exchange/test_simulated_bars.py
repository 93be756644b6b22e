"""SimulatedVenue on real data: bar matching (OHLC path), tick matching, locks and OCO.

Bars are consecutive real BTCUSDT perpetual 1-minute bars from the bundled
file (index 0 = 2021-12-31 23:01 UTC). The bars used, as open/high/low/close:

* 1 (23:02) 46377.0 / 46411.0 / 46377.0 / 46411.0; 2 (23:03) opens 46411.0;
* 6 (23:07) 46435.0 / 46435.0 / 46379.0 / 46420.0 (down bar: path open, high, low, close);
* 37 (23:38) 46434.0 / 46438.0 / 46388.0 / 46415.0 (down bar);
* 62 (00:03) 46319.0 / 46390.0 / 46301.0 / 46384.0 (up bar: path open, low, high, close);
* 107 (00:48) high 46684.0, then 108 (00:49) gaps up to open 46690.0;
* 113 (00:54) 46675.0 / 46676.0 / 46650.0 / 46654.0 (down bar).

An order sent at bar ``i``'s close (its ``ts_event``) reaches a zero-latency
venue at bar ``i + 1``'s open. Tick tests use the Binance spot BTCUSDT quotes
and trades of 2021-01-08 in tests/data.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from genesis.core.commands import Command, SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    Bar,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from genesis.data.loaders import read_quotes, read_trades
from genesis.exchange.fills import SlippageModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.testing.builders import MINUTE_NS, cancel, make_venue, real_bars, submit

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
BARS = real_bars(0, 120)
DATA = Path(__file__).resolve().parents[2] / "data"
QUOTES = list(read_quotes(DATA / "binance-btcusdt-quotes-2021-01-08.csv.gz", "BTCUSDT"))
TRADES = list(read_trades(DATA / "binance-btcusdt-trades-2021-01-08.csv.gz", "BTCUSDT"))
SECOND = 1_000_000_000


def _send_after(venue: SimulatedVenue, i: int, *commands: Command) -> None:
    """Let the venue see bar ``i`` and send ``commands`` at its close."""
    venue.process(BARS[i])
    for command in commands:
        venue.execute(command, BARS[i].ts_event)


def _run(venue: SimulatedVenue, first: int, last: int) -> list[OrderEvent]:
    """Process bars ``first..last`` inclusive; return every order event."""
    out: list[OrderEvent] = []
    for bar in BARS[first : last + 1]:
        out += venue.process(bar)
    return out


def _kinds(events: list[OrderEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def _fills(events: list[OrderEvent]) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


def _at(bar: Bar, seconds: int) -> int:
    return bar.ts_open + seconds * SECOND


def _btc(amount: str) -> dict[str, Decimal]:
    return {"USDT": D(100_000), "BTC": D(amount)}


# --- market and limit orders on bars --------------------------------------------


def test_market_order_fills_at_next_bar_open() -> None:
    """A market buy sent at 23:01's close fills at 23:02's open, 46377.0, stamped 23:02:00."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01"))

    events = venue.process(BARS[1])

    assert _kinds(events) == ["OrderFilled"]  # a market order is answered by its fill
    (fill,) = _fills(events)
    assert (fill.last_px, fill.last_qty, fill.ts_event) == (
        D("46377.0"),
        D("0.01"),
        BARS[1].ts_open,
    )
    assert fill.liquidity is LiquiditySide.TAKER


def test_taker_fee_is_bps_of_the_fill_notional() -> None:
    """At 10 bps the 463.77-USDT fill (0.01 at 46377.0) pays a fee of 0.46377 USDT exactly."""
    venue = make_venue(taker_bps=D(10), maker_bps=D(2))
    _send_after(venue, 0, submit(BUY, "0.01"))

    (fill,) = _fills(venue.process(BARS[1]))

    assert (fill.fee, fill.fee_currency) == (D("0.46377"), "USDT")


def test_limit_buy_below_open_rests_then_fills_at_limit_as_maker() -> None:
    """A buy at 46400 on 23:07 (open 46435.0, low 46379.0) fills at 46400 as maker at the low."""
    venue = make_venue(taker_bps=D(10), maker_bps=D(2))
    _send_after(venue, 5, submit(BUY, "0.01", OrderType.LIMIT, price="46400.00"))

    (fill,) = _fills(venue.process(BARS[6]))

    assert (fill.last_px, fill.liquidity) == (D("46400.00"), LiquiditySide.MAKER)
    assert (fill.ts_event, fill.fee) == (_at(BARS[6], 40), D("0.092800"))


def test_limit_never_reached_keeps_working() -> None:
    """A buy at 46300 is not reached by 23:02 (low 46377.0): accepted and still open."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46300.00"))

    events = venue.process(BARS[1])

    assert _kinds(events) == ["OrderAccepted"]
    assert venue.open_order_ids() == ["s1-1"]


def test_marketable_limit_takes_the_open_as_taker() -> None:
    """A buy limit at 46500 arriving before 23:02 opens at 46377.0 pays the open, as taker."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46500.00"))

    (fill,) = _fills(venue.process(BARS[1]))

    assert (fill.last_px, fill.liquidity) == (D("46377.0"), LiquiditySide.TAKER)


def test_marketable_post_only_is_rejected() -> None:
    """A post-only buy at 46400 against a 46377.0 open would take: rejected with -2010."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46400.00", post_only=True))

    (event,) = venue.process(BARS[1])

    assert isinstance(event, OrderRejected)
    assert (event.code, venue.rejected) == ("-2010", 1)


def test_post_only_below_the_open_rests() -> None:
    """A post-only buy at 46300, under the 46377.0 open, is accepted and rests."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46300.00", post_only=True))

    assert _kinds(venue.process(BARS[1])) == ["OrderAccepted"]


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
def test_unmarketable_ioc_and_fok_expire_at_the_open(tif: TimeInForce) -> None:
    """An IOC/FOK buy at 46300 against a 46377.0 open expires at 23:02:00 and frees its lock."""
    venue = make_venue()
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46300.00", time_in_force=tif))

    events = venue.process(BARS[1])

    assert _kinds(events) == ["OrderAccepted", "OrderExpired"]
    assert (events[1].ts_event, venue.account.free("USDT")) == (BARS[1].ts_open, D(100_000))


# --- stops ------------------------------------------------------------------------


def test_stop_market_triggers_at_its_price_with_triggered_first() -> None:
    """A sell stop at 46400 on 23:07 (falls to 46379.0) triggers then fills at 46400 at 23:07:40."""
    venue = make_venue(balances=_btc("0.01"))
    _send_after(venue, 5, submit(SELL, "0.01", OrderType.STOP_MARKET, trigger_price="46400.00"))

    events = venue.process(BARS[6])

    assert _kinds(events) == ["OrderAccepted", "OrderTriggered", "OrderFilled"]
    assert [e.ts_event for e in events[1:]] == [_at(BARS[6], 40)] * 2
    (fill,) = _fills(events)
    assert (fill.last_px, fill.liquidity) == (D("46400.00"), LiquiditySide.TAKER)


def test_stop_market_gapped_through_fills_at_the_open() -> None:
    """A buy stop at 46687 rests through 00:48 (high 46684.0) and fills at 00:49's open 46690.0."""
    venue = make_venue()
    _send_after(venue, 106, submit(BUY, "0.01", OrderType.STOP_MARKET, trigger_price="46687.00"))

    events = _run(venue, 107, 108)

    assert _kinds(events) == ["OrderAccepted", "OrderTriggered", "OrderFilled"]
    (fill,) = _fills(events)
    assert (fill.last_px, fill.ts_event) == (D("46690.0"), BARS[108].ts_open)


def test_stop_limit_triggers_then_works_as_a_limit() -> None:
    """Sell stop 46400 / limit 46420 on 23:07: triggered at the low, filled at 46420 at the close."""
    venue = make_venue(balances=_btc("0.01"))
    cmd = submit(SELL, "0.01", OrderType.STOP_LIMIT, trigger_price="46400.00", price="46420.00")
    _send_after(venue, 5, cmd)

    events = venue.process(BARS[6])

    assert _kinds(events) == ["OrderAccepted", "OrderTriggered", "OrderFilled"]
    (fill,) = _fills(events)
    assert (events[1].ts_event, fill.ts_event) == (_at(BARS[6], 40), BARS[6].ts_event)
    assert (fill.last_px, fill.liquidity) == (D("46420.00"), LiquiditySide.MAKER)


def test_stop_limit_marketable_when_triggered_fills_in_the_same_bar() -> None:
    """Sell stop 46660 / limit 46655 on 00:54 (falls 46676 → 46650): fills at 46660 when triggered."""
    venue = make_venue(balances=_btc("0.01"))
    cmd = submit(SELL, "0.01", OrderType.STOP_LIMIT, trigger_price="46660.00", price="46655.00")
    _send_after(venue, 112, cmd)

    fills = _fills(venue.process(BARS[113]))

    assert [(f.last_px, f.ts_event, f.liquidity) for f in fills] == [
        (D("46660.00"), _at(BARS[113], 40), LiquiditySide.TAKER)
    ]


# --- latency and slippage -------------------------------------------------------


def test_order_arriving_after_the_open_waits_for_the_next_bar() -> None:
    """With 1 s latency a market buy reaches the venue at 23:02:01 and fills at 23:03's open."""
    venue = make_venue(latency_ns=SECOND)
    _send_after(venue, 0, submit(BUY, "0.01"))

    during, after = venue.process(BARS[1]), venue.process(BARS[2])

    assert during == []  # in flight: a market order is answered only by its fill
    (fill,) = _fills(after)
    assert (fill.last_px, fill.ts_event) == (D("46411.0"), BARS[2].ts_open)


def test_slippage_raises_a_buy_fill_and_rounds_to_tick() -> None:
    """1 bps slippage moves the 46377.0 open to 46381.64 for a buy."""
    venue = make_venue(slippage=SlippageModel(bps=D(1)))
    _send_after(venue, 0, submit(BUY, "0.01"))

    (fill,) = _fills(venue.process(BARS[1]))

    assert fill.last_px == D("46381.64")


def test_slippage_lowers_a_sell_fill_and_rounds_to_tick() -> None:
    """1 bps slippage moves the 46377.0 open to 46372.36 for a sell."""
    venue = make_venue(balances=_btc("0.01"), slippage=SlippageModel(bps=D(1)))
    _send_after(venue, 0, submit(SELL, "0.01"))

    (fill,) = _fills(venue.process(BARS[1]))

    assert fill.last_px == D("46372.36")


def test_marketable_limit_pays_slippage_like_a_market_order() -> None:
    """With 1 bps, a buy limit at 46500 taking the 46377.0 open pays 46381.64, within its limit."""
    venue = make_venue(slippage=SlippageModel(bps=D(1)))
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46500.00"))

    (fill,) = _fills(venue.process(BARS[1]))

    assert fill.last_px == D("46381.64")


# --- account --------------------------------------------------------------------


def test_insufficient_balance_is_rejected_with_2010_and_changes_nothing() -> None:
    """A 0.01 BTC buy needing 464.23377 USDT with 100 free is rejected (-2010), nothing changes."""
    venue = make_venue(balances={"USDT": D(100)}, taker_bps=D(10))
    _send_after(venue, 0, submit(BUY, "0.01"))

    (event,) = venue.process(BARS[1])

    assert isinstance(event, OrderRejected)
    assert event.code == "-2010"
    assert "464.23377" in event.reason
    assert "100 free" in event.reason
    assert (venue.account.balances(), venue.account.free("USDT")) == ({"USDT": D(100)}, D(100))


def test_selling_base_not_held_is_rejected() -> None:
    """A sell of 0.01 BTC from a USDT-only account is rejected with -2010."""
    venue = make_venue()
    _send_after(venue, 0, submit(SELL, "0.01"))

    (event,) = venue.process(BARS[1])

    assert isinstance(event, OrderRejected)
    assert event.code == "-2010"


def test_working_buy_locks_notional_plus_worst_fee() -> None:
    """A resting 0.01 BTC buy at 46300 locks 463 USDT plus 10 bps: 463.463."""
    venue = make_venue(taker_bps=D(10))
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46300.00"))

    venue.process(BARS[1])

    assert D(100_000) - venue.account.free("USDT") == D("463.463")


def test_cancel_of_a_working_order_releases_its_lock() -> None:
    """Cancelling the resting 46300 buy yields OrderCanceled at 23:03:00 and frees all USDT."""
    venue = make_venue(taker_bps=D(10))
    _send_after(venue, 0, submit(BUY, "0.01", OrderType.LIMIT, price="46300.00"))
    _send_after(venue, 1, cancel("s1-1"))

    events = venue.process(BARS[2])

    assert [(type(e), e.ts_event) for e in events] == [(OrderCanceled, BARS[2].ts_open)]
    assert (venue.account.free("USDT"), venue.open_order_ids()) == (D(100_000), [])


def test_cancel_of_an_unknown_order_is_rejected() -> None:
    """A cancel for an id the venue never saw gives OrderCancelRejected."""
    venue = make_venue()
    _send_after(venue, 0, cancel("s1-404"))

    (event,) = venue.process(BARS[1])

    assert isinstance(event, OrderCancelRejected)
    assert event.client_order_id == "s1-404"


def test_round_trip_balances_are_start_plus_pnl_minus_fees() -> None:
    """Buy at 46377.0, sell at 46411.0, 0.01 BTC, 10 bps: USDT = 100,000 + 0.34 - 0.92788."""
    venue = make_venue(taker_bps=D(10))
    _send_after(venue, 0, submit(BUY, "0.01", client_order_id="s1-1"))
    _send_after(venue, 1, submit(SELL, "0.01", client_order_id="s1-2"))

    fills = _fills(_run(venue, 2, 2))

    assert [f.last_px for f in fills] == [D("46411.0")]
    assert venue.account.balances() == {
        "USDT": D(100_000) + D("0.34") - D("0.46377") - D("0.46411")
    }
    assert venue.account.free("USDT") == D("99999.41212")


# --- OCO --------------------------------------------------------------------------


def _exit_pair(qty: str, stop: str, target: str) -> tuple[SubmitOrder, SubmitOrder]:
    stop_leg = submit(
        SELL, qty, OrderType.STOP_MARKET, trigger_price=stop, client_order_id="sl", oco_group="g"
    )
    target_leg = submit(
        SELL, qty, OrderType.LIMIT, price=target, client_order_id="tp", oco_group="g"
    )
    return stop_leg, target_leg


def test_oco_pair_shares_one_lock() -> None:
    """Two 0.01 BTC exit legs are both accepted with only 0.01 BTC held, locking it once."""
    venue = make_venue(balances=_btc("0.01"))
    _send_after(venue, 0, *_exit_pair("0.01", "46000.00", "47000.00"))

    events = venue.process(BARS[1])

    assert _kinds(events) == ["OrderAccepted", "OrderAccepted"]
    assert venue.account.free("BTC") == 0


def test_first_oco_execution_cancels_the_other_leg() -> None:
    """On 23:07 the stop at 46400 executes; the 46500 target is cancelled; nothing stays locked."""
    venue = make_venue(balances=_btc("0.01"))
    _send_after(venue, 5, *_exit_pair("0.01", "46400.00", "46500.00"))

    events = venue.process(BARS[6])

    assert [(type(e), e.client_order_id) for e in events if not isinstance(e, OrderAccepted)] == [
        (OrderTriggered, "sl"),
        (OrderFilled, "sl"),  # the fill first: the position is never seen open and unprotected
        (OrderCanceled, "tp"),
    ]
    assert (venue.account.balances().get("BTC"), venue.open_order_ids()) == (None, [])


def test_oco_leg_reached_first_on_the_path_wins() -> None:
    """On 23:38 (46434 → 46438 → 46388) the 46436 target executes before the 46400 stop."""
    venue = make_venue(balances=_btc("0.01"))
    _send_after(venue, 36, *_exit_pair("0.01", "46400.00", "46436.00"))

    fills = _fills(venue.process(BARS[37]))

    assert [(f.client_order_id, f.last_px) for f in fills] == [("tp", D("46436.00"))]


def test_cancelled_oco_leg_never_executes_in_the_same_bar() -> None:
    """On 00:03 the 46310 stop executes; the cancelled 46380 target must not fill as well."""
    venue = make_venue(balances=_btc("1"))
    _send_after(venue, 61, *_exit_pair("0.5", "46310.00", "46380.00"))

    events = venue.process(BARS[62])

    assert [(type(e).__name__, e.client_order_id) for e in events[2:]] == [
        ("OrderTriggered", "sl"),
        ("OrderFilled", "sl"),
        ("OrderCanceled", "tp"),
    ]
    assert venue.account.total("BTC") == D("0.5")


def test_cancelling_one_oco_leg_keeps_the_working_leg_locked() -> None:
    """After the stop leg is cancelled, 0.5 BTC stays locked while the target leg works."""
    venue = make_venue(balances=_btc("1"))
    _send_after(venue, 61, *_exit_pair("0.5", "46000.00", "47000.00"))
    _send_after(venue, 62, cancel("sl"))

    venue.process(BARS[63])

    locked = D("0.5") if venue.open_order_ids() else D(0)
    assert venue.account.free("BTC") == D(1) - locked


def test_bar_open_is_not_used_as_the_price_of_another_instrument() -> None:
    """A post-only ETHUSDT sell at 4000 reaching the venue at a BTCUSDT open is not 'taking'."""
    venue = make_venue(balances={"USDT": D(100_000), "ETH": D(1)})
    eth = submit(
        SELL, "1", OrderType.LIMIT, price="4000.00", post_only=True, instrument_id="ETHUSDT"
    )
    _send_after(venue, 0, eth)

    events = venue.process(BARS[1])

    assert _kinds(events) == ["OrderAccepted"]


# --- tick mode: quotes and trades ---------------------------------------------------


def test_market_buy_takes_the_top_ask_of_the_quote() -> None:
    """A 0.05 BTC market buy against ask 39433.62 x 0.066851 fills 0.05 there as taker."""
    venue = make_venue()
    venue.process(QUOTES[0])
    venue.execute(submit(BUY, "0.05"), QUOTES[0].ts_event)

    events = venue.process(QUOTES[1])

    assert _kinds(events) == ["OrderFilled"]  # a market order is answered by its fill
    (fill,) = _fills(events)
    assert (fill.last_px, fill.last_qty, fill.liquidity) == (
        D("39433.62"),
        D("0.05"),
        LiquiditySide.TAKER,
    )


def test_market_buy_larger_than_the_top_fills_partially_and_expires() -> None:
    """A 0.1 BTC market buy takes the 0.066851 at 39433.62; the rest expires."""
    venue = make_venue()
    venue.process(QUOTES[0])
    venue.execute(submit(BUY, "0.1"), QUOTES[0].ts_event)

    events = venue.process(QUOTES[1])

    assert _kinds(events) == ["OrderFilled", "OrderExpired"]
    (fill,) = _fills(events)
    assert (fill.last_px, fill.last_qty) == (D("39433.62"), D("0.066851"))


def test_resting_limit_fills_as_maker_on_trades_through_its_price() -> None:
    """A 0.05 buy at 39431 fills at 39431 from the 39430.63 and 39430.31 prints, as maker."""
    venue = make_venue()
    venue.process(TRADES[0])
    venue.execute(submit(BUY, "0.05", OrderType.LIMIT, price="39431.00"), TRADES[0].ts_event)

    fills = _fills([e for t in TRADES[1:20] for e in venue.process(t)])

    assert [(f.last_qty, f.last_px, f.liquidity) for f in fills] == [
        (D("0.021707"), D("39431.00"), LiquiditySide.MAKER),
        (D("0.028293"), D("39431.00"), LiquiditySide.MAKER),
    ]
    assert fills[0].ts_event == 1_610_064_000_673_000_000


def test_limit_never_fills_beyond_its_price_with_slippage() -> None:
    """A buy limit at 39433.00 after a 39432.48 print, with 1 bps slippage, pays at most 39433.00."""
    venue = make_venue(slippage=SlippageModel(bps=D(1)))
    venue.process(TRADES[0])
    venue.execute(submit(BUY, "0.01", OrderType.LIMIT, price="39433.00"), TRADES[0].ts_event)

    fills = _fills(venue.process(TRADES[1]))

    assert all(f.last_px <= D("39433.00") for f in fills)


def test_market_order_before_any_price_is_rejected() -> None:
    """A market order reaching a venue that has seen no data is rejected with -1013."""
    venue = make_venue()
    venue.execute(submit(BUY, "0.01"), QUOTES[0].ts_event)

    (event,) = venue.process(QUOTES[0])

    assert isinstance(event, OrderRejected)
    assert event.code == "-1013"


def test_stop_triggers_on_a_quote_only_stream() -> None:
    """A buy stop at 39440 triggers once the quotes rise to 39490.97 / 39490.98."""
    venue = make_venue()
    venue.process(QUOTES[0])
    venue.execute(
        submit(BUY, "0.01", OrderType.STOP_MARKET, trigger_price="39440.00"), QUOTES[0].ts_event
    )

    events = [e for q in QUOTES[1:] for e in venue.process(q)]

    assert "OrderTriggered" in _kinds(events)


def test_quote_without_size_never_produces_an_empty_fill() -> None:
    """A market buy against a real quote whose sizes are unknown (0) yields no zero-quantity fill."""
    venue = make_venue()
    sizeless = msgspec.structs.replace(QUOTES[0], ask_size=D(0), bid_size=D(0))
    venue.process(sizeless)
    venue.execute(submit(BUY, "0.01"), sizeless.ts_event)

    events = venue.process(QUOTES[1])

    assert all(f.last_qty > 0 for f in _fills(events))


def test_bar_timestamps_are_one_minute_apart() -> None:
    """The bars used here are consecutive minutes (the data these tests rely on)."""
    assert all(b.ts_open + MINUTE_NS == n.ts_open for b, n in itertools.pairwise(BARS))


def test_expired_order_cannot_be_cancelled() -> None:
    """After an IOC expired, its cancel is answered with OrderCancelRejected."""
    venue = make_venue()
    ioc = submit(BUY, "0.01", OrderType.LIMIT, price="46300.00", time_in_force=TimeInForce.IOC)
    _send_after(venue, 0, ioc)
    _send_after(venue, 1, cancel("s1-1"))

    events = venue.process(BARS[2])

    assert _kinds(events) == ["OrderCancelRejected"]
