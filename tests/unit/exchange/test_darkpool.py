"""The simulated dark pool (ST-X5): its fills follow its stated model.

The reference feed of most tests is real: the Binance COIN-M BTCUSD quotes of 2022-12-13
(genesis/resources, one a minute, 1,104 of them), relabelled ``dark:BTCUSD``. The statistics
test adds a long feed (20,000 steps) so the fill rate can be held to a tight tolerance.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

import pytest

from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    QuoteTick,
    TradeTick,
)
from genesis.core.instruments import Instrument
from genesis.data.loaders import read_quote_bars
from genesis.exchange.darkpool import DarkPoolModel, DarkPoolVenue, HiddenLiquidity
from genesis.exchange.fills import FeeModel
from genesis.resources import BINANCE_BTCUSD_1M_QUOTES
from genesis.testing.builders import cancel, submit

D = Decimal
DARK: Final = "dark:BTCUSD"
INSTRUMENT: Final = Instrument(
    symbol="BTCUSD", base="BTC", quote="USD", tick_size=D("0.1"), step_size=D("0.001"),
    venue="DARK",
)  # fmt: skip
QUOTES: Final = list(read_quote_bars(BINANCE_BTCUSD_1M_QUOTES, DARK))
MINUTE: Final = 60_000_000_000


def _pool(model: DarkPoolModel | None = None, fee_bps: str = "0") -> DarkPoolVenue:
    return DarkPoolVenue(
        instruments=lambda _: INSTRUMENT,
        balances={"USD": D(10) ** 12, "BTC": D(10) ** 6},
        fees=FeeModel(maker_bps=D(fee_bps), taker_bps=D(fee_bps)),
        model=model,
    )


def _order(side: Side = Side.BUY, qty: str = "1000000", **kw: Any) -> SubmitOrder:
    kw.setdefault("order_type", OrderType.MARKET)
    return submit(side, qty, instrument_id=DARK, ts_init=0, **kw)


def _quote(ts: int, bid: str = "100", ask: str = "100.1", size: str = "10") -> QuoteTick:
    return QuoteTick(
        ts_event=ts, ts_init=ts, instrument_id=DARK,
        bid=D(bid), ask=D(ask), bid_size=D(size), ask_size=D(size),
    )  # fmt: skip


def _run(pool: DarkPoolVenue, quotes: list[QuoteTick], *orders: SubmitOrder) -> list[OrderEvent]:
    """The first quote, then the orders (arriving at once), then the rest of the feed."""
    out = list(pool.process(quotes[0]))
    for order in orders:
        pool.execute(order, quotes[0].ts_init)
    out += pool.deliver_until(quotes[0].ts_init)
    for quote in quotes[1:]:
        out += pool.process(quote)
    return out


def _fills(events: list[OrderEvent]) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


# --- the model's statistics ----------------------------------------------------------------


def test_every_fill_is_at_the_reference_mid_exactly() -> None:
    """On the real quotes, each fill's price is (bid + ask) / 2 of the quote of its step."""
    pool = _pool(DarkPoolModel(p=0.5, seed=7))
    mids = {q.ts_init: (q.bid + q.ask) / 2 for q in QUOTES}

    fills = _fills(_run(pool, QUOTES, _order(Side.BUY), _order(Side.SELL, client_order_id="s1-2")))

    assert len(fills) > 800
    assert all(f.last_px == mids[f.ts_init] for f in fills)
    assert any(f.last_px % INSTRUMENT.tick_size for f in fills)  # half ticks: the mid, unrounded


