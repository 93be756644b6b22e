"""The kernel's per-event shortcuts give what the plain path gives (review findings of the
December 2026 performance work, pinned): the portfolio follows an L2 book's mid, the
daily-loss switch sees it, a timer set "now" fires before a late event, timer owners are
remembered within bounds."""

from __future__ import annotations

from decimal import Decimal as D
from typing import ClassVar

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, QuoteTick, TimerFired, TradeTick
from genesis.kernel import kernel as kernel_module
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.strategies.base import Strategy
from genesis.testing.builders import RecordingLog, make_kernel, make_venue
from genesis.testing.instruments import lookup

BTC = "BTCUSDT"


def _holding_one_btc() -> Kernel:
    spec = SessionSpec(
        instruments=lookup, balances={"USDT": D(0), "BTC": D(1)}, base_currency="USDT",
        daily_loss_limit=D("0.05"),
    )  # fmt: skip
    return build_kernel(spec, RecordingLog())


def _quote(ts: int, bid: str, ask: str) -> QuoteTick:
    return QuoteTick(
        ts_event=ts, ts_init=ts, instrument_id=BTC, bid=D(bid), ask=D(ask),
        bid_size=D(1), ask_size=D(1),
    )  # fmt: skip


def _snapshot(ts: int) -> BookSnapshot:
    return BookSnapshot(
        ts_event=ts, ts_init=ts, instrument_id=BTC, last_update_id=10,
        bids=((D(100), D(1)),), asks=((D(101), D(1)),),
    )  # fmt: skip


def _halving(ts: int) -> BookDelta:
    return BookDelta(
        ts_event=ts, ts_init=ts, instrument_id=BTC, first_update_id=11, last_update_id=11,
        prev_update_id=-1, bids=((D(100), D(0)), (D(50), D(1))), asks=((D(101), D(0)), (D(51), D(1))),
    )  # fmt: skip


def test_the_portfolio_is_marked_at_the_book_mid_after_a_trade() -> None:
    """A trade at 90, then a book at 100/101 and a quote: equity counts the BTC at 100.5."""
    k = _holding_one_btc()
    k.handle(TradeTick(ts_event=1, ts_init=1, instrument_id=BTC, price=D(90), size=D(1),
                       aggressor_side=Side.BUY, trade_id="1"))  # fmt: skip
    k.handle(_snapshot(2))
    k.handle(_quote(3, "100", "101"))

    assert (k.portfolio.mark_price(BTC), k.portfolio.equity()) == (D("100.5"), D("100.5"))


def test_a_fall_seen_only_in_the_book_engages_the_daily_loss_switch() -> None:
    """Depth and quotes, no trades: the book halves, the 5% daily-loss switch engages."""
    k = _holding_one_btc()
    for event in (_quote(1, "100", "101"), _snapshot(2), _halving(3), _quote(4, "50", "51")):
        k.handle(event)

    assert str(k.risk.switch.reason).startswith("daily loss")
    assert k.portfolio.equity() == D("50.5")


class _Sequence(Strategy):  # type: ignore[type-arg]
    seen: ClassVar[list[tuple[str, int]]] = []

    def on_start(self) -> None:
        self.ctx.set_timer("go", self.ctx.clock.now_ns())  # as soon as possible

    def on_timer(self, timer: TimerFired) -> None:
        self.seen.append(("timer", timer.ts_event))

    def on_trade(self, trade: TradeTick) -> None:
        self.seen.append(("trade", trade.ts_init))


def test_a_timer_due_now_fires_before_an_event_stamped_earlier() -> None:
    """The clock at 1,000 with a timer due then; trades stamped 900 and 950 come after it."""
    _Sequence.seen = []
    k = make_kernel(start_ns=1000)
    k.add_strategy(_Sequence, "s", None, (BTC,))
    driver = Driver(k, make_venue())
    driver.start()
    for ts in (900, 950, 1200):
        driver.step(TradeTick(ts_event=ts, ts_init=ts, instrument_id=BTC, price=D(100),
                              size=D(1), aggressor_side=Side.BUY, trade_id=str(ts)))  # fmt: skip

    assert _Sequence.seen == [("timer", 1000), ("trade", 900), ("trade", 950), ("trade", 1200)]


class _Ticker(Strategy):  # type: ignore[type-arg]
    def on_start(self) -> None:
        self.fired = 0

    def on_timer(self, timer: TimerFired) -> None:
        self.fired += 1


def test_timer_owners_are_remembered_within_a_bound() -> None:
    """A name per timer (10,000 of them): each reaches its strategy, the memory stays bounded,
    and a name no strategy owns reaches none."""
    k = make_kernel(start_ns=0)
    ticker = k.add_strategy(_Ticker, "tick", None, (BTC,))
    k.start()
    for i in range(10_000):
        k.handle(TimerFired(name=f"tick:order-{i}", ts_event=i, ts_init=i))
    k.handle(TimerFired(name="nobody:x", ts_event=10_001, ts_init=10_001))

    assert ticker.fired == 10_000  # type: ignore[attr-defined]
    assert len(k._timer_owners) <= kernel_module._TIMER_OWNERS_MAX
