"""Builders for tests: real bars, events, commands, orders, and a kernel + venue harness.

Everything here is real or wired like production:

* bars come from the bundled BTCUSDT perpetual 1-minute file
  (``genesis/resources/btcusdt-perp-1m-2022-01.csv.gz``), read once per process;
  the defaults of ``bar``, ``fill`` and ``order`` are taken from its first bar;
* ``make_venue``, ``make_portfolio`` and ``make_kernel`` copy the wiring of
  ``genesis.backtesting.runner``; ``Harness`` is its per-bar loop in miniature
  (deliver commands to the venue, match them against the bar, let the kernel
  react, hand it the bar, carry its commands back), keeping every order event
  and command it saw so tests can assert on them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from genesis.core.clock import SimClock
from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import AccountingMethod, LiquiditySide, OrderType, Side, TimeInForce
from genesis.core.events import Bar, OrderEvent, OrderFilled, StrategyErrored, TimerFired
from genesis.core.orders import Order
from genesis.data.book import BookSync
from genesis.data.loaders import read_bars
from genesis.exchange.fills import FeeModel, LatencyModel, SlippageModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, build_kernel
from genesis.kernel.kernel import Kernel
from genesis.portfolio import Portfolio
from genesis.resources import BTCUSDT_1M_BARS
from genesis.risk.limits import Tier
from genesis.strategies.base import Strategy
from genesis.testing.instruments import BTCUSDT, lookup

__all__ = [
    "MINUTE_NS",
    "T0",
    "Harness",
    "RecordingLog",
    "bar",
    "cancel",
    "fill",
    "make_kernel",
    "make_portfolio",
    "make_venue",
    "order",
    "real_bars",
    "submit",
]

MINUTE_NS = 60_000_000_000
T0 = 1_640_991_660_000_000_000  # 2021-12-31 23:01:00 UTC: open time of the first bundled bar
_FIRST_OPEN = Decimal("46319.0")  # the first bundled bar: 46319.0 / 46385.0 / 46319.0 / 46377.0
_DEFAULT_CASH = Decimal(100_000)
_BPS = Decimal(10_000)


@functools.cache
def _all_bars() -> tuple[Bar, ...]:
    return tuple(read_bars(BTCUSDT_1M_BARS, BTCUSDT, interval_ns=MINUTE_NS))


def real_bars(start: int = 0, count: int | None = None) -> list[Bar]:
    """Consecutive real BTCUSDT 1-minute bars from row ``start`` (0 = 2021-12-31 23:01 UTC).

    Args:
        start: index of the first bar in the bundled file.
        count: how many bars; None for every bar to the end (45,031 in all).
    """
    bars = _all_bars()
    stop = len(bars) if count is None else start + count
    return list(bars[start:stop])


def bar(**overrides: Any) -> Bar:
    """A Bar whose defaults are the first real bundled bar; override any field."""
    fields: dict[str, Any] = {
        field: getattr(_all_bars()[0], field) for field in Bar.__struct_fields__
    }
    fields.update(overrides)
    if "ts_open" in overrides and "ts_event" not in overrides:
        fields["ts_event"] = fields["ts_init"] = overrides["ts_open"] + MINUTE_NS
    return Bar(**fields)


def submit(
    side: Side = Side.BUY,
    quantity: str | Decimal = "0.01",
    order_type: OrderType = OrderType.MARKET,
    *,
    client_order_id: str = "s1-1",
    price: str | Decimal | None = None,
    trigger_price: str | Decimal | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    oco_group: str = "",
    strategy_id: str = "s1",
    instrument_id: str = BTCUSDT,
    ts_init: int = T0,
) -> SubmitOrder:
    """A SubmitOrder command: by default a market buy of 0.01 BTCUSDT."""
    return SubmitOrder(
        ts_init=ts_init,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        client_order_id=client_order_id,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        trigger_price=None if trigger_price is None else Decimal(trigger_price),
        time_in_force=time_in_force,
        post_only=post_only,
        oco_group=oco_group,
    )


def cancel(
    client_order_id: str = "s1-1",
    *,
    strategy_id: str = "s1",
    instrument_id: str = BTCUSDT,
    ts_init: int = T0,
) -> CancelOrder:
    """A CancelOrder command for ``client_order_id``."""
    return CancelOrder(
        ts_init=ts_init,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        client_order_id=client_order_id,
    )


def order(
    side: Side = Side.BUY,
    quantity: str | Decimal = "0.01",
    order_type: OrderType = OrderType.MARKET,
    *,
    client_order_id: str = "s1-1",
    price: str | Decimal | None = None,
    trigger_price: str | Decimal | None = None,
    stop_loss: str | Decimal | None = None,
    strategy_id: str = "s1",
    instrument_id: str = BTCUSDT,
    ts_init: int = T0,
    confidence: float | None = 0.8,
) -> Order:
    """An Order in state NEW (tests only: production orders come from the OrderFactory).

    Its signal confidence defaults to 0.8, above every tier's floor: pass None or a
    low value to test the confidence check."""
    return Order(
        client_order_id=client_order_id,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        ts_init=ts_init,
        price=None if price is None else Decimal(price),
        trigger_price=None if trigger_price is None else Decimal(trigger_price),
        stop_loss=None if stop_loss is None else Decimal(stop_loss),
        confidence=confidence,
    )


def fill(
    side: Side = Side.BUY,
    last_qty: str | Decimal = "0.01",
    last_px: str | Decimal = _FIRST_OPEN,
    *,
    trade_id: str = "T1",
    client_order_id: str = "s1-1",
    fee: str | Decimal = "0",
    fee_currency: str = "USDT",
    liquidity: LiquiditySide = LiquiditySide.TAKER,
    venue: str = "SIM",
    strategy_id: str = "s1",
    instrument_id: str = BTCUSDT,
    ts: int = T0,
) -> OrderFilled:
    """An OrderFilled event: by default 0.01 BTCUSDT bought at the first real open, 46319.0."""
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        client_order_id=client_order_id,
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        venue=venue,
        trade_id=trade_id,
        side=side,
        last_qty=Decimal(last_qty),
        last_px=Decimal(last_px),
        fee=Decimal(fee),
        fee_currency=fee_currency,
        liquidity=liquidity,
    )


# --- wiring (as genesis.backtesting.runner._build) ------------------------------


def make_venue(
    *,
    balances: Mapping[str, Decimal] | None = None,
    taker_bps: Decimal = Decimal(0),
    maker_bps: Decimal | None = None,
    slippage: SlippageModel | None = None,
    latency_ns: int = 0,
    name: str = "SIM",
    books: Callable[[str], BookSync] = BookSync,
) -> SimulatedVenue:
    """A SimulatedVenue on the real instrument table; 100,000 USDT unless ``balances``;
    the ``SharedBooks`` given to ``make_kernel`` too, to wire L2 books as a backtest does."""
    return SimulatedVenue(
        instruments=lookup,
        balances=dict(balances) if balances is not None else {"USDT": _DEFAULT_CASH},
        fees=FeeModel(maker_bps=taker_bps if maker_bps is None else maker_bps, taker_bps=taker_bps),
        slippage=slippage,
        latency=LatencyModel(latency_ns),
        name=name,
        book_factory=books,
    )


def make_portfolio(balances: Mapping[str, Decimal] | None = None) -> Portfolio:
    """A FIFO Portfolio measured in USDT; 100,000 USDT unless ``balances``."""
    return Portfolio(
        lookup, method=AccountingMethod.FIFO, balances=_balances(balances), base_currency="USDT"
    )


def _balances(balances: Mapping[str, Decimal] | None) -> dict[str, Decimal]:
    return dict(balances) if balances is not None else {"USDT": _DEFAULT_CASH}


class RecordingLog:
    """A logger stub that keeps every call as ``(level, event, fields)``."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, event: str, **fields: Any) -> None:
        self.records.append((level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._record("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._record("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._record("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._record("error", event, **fields)

    def events(self, level: str | None = None) -> list[str]:
        """The event names logged, optionally only at ``level``."""
        return [event for lvl, event, _ in self.records if level is None or lvl == level]


def make_kernel(
    *,
    tier: Tier | None = None,
    balances: Mapping[str, Decimal] | None = None,
    fee_rate: Decimal = Decimal(0),
    start_ns: int = T0,
    books: Callable[[str], BookSync] = BookSync,
) -> Kernel:
    """A Kernel with a SimClock at ``start_ns``, a fresh portfolio and a RecordingLog."""
    spec = SessionSpec(
        instruments=lookup, balances=_balances(balances), base_currency="USDT", tier=tier,
        fee_rate=fee_rate, start_ns=start_ns, books=books,
    )  # fmt: skip
    return build_kernel(spec, RecordingLog())


class Harness:
    """Kernel + venue driven bar by bar, like the backtest runner, recording what flows."""

    def __init__(self, kernel: Kernel, venue: SimulatedVenue) -> None:
        self.kernel = kernel
        self.venue = venue
        self.events: list[OrderEvent] = []
        self.commands: list[Command] = []
        self._started = False

    @classmethod
    def build(
        cls,
        strategy: type[Strategy[Any]],
        params: Any,
        *,
        strategy_id: str = "s1",
        cash: Decimal = _DEFAULT_CASH,
        tier: Tier | None = None,
        taker_bps: Decimal = Decimal(0),
        requires_stop_loss: bool = False,
    ) -> Harness:
        """One strategy on BTCUSDT with ``cash`` USDT in both the venue and the portfolio."""
        balances = {"USDT": cash}
        venue = make_venue(balances=balances, taker_bps=taker_bps)
        kernel = make_kernel(tier=tier, balances=balances, fee_rate=taker_bps / _BPS, start_ns=0)
        kernel.add_strategy(
            strategy, strategy_id, params, (BTCUSDT,), requires_stop_loss=requires_stop_loss
        )
        return cls(kernel, venue)

    @property
    def fills(self) -> list[OrderFilled]:
        return [e for e in self.events if isinstance(e, OrderFilled)]

    @property
    def errors(self) -> list[StrategyErrored]:
        return self.kernel.errors

    def send(self, commands: Sequence[Command]) -> None:
        """Carry kernel commands to the venue at the clock's current time (a held order's
        journaled intent is recorded, never sent: the kernel releases it later)."""
        now = self.kernel.clock.now_ns()
        for command in commands:
            self.commands.append(command)
            if not (type(command) is SubmitOrder and command.emulated):
                self.venue.execute(command, now)

    def step(self, bar: Bar) -> None:
        """One runner iteration: venue matches ``bar``, kernel reacts, then sees the bar.

        Timers due before the bar's open fire first, those due during the bar
        fire before the kernel sees it, as in the backtest runner.
        """
        clock = self.kernel.clock
        assert isinstance(clock, SimClock)
        self._fire(clock.advance_to(bar.ts_open))
        if not self._started:
            self.send(self.kernel.start())
            self._started = True
        for event in self.venue.process(bar):
            self.events.append(event)
            self.send(self.kernel.handle(event))
        self._fire(clock.advance_to(bar.ts_event))
        self.send(self.kernel.handle(bar))

    def _fire(self, timers: Sequence[TimerFired]) -> None:
        for timer in timers:
            self.send(self.kernel.handle(timer))

    def run(self, bars: Iterable[Bar]) -> Harness:
        """``step`` through ``bars``; return self."""
        for b in bars:
            self.step(b)
        return self
