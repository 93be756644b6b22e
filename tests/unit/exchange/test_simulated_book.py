"""The simulated venue against a real L2 book: walking levels, partial fills, IOC/FOK, gaps."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis import resources
from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import BookDelta, OrderAccepted, OrderExpired, OrderFilled, QuoteTick
from genesis.core.instruments import load_exchange_info
from genesis.data.capture import read_spot_capture
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue

SYMBOL = "NKNUSDT"


@pytest.fixture
def synced() -> tuple[SimulatedVenue, int]:
    """A venue fed the real NKNUSDT capture until its book has applied 20 diffs."""
    table = load_exchange_info(resources.EXCHANGE_INFO)
    venue = SimulatedVenue(
        instruments=table.get,
        balances={"USDT": Decimal(100_000), "NKN": Decimal(100_000)},
        fees=FeeModel(maker_bps=Decimal(2), taker_bps=Decimal(10)),
    )
    applied, ts = 0, 0
    for event in read_spot_capture(resources.SPOT_CAPTURE):
        if event.instrument_id != SYMBOL or isinstance(event, QuoteTick):
            continue
        venue.process(event)
        ts = event.ts_event
        applied += isinstance(event, BookDelta) and venue.book(SYMBOL) is not None
        if applied >= 20:
            break
    return venue, ts


def _order(qty: str, side: Side = Side.BUY, **kw: object) -> SubmitOrder:
    return SubmitOrder(
        ts_init=0,
        strategy_id="t",
        instrument_id=SYMBOL,
        client_order_id=f"t-{qty}-{side.value}",
        side=side,
        order_type=kw.pop("order_type", OrderType.MARKET),
        quantity=Decimal(qty),
        **kw,  # type: ignore[arg-type]
    )


def _send(venue: SimulatedVenue, ts: int, order: SubmitOrder) -> list[object]:
    """Send ``order`` with zero latency and deliver it at once."""
    venue.execute(order, ts)
    return list(venue.deliver_until(ts))


def _book(venue: SimulatedVenue):  # type: ignore[no-untyped-def]
    book = venue.book(SYMBOL)
    assert book is not None
    return book


def test_market_buy_walks_the_asks_level_by_level(synced: tuple[SimulatedVenue, int]) -> None:
    """A buy bigger than the best ask fills one trade per level at the book's prices."""
    venue, ts = synced
    asks = _book(venue).levels(Side.SELL, 3)
    qty = asks[0][1] + asks[1][1] + Decimal(1)
    events = _send(venue, ts, _order(str(qty)))
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert not [e for e in events if isinstance(e, OrderAccepted)]  # answered by its fills
    assert [(f.last_px, f.last_qty) for f in fills] == [asks[0], asks[1], (asks[2][0], Decimal(1))]
    assert all(f.liquidity is LiquiditySide.TAKER for f in fills)
    assert fills[0].fee == asks[0][0] * asks[0][1] * Decimal(10) / Decimal(10_000)


def test_ioc_limit_takes_only_levels_within_its_price(synced: tuple[SimulatedVenue, int]) -> None:
    """IOC fills the levels at or better than its limit and expires the rest."""
    venue, ts = synced
    asks = _book(venue).levels(Side.SELL, 2)
    order = _order(
        str(asks[0][1] * 3),
        order_type=OrderType.LIMIT,
        price=asks[0][0],
        time_in_force=TimeInForce.IOC,
    )
    events = _send(venue, ts, order)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.last_px, f.last_qty) for f in fills] == [asks[0]]
    assert isinstance(events[-1], OrderExpired)


def test_fok_without_enough_depth_expires_unfilled(synced: tuple[SimulatedVenue, int]) -> None:
    """FOK: all at once or nothing."""
    venue, ts = synced
    asks = _book(venue).levels(Side.SELL, 1)
    before = venue.account.balances()
    order = _order(
        str(asks[0][1] + 1),
        order_type=OrderType.LIMIT,
        price=asks[0][0],
        time_in_force=TimeInForce.FOK,
    )
    events = _send(venue, ts, order)
    assert not [e for e in events if isinstance(e, OrderFilled)]
    assert isinstance(events[-1], OrderExpired)
    assert venue.account.balances() == before
    assert venue.account.free("USDT") == before["USDT"]


def test_market_sell_walks_the_bids(synced: tuple[SimulatedVenue, int]) -> None:
    """A sell takes the best bids first and settles the account exactly."""
    venue, ts = synced
    bids = _book(venue).levels(Side.BUY, 2)
    qty = bids[0][1] + bids[1][1]
    events = _send(venue, ts, _order(str(qty), side=Side.SELL))
    fills = [e for e in events if isinstance(e, OrderFilled)]
    proceeds = sum((p * q for p, q in bids), Decimal(0))
    fees = sum((f.fee for f in fills), Decimal(0))
    assert [(f.last_px, f.last_qty) for f in fills] == bids
    assert venue.account.total("USDT") == Decimal(100_000) + proceeds - fees
    assert venue.account.total("NKN") == Decimal(100_000) - qty