def test_no_fill_exceeds_the_hidden_size_drawn_for_its_step() -> None:
    """A twin of the model (same seed) redraws each step's interest: every fill is exactly
    that step's interest on its side (the order never runs out), never more."""
    model = DarkPoolModel(p=0.4, max_fraction=D("0.25"), seed=3)
    pool = _pool(model)
    twin = HiddenLiquidity(model, DARK)
    drawn = {}
    for q in QUOTES:
        drawn[q.ts_init] = {
            Side.BUY: twin.draw(q.ask_size, INSTRUMENT.step_size),
            Side.SELL: twin.draw(q.bid_size, INSTRUMENT.step_size),
        }

    fills = _fills(_run(pool, QUOTES, _order(Side.BUY), _order(Side.SELL, client_order_id="s1-2")))

    assert fills
    assert all(f.last_qty == drawn[f.ts_init][f.side] for f in fills)
    assert all(f.last_qty <= q.ask_size * model.max_fraction for f, q in _with_quote(fills))


def _with_quote(fills: list[OrderFilled]) -> list[tuple[OrderFilled, QuoteTick]]:
    by_ts = {q.ts_init: q for q in QUOTES}
    return [(f, by_ts[f.ts_init]) for f in fills if f.side is Side.BUY]


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_the_fill_rate_per_step_is_p(p: float) -> None:
    """Over 20,000 steps a resting order fills in a share of them within 4 standard errors
    of ``p`` (every arrival is large enough to fill: the lit top is 10, the lot 0.001)."""
    steps = 20_000
    pool = _pool(DarkPoolModel(p=p, seed=11))
    quotes = [_quote(i * MINUTE) for i in range(steps)]

    fills = _fills(_run(pool, quotes, _order(Side.BUY)))

    rate = len(fills) / steps
    assert abs(rate - p) <= 4 * math.sqrt(p * (1 - p) / steps)
    assert pool.statistics().steps == steps


def test_the_hidden_size_is_uniform_up_to_max_fraction_of_the_top() -> None:
    """Arrivals average half of max_fraction x top (0.5 x 0.5 x 10 = 2.5) and never exceed it."""
    twin = HiddenLiquidity(DarkPoolModel(p=1.0, max_fraction=D("0.5"), seed=5), DARK)

    sizes = [twin.draw(D(10), D("0.001")) for _ in range(20_000)]

    assert max(sizes) <= D(5)
    assert float(sum(sizes)) / len(sizes) == pytest.approx(2.5, abs=0.05)


def test_the_hidden_liquidity_does_not_depend_on_our_orders() -> None:
    """Two pools with one seed, one with orders and one without, draw the same interest."""
    quiet, busy = _pool(DarkPoolModel(seed=9)), _pool(DarkPoolModel(seed=9))

    _run(quiet, QUOTES)
    _run(busy, QUOTES, _order(Side.BUY, "5"))

    a, b = quiet.statistics(), busy.statistics()
    assert (a.steps, a.arrivals, a.hidden_qty) == (b.steps, b.arrivals, b.hidden_qty)
    assert (a.fills, b.fills, b.filled_qty) == (0, 1, D(5))  # one arrival carried the 5 BTC


def test_a_seed_replays_the_same_fills() -> None:
    """The same seed gives the same fills, another seed others."""
    runs = [_fills(_run(_pool(DarkPoolModel(seed=s)), QUOTES, _order())) for s in (1, 1, 2)]

    assert runs[0] == runs[1] != runs[2]


# --- the rules -----------------------------------------------------------------------------


def test_a_match_below_the_minimum_fill_does_not_happen() -> None:
    """min_fill_qty 3: arrivals smaller than 3 leave the order untouched; fills are all >= 3."""
    pool = _pool(DarkPoolModel(p=1.0, min_fill_qty=D(3), seed=2))

    fills = _fills(_run(pool, [_quote(i * MINUTE) for i in range(200)], _order()))

    assert min(f.last_qty for f in fills) >= 3
    assert 0 < len(fills) < pool.statistics().arrivals // 2  # buy-side arrivals below 3 skipped


def test_an_order_below_the_minimum_fill_is_rejected() -> None:
    """An order of 1 when the pool executes 3 or more is refused on arrival."""
    events = _run(_pool(DarkPoolModel(min_fill_qty=D(3))), QUOTES[:1], _order(qty="1"))

    assert [type(e) for e in events] == [OrderRejected]


