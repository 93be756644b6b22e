"""The asyncio shell: ``python -m genesis`` as one ``Daemon`` made of parts (ENG-1).

One ``TaskGroup`` owns every task (R17): the market feed (under a restart
supervisor), the health monitor (with the periodic status line), the config
watcher, the control poller, and the trading loop, which drains the bounded
inbound queue into the kernel through the ``Driver`` (the same code path as
a backtest). The parts are handed in, chosen in one place
(``genesis.daemon.assemble``): the venues (simulated for paper, live behind a
bridge), the market source (recordings or live streams), the journal and the
recovery (paper rebuild or live reconciliation). The daemon never asks which
mode it is in.

The kernel's clock follows event time (a ``SimClock``): the recording's time
in paper on a recording, the receive time of live events otherwise. Operator
kills and resets become kernel commands; the kernel answers with notices
that the daemon journals. SIGTERM/SIGINT stop the feed, let the trading loop
finish the events already queued, cancel or keep working orders per
``on_shutdown``, call the strategies' ``on_stop`` and exit 0; SIGUSR1
flattens and then stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr

from genesis import native
from genesis.config.models import StrategyConfig
from genesis.core.commands import Command, EngageKillSwitch, ResetKillSwitch, SubmitOrder
from genesis.core.enums import OrderStatus
from genesis.core.events import (
    BreakerCleared,
    BreakerTripped,
    Event,
    KillSwitchChanged,
    MarketEvent,
    OrderEvent,
    OrderFilled,
    ParentOrderDone,
    RegimeSwitched,
    TradeCompleted,
)
from genesis.core.instruments import InstrumentTable
from genesis.core.orders import Order
from genesis.daemon.allocations import AllocationWatcher
from genesis.daemon.audit import verify_at_start
from genesis.daemon.bridge import WAKE, VenueWake
from genesis.daemon.control import (
    KILL,
    REFUSED,
    VENUE_CLEARED,
    VENUE_ENGAGED,
    ControlRequest,
    RequestPoller,
    venue_kills,
)
from genesis.daemon.crashpoints import crash_point
from genesis.daemon.health import Health, HealthMonitor, Level, queue_health
from genesis.daemon.journal import Journal
from genesis.daemon.logs import (
    log_command,
    log_order_event,
    log_strategy_notice,
    plain,
    status_fields,
)
from genesis.daemon.market import MarketSource
from genesis.daemon.outbox import Outbox
from genesis.daemon.queues import BoundedQueue, QueuePolicy
from genesis.daemon.reload import ConfigChange, ConfigWatcher
from genesis.daemon.risk_reload import RiskConfigWatcher
from genesis.daemon.supervision import supervise
from genesis.daemon.systemd import Notifier
from genesis.daemon.venues import Venues, wait_settled
from genesis.data.sources import DataSpec
from genesis.errors import ConfigError, DataError, GenesisError, StorageError
from genesis.execution.factory import OrderFactory
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.monitoring import watch
from genesis.monitoring.alerts import AlertConfig, Alerts
from genesis.monitoring.metrics import Metrics
from genesis.paper.ledger import ALLOCATIONS_FILE, PromotionLedger
from genesis.paper.monitor import PromotionMonitor
from genesis.risk.config import RiskConfig
from genesis.risk.limits import Tier
from genesis.storage.chain import ChainStatus
from genesis.storage.repository import (
    PositionRecord,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
)
from genesis.strategies import registry

__all__ = ["Daemon", "DaemonConfig", "serve"]

_IN_FLIGHT = frozenset(
    {OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE}
)
CHECKPOINT_EVERY = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    tier: Tier
    strategies: tuple[StrategyConfig, ...]
    instruments: InstrumentTable
    data: tuple[DataSpec, ...] = ()
    cash: Decimal = Decimal(1000)
    fee_bps: Decimal = Decimal(10)  # paper: the simulated venues' fee, maker and taker
    venue_fee_bps: Mapping[str, Decimal] = field(default_factory=dict)  # paper: per venue
    speed: float = 100.0  # events per second of wall time; 0 = full speed
    max_events: int | None = None
    queue_size: int = 10_000
    health_interval_s: float = 1.0
    status_interval_s: float = 60.0  # the daemon_status line; 0 = never
    stale_after_s: float = 5.0  # no market event for this long while running: feed DEGRADED
    strategies_dir: Path | None = None  # watched for parameter edits (hot reload)
    overlay_dir: Path | None = None  # the environment's overlays (GENESIS_ENV), watched too
    data_dir: Path | None = None  # the journal (SQLite) lives here unless database_url is set
    database_url: str | None = None
    on_shutdown: str = "cancel"  # at a clean stop: "cancel" working orders, "keep" them, "flatten"
    shutdown_timeout_s: float = 10.0  # queued events still processed after a stop request, at most
    max_daily_loss_pct: Decimal | None = None  # default: the tier's limit (5%)
    risk: RiskConfig | None = None  # config/risk.yaml's limits (None: the built-in ones)
    risk_path: Path | None = None  # its file, watched: compliance rules reload live
    control_poll_s: float = 0.5  # how often the journal is read for kill/reset requests
    journal_retry_s: tuple[float, float] = (0.05, 2.0)  # first and longest wait after a DB fault
    alerts: AlertConfig = field(default_factory=AlertConfig)  # rules, limits, notification URLs
    api_host: str = "127.0.0.1"  # the control API (genesis/api); loopback by default
    api_port: int = 8765
    api_token: SecretStr | None = None  # None: the API does not start (api_disabled)

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        """Every instrument a strategy trades, sorted."""
        return tuple(sorted({i for s in self.strategies for i in s.instruments}))


Inbound = MarketEvent | ConfigChange | ControlRequest | VenueWake | None


@dataclass(slots=True)
class Progress:
    """How far the session is: events processed, and events fed by the source."""

    events: int = 0
    fed: int = 0
    last_event_at: float = field(default_factory=time.monotonic)


class Daemon:
    """Trading with the parts it is given; see the module docstring."""

    def __init__(
        self,
        *,
        config: DaemonConfig,
        kernel: Kernel,
        venues: Venues,
        market: MarketSource,
        repo: SqlRepository | None,
        recovery: Any,
        log: Any | None = None,
        api: Callable[[Daemon], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """``api``: the control API's task (``genesis.api.server.serve_api``), or None."""
        self.config = config
        self.api = api
        raw_log = log or structlog.get_logger().bind(component="daemon")
        self.metrics = Metrics()  # served at /metrics by the API
        self.alerts = Alerts(config.alerts, raw_log, on_alert=self.metrics.on_alert)
        self.log = self.alerts.watching(raw_log)  # error and critical lines are alerts too
        self.kernel = kernel
        # the API's manual orders: one factory for the session, so a rebuild that replays
        # them uses up the same client order ids
        self.operator_orders = OrderFactory("operator", kernel.clock, kernel.instruments)
        self.venues = venues
        self.market = market
        self.journal = (
            None
            if repo is None
            else Journal(
                repo,
                retry_s=config.journal_retry_s,
                on_fault=self.journal_fault,
                on_recovered=self.journal_recovered,
            )
        )
        journal = self.journal
        if journal is not None:  # what the emulator holds is journaled (genesis.daemon.journal)
            kernel.emulator.track_changes()
            kernel.internal_sink = self._on_internal_event
        self.recovery = recovery
        self.driver = Driver(
            kernel,
            venues.ports,
            record=False,
            defer_commands=True,
            on_command=self._on_command,
            on_order_event=self._on_order_event,
            on_notice=self._on_notice,
        )
        self.inbound: BoundedQueue[Inbound] = BoundedQueue(
            "inbound", config.queue_size, QueuePolicy.BLOCK
        )
        self.health = HealthMonitor()
        self.audit_chain: list[ChainStatus] = []  # the start-up verdict (genesis.daemon.audit)
        self.systemd = Notifier()
        self.stopping = asyncio.Event()
        self.progress = Progress()
        self.quiet = False  # True while a recovery rebuilds: nothing logged, sent or written
        self.halted: str | None = None  # a recovery that cannot explain the journal: no trading
        self.versions = {sc.id: sc for sc in config.strategies}
        self.refused: set[str] = set()  # resets refused (journaled): never applied later
        self.internal_requests: set[ControlRequest] = set()  # the venue's own kills, once each
        self.rebuilt_fills: list[OrderFilled] = []
        self._flatten: str | None = None  # None → "requested" → "flattening" → "done"
        self._flatten_deadline = 0.0
        self._in_event = False  # inside a market event's processing (see send)
        # live: rounds wait for their commit here while the loop goes on (genesis.daemon.outbox)
        self.outbox = (
            Outbox(self._dispatch, self._durable_or_stopping, self._not_sent)
            if journal is not None and venues.mode == "live"
            else None
        )
        self._later: set[asyncio.Future[None]] = set()
        self._loop_done = False
        # the control API's mutations, run by the trading loop between two events, ahead
        # of the queued market data (genesis/daemon/operator.py)
        self.operator_lane: deque[Callable[[], Awaitable[None]]] = deque()
        self.poller = (
            RequestPoller(journal.repo, self.inbound.put, self.log, config.control_poll_s)
            if journal is not None
            else None
        )
        # PT-2: paper proposes promotions to live; the operator decides (genesis/paper)
        self.promotions: PromotionLedger | None = None
        self.promotion_monitor: PromotionMonitor | None = None
        if journal is not None and venues.mode == "paper":
            allocations = (config.data_dir or Path("data")) / ALLOCATIONS_FILE
            self.promotions = PromotionLedger(journal.repo, allocations)
            self.promotion_monitor = PromotionMonitor(self.promotions, self.alerts, self.log)
        # PT-2: live trades each promoted strategy within its approved allocation
        self.allocations = (
            AllocationWatcher(self, (config.data_dir or Path("data")) / ALLOCATIONS_FILE)
            if venues.mode == "live"
            else None
        )
        self.watcher = ConfigWatcher(
            config.strategies_dir, self.versions, self.inbound.put, self._config_rejected,
            overlay=config.overlay_dir,
        )  # fmt: skip
        # RK-6: the compliance rules in force, reloaded from the risk config file
        self.risk_watcher = RiskConfigWatcher(self, config.risk_path)

    @property
    def events(self) -> int:
        return self.progress.events

    # --- the run ------------------------------------------------------------------

    async def run(self) -> int:
        """Recover, trade until the feed ends or a stop; return the exit code (0)."""
        self._install_signals()
        self.log.info(
            "daemon_started",
            mode=self.venues.mode,
            tier=self.config.tier.value,
            instruments=list(self.config.instrument_ids),
            # paper's starting cash; live trades the venue's balances (below), not a setting
            cash=None if self.venues.mode == "live" else self.config.cash,
            strategies=[s.id for s in self.config.strategies],
            data=self.market.describe_recording(),
            speed_events_per_s=self.config.speed,
            balances={a: plain(v) for a, v in self.kernel.portfolio.balances().items()},
            native=str(native.state()),
        )
        try:
            if self.journal is not None:
                self.journal.start()
                self.log.info("journal_opened", backend=self.journal.backend, mode=self.venues.mode)
                self.audit_chain = await verify_at_start(self.journal.repo, self.log, self.health)
            await self.recovery.begin(self)
            if self.journal is not None:  # a venue's own kill switch survives a restart
                self.kernel.venue_kills.update(venue_kills(await self.journal.repo.audit_log(0)))
            if self.poller is not None:
                for request in await self.poller.take_pending():
                    await self.apply_control(request)  # kills written while it was down
            return await self._run_tasks()
        finally:
            await self._close()

    async def _close(self) -> None:
        if self.outbox is not None:
            self.outbox.cancel()  # an error ended the run: nothing more is sent
        try:
            if self.journal is not None:
                await self.journal.close()  # everything queued is committed
        finally:
            try:
                await self.venues.close()
            finally:
                self.market.close()
                await self.alerts.close()  # what the stop raised is notified too

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGUSR1, self.request_flatten)

    async def _run_tasks(self) -> int:
        self.venues.attach(self._wake)
        self.driver.start()  # strategies start only now: after recovery and pending kills
        self.recovery.after_start(self)
        watch.baseline(self)  # what a rebuild did is not counted again
        await self.send()
        self.log.info(
            "market_data_selected",
            instruments=list(self.config.instrument_ids),
            **self.market.describe(),
        )
        status = f"{self.venues.mode} trading, tier {self.config.tier.value}"
        self.systemd.notify("READY=1", f"STATUS={status}")
        async with asyncio.TaskGroup() as group:
            feed = group.create_task(self._feed_task(), name="feed")
            group.create_task(self._health_task(), name="health")
            group.create_task(self.alerts.run(self.stopping), name="alerts")
            group.create_task(self.watcher.run(self.stopping), name="config-watcher")
            group.create_task(self.risk_watcher.run(self.stopping), name="risk-watcher")
            if self.poller is not None:
                group.create_task(self.poller.run(self.stopping), name="control")
            if self.api is not None:
                group.create_task(self.api(self), name="api")
            if self.allocations is not None:
                group.create_task(self.allocations.run(self.stopping), name="allocations")
            if self.promotion_monitor is not None:
                monitor = self.promotion_monitor.run(self, self.stopping)
                group.create_task(monitor, name="promotions")
            await self._trading_loop()
            self._loop_done = True
            self.stopping.set()  # the loop ended: tell the other tasks
            feed.cancel()  # it may be waiting for room in a queue nobody drains now
        await self._stop_trading()
        return 0

    async def _stop_trading(self) -> None:
        if self.halted is None and self.config.on_shutdown != "keep":
            # "cancel": the entries only; an open position keeps its stop and target working
            # (at the venue, and in a paper rebuild, which replays this at its event index)
            scope = self.config.on_shutdown
            self.driver.send(
                self.kernel.flatten() if scope == "flatten" else self.kernel.cancel_entries()
            )
            if self.journal is not None and not self.quiet:
                detail = {"scope": scope, "event_index": self.events}
                self.journal.audit("shutdown_orders", detail, self.kernel.clock.now_ns())
        self.driver.finish()
        await self.send()
        if self.outbox is not None:
            await self.outbox.drain()  # every durable round reaches its venue before the wait
        await self._settle()
        self.checkpoint()
        watch.tick(self)  # final figures for a last scrape
        portfolio = self.kernel.portfolio
        self.log.info(
            "daemon_stopped",
            events=self.events,
            fills=self.driver.stats.fills,
            denied=self.kernel.denied,
            on_shutdown=self.config.on_shutdown,
            **status_fields(self.kernel),
            balances={asset: plain(v) for asset, v in portfolio.balances().items()},
        )
        self.systemd.notify("STOPPING=1")

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` soon, owned by the daemon (kept until done, never lost)."""
        task = asyncio.ensure_future(work)
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def request_flatten(self) -> None:
        """Emergency stop: cancel everything, close every position, then stop."""
        if self._flatten is None:
            self.log.critical("emergency_flatten_requested")
            self._flatten = "requested"

    def request_stop(self, reason: str = "request") -> None:
        """Stop taking new market data; queued events are still processed."""
        if not self.stopping.is_set():
            self.log.info("daemon_stopping", reason=reason)
            self.stopping.set()

    # --- the feed -------------------------------------------------------------------

    async def _feed_task(self) -> None:
        if self.halted is not None:
            await self.stopping.wait()  # HALTED: no market data, no trading, until stopped
            await self.inbound.put(None)
            return
        try:
            await supervise(
                "feed",
                self._feed_once,
                on_failure=self._feed_failed,
                fatal=(DataError, ConfigError),  # a bad recording will not get better
            )
        finally:
            if not self._loop_done:
                await self.inbound.put(None)  # end of stream for the trading loop

    async def _feed_once(self) -> None:
        """Resume where the last run stopped: nothing is fed twice, nothing re-paced."""
        await _until(self.stopping, self._feed_events())

    async def _feed_events(self) -> None:
        async with contextlib.aclosing(self.market.events(skip=self.progress.fed)) as events:
            async for event in events:
                if self.stopping.is_set():
                    return
                await self.inbound.put(event)
                self.progress.fed += 1

    def _feed_failed(self, name: str, exc: BaseException, attempt: int, delay: float) -> None:
        self.log.error("feed_failed", feed=name, error=str(exc), attempt=attempt, retry_in_s=delay)
        self.health.report(Health(name, Level.DEGRADED, f"restarting after {exc}"))

    # --- the trading loop -------------------------------------------------------------

    async def _trading_loop(self) -> None:
        deadline: float | None = None
        while True:
            item = await self.inbound.get()
            while self.operator_lane:  # the operator's requests first: applied between events
                await self.operator_lane.popleft()()
            if item is None:
                return
            if self.stopping.is_set():
                deadline = deadline or time.monotonic() + self.config.shutdown_timeout_s
                if time.monotonic() > deadline:
                    self.log.warning("shutdown_timeout", left_in_queue=self.inbound.qsize())
                    return
            if isinstance(item, MarketEvent):
                await self._market_event(item)
            elif isinstance(item, ConfigChange):
                self.apply_config(item)  # between two market events, never inside one
            elif isinstance(item, ControlRequest):
                await self.apply_control(item)
            elif isinstance(item, VenueWake):
                await self.deliver_venue_events()

    async def _market_event(self, event: MarketEvent) -> None:
        self.progress.last_event_at = time.monotonic()
        self.metrics.on_market_event(event)
        if self._flatten == "requested":
            self._flatten = "flattening"
            self._flatten_deadline = time.monotonic() + 3 * self.config.shutdown_timeout_s
            # journaled like an operator's kill (a rebuild replays it where it happened), so
            # the strategies add nothing while it flattens
            self.engage("emergency flatten (SIGUSR1)", "signal", flatten=True)
            await self.send()
        self._in_event = True
        try:
            self.driver.step(event)
            await self.send()
            if self.venues.pending():
                await self.deliver_venue_events()
        finally:
            self._in_event = False
        self.progress.events += 1
        if self.journal is not None:
            self.journal.progress(self.progress.events, self.kernel.clock.now_ns())
            await self.journal.relieve()
        if self.progress.events % CHECKPOINT_EVERY == 0:
            self.checkpoint()
        if self._flatten == "flattening" and self.kernel.is_flat():
            self._flatten = "done"
            self.request_stop("flattened")
        elif self._flatten == "flattening" and time.monotonic() > self._flatten_deadline:
            self._flatten = "done"  # e.g. a dust position no order can close: say so, stop
            self.log.critical("flatten_incomplete", **status_fields(self.kernel))
            self.request_stop("flatten incomplete")

    async def deliver_venue_events(self) -> None:
        """Hand a live venue's order events to the kernel (the paper venues have none)."""
        for event in self.venues.drain():
            self.driver.deliver(event)
            if self.journal is not None:
                await self.journal.relieve()  # a large drain must not overrun the writer
        await self.send()

    def wake(self) -> bool:
        """Wake the trading loop (it then runs the operator lane); False when it is busy."""
        return self._wake()

    def _wake(self) -> bool:
        try:
            self.inbound.put_nowait(WAKE)
        except asyncio.QueueFull:
            return False  # the loop is busy: it drains the venue after its event
        return True

    async def _settle(self) -> None:
        """Wait (up to the shutdown timeout) for the venue's answers to the last commands."""

        def in_flight() -> list[str]:
            orders = self.kernel.oms.open_orders()
            return [o.client_order_id for o in orders if o.status in _IN_FLIGHT]

        left = await wait_settled(
            self.venues, in_flight, self.deliver_venue_events, self.config.shutdown_timeout_s
        )
        if left and self.venues.mode != "paper":
            self.log.warning("live_settle_timeout", orders=left)

    # --- sending: intents first (P1) ----------------------------------------------------

    async def send(self) -> None:
        """Carry the kernel's commands to the venues; order intents are committed first (P1).

        The intents of one round go to the journal together with the progress mark.
        Paper: one commit covers them and the round is sent, in step with the replay
        (sending may queue the next round: exits after a fill, cancels). Live: the round
        waits in the ``Outbox`` for its commit while the loop goes on (group commit).
        """
        journal = self.journal
        while self.driver.has_commands():
            round_ = self.driver.take_commands()
            marker = None
            intents = 0
            self._journal_emulated()  # queued before the round's intents: one commit for both
            if journal is not None and not self.quiet:
                submits = [c for c in round_ if isinstance(c, SubmitOrder)]
                intents = len(submits)
                if submits:
                    await journal.queue_intents(submits, self.venues.name_of)
                    # the event being processed counts: a rebuild must replay it (its orders
                    # are sent); outside an event (operator actions) nothing more is started
                    started = self.progress.events + (1 if self._in_event else 0)
                    journal.progress(started, self.kernel.clock.now_ns())
                    if self.outbox is not None:
                        marker = await journal.commit_later()
                    elif not await self._committed_or_stopping(journal):
                        self._not_sent(intents, "stopping while the journal cannot commit"
                                       " their intents")  # fmt: skip
                        self.driver.take_commands()
                        return
                    else:
                        crash_point("after_intent_commit")
            if self.outbox is not None and not self.quiet:
                await self.outbox.put(round_, intents, marker)
            else:
                self._dispatch(round_)
        self._journal_emulated()  # changes that sent nothing (a ratchet, a slice's fill)

    def _dispatch(self, round_: Sequence[Command]) -> None:
        """Log (as soon as durable: a crash cannot lose the line) and send one round."""
        if not self.quiet:
            for command in round_:
                log_command(self.log, command, self.venues.name_of(command.instrument_id))
        for command in round_:
            self.driver.execute(command)
            if not self.quiet:
                crash_point("after_send")

    def _not_sent(self, count: int, reason: str) -> None:
        self.log.critical("orders_not_sent", count=count, reason=reason)

    def _journal_emulated(self) -> None:
        """Queue what changed of the emulated orders (nothing during a rebuild)."""
        orders, states = self.kernel.emulator.take_changes()
        if (orders or states) and self.journal is not None and not self.quiet:
            now = self.kernel.clock.now_ns()
            self.journal.emulated(orders, states, self.venues.name_of, now)

    def execute_now(self) -> list[Command]:
        """During a rebuild: the simulated venues answer at once, nothing is journaled.

        Returns:
            The commands executed, in order.
        """
        done: list[Command] = []
        while self.driver.has_commands():
            for command in self.driver.take_commands():
                self.driver.execute(command)
                done.append(command)
        self.kernel.emulator.take_changes()  # rebuilt, not new: journaled already
        return done

    async def _committed_or_stopping(self, journal: Journal) -> bool:
        """Wait for the commit; a stop during a journal outage gives up after the grace."""
        flush = asyncio.ensure_future(journal.commit())
        if await self._durable_or_stopping(flush):
            return True
        flush.cancel()
        return False

    async def _durable_or_stopping(self, marker: asyncio.Future[None]) -> bool:
        """Whether ``marker`` resolved; at a stop it gets the shutdown grace, then False.

        Raises:
            StorageError: the commit failed (fail closed: nothing of it is sent).
        """
        stop: asyncio.Future[Any] = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({marker, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not marker.done():
                await asyncio.wait({marker}, timeout=self.config.shutdown_timeout_s)
        finally:
            stop.cancel()
        if not marker.done():
            return False
        marker.result()
        return True

    # --- what the kernel and the venues say ---------------------------------------------

    def _on_order_event(self, event: OrderEvent) -> None:
        if self.quiet:
            if isinstance(event, OrderFilled):
                self.rebuilt_fills.append(event)
            return
        venue = self.venues.name_of(event.instrument_id)
        order = self.kernel.oms.get(event.client_order_id)
        self.metrics.on_order_event(event, order, venue)
        log_order_event(self.log, self.kernel, event, venue)
        if self.journal is None:
            return
        if isinstance(event, OrderFilled):
            crash_point("after_fill")
        self.journal.order_event(event, order, venue)
        if isinstance(event, OrderFilled):
            self._journal_fill_state(event, venue)

    def _on_internal_event(self, event: OrderEvent, order: Order | None) -> None:
        """An order event the kernel made itself (a risk denial with its code, a held
        order's modify or release...): journaled as a venue's are, so the hash-chained
        ``order_events`` hold every risk verdict (RK-6). Logged by the kernel already."""
        if self.quiet or self.journal is None or order is None:
            return
        self.journal.order_event(event, order, self.venues.name_of(event.instrument_id))

    def _journal_fill_state(self, fill: OrderFilled, venue: str) -> None:
        """The position and strategy state a fill left, durable with the fill."""
        assert self.journal is not None
        p = self.kernel.portfolio.position(fill.instrument_id)
        self.journal.position(
            PositionRecord(
                venue, fill.instrument_id, p.qty, p.avg_open_px, p.realized_pnl, fill.ts_event
            )
        )
        strategy = self.kernel.strategies.get(fill.strategy_id)
        if strategy is not None:  # a live restart resumes from here
            self.journal.strategy_state(fill.strategy_id, strategy.snapshot(), fill.ts_event)

    def _on_command(self, command: Command) -> None:
        if not self.quiet:  # sent to the venue now: order latencies start here
            self.metrics.on_command(command, self.venues.name_of(command.instrument_id))

    def _on_notice(self, notice: Event) -> None:
        if isinstance(notice, KillSwitchChanged):
            self._kill_switch_health(notice)
        if self.quiet:
            return
        self.metrics.on_notice(notice)
        if isinstance(notice, TradeCompleted | ParentOrderDone | RegimeSwitched):
            log_strategy_notice(self.log, self.kernel, notice)
            if self.journal is not None:
                self.journal.strategy_notice(notice, self.kernel.performance)
            return
        if isinstance(notice, KillSwitchChanged):
            fields = {
                "reason": notice.reason,
                "source": notice.source,
                "request_id": notice.request_id or None,
                "event_index": self._index(),
            }
            if notice.engaged:
                self.log.critical("kill_switch_engaged", flatten=notice.flatten, **fields)
            else:
                self.log.warning("kill_switch_reset", **fields)
            self.alerts.kill_switch(notice)
        elif isinstance(notice, BreakerTripped | BreakerCleared):
            self._breaker_notice(notice)
        if self.journal is not None:
            self.journal.notice(notice, self._index())

    def _breaker_notice(self, notice: BreakerTripped | BreakerCleared) -> None:
        """A circuit breaker paused or released a strategy or the engine (RK-3)."""
        fields = {"scope": notice.scope, "strategy_id": notice.strategy_id or None,
                  "code": notice.code, "reason": notice.reason}  # fmt: skip
        if isinstance(notice, BreakerTripped):
            self.log.warning("breaker_tripped", until_ns=notice.until_ns, **fields)
        else:
            self.log.info("breaker_cleared", **fields)
        self.alerts.breaker(notice)

    def _kill_switch_health(self, notice: KillSwitchChanged) -> None:
        if not notice.engaged:
            self.health.report(Health("risk", Level.HEALTHY))
        elif notice.source == "daily_loss":
            self.health.report(Health("risk", Level.CRITICAL, f"risk breach: {notice.reason}"))
        else:
            self.health.report(Health("risk", Level.CRITICAL, f"kill switch: {notice.reason}"))

    def operator_index(self) -> int:
        """The event index an operator action is journaled at (see ``_index``)."""
        return self._index()

    def _index(self) -> int:
        """Where an operator action happened: the event index, or -1 before the strategies
        started (a rebuild applies it before ``on_start`` too)."""
        return self.progress.events if self.driver.started else -1

    # --- operator controls ----------------------------------------------------------

    async def apply_control(self, request: ControlRequest) -> None:
        """Apply a kill or reset between two events; journal it with the event index."""
        if request.account:
            await self._apply_venue_control(request)
            return
        if request.action == KILL:
            self.engage(request.reason, request.source, request.request_id, request.flatten)
        elif not await self._reset_allowed(request):
            return
        else:
            self.reset(request.reason, request.request_id)
            await self.recovery.on_reset(self)
        await self.send()
        if self.driver.started:
            self.checkpoint()  # a restart must rebuild to (at least) here
        if self.journal is not None:
            await self.journal.commit()  # handled once: durable before the next event

    async def _apply_venue_control(self, request: ControlRequest) -> None:
        """One venue's kill switch: new exposure there refused, its entries cancelled; or its
        reset. Journaled as its own rows (``venue_kills`` restores them at a start)."""
        venue, now = request.account, self.kernel.clock.now_ns()
        if request.action == KILL:
            # the kernel cancels that venue's entries; its stops and targets keep working
            # (a cancel-all at the venue would leave the open positions unprotected)
            self.driver.send(self.kernel.kill_venue(venue, request.reason))
            self.log.critical("venue_kill_switch_engaged", account=venue, reason=request.reason)
        else:
            self.kernel.venue_kills.pop(venue, None)
            self.log.warning("venue_kill_switch_reset", account=venue, reason=request.reason)
        await self.send()
        if self.journal is not None:
            action = VENUE_ENGAGED if request.action == KILL else VENUE_CLEARED
            detail = {
                "request_id": request.request_id,
                "account": venue,
                "reason": request.reason,
                "source": request.source,
                "event_index": self._index(),
            }
            self.journal.audit(action, detail, now)
            await self.journal.commit()

    def engage(
        self,
        reason: str,
        source: str,
        request_id: str = "",
        flatten: bool = False,
        *,
        at_venue: bool = True,
        scope: str = "all",
    ) -> None:
        """Engage the kill switch (the kernel's command); with ``at_venue`` a live venue
        also cancels every open order on the session's instruments, known or not (P10).
        ``scope``: the working orders it cancels, ``all`` or ``entries``."""
        now = self.kernel.clock.now_ns()
        if at_venue:
            commands = self.venues.kill_commands(now, self.config.instrument_ids)
            if commands and not self.quiet:
                self.log.warning("venue_cancel_all_sent", symbols=list(self.config.instrument_ids))
            self.driver.send(commands)
        self.driver.command(
            EngageKillSwitch(
                ts_init=now,
                reason=reason,
                source=source,
                request_id=request_id,
                flatten=flatten,
                scope=scope,
            )
        )

    def reset(self, reason: str, request_id: str) -> None:
        now = self.kernel.clock.now_ns()
        self.driver.command(ResetKillSwitch(ts_init=now, reason=reason, request_id=request_id))
        self.health.report(Health("reconciliation", Level.HEALTHY))

    async def _reset_allowed(self, request: ControlRequest) -> bool:
        if request.request_id in self.refused:
            return False  # refused before a restart: handled, never applied later
        left = await self.venues.unexplained_open_orders(self.config.instrument_ids)
        if not left:
            return True
        reason = "the venue still holds open orders this process does not know"
        self.log.critical(
            REFUSED, request_id=request.request_id, reason=reason, unknown_orders=left
        )
        self.refused.add(request.request_id)
        if self.journal is not None:
            detail = {"request_id": request.request_id, "reason": reason}
            self.journal.audit(REFUSED, detail, self.kernel.clock.now_ns())
            await self.journal.commit()  # handled once: a later start must not apply it
        return False

    def apply_config(self, change: ConfigChange) -> None:
        """A validated parameter edit, applied between events and journaled."""
        new = change.config
        old = self.versions[new.id]
        self.set_params(new, source=change.path)
        if self.journal is not None:
            detail = {"event_index": self.events, "config": new.model_dump(mode="json")}
            now = self.kernel.clock.now_ns()
            self.journal.audit("config_applied", {**detail, "sha256": new.version_id()}, now)
            self.journal.store_version(new, now)
        self.log.info(
            "config_applied",
            strategy_id=new.id,
            file=change.path,
            old_version=old.version_id(),
            new_version=new.version_id(),
            params=new.params,
        )

    def set_params(self, config: StrategyConfig, source: str = "") -> None:
        if config.id in self.kernel.strategies and self.versions.get(config.id) != config:
            spec = registry.get(config.strategy)
            params = registry.parse_params(spec, config.params, source=source or config.id)
            self.kernel.replace_params(config.id, params)
            self.versions[config.id] = config

    def _config_rejected(self, detail: dict[str, Any]) -> None:
        """A refused edit is logged and kept in the audit log (R19); the running version stays."""
        self.log.warning("config_rejected", **detail)
        if self.journal is not None:
            self.journal.audit("config_rejected", detail, self.kernel.clock.now_ns())

    # --- journal faults (R17) --------------------------------------------------------

    def journal_fault(self, exc: StorageError) -> None:
        """Fail closed: orders wait for their intent's commit, so trading pauses."""
        self.health.report(Health("journal", Level.CRITICAL, f"journal unavailable: {exc}"))
        self.log.critical("journal_unavailable", error=str(exc), trading="paused until it commits")
        self.alerts.journal_fault(str(exc))

    def journal_recovered(self, outage_s: float) -> None:
        self.health.report(Health("journal", Level.HEALTHY))
        self.log.warning("journal_recovered", outage_s=round(outage_s, 3))
        self.alerts.journal_recovered(outage_s)

    # --- checkpoints ----------------------------------------------------------------

    def checkpoint(self) -> None:
        """Balances, positions and strategy snapshots, then the mark that makes them whole."""
        if self.journal is None or self.quiet or self.halted is not None:
            return
        now = self.kernel.clock.now_ns()
        self.market.sync()  # every event counted below is durable in the session log
        self.journal.checkpoint(
            self.state_records(now), self.events, now, mid=lambda: crash_point("checkpoint")
        )

    def state_records(self, now: int) -> list[WriteRecord]:
        records: list[WriteRecord] = list(self.venues.balance_records(now))
        records.extend(
            PositionRecord(
                self.venues.name_of(p.instrument_id),
                p.instrument_id,
                p.qty,
                p.avg_open_px,
                p.realized_pnl,
                now,
            )
            for p in self.kernel.portfolio.positions()
        )
        records.extend(
            StrategyStateRecord(sid, now, strategy.snapshot())
            for sid, strategy in sorted(self.kernel.strategies.items())
        )
        return records

    # --- health -------------------------------------------------------------------

    async def _health_task(self) -> None:
        interval = min(self.config.health_interval_s, self.systemd.watchdog_interval_s() or 1e9)
        last_status = time.monotonic()
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
            self.systemd.notify("WATCHDOG=1")  # the loop is alive: this task ran
            self.check_health(time.monotonic())
            every = self.config.status_interval_s
            if every > 0 and time.monotonic() - last_status >= every:
                last_status = time.monotonic()
                self.log_status()

    def check_health(self, now: float) -> None:
        """Queue depth, feed staleness and venue health; log a change of the overall level."""
        stats = self.inbound.statistics()
        changed = self.health.report(queue_health("inbound", stats.depth, stats.maxsize))
        changed |= self.health.report(self._feed_health(now))
        for report in self.venues.health():
            changed |= self.health.report(report)
        if changed:
            snap = self.health.snapshot()
            self.log.warning("health_changed", status=snap.status, reasons=list(snap.reasons))
        watch.tick(self)  # gauges and the alert rules, once per tick (never per event)

    def _feed_health(self, now: float) -> Health:
        if self.halted is not None or self.stopping.is_set():
            return Health("feed", Level.HEALTHY)  # not expected to flow
        stale = now - self.progress.last_event_at
        if stale > self.config.stale_after_s:
            return Health("feed", Level.DEGRADED, f"no market data for {stale:.0f} s")
        return Health("feed", Level.HEALTHY)

    def log_status(self) -> None:
        """The periodic ``daemon_status`` line: state, not just orders."""
        snap = self.health.snapshot()
        self.log.info(
            "daemon_status",
            health=snap.status,
            reasons=list(snap.reasons),
            events=self.events,
            **status_fields(self.kernel),
        )


async def _until(stopping: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or a stop is requested: a quiet live market must not
    keep a stopping daemon waiting for one more event."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if not task.cancelled():
        task.result()  # a feed failure goes to the supervisor


async def serve(daemon: Daemon) -> int:
    """Run ``daemon``; a task's failure becomes one CRITICAL line, never a silent hang."""
    try:
        return await daemon.run()
    except* GenesisError as group:
        # a task failed on bad input (e.g. the recording): report it as itself, once
        daemon.log.critical("daemon_failed", error=str(group.exceptions[0]))
        await daemon.alerts.close()  # the error_log alert of that line, notified before exit
        raise group.exceptions[0] from None
    except* Exception as group:
        first = group.exceptions[0]
        daemon.log.critical("daemon_failed", error=f"{type(first).__name__}: {first}")
        await daemon.alerts.close()
        raise