def test_book_with_a_gap_offers_no_liquidity(synced: tuple[SimulatedVenue, int]) -> None:
    """After a sequence gap nothing matches until a new snapshot heals the book."""
    venue, ts = synced
    last = max(
        e.last_update_id
        for e in read_spot_capture(resources.SPOT_CAPTURE)
        if isinstance(e, BookDelta) and e.instrument_id == SYMBOL
    )
    venue.process(
        BookDelta(
            ts_event=ts,
            ts_init=ts,
            instrument_id=SYMBOL,
            first_update_id=last + 5,
            last_update_id=last + 6,
        )
    )
    events = _send(venue, ts, _order("100"))
    assert venue.book(SYMBOL) is None
    assert not [e for e in events if isinstance(e, OrderFilled)]
    assert isinstance(events[-1], OrderExpired)


def test_cancelling_a_partly_filled_oco_leg_cancels_it() -> None:
    """A target partly filled by a real trade (its stop already cancelled) can still be cancelled."""
    from genesis.core.commands import CancelOrder
    from genesis.core.events import OrderCanceled, TradeTick
    from genesis.testing.builders import make_venue, real_bars

    bars = real_bars(0, 2)  # real prices: 46319.0 and 46377.0

    def trade(price: Decimal, size: str, ts: int) -> TradeTick:
        return TradeTick(
            ts_event=ts,
            ts_init=ts,
            instrument_id="BTCUSDT",
            price=price,
            size=Decimal(size),
            aggressor_side=Side.BUY,
            trade_id=str(ts),
        )

    venue = make_venue(balances={"BTC": Decimal(1), "USDT": Decimal(0)})
    venue.process(trade(bars[0].open, "1", 1))
    for cid, kind, extra in (
        ("sl", OrderType.STOP_MARKET, {"trigger_price": Decimal("46000.00")}),
        ("tp", OrderType.LIMIT, {"price": bars[0].close}),
    ):
        venue.execute(
            SubmitOrder(
                ts_init=2,
                strategy_id="t",
                instrument_id="BTCUSDT",
                client_order_id=cid,
                side=Side.SELL,
                order_type=kind,
                quantity=Decimal(1),
                oco_group="g",
                **extra,
            ),
            2,
        )  # type: ignore[arg-type]
    venue.process(trade(bars[0].open, "1", 3))
    partial = venue.process(trade(bars[0].close, "0.3", 4))
    venue.execute(
        CancelOrder(ts_init=5, strategy_id="t", instrument_id="BTCUSDT", client_order_id="tp"), 5
    )

    cancelled = venue.deliver_until(5)

    assert [(type(e).__name__, e.client_order_id) for e in partial] == [
        ("OrderFilled", "tp"),
        ("OrderCanceled", "sl"),
    ]
    assert [(type(e), e.client_order_id) for e in cancelled] == [(OrderCanceled, "tp")]
    assert venue.open_order_ids() == []
    assert venue.account.free("BTC") == Decimal("0.7")


def test_a_limit_the_book_still_crosses_fills_again_on_a_quote() -> None:
    """A buy of 3 at 100.00 meets 1 on the ask: 1 fills on arrival; the rest rests crossed, and
    as our fills take no liquidity the next event, a quote, fills 1 more as maker. A quote
    of a book that crosses no resting order fills nothing."""
    from genesis.core.events import BookSnapshot
    from genesis.testing.instruments import lookup

    D = Decimal
    venue = SimulatedVenue(instruments=lookup, balances={"USDT": D(10**6)}, fees=FeeModel())
    venue.process(BookSnapshot(
        ts_event=1, ts_init=1, instrument_id="BTCUSDT", last_update_id=10,
        bids=((D("99.99"), D(5)),), asks=((D("100.00"), D(1)), (D("100.05"), D(5))),
    ))  # fmt: skip
    venue.execute(SubmitOrder(
        ts_init=2, strategy_id="s", instrument_id="BTCUSDT", client_order_id="b1",
        side=Side.BUY, order_type=OrderType.LIMIT, quantity=D(3), price=D("100.00"),
    ), 2)  # fmt: skip
    arrival = [e for e in venue.deliver_until(2) if isinstance(e, OrderFilled)]
    quote = QuoteTick(
        ts_event=3, ts_init=3, instrument_id="BTCUSDT", bid=D("99.99"), ask=D("100.00"),
        bid_size=D(5), ask_size=D(1),
    )  # fmt: skip
    again = [e for e in venue.process(quote) if isinstance(e, OrderFilled)]

    assert [(f.last_qty, f.liquidity) for f in arrival] == [(D(1), LiquiditySide.TAKER)]
    assert [(f.last_qty, f.liquidity) for f in again] == [(D(1), LiquiditySide.MAKER)]
    venue.process(BookDelta(
        ts_event=4, ts_init=4, instrument_id="BTCUSDT", first_update_id=11, last_update_id=11,
        prev_update_id=-1, bids=(), asks=((D("100.00"), D(0)),),
    ))  # fmt: skip
    assert [e for e in venue.process(quote) if isinstance(e, OrderFilled)] == []