def test_a_buy_limit_below_the_mid_never_fills() -> None:
    """A buy limited at 17,000 rests while the mid is above it all day (17,1xx to 17,8xx)."""
    limit = _order(order_type=OrderType.LIMIT, price="17000")

    events = _run(_pool(DarkPoolModel(p=1.0)), QUOTES, limit)

    assert [type(e) for e in events] == [OrderAccepted]


def test_an_ioc_takes_what_is_left_of_this_step_then_expires() -> None:
    """p = 1: an IOC of 1 arriving mid-step fills 1 at the mid; an IOC of 1,000 takes the
    rest of the step's interest and expires."""
    pool = _pool(DarkPoolModel(p=1.0, max_fraction=D("0.5"), seed=4))
    pool.process(_quote(0))
    pool.execute(_order(qty="1", time_in_force=TimeInForce.IOC), 1)
    pool.execute(_order(qty="1000", time_in_force=TimeInForce.IOC, client_order_id="s1-2"), 1)

    events = pool.deliver_until(1)

    small, big = _fills(events)
    assert (small.last_qty, small.last_px, small.liquidity) == (
        D(1),
        D("100.05"),
        LiquiditySide.TAKER,
    )
    assert D(0) < big.last_qty <= D(4)  # the step's interest was at most 0.5 x 10, 1 taken
    assert isinstance(events[-1], OrderExpired)
    assert pool.statistics().filled_qty == small.last_qty + big.last_qty


def test_a_fok_larger_than_the_interest_expires_unfilled() -> None:
    """FOK: all or nothing against the step's interest (at most 5 here)."""
    pool = _pool(DarkPoolModel(p=1.0))
    pool.process(_quote(0))
    pool.execute(_order(qty="6", time_in_force=TimeInForce.FOK), 1)

    assert [type(e) for e in pool.deliver_until(1)] == [OrderAccepted, OrderExpired]


def test_stop_orders_are_rejected_and_cancels_release_the_lock() -> None:
    """The pool takes midpoint orders only; a resting order cancels and unlocks its cash."""
    pool = _pool(DarkPoolModel(p=0.0))
    pool.process(_quote(0))
    pool.execute(_order(order_type=OrderType.STOP_MARKET, trigger_price="99"), 1)
    pool.execute(_order(qty="2", client_order_id="s1-2"), 1)
    pool.execute(cancel("s1-2", instrument_id=DARK), 2)

    events = pool.deliver_until(2)

    assert [type(e) for e in events] == [OrderRejected, OrderAccepted, OrderCanceled]
    assert pool.account.free("USD") == pool.account.total("USD")


def test_fills_settle_at_the_mid_with_the_fee() -> None:
    """A resting 1 BTC buy, filled at 100.05 with 10 bps: 100.10005 USD paid, 1 BTC received."""
    pool = _pool(DarkPoolModel(p=1.0, min_fill_qty=D(1)), fee_bps="10")
    before = pool.account.total("USD")

    events = _run(pool, [_quote(0), _quote(MINUTE)], _order(qty="1"))

    (fill,) = _fills(events)
    assert (fill.last_px, fill.fee) == (D("100.05"), D("0.100050"))
    assert before - pool.account.total("USD") == D("100.150050")
    assert pool.account.total("BTC") == D(10) ** 6 + 1


def test_the_pool_shows_nothing_before_trade() -> None:
    """No book, and a trade print is not a reference (no step, no mid)."""
    pool = _pool()
    trade = TradeTick(
        ts_event=0, ts_init=0, instrument_id=DARK, price=D(100), size=D(1), aggressor_side=Side.BUY,
        trade_id="1",
    )  # fmt: skip

    pool.process(trade)

    assert pool.book(DARK) is None
    assert pool.statistics().steps == 0


def test_bad_model_parameters_are_refused() -> None:
    """p outside [0, 1], a negative fraction or minimum."""
    for bad in ({"p": 1.5}, {"max_fraction": D(-1)}, {"min_fill_qty": D(-1)}, {"step_ms": -1}):
        with pytest.raises(ValueError, match="invalid"):
            DarkPoolModel(**bad)
