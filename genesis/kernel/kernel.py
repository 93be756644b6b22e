"""The kernel: one synchronous, clock-driven object that every mode shares.

Theory of operation
-------------------
``Kernel.handle(event) -> Sequence[Command]`` is the whole interface. The caller
(the backtest runner's ``for`` loop, or the daemon's trading task) owns time
and I/O: it advances the clock, feeds events in time order, and carries the
returned commands to a venue. The kernel never awaits, sleeps, reads the wall
clock or touches a socket, so the same strategy, risk, order and portfolio
code runs in backtest, paper and live, and a backtest is reproducible byte
for byte.

Dispatch is by event type, resolved once in a dict:

* market data (bars, trades, quotes, books) first updates the data engine
  (``MarketView``) and marks the portfolio, then reaches the strategies that
  subscribed to the instrument, in subscription order;
* order events go to the OMS (which refuses illegal transitions and repeated
  fills), then to the portfolio (fills only), then to the owning strategy;
* timers go to the strategy whose name prefixes the timer.

A strategy acts through its context. ``submit`` runs the risk checks *now*,
synchronously: a refusal becomes an ``OrderDenied`` event, an approval marks
the order SUBMITTED and appends a ``SubmitOrder`` command to the outbox.
Events the kernel creates itself (denials, strategy faults) are queued and
delivered after the current event, never re-entrantly inside a hook, so a
strategy's ``on_bar`` is never interrupted by its own ``on_order``.

Attached stop loss / take profit: when an entry order with ``stop_loss`` or
``take_profit`` is completely filled, the kernel submits the exits for the
filled quantity (a stop-market and a limit on the other side) as one OCO
group: the venue cancels the other leg when one executes, and the two legs
share one lock of the position (as Binance's order lists do). On a venue
without lists (``VenueCapabilities.oco`` False) the kernel keeps the list
itself (``lists``, ``execution.oco``): the target goes alone, the stop is
held here and released only once the target's cancel is confirmed. Exits are
reduce-only and skip the sizing checks (never the instrument filters).

Every hook runs behind the guard: an exception disables that strategy,
emits ``StrategyErrored``, and the kernel carries on with the others.

The kill switch is the kernel's too (RK-2). ``EngageKillSwitch`` and
``ResetKillSwitch`` are fed in like events, wherever they come from (an
operator's request, a reconciliation that cannot explain the venue, the
venue refusing the key); the daily-loss limit is checked after every market
event, in event time, so a backtest with a tier trips it exactly where
paper and live would. An engagement denies new exposure and cancels working
orders (all of them, or flattens, for a command; only the entries for the
daily loss, so open positions keep their stops). What changed comes out as
notices (``KillSwitchChanged``, ``DailyLossBaseline``) for the shell to
journal: ``take_notices()``.

Pre-trade (``pretrade.py``) stamps each order's decision price and asks the
regime gate and the risk engine. Every booked fill also feeds each strategy's
own figures (``performance``, a ``PerformanceBook``); a round trip completed
is a ``TradeCompleted`` notice. Submissions, order events and fills feed the
execution-quality book (``quality``, EX-6) and closed lots each strategy's edge
(``edges``, PF-4). With a tier, after each market event the
kernel also samples equity and prices once per interval of event time (the
risk engine's ``EventSampler``) and runs the circuit breakers (RK-3): a trip
cancels its scope's working entries and comes out as ``BreakerTripped``;
``risk_report()`` answers RK-4. A strategy configured with regimes is switched
on and off per instrument by its bars' regime (``regimes.py``), announced as
``RegimeSwitched`` notices.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

from genesis.analytics.regime import Regime
from genesis.core.clock import Clock
from genesis.core.commands import (
    CancelOrder,
    Command,
    EngageKillSwitch,
    KernelCommand,
    ModifyOrder,
    ResetKillSwitch,
    SubmitOrder,
)
from genesis.core.enums import OPEN_STATUSES, TERMINAL_STATUSES, OrderStatus, Side
from genesis.core.events import (
    Bar,
    BookDelta,
    BookSnapshot,
    Event,
    KillSwitchChanged,
    MarketEvent,
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
    QuoteTick,
    StrategyErrored,
    TimerFired,
    TradeCompleted,
    TradeTick,
)
from genesis.core.instruments import Instrument, split_instrument_id
from genesis.core.orders import Order
from genesis.errors import IllegalTransition, InvalidOrder
from genesis.execution.amend import Terms, amended, grows_exposure, new_terms
from genesis.execution.emulation import EmulatedState, Emulator, touch_prices
from genesis.execution.oco import EmulatedLists
from genesis.execution.oms import OrderManager
from genesis.execution.quality import FillQuality
from genesis.execution.restore import order_from_intent
from genesis.execution.tca import TcaRecord
from genesis.kernel.market import MarketView
from genesis.kernel.parents import ParentDesk
from genesis.kernel.pretrade import PreTrade
from genesis.kernel.regimes import RegimeSwitch
from genesis.kernel.support import (
    StrategyPortfolio,
    event_ids,
    order_event_types,
    submit_command,
)
from genesis.portfolio.accounting import ClosedLot
from genesis.portfolio.capacity import EdgeBook
from genesis.portfolio.performance import PerformanceBook
from genesis.portfolio.positions import Portfolio
from genesis.risk.breakers import Trip
from genesis.risk.engine import RiskEngine
from genesis.risk.monitor import day_end_ns
from genesis.strategies.base import Strategy
from genesis.strategies.context import StrategyContext
from genesis.strategies.guard import StrategyGuard

__all__ = ["Kernel"]

# the hooks market data calls; a strategy hears one only if its class overrides it
_MARKET_HOOKS = ("on_bar", "on_trade", "on_quote", "on_book")
_TIMER_OWNERS_MAX = 4096  # timer names whose owning strategy is remembered
_NEVER_QUIET: Final = Decimal("Infinity")  # no equity is above it: the first check runs in full
_ALWAYS_QUIET = Decimal("-Infinity")


class Kernel:
    """Market data, strategies, risk, OMS and portfolio behind ``handle(event)``."""

    # an order event the kernel makes itself (a risk denial, a held order's accept,
    # modify, trigger or cancel), with its order, once applied: the daemon journals it
    # as it journals a venue's (the audit chain holds every decision)
    internal_sink: Callable[[OrderEvent, Order | None], None] | None = None

    def __init__(
        self,
        *,
        clock: Clock,
        instruments: Callable[[str], Instrument],
        portfolio: Portfolio,
        risk: RiskEngine,
        fee_rate: Decimal,
        log: Any,
        market: MarketView | None = None,
        oms: OrderManager | None = None,
        fill_sink: Callable[[OrderFilled], None] | None = None,
        tca_sink: Callable[[TcaRecord], None] | None = None,
    ) -> None:
        self.clock = clock
        self.instruments = instruments
        self.portfolio = portfolio
        self.risk = risk
        self.fee_rate = fee_rate
        self.log = log
        self.market = market or MarketView()
        self.oms = oms or OrderManager()
        self.guard = StrategyGuard(log)
        self.performance = PerformanceBook()
        # execution quality per fill (EX-6) and each strategy's edge per trade (PF-4)
        self.quality = FillQuality(instruments=instruments, mid=self.market.price)
        self.edges = EdgeBook()
        self.regimes: RegimeSwitch | None = None  # set when a strategy is regime-gated
        self._fill_sink = fill_sink
        self.parents = ParentDesk(
            market=self.market,
            instruments=instruments,
            fee_rate=fee_rate,
            notify=self._notify,
            sink=tca_sink,
        )
        self.strategies: dict[str, Strategy[Any]] = {}
        self.errors: list[StrategyErrored] = []
        self.denied = 0
        self._subscribers: dict[str, list[Strategy[Any]]] = {}
        self._timer_owners: dict[str, str | None] = {}  # timer name -> its strategy's id
        # hook -> instrument -> the subscribers that override it, in subscription order
        self._listeners: dict[str, dict[str, list[Strategy[Any]]]] = {
            hook: {} for hook in _MARKET_HOOKS
        }
        self._bar_listeners = self._listeners["on_bar"]
        self._trade_listeners = self._listeners["on_trade"]
        self._quote_listeners = self._listeners["on_quote"]
        self._book_listeners = self._listeners["on_book"]
        self._requires_stop_loss: set[str] = set()
        self._reduce_only: set[str] = set()
        self._oco_group: dict[str, str] = {}  # exit order id -> its OCO group id
        self._outbox: list[Command] = []
        self._notices: list[Event] = []
        self._told_killed: set[str] = set()  # strategies told of the kill switch since it engaged
        self._started = False
        self.venue_kills: dict[str, str] = {}  # venue key -> why its new exposure is refused
        self._closing: set[tuple[str, str]] = set()  # (strategy, instrument) being flattened
        self.last_event_applied = True  # False when the OMS dropped the last order event
        self._internal: deque[Event] = deque()
        # the order types a venue lacks, held and released here (genesis.execution.emulation)
        self.emulator = Emulator(
            instruments=instruments,
            emit=self._internal.append,
            send=self._send_command,
            reduce_only=self._reduce_only,
        )
        self.emulator.gate = self._release_gate
        # the OCO lists of venues without them, kept here (genesis.execution.oco)
        self.lists = EmulatedLists(
            cancel=self._cancel_one,
            emit=self._internal.append,
            release=self.emulator.release,
            log=log,
        )
        self.emulator.hold = self.lists.fire
        self._dispatch: dict[type, Callable[[Any], None]] = self._dispatch_table()
        self._pretrade = PreTrade(
            instruments=instruments,
            portfolio=portfolio,
            oms=self.oms,
            market=self.market,
            risk=risk,
            fee_rate=fee_rate,
            reduce_only=self._reduce_only,
            oco_group=self._oco_group,
            requires_stop_loss=self._requires_stop_loss,
            now=clock.now_ns,
        )
        self._market_on_bar = self.market.on_bar  # bound once for the bar path
        self._parent_prints = self.parents.book.on_trade  # bound once for the trade path
        self._mark = portfolio.mark
        # the daily-loss check after each market event, or None (no limit: nothing to do)
        self._loss_check = self._check_daily_loss if risk.switch.daily_loss is not None else None
        if risk.breakers is not None:  # a tier: sampling and breakers too (RK-3, RK-4)
            risk.breakers.notify, risk.breakers.on_trip = self._notify, self._on_trip
            self._loss_check = self._watch_risk
        # what the last check left: the equity above which nothing can happen, the end of
        # its day (ns), the switch's reason, the baseline and the day it belongs to (a
        # restart may restore another day's); any of them moved, the check runs in full
        self._loss_checked: tuple[Decimal, int, str | None, Decimal | None, int | None] = (
            _NEVER_QUIET, 0, None, None, None,
        )  # fmt: skip

    # --- wiring -----------------------------------------------------------

    def add_strategy(
        self,
        cls: type[Strategy[Any]],
        strategy_id: str,
        params: Any,
        instruments: Sequence[str],
        *,
        requires_stop_loss: bool = False,
        regimes: frozenset[Regime] = frozenset(),
    ) -> Strategy[Any]:
        """Construct a strategy with its context and subscribe it to ``instruments``;
        with ``regimes`` it trades only while its instrument is in one of them (ST-H4)."""
        if strategy_id in self.strategies:
            raise ValueError(f"duplicate strategy id {strategy_id}")
        instruments = tuple(instruments)
        for instrument_id in instruments:
            self.instruments(instrument_id)  # fail early on an unknown symbol
        ctx = StrategyContext(
            strategy_id=strategy_id,
            clock=self.clock,
            instruments=self.instruments,
            portfolio=StrategyPortfolio(self.portfolio, strategy_id),
            market=self.market,
            submit=self._submit,
            cancel=self._cancel,
            modify=self._modify,
            open_orders=self._open_orders,
            log=self.log,
            performance=functools.partial(self.performance.of, strategy_id),
            parents=self.parents,
        )
        strategy = cls(strategy_id, params, ctx, instruments)
        self.strategies[strategy_id] = strategy
        for instrument_id in instruments:
            self._subscribers.setdefault(instrument_id, []).append(strategy)
        self._listen()
        self._timer_owners.clear()  # a longer id may now own some names
        if requires_stop_loss:
            self._requires_stop_loss.add(strategy_id)
        if regimes:
            if self.regimes is None:
                self.regimes = self._pretrade.regimes = RegimeSwitch()
            self.regimes.gate(strategy_id, instruments, regimes)
        return strategy

    def cancel_all(self, strategy_id: str | None = None) -> Sequence[Command]:
        """Request cancellation of every open order (of one strategy, or all); return commands."""
        self._cancel_all(strategy_id)
        return self._drain()

    def cancel_entries(self) -> Sequence[Command]:
        """Cancel every open order that would add exposure; stops and targets stay working."""
        self._cancel_entries()
        return self._drain()

    def _cancel_entries(self) -> None:
        for order in self.oms.open_orders():
            if order.client_order_id not in self._reduce_only:
                self._cancel(order)

    def _cancel_all(self, strategy_id: str | None = None) -> None:
        for order in self.oms.open_orders(strategy_id):
            self._cancel(order)

    def flatten(self, strategy_id: str | None = None) -> Sequence[Command]:
        """Emergency: cancel open orders and close every position at market (reduce-only).

        Returns:
            The cancel and market-order commands, in that order.
        """
        self._flatten(strategy_id)
        return self._drain()

    def _flatten(self, strategy_id: str | None) -> None:
        # the closing orders go only once the position's own orders are gone: a live venue
        # runs commands concurrently, and a sell racing the cancel of its OCO exits would
        # find the base still locked by them (insufficient balance)
        self._cancel_all(strategy_id)
        for sid, strategy in self.strategies.items():
            if strategy_id is not None and sid != strategy_id:
                continue
            for instrument_id in strategy.instruments:
                if self.portfolio.position_qty(instrument_id, sid) != 0:
                    self._closing.add((sid, instrument_id))
        self._close_ready()

    def _close_ready(self) -> None:
        """Close, at market, each position being flattened whose orders are all gone."""
        for sid, instrument_id in sorted(self._closing):
            if self.oms.open_orders(sid, instrument_id):
                continue
            self._closing.discard((sid, instrument_id))
            qty = self.portfolio.position_qty(instrument_id, sid)
            strategy = self.strategies.get(sid)
            if qty == 0 or strategy is None:
                continue
            side = Side.SELL if qty > 0 else Side.BUY
            order = strategy.ctx.orders.market(instrument_id, side, abs(qty))
            self._reduce_only.add(order.client_order_id)
            self._submit(order)

    def is_flat(self) -> bool:
        """No open orders and no position in any strategy's instruments."""
        if self.oms.open_orders():
            return False
        return all(
            self.portfolio.position_qty(i, sid) == 0
            for sid, s in self.strategies.items()
            for i in s.instruments
        )

    def emulated_intents(self) -> list[tuple[SubmitOrder, EmulatedState]]:
        """Every order the emulator holds, as its intent and its state (the watermark, the
        iceberg's slice): what ``adopt`` takes to hold them again (the daemon journals the
        states as they change: ``Emulator.take_changes``)."""
        out: list[tuple[SubmitOrder, EmulatedState]] = []
        for state in self.emulator.held():
            order = self.oms.get(state.client_order_id)
            if order is not None:
                cid = order.client_order_id
                intent = submit_command(
                    order, order.ts_init, "", cid in self._reduce_only, self.lists.group(cid)
                )
                out.append((intent, state))
        return out

    def adopt(
        self,
        intent: SubmitOrder,
        fills: Sequence[OrderFilled] = (),
        emulated: EmulatedState | None = None,
        working: tuple[SubmitOrder, Sequence[OrderFilled]] | None = None,
    ) -> Order:
        """Take over an order placed before a restart (live): rebuilt from its journaled
        intent with the fills the journal holds, no risk check, nothing sent. The venue's
        answers then move it on as for any order; a repeated fill is a duplicate.

        ``emulated``: the order was held here, in that state (journaled); an iceberg's
        ``fills`` are its slices' and ``working`` its working slice's intent and fills.
        An iceberg with no working slice sends its next one on ``resume_emulated``.

        Raises:
            ValueError: an order with that client id is already known.
        """
        order = order_from_intent(intent, fills)
        if emulated is not None:  # held here, not at the venue: accepted locally, as before
            if order.status is OrderStatus.SUBMITTED:
                order.apply(OrderAccepted(**event_ids(order, intent.ts_init), venue_order_id=""))
            if emulated.triggered and not emulated.slice_no and not order.status.is_terminal:
                order.apply(OrderTriggered(**event_ids(order, intent.ts_init)))
            if not order.status.is_terminal:  # a finished order is nobody's to hold
                slice_ = None if working is None else order_from_intent(*working)
                self.emulator.restore(order, emulated, slice_)
        if intent.reduce_only:  # before the OMS files it: what it holds back depends on both
            self._reduce_only.add(intent.client_order_id)
        if intent.oco_group:
            self._oco_group[intent.client_order_id] = intent.oco_group
        if intent.oco_emulated:  # a leg of a list kept here: reserved as one, paired again
            self._oco_group[intent.client_order_id] = intent.oco_emulated
        self.oms.restore(order, fills)
        if intent.oco_emulated:
            self.lists.adopt(order, intent.oco_emulated, intent.ts_init)
        return order

    def resume_emulated(self, client_order_ids: Sequence[str]) -> Sequence[Command]:
        """Adopted icebergs whose working slice completed while the process was down (or
        that had none) send their next slice now, through the kill switch and breakers
        as they stand (an entry they refuse is cancelled here)."""
        now = self.clock.now_ns()
        for cid in client_order_ids:
            order = self.oms.get(cid)
            if order is not None:
                self.emulator.resume(order, now)
        return self._drain()

    def restore_strategy(self, strategy_id: str, state: bytes) -> Sequence[Command]:
        """A strategy resumes a journaled state (after its ``on_start``), behind the guard.

        Raises:
            KeyError: no strategy with that id.
        """
        strategy = self.strategies[strategy_id]
        self._guarded(strategy, strategy.restore, state)
        return self._drain()

    def protect_adopted(self, client_order_ids: Sequence[str]) -> Sequence[Command]:
        """Adopted entries that had filled while the process was down get their stop and
        target now, unless an exit of theirs (same correlation id) is still working."""
        working = {
            o.correlation_id
            for o in self.oms.open_orders()
            if o.client_order_id in self._reduce_only
        }
        for cid in client_order_ids:
            order = self.oms.get(cid)
            if order is None or not order.status.is_terminal or order.filled_qty == 0:
                continue
            strategy = self.strategies.get(order.strategy_id)
            if strategy is not None and order.correlation_id not in working:
                self._attach_exits(order, strategy)
        return self._drain()

    def restore_kill_switch(self, reason: str, source: str) -> None:
        """A restart comes up with the switch as journaled: state only, nothing cancelled
        (the caller sends what the engagement still implies as real commands)."""
        self.risk.switch.reason, self.risk.switch.source = reason, source

    def replace_params(self, strategy_id: str, params: Any) -> Strategy[Any]:
        """Swap a running strategy for a new instance with ``params`` (a hot reload).

        Call between events. The new instance gets the old one's context and
        instruments, runs ``on_start``, then ``restore(old.snapshot())`` so the
        state it can carry over (e.g. price windows) survives; its open orders
        stay with it (they belong to the strategy id).

        Raises:
            KeyError: no strategy with that id.
        """
        old = self.strategies[strategy_id]
        new = type(old)(strategy_id, params, old.ctx, old.instruments)
        if self._started:  # before the start there is no state to carry, and no on_start yet
            state = old.snapshot()
            self._guarded(new, new.on_start)
            self._guarded(new, new.restore, state)
        self.strategies[strategy_id] = new
        for subscribers in self._subscribers.values():
            subscribers[:] = [new if s is old else s for s in subscribers]
        self._listen()
        return new

    def _listen(self) -> None:
        """Sort the subscribers into each market hook's listeners: a hook a strategy left
        as the base class's no-op is not called at all (quotes are most of an L2 feed)."""
        for hook, by_instrument in self._listeners.items():
            base = getattr(Strategy, hook)
            by_instrument.clear()
            for instrument_id, subscribers in self._subscribers.items():
                hearing = [s for s in subscribers if _overrides(s, hook, base)]
                if hearing:
                    by_instrument[instrument_id] = hearing

    def _dispatch_table(self) -> dict[type, Callable[[Any], None]]:
        table: dict[type, Callable[[Any], None]] = {
            Bar: self._on_bar,
            TradeTick: self._on_trade,
            QuoteTick: self._on_quote,
            BookSnapshot: self._on_book,
            BookDelta: self._on_book,
            TimerFired: self._on_timer,
            EngageKillSwitch: self._on_engage,
            ResetKillSwitch: self._on_reset,
        }
        for event_type in order_event_types():
            table[event_type] = self._on_order_event
        return table

    # --- the interface ----------------------------------------------------

    def start(self) -> Sequence[Command]:
        """Call every strategy's ``on_start``; return the commands it produced."""
        self._started = True
        for strategy in self.strategies.values():
            self._guarded(strategy, strategy.on_start)
        return self._drain()

    def stop(self) -> Sequence[Command]:
        """Call every strategy's ``on_stop``, then finish the parent orders still open;
        return the commands the strategies produced."""
        for strategy in self.strategies.values():
            self._guarded(strategy, strategy.on_stop)
        commands = self._drain()
        self.parents.finish_all(self.clock.now_ns())
        return commands

    def handle(self, event: Event | KernelCommand) -> Sequence[Command]:
        """Process one event (or kernel command); return the commands for venues, in order.

        Raises:
            TypeError: the kernel has no handler for this event type.
        """
        handler = self._dispatch.get(type(event))
        if handler is None:
            raise TypeError(f"kernel cannot handle {type(event).__name__}")
        handler(event)  # a market event's handler ends with the daily-loss check
        if self._internal or self._outbox:
            return self._drain()
        return ()

    def handle_bar(self, bar: Bar) -> Sequence[Command]:
        """``handle`` for a bar, without the type dispatch (the backtest's hot path)."""
        self._on_bar(bar)
        if self._internal or self._outbox:
            return self._drain()
        return ()

    def _notify(self, notice: Event) -> None:
        self._notices.append(notice)

    def take_notices(self) -> list[Event]:
        """What the kernel decided that the shell must journal (kill switch, baselines)."""
        notices, self._notices = self._notices, []
        return notices

    # --- the kill switch --------------------------------------------------

    def _on_engage(self, command: EngageKillSwitch) -> None:
        now = self.clock.now_ns()
        self._notices.append(
            self.risk.switch.engage(
                now, command.reason, command.source, command.request_id, command.flatten
            )
        )
        if command.flatten:
            self._flatten(None)
        elif command.scope == "entries":
            self._cancel_entries()  # open positions keep their stops and targets
        elif command.scope == "all":
            self._cancel_all(None)

    def _on_reset(self, command: ResetKillSwitch) -> None:
        equity = self.portfolio.equity()
        self._notices.extend(
            self.risk.switch.reset(self.clock.now_ns(), command.reason, command.request_id, equity)
        )
        self._told_killed.clear()

    def _check_daily_loss(self) -> None:
        now = self.clock.now_ns()
        switch = self.risk.switch
        monitor = switch.daily_loss
        assert monitor is not None  # the check is installed only with a limit
        checked = self._loss_checked
        if (
            now < checked[1]
            and switch.reason is checked[2]
            and monitor.day_start is checked[3]
            and monitor.day == checked[4]
            and self.portfolio.equity_above(checked[0])
        ):
            return  # above the day's limit, and the day, switch and baseline unchanged
        events = switch.on_equity(now, self.portfolio.equity())
        # engaged, the limit has nothing more to do until the day or the switch changes
        quiet = monitor.quiet_above() if switch.reason is None else _ALWAYS_QUIET
        self._loss_checked = (
            quiet, day_end_ns(now), switch.reason, monitor.day_start, monitor.day,
        )  # fmt: skip
        if not events:
            return
        self._notices.extend(events)
        if any(isinstance(e, KillSwitchChanged) for e in events):
            self._cancel_entries()  # open positions keep their exits

    # --- circuit breakers and real-time risk (RK-3, RK-4) -------------------

    def _watch_risk(self) -> None:
        """After a market event, with a tier: the daily loss, breakers' cool-downs, and
        (once per sampling interval of event time) a sample and the drawdown velocity."""
        if self.risk.switch.daily_loss is not None:
            self._check_daily_loss()
        now = self.clock.now_ns()
        breakers, sampler = self.risk.breakers, self.risk.sampler
        assert breakers is not None
        assert sampler is not None
        if now >= breakers.next_expiry_ns:
            breakers.expire(now)
        if sampler.due(now):
            sampler.take(now, self.portfolio.equity(), self.market.last_price)
            breakers.on_sample(now, sampler.times, sampler.equity)

    def _on_trip(self, trip: Trip) -> None:
        """A breaker paused a strategy (or the engine): its working entries are cancelled;
        positions keep their stops and targets."""
        for order in self.oms.open_orders(trip.strategy_id or None):
            if order.client_order_id not in self._reduce_only:
                self._cancel(order)

    def restore_breakers(self, trips: Sequence[Trip]) -> None:
        """A live restart continues the journaled pauses (state only; one whose cool-down
        has ended since is cleared, with its notice)."""
        if self.risk.breakers is not None:
            for trip in trips:
                self.risk.breakers.restore(trip, self.clock.now_ns())

    def risk_report(self) -> dict[str, Any]:
        """Exposure, margin use, VaR/CVaR, beta, drawdown, breakers and the risk score now,
        JSON-able (``genesis.risk.measures``): what the API and the metrics read."""
        from genesis.risk.report import kernel_risk_report  # a daemon's; a backtest never asks

        return kernel_risk_report(self)

    def _drain(self) -> Sequence[Command]:
        internal = self._internal
        while internal:
            event = internal.popleft()
            if isinstance(event, OrderEvent):
                sink = self.internal_sink
                if sink is None:
                    self._on_order_event(event)
                    continue
                order = self.oms.get(event.client_order_id)  # before a finished one is let go
                self._on_order_event(event)
                sink(event, order)
        if not self._outbox:
            return ()
        out, self._outbox = self._outbox, []
        return out

    # --- market data ------------------------------------------------------

    def _on_bar(self, bar: Bar) -> None:
        # the hottest path of a bar backtest: the guard is inlined here
        self._market_on_bar(bar)
        self._mark(bar.instrument_id, bar.close)
        if self.regimes is not None:
            self._switch_regimes(bar)
        disabled = self.guard.disabled
        for strategy in self._bar_listeners.get(bar.instrument_id, ()):
            if strategy.id in disabled:
                continue
            try:
                strategy.on_bar(bar)
            except Exception as exc:
                self.errors.append(self.guard.fault(strategy, "on_bar", exc))
        if self.emulator.watching:
            self._emulate(bar)
        if self._loss_check is not None:
            self._loss_check()

    def _switch_regimes(self, bar: Bar) -> None:
        assert self.regimes is not None
        for switched in self.regimes.on_bar(bar):
            self._notices.append(switched)
            if not switched.active:  # off: its entries there go; positions keep their exits
                for order in self.oms.open_orders(switched.strategy_id, switched.instrument_id):
                    if order.client_order_id not in self._reduce_only:
                        self._cancel(order)

    def _on_trade(self, trade: TradeTick) -> None:
        self.market.on_trade(trade)
        self._parent_prints(trade)  # the open parents' interval VWAP counts the print
        self._mark(trade.instrument_id, trade.price)
        listeners = self._trade_listeners.get(trade.instrument_id)
        if listeners:
            self._tell(listeners, "on_trade", trade)
        if self.emulator.watching:
            self._emulate(trade)
        if self._loss_check is not None:
            self._loss_check()

    def _on_quote(self, quote: QuoteTick) -> None:
        mid = self.market.on_quote(quote)
        if mid is not None:
            self._mark(quote.instrument_id, mid)
        listeners = self._quote_listeners.get(quote.instrument_id)
        if listeners:
            self._tell(listeners, "on_quote", quote)
        if self.emulator.watching:
            self._emulate(quote)
        if self._loss_check is not None:
            self._loss_check()

    def _on_book(self, update: BookSnapshot | BookDelta) -> None:
        mid = self.market.on_book(update)
        if mid is not None:  # the book's mid is the last price: the portfolio marks at it
            self._mark(update.instrument_id, mid)
        listeners = self._book_listeners.get(update.instrument_id)
        if listeners:
            self._tell(listeners, "on_book", update)
        if self.emulator.watching:
            self._emulate(update)
        if self._loss_check is not None:
            self._loss_check()

    def _emulate(self, event: MarketEvent) -> None:
        """Emulated orders judged on the event's prices, after the strategies saw it (an
        order a strategy places on this event is judged from the next one)."""
        prices = touch_prices(event, self._best)
        if prices is not None:
            self.emulator.on_prices(event.instrument_id, *prices, self.clock.now_ns())

    def _best(self, instrument_id: str, side: Side) -> Decimal | None:
        book = self.market.book(instrument_id)
        top = None if book is None else book.best_ask() if side is Side.SELL else book.best_bid()
        return None if top is None else top[0]

    def _tell(self, listeners: list[Strategy[Any]], hook: str, event: MarketEvent) -> None:
        """Call ``hook(event)`` of each listener still enabled (the guard's fence, inlined)."""
        disabled = self.guard.disabled
        for strategy in listeners:
            if strategy.id in disabled:
                continue
            try:
                getattr(strategy, hook)(event)
            except Exception as exc:
                self.errors.append(self.guard.fault(strategy, hook, exc))

    def _on_timer(self, timer: TimerFired) -> None:
        owners = self._timer_owners
        if timer.name in owners:
            owner = owners[timer.name]
        else:
            # the timer is "<strategy id>:<name>" and an id may hold ":" itself (a strategy
            # named by its import path, "pkg.mod:Class"): the longest id it starts with
            ids = [sid for sid in self.strategies if timer.name.startswith(f"{sid}:")]
            if len(owners) >= _TIMER_OWNERS_MAX:  # names made per order: keep it bounded
                owners.clear()
            owner = owners[timer.name] = max(ids, key=len) if ids else None
        strategy = None if owner is None else self.strategies.get(owner)
        if strategy is not None:
            self._guarded(strategy, strategy.on_timer, timer)

    def _guarded(self, strategy: Strategy[Any], hook: Callable[..., None], *args: Any) -> None:
        fault = self.guard.call(strategy, hook, *args)
        if fault is not None:
            self.errors.append(fault)

    # --- orders -----------------------------------------------------------

    def _on_order_event(self, event: OrderEvent) -> None:
        children = self.emulator.children
        if children and event.client_order_id in children:
            self._on_slice_event(event)
            return
        try:
            order = self.oms.apply(event)
        except IllegalTransition as exc:
            self.last_event_applied = False
            self.log.error(
                "order_event_refused", client_order_id=event.client_order_id, error=str(exc)
            )
            return
        self.last_event_applied = order is not None
        if order is None:
            return
        strategy = self.strategies.get(order.strategy_id)
        filled = type(event) is OrderFilled
        self._book_event(event, order, filled)
        if strategy is not None and strategy.id not in self.guard.disabled:
            hook: Callable[[Any], None] = strategy.on_fill if filled else strategy.on_order
            try:  # the strategy fence, inlined as in _on_bar
                hook(event)
            except Exception as exc:
                self.errors.append(self.guard.fault(strategy, hook.__name__, exc))
        if self.lists.legs:
            self.lists.on_event(event, order)  # a leg of a list kept here: its partner
        if order.status in TERMINAL_STATUSES:
            self._on_order_done(order, strategy)

    def _book_event(self, event: OrderEvent, order: Order, filled: bool) -> None:
        """An applied event's accounts: a fill's portfolio and performance, else execution
        quality; a rejection also feeds the breakers."""
        if filled:
            assert type(event) is OrderFilled
            self._book_performance(event, order, self.portfolio.apply_fill(event))
            return
        if type(event) is OrderRejected and self.risk.breakers is not None:
            self.risk.breakers.on_rejected(order.strategy_id, event.code, self.clock.now_ns())
        self.quality.on_event(event, order)

    def _on_slice_event(self, event: OrderEvent) -> None:
        """An iceberg slice's event: applied as its parent's events, in order."""
        if type(event) is OrderFilled and self.oms.is_duplicate(event):
            self.last_event_applied = False  # a slice's fill already booked (its parent's)
            return
        self.last_event_applied = True
        for parent_event in self.emulator.on_child_event(event):
            self._on_order_event(parent_event)

    def restore_fill(self, fill: OrderFilled, order: Order | None = None) -> bool:
        """A fill from before a restart (live): booked as the portfolio's ``restore_fill``
        (position and P&L, not cash) and counted in the strategy's performance.

        Returns:
            False when the fill was already known (nothing changes).
        """
        closed = self.portfolio.restore_fill(fill)
        self._book_performance(fill, order, closed)
        return closed is not None

    def _book_performance(
        self, fill: OrderFilled, order: Order | None, closed: list[ClosedLot] | None
    ) -> None:
        if closed is None:
            return  # a duplicate fill: the portfolio ignored it
        if self._fill_sink is not None:
            self._fill_sink(fill)
        self.quality.on_fill(fill, order)
        if closed:
            self.edges.on_closed(closed)
        self.parents.on_fill(fill, order)
        trade = self.performance.on_fill(
            fill,
            closed,
            self.portfolio.position_qty(fill.instrument_id, fill.strategy_id),
            quote=self.instruments(fill.instrument_id).quote,
            decision_price=None if order is None else order.decision_price,
        )
        if trade is not None:
            if self.risk.breakers is not None:
                self.risk.breakers.on_trade(trade.strategy_id, trade.net_pnl, fill.ts_event)
            self._notices.append(
                TradeCompleted(
                    ts_event=fill.ts_event,
                    ts_init=fill.ts_event,
                    strategy_id=trade.strategy_id,
                    instrument_id=trade.instrument_id,
                    opened_ns=trade.opened_ns,
                    net_pnl=trade.net_pnl,
                    fills=trade.fills,
                )
            )

    def _on_order_done(self, order: Order, strategy: Strategy[Any] | None) -> None:
        self.emulator.forget(order.client_order_id)
        self.lists.forget(order.client_order_id)
        self._reduce_only.discard(order.client_order_id)
        if order.client_order_id in self._oco_group:  # not pop: see ReserveIndex.update
            del self._oco_group[order.client_order_id]
        if self._closing and (order.strategy_id, order.instrument_id) in self._closing:
            self._close_ready()  # being flattened: no new exits, close once all are gone
            return
        # an entry that ended partly filled (IOC remainder expired, rest cancelled) is
        # protected for what did fill
        if strategy is not None and order.filled_qty > 0:
            self._attach_exits(order, strategy)

    def _attach_exits(self, entry: Order, strategy: Strategy[Any]) -> None:
        if entry.stop_loss is None and entry.take_profit is None:
            return
        factory, side, qty = strategy.ctx.orders, entry.side.opposite, entry.filled_qty
        cid = entry.correlation_id
        exits: list[Order] = []
        if entry.stop_loss is not None:
            exits.append(
                factory.stop_market(
                    entry.instrument_id, side, qty, entry.stop_loss, correlation_id=cid
                )
            )
        if entry.take_profit is not None:
            exits.append(
                factory.limit(entry.instrument_id, side, qty, entry.take_profit, correlation_id=cid)
            )
        for exit_order in exits:
            self._reduce_only.add(exit_order.client_order_id)
        # one list only when both legs pass: a lone leg must not wait at the venue for a
        # partner that risk refused (it goes alone, and says so in the refusal)
        if len(exits) == 2 and all(self._what_if(o) is None for o in exits):
            for exit_order in exits:
                self._oco_group[exit_order.client_order_id] = entry.client_order_id
            if not self.emulator.capabilities(entry.instrument_id).oco:
                self.lists.pair(entry.client_order_id, exits[0], exits[1])
        for exit_order in exits:
            self._submit(exit_order)

    def _submit(self, order: Order) -> None:
        self.oms.register(order)
        now = self.clock.now_ns()
        refusal = self._risk_refusal(order)
        if refusal is not None:
            self.denied += 1
            code, reason = refusal
            # while the kill switch holds, each strategy's first denial says why; the rest
            # repeat it and go to debug (a halted start must not bury the cause in noise)
            repeat = code == "KILL_SWITCH" and order.strategy_id in self._told_killed
            if code == "KILL_SWITCH":
                self._told_killed.add(order.strategy_id)
            (self.log.debug if repeat else self.log.info)(
                "order_denied",
                correlation_id=order.correlation_id,
                client_order_id=order.client_order_id,
                strategy_id=order.strategy_id,
                instrument=order.instrument_id,
                code=code,
                reason=reason,
            )
            self._internal.append(OrderDenied(**event_ids(order, now), code=code, reason=reason))
            return
        order.apply(  # spelled out, not **event_ids(...): a dict per order on the hot path
            OrderSubmitted(
                ts_event=now, ts_init=now, client_order_id=order.client_order_id,
                strategy_id=order.strategy_id, instrument_id=order.instrument_id,
            )
        )  # fmt: skip
        self.quality.on_submitted(order, now)
        cid = order.client_order_id
        kept = self.lists.group(cid) if self.lists.legs else ""  # a list kept here
        if self.emulator.emulates(order) or (kept and self.lists.holds(cid)):
            # held here until it triggers (or slices)
            intent = submit_command(order, now, "", cid in self._reduce_only, kept)
            self.emulator.accept(order, now, self.market.price(order.instrument_id), intent)
            return
        group = "" if kept else self._oco_group.get(cid, "")
        self._outbox.append(submit_command(order, now, group, cid in self._reduce_only, kept))

    def _risk_refusal(self, order: Order) -> tuple[str, str] | None:
        if self.venue_kills:
            venue = split_instrument_id(order.instrument_id)[0]
            if venue in self.venue_kills and not self._reduces(order):
                why = self.venue_kills[venue]
                return "KILL_SWITCH", f"new orders on {venue} are blocked: {why}"
        return self._pretrade.refusal(order)

    def _release_gate(self, order: Order) -> tuple[str, str] | None:
        """A held entry about to be released (triggered, or its next iceberg slice): the
        venue's and the global kill switch and the breakers, as they stand now."""
        if self._reduces(order):
            return None
        venue = split_instrument_id(order.instrument_id)[0]
        refusal: tuple[str, str] | None = None
        if venue in self.venue_kills:
            refusal = (
                "KILL_SWITCH",
                f"new orders on {venue} are blocked: {self.venue_kills[venue]}",
            )
        else:
            gated = self.risk.gate(order.strategy_id, self.clock.now_ns())
            refusal = None if gated is None else (gated.code, gated.message)
        if refusal is not None:
            self.log.info(
                "emulated_order_cancelled", client_order_id=order.client_order_id,
                strategy_id=order.strategy_id, code=refusal[0], reason=refusal[1],
            )  # fmt: skip
        return refusal

    def _reduces(self, order: Order) -> bool:
        """Reduce-only, or within the owning strategy's position on the other side."""
        if order.client_order_id in self._reduce_only:
            return True
        held: Decimal = self.portfolio.position_qty(order.instrument_id, order.strategy_id)
        signed = order.quantity if order.side is Side.SELL else -order.quantity
        return held != 0 and (held > 0) == (signed > 0) and abs(signed) <= abs(held)

    # --- the operator (control API), called between two events ---------------------

    def submit(self, order: Order) -> tuple[OrderDenied | None, Sequence[Command]]:
        """An order from outside the strategies' hooks (the control API), under the same
        risk checks as any order; returns its denial (or None) and the commands."""
        self._submit(order)
        cid = order.client_order_id
        denied = next(
            (e for e in self._internal if type(e) is OrderDenied and e.client_order_id == cid),
            None,
        )
        return denied, self._drain()

    def cancel(self, client_order_id: str) -> Sequence[Command]:
        """Cancel one working order by client id (nothing when it is not open).

        Raises:
            KeyError: no order with that client id.
        """
        order = self.oms.get(client_order_id)
        if order is None:
            raise KeyError(client_order_id)
        self._cancel(order)
        return self._drain()

    def refusal(self, order: Order) -> tuple[str, str] | None:
        """The risk verdict for ``order`` without placing it: nothing is counted and no
        breaker moves (``RiskEngine.dry_run``)."""
        return self._what_if(order)

    def _what_if(self, order: Order) -> tuple[str, str] | None:
        self.risk.dry_run = True
        try:
            return self._risk_refusal(order)
        finally:
            self.risk.dry_run = False

    def kill_venue(self, venue: str, reason: str) -> Sequence[Command]:
        """Refuse new exposure on one venue and cancel its entries (exits stay working)."""
        self.venue_kills[venue] = reason
        for order in self.oms.open_orders():
            on_venue = split_instrument_id(order.instrument_id)[0] == venue
            if on_venue and order.client_order_id not in self._reduce_only:
                self._cancel(order)
        return self._drain()

    def _cancel(self, order: Order) -> None:
        self._cancel_one(order)
        if self.lists.legs and order.client_order_id in self.lists.legs:
            partner = self.lists.cancelled(order)  # a list kept here: both legs go
            if partner is not None:
                self._cancel_one(partner)

    def _cancel_one(self, order: Order) -> None:
        if order.status not in OPEN_STATUSES or order.status is OrderStatus.PENDING_CANCEL:
            return
        now = self.clock.now_ns()
        order.apply(
            OrderPendingCancel(
                ts_event=now, ts_init=now, client_order_id=order.client_order_id,
                strategy_id=order.strategy_id, instrument_id=order.instrument_id,
            )
        )  # fmt: skip
        if self.emulator.cancel(order, now):
            return  # held here: cancelled locally, or its working slice is cancelled
        if self._list_cancel_in_flight(order):
            return  # the venue cancels a whole OCO list on one request
        self._outbox.append(
            CancelOrder(
                ts_init=now,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                correlation_id=order.correlation_id,
                client_order_id=order.client_order_id,
            )
        )

    def modify(
        self,
        client_order_id: str,
        price: object = None,
        quantity: object = None,
        trigger_price: object = None,
    ) -> Sequence[Command]:
        """Modify a working order (EX-2): new limit price, total quantity or trigger.

        The order goes PENDING_UPDATE and a ``ModifyOrder`` goes to its venue; the venue
        answers ``OrderUpdated`` or ``OrderModifyRejected``. A modify that grows exposure
        is checked by risk like an entry: a refusal is an ``OrderModifyRejected`` (with the
        risk code) delivered as the order's event, and nothing is sent.

        Returns:
            The commands for venues (empty when the modify was refused or emulated).

        Raises:
            InvalidOrder: unknown order, or terms that cannot apply (``execution.amend``).
        """
        order = self.oms.get(str(client_order_id))
        if order is None:
            raise InvalidOrder(f"{client_order_id}: no such order")
        self._modify(order, price, quantity, trigger_price)
        return self._drain()

    def modify_refusal(
        self,
        client_order_id: str,
        price: object = None,
        quantity: object = None,
        trigger_price: object = None,
    ) -> tuple[str, str] | None:
        """What ``modify`` would answer, changing nothing: the risk refusal (code,
        sentence) of these terms, or None when they would go to the venue.

        Raises:
            InvalidOrder: unknown order, or terms that cannot apply (``execution.amend``).
        """
        order = self.oms.get(str(client_order_id))
        if order is None:
            raise InvalidOrder(f"{client_order_id}: no such order")
        inst = self.instruments(order.instrument_id)
        terms = new_terms(
            order, inst, price=price, quantity=quantity, trigger_price=trigger_price,
            in_oco=order.client_order_id in self._oco_group,
        )  # fmt: skip
        self.risk.dry_run = True
        try:
            return self._modify_refusal(order, inst, terms)
        finally:
            self.risk.dry_run = False

    def _modify(self, order: Order, price: object, quantity: object, trigger: object) -> None:
        inst = self.instruments(order.instrument_id)
        in_oco = order.client_order_id in self._oco_group
        terms = new_terms(
            order, inst, price=price, quantity=quantity, trigger_price=trigger, in_oco=in_oco
        )
        now = self.clock.now_ns()
        refusal = self._modify_refusal(order, inst, terms)
        order.apply(OrderPendingUpdate(**event_ids(order, now)))
        qty, limit, trig = terms
        if refusal is not None:
            self.log.info(
                "order_modify_denied", client_order_id=order.client_order_id,
                strategy_id=order.strategy_id, code=refusal[0], reason=refusal[1],
            )  # fmt: skip
            self._internal.append(
                OrderModifyRejected(**event_ids(order, now), code=refusal[0], reason=refusal[1])
            )
        elif self.emulator.amend(order, trig):  # held here: amended at once
            self._internal.append(
                OrderUpdated(**event_ids(order, now), quantity=qty, price=limit, trigger_price=trig)
            )
        else:
            command = ModifyOrder(
                ts_init=now, strategy_id=order.strategy_id, instrument_id=order.instrument_id,
                correlation_id=order.correlation_id, client_order_id=order.client_order_id,
                quantity=qty, price=limit, trigger_price=trig,
            )  # fmt: skip
            self._outbox.append(command)

    def _modify_refusal(
        self, order: Order, inst: Instrument, terms: Terms
    ) -> tuple[str, str] | None:
        """Risk's word on new terms: checked like an entry when they grow exposure, else
        against the instrument's filters only."""
        copy = amended(order, terms)
        if grows_exposure(order, terms):
            return self._risk_refusal(copy)
        try:
            inst.validate_quantity(copy.quantity)
            for value in (copy.price, copy.trigger_price):
                if value is not None:
                    inst.validate_price(value)
            reference = copy.price or copy.trigger_price or self.market.price(copy.instrument_id)
            if reference is not None:
                inst.validate_notional(reference, copy.quantity)
        except InvalidOrder as exc:
            return ("INSTRUMENT_FILTER", str(exc))
        return None

    def _send_command(self, command: Command) -> None:
        self._outbox.append(command)

    def _list_cancel_in_flight(self, order: Order) -> bool:
        group = self._oco_group.get(order.client_order_id)
        if group is None or order.client_order_id in self.lists.legs:
            return False  # no list, or one kept here: the venue cancels only this order
        return any(
            other.client_order_id != order.client_order_id
            and other.status is OrderStatus.PENDING_CANCEL
            and self._oco_group.get(other.client_order_id) == group
            for other in self.oms.open_orders(order.strategy_id, order.instrument_id)
        )

    def _open_orders(self, strategy_id: str, instrument_id: str) -> list[Order]:
        return self.oms.open_orders(strategy_id, instrument_id)


def _overrides(strategy: Strategy[Any], hook: str, base: Callable[..., None]) -> bool:
    """Whether ``strategy``'s ``hook`` is its own, not the base class's no-op."""
    bound = getattr(strategy, hook)
    return getattr(bound, "__func__", bound) is not base
