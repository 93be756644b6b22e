"""The asyncio shell: ``python -m genesis`` as one event loop with cooperating tasks.

One ``TaskGroup`` owns every task (R17): the market feed (under a restart
supervisor), the trading loop (drains the bounded inbound queue into the
shared kernel through ``Replay``: the same code path as a backtest), and the
health monitor. SIGTERM/SIGINT stop the feed, let the trading loop finish the
events already queued, call the strategies' ``on_stop`` and exit 0.

Paper mode on a recording: the kernel's clock follows the recording's time
(a ``SimClock``), while the feed paces the events in wall time (``speed``
events per second; 0 = as fast as possible). Every order event is logged
with the correlation id of the signal that caused it (ENG-3).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from genesis.kernel.driver import Replay
from genesis.config.models import StrategyConfig
from genesis.core.clock import SimClock
from genesis.core.commands import SubmitOrder
from genesis.core.events import MarketEvent, OrderEvent, OrderFilled
from genesis.core.instruments import InstrumentTable
from genesis.data.sources import open_events
from genesis.daemon.control import CLEARED, ENGAGED, ControlRequest, kill_state
from genesis.daemon.crashpoints import crash_point
from genesis.engine.daemon_control import DaemonControl, recovery_actions
from genesis.engine.daemon_logs import DaemonLogs
from genesis.engine.daemon_reload import DaemonReload
from genesis.daemon.health import Health, HealthMonitor, Level, queue_health
from genesis.daemon.records import (
    event_record,
    fill_record,
    intent_record,
    order_record,
    reconcile_balances,
    reconcile_fills,
)
from genesis.kernel.kernel import Kernel
from genesis.daemon.venues import VenueWake
from genesis.daemon.reconcile import PAPER, check_session_mode
from genesis.engine.market_data import LIVE, LiveMarket, MarketData
from genesis.daemon.queues import BoundedQueue, QueuePolicy
from genesis.daemon.reload import ConfigChange
from genesis.daemon.supervision import supervise
from genesis.daemon.systemd import Notifier
from genesis.errors import ConfigError, DataError, GenesisError
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.portfolio import Portfolio
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import TIER_LIMITS, Tier
from genesis.risk.monitor import DailyLossMonitor
from genesis.storage.factory import open_repository
from genesis.storage.repository import (
    AuditRecord,
    BalanceRecord,
    ConfigVersionRecord,
    PositionRecord,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
)
from genesis.storage.writer import BatchingWriter, QueueStats
from genesis.strategies import registry

__all__ = ["DaemonConfig", "PaperDaemon"]

_STALE_S = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    tier: Tier
    strategies: tuple[StrategyConfig, ...]
    instruments: InstrumentTable
    data: Path
    symbol: str = "BTCUSDT"
    cash: Decimal = Decimal(1000)
    fee_bps: Decimal = Decimal(10)
    speed: float = 100.0  # events per second of wall time; 0 = full speed
    max_events: int | None = None
    queue_size: int = 10_000
    health_interval_s: float = 1.0
    strategies_dir: Path | None = None  # watched for parameter edits (hot reload)
    data_dir: Path | None = None  # the journal (SQLite) lives here unless database_url is set
    database_url: str | None = None
    on_shutdown: str = "cancel"  # "cancel" working orders at a clean stop, or "keep" them
    shutdown_timeout_s: float = 10.0  # queued events still processed after a stop request, at most
    max_daily_loss_pct: Decimal | None = None  # default: the tier's limit (5%)
    control_poll_s: float = 0.5  # how often the journal is read for kill/reset requests
    journal_retry_s: tuple[float, float] = (0.05, 2.0)  # first and longest wait after a DB fault
    live_market: LiveMarket | None = None  # live public market data (else the recording)


class PaperDaemon(DaemonControl, DaemonLogs, DaemonReload):
    """Paper trading on a replayed recording, with the live shell's structure."""

    def __init__(self, config: DaemonConfig, log: Any | None = None) -> None:
        self.config = config
        self.log = log or structlog.get_logger().bind(component="daemon")
        self.inbound: BoundedQueue[Inbound] = BoundedQueue(
            "inbound", config.queue_size, QueuePolicy.BLOCK
        )
        self.health = HealthMonitor()
        self.systemd = Notifier()
        self.stopping = asyncio.Event()
        self.kernel, self.venue = self._build()
        self.market = MarketData(config, self.log)
        self.replay = Replay(
            self.kernel, self.venue, record=False, defer_commands=True,
            on_command=self._log_command, on_order_event=self._on_order_event,
        )  # fmt: skip
        self.journal: BatchingWriter | None = None
        self.journal_stats: QueueStats | None = None  # the writer's counters, after the run
        self._repo: SqlRepository | None = None
        self._quiet = False  # True while fast-forwarding a recovery: nothing logged or written
        self.halted: str | None = None
        self._flatten: str | None = None  # None → "requested" → "flattening" → "done"
        self.journal_peak_depth = 0
        self._loop_done = False
        limit = config.max_daily_loss_pct or TIER_LIMITS[config.tier].max_daily_loss_pct
        self.daily_loss = DailyLossMonitor(self.kernel.risk, limit, config.cash)
        self.events = 0
        self._fed = 0
        self._replayed_fills: list[OrderFilled] = []
        self._versions = {sc.id: sc for sc in config.strategies}
        self._last_event = time.monotonic()
        self._requests_seen: set[str] = set()

    def _build(self) -> tuple[Kernel, SimulatedVenue]:
        cfg = self.config
        lookup = cfg.instruments.get
        inst = lookup(cfg.symbol)
        balances = {inst.quote: cfg.cash}
        fees = FeeModel(maker_bps=cfg.fee_bps, taker_bps=cfg.fee_bps)
        venue = SimulatedVenue(instruments=lookup, balances=balances, fees=fees, name="PAPER")
        portfolio = Portfolio(
            lookup, balances=balances, base_currency=inst.quote, dedup_window=100_000
        )
        kernel = Kernel(
            clock=SimClock(), instruments=lookup, portfolio=portfolio, risk=RiskEngine(cfg.tier),
            fee_rate=fees.worst_rate, log=self.log,
        )  # fmt: skip
        for sc in cfg.strategies:
            spec = registry.get(sc.strategy)
            params = registry.parse_params(spec, sc.params, source=sc.id)
            kernel.add_strategy(
                spec.cls, sc.id, params, sc.instruments, requires_stop_loss=sc.requires_stop_loss
            )
        return kernel, venue

    # --- tasks ----------------------------------------------------------------

    async def run(self) -> int:
        """Run until the feed ends or a stop signal; return the exit code (0)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGUSR1, self.request_flatten)
        self._log_start()
        repo = await self._open_journal()
        try:
            return await self._run_tasks()
        finally:
            try:
                if self.journal is not None:
                    await self.journal.aclose()  # everything queued is committed
                    self.journal_stats = self.journal.statistics()
            finally:
                if repo is not None:
                    await repo.close()
                self.market.close()

    async def _open_journal(self) -> SqlRepository | None:
        cfg = self.config
        if cfg.data_dir is None and cfg.database_url is None:
            return None
        repo = await open_repository(cfg.database_url, cfg.data_dir or Path("data"))
        self._repo = repo
        base, cap = cfg.journal_retry_s
        self.journal = BatchingWriter(
            repo, retry_base_s=base, retry_cap_s=cap,
            on_fault=self._journal_fault, on_recovered=self._journal_recovered,
        )  # fmt: skip
        self.journal.start()
        self.log.info("journal_opened", backend=repo.backend)
        return repo

    async def _run_tasks(self) -> int:
        if self._repo is not None:
            await self._recover_or_begin(self._repo)
            await self._apply_pending_requests(self._repo)  # kills written while it was down
        else:
            await self.market.choose(None)
        # strategies start only now: after recovery, reconciliation and any pending kill
        self.replay.start()
        await self._send_outbox()
        self.log.info("market_data_selected", symbol=self.config.symbol, **self.market.describe())
        self.systemd.notify("READY=1", f"STATUS=paper trading, tier {self.config.tier.value}")
        async with asyncio.TaskGroup() as group:
            feed = group.create_task(self._feed_task(), name="feed")
            group.create_task(self._health_task(), name="health")
            group.create_task(self._config_task(), name="config-watcher")
            group.create_task(self._control_task(), name="control")
            await self._trading_loop()
            self._loop_done = True
            self.stopping.set()  # the loop ended: tell the other tasks
            feed.cancel()  # it may be waiting for room in a queue nobody drains now
        if self.config.on_shutdown == "cancel" and self.halted is None:
            self.replay.send(self.kernel.cancel_all())
        self.replay.finish()
        await self._send_outbox()
        await self._settle()
        self._checkpoint()
        self._log_stop()
        self.systemd.notify("STOPPING=1")
        return 0

    async def _venue_wake(self) -> None:
        """The paper venue answers inside ``step``; a live one through ``VenueWake``."""

    async def _settle(self) -> None:
        """The paper venue has answered every command; a live one is waited for."""

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

    async def _feed_task(self) -> None:
        if self.halted is not None:
            await self.stopping.wait()  # HALTED: no market data, no trading, until stopped
            await self.inbound.put(None)
            return
        try:
            await supervise(
                "feed", self._feed_once, on_failure=self._feed_failed, max_restarts=5,
                fatal=(DataError, ConfigError),  # a bad recording will not get better
            )  # fmt: skip
        finally:
            if not self._loop_done:
                await self.inbound.put(None)  # end of stream for the trading loop

    async def _feed_once(self) -> None:
        # after a restart the recording resumes where it stopped: nothing is fed twice
        if self.market.mode == LIVE:
            await self._until_stopped(self._feed_live())
            return
        skip = self._fed
        async for event in self._paced(open_events(self.config.data, self.config.symbol)):
            if self.stopping.is_set():
                return
            if skip:
                skip -= 1
                continue
            await self.inbound.put(event)
            self._fed += 1

    async def _until_stopped(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` until it ends or a stop is requested: a quiet live market must not
        keep a stopping daemon waiting for one more event."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stopping.wait())
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

    async def _feed_live(self) -> None:
        limit = self.config.max_events
        if limit is not None and self._fed >= limit:
            return
        async with contextlib.aclosing(self.market.live_events(skip=self._fed)) as events:
            async for event in events:
                if self.stopping.is_set():
                    return
                await self.inbound.put(event)
                self._fed += 1
                if limit is not None and self._fed >= limit:
                    return

    async def _paced(self, events: Iterable[MarketEvent]) -> AsyncIterator[MarketEvent]:
        speed, limit = self.config.speed, self.config.max_events
        for n, event in enumerate(events):
            if limit is not None and n >= limit:
                return
            yield event
            await asyncio.sleep(1.0 / speed if speed > 0 else 0)

    def _feed_failed(self, name: str, exc: BaseException, attempt: int, delay: float) -> None:
        self.log.error("feed_failed", feed=name, error=str(exc), attempt=attempt, retry_in_s=delay)
        self.health.report(Health(name, Level.DEGRADED, f"restarting after {exc}"))

    async def _trading_loop(self) -> None:
        deadline: float | None = None
        while True:
            event = await self.inbound.get()
            if event is None:
                return
            if self.stopping.is_set():
                deadline = deadline or time.monotonic() + self.config.shutdown_timeout_s
                if time.monotonic() > deadline:
                    self.log.warning("shutdown_timeout", left_in_queue=self.inbound.qsize())
                    return
            if isinstance(event, ConfigChange):
                self._apply(event)  # between two market events, never inside one
                continue
            if isinstance(event, ControlRequest):
                await self._control(event)
                continue
            if isinstance(event, VenueWake):
                await self._venue_wake()  # a live venue's order events (LiveDaemon)
                continue
            if self._flatten == "requested":
                self._flatten = "flattening"
                self.replay.send(self.kernel.flatten())
                await self._send_outbox()
            self.replay.step(event)
            await self._send_outbox()
            await self._after_event()

    async def _after_event(self) -> None:
        self.events += 1
        self._risk_monitor()
        if self.journal is not None:
            depth = self.journal.statistics().depth
            self.journal_peak_depth = max(self.journal_peak_depth, depth)
            if depth > _JOURNAL_HIGH_WATER:
                await self.journal.flush()  # backpressure: the journal queue never fills up
        if self.events % _CHECKPOINT_EVERY == 0:
            self._checkpoint()
        if self._flatten == "flattening" and self.kernel.is_flat():
            self._flatten = "done"
            self.request_stop("flattened")
            self._last_event = time.monotonic()

    async def _health_task(self) -> None:
        interval = min(self.config.health_interval_s, self.systemd.watchdog_interval_s() or 1e9)
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)
            self.systemd.notify("WATCHDOG=1")  # the loop is alive: this task ran
            stats = self.inbound.statistics()
            changed = self.health.report(queue_health("inbound", stats.depth, stats.maxsize))
            stale = time.monotonic() - self._last_event
            feed = (
                Health("feed", Level.DEGRADED, f"no data for {stale:.0f} s")
                if stale > _STALE_S
                else Health("feed", Level.HEALTHY)
            )
            changed |= self.health.report(feed)
            if changed:
                snap = self.health.snapshot()
                self.log.warning("health_changed", status=snap.status, reasons=list(snap.reasons))

    # --- the journal ------------------------------------------------------------

    async def _send_outbox(self) -> None:
        """Carry the kernel's commands to the venue; order intents are committed first (P1).

        The intents of one round go to the journal together and one commit covers
        them all (group commit), then the round is sent; sending may queue the
        next round (exits after a fill, cancels).
        """
        outbox, journal = self.replay.outbox, self.journal
        while outbox:
            round_, outbox[:] = list(outbox), []
            if journal is not None:
                intents = [c for c in round_ if isinstance(c, SubmitOrder)]
                for intent in intents:
                    await journal.submit(intent_record(intent, self.venue.name))
                if intents:
                    # the durability point: committed before sending
                    if not await self._committed_or_stopping(journal):
                        self.log.critical(
                            "orders_not_sent", count=len(intents),
                            reason="stopping while the journal cannot commit their intents",
                        )  # fmt: skip
                        outbox.clear()
                        return
                    crash_point("after_intent_commit")
            for command in round_:
                self.replay.execute(command)
                crash_point("after_send")

    async def _committed_or_stopping(self, journal: BatchingWriter) -> bool:
        """Wait for the commit; a stop during a journal outage gives up after the grace."""
        flush = asyncio.ensure_future(journal.flush())
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({flush, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not flush.done():
                await asyncio.wait({flush}, timeout=self.config.shutdown_timeout_s)
        finally:
            stop.cancel()
        if not flush.done():
            flush.cancel()
            return False
        flush.result()
        return True

    def _on_order_event(self, event: OrderEvent) -> None:
        if self._quiet:
            if isinstance(event, OrderFilled):
                self._replayed_fills.append(event)
            return
        self._log_order_event(event)
        if self.journal is None:
            return
        if isinstance(event, OrderFilled):
            crash_point("after_fill")
        order = self.kernel.oms.get(event.client_order_id)
        self.journal.submit_nowait(event_record(event))
        if isinstance(event, OrderFilled):
            self.journal.submit_nowait(fill_record(event))
        if order is not None:
            self.journal.submit_nowait(order_record(order, self.venue.name))

    # --- risk monitor -----------------------------------------------------------

    def _risk_monitor(self) -> None:
        """Daily loss limit and kill switch, in the recording's time (so a rebuild agrees)."""
        equity = self.kernel.portfolio.equity()
        if self.daily_loss.update(self.kernel.clock.now_ns(), equity) is None:
            return
        reason = self.kernel.risk.kill_switch or ""
        self.health.report(Health("risk", Level.CRITICAL, f"risk breach: {reason}"))
        if not self._quiet:
            self.log.critical(
                ENGAGED, reason=reason, source="daily_loss", equity=equity,
                day_start_equity=self.daily_loss.day_start,
            )  # fmt: skip
            detail = {"source": "daily_loss", "reason": reason, "event_index": self.events}
            self._audit(ENGAGED, detail)

    # --- checkpoints and recovery -------------------------------------------------

    def _checkpoint(self) -> None:
        """Record how far the recording was processed (committed after every earlier record)."""
        if self.journal is None or self._quiet or self.halted is not None:
            return
        now, journal = self.kernel.clock.now_ns(), self.journal
        for n, record in enumerate(self._state_records(now)):
            journal.submit_nowait(record)
            if n == 1:
                crash_point("checkpoint")
        self.market.sync()  # every event counted below is durable in the session log
        blob = json.dumps({"events": self.events}).encode()
        journal.submit_nowait(StrategyStateRecord(_REPLAY_ID, now, blob))  # last: marks it whole

    def _state_records(self, now: int) -> list[WriteRecord]:
        """Balances (the paper venue's account), positions and strategy snapshots at ``now``."""
        account, venue = self.venue.account, self.venue.name
        records: list[WriteRecord] = [
            BalanceRecord(venue, asset, account.free(asset), total - account.free(asset), now)
            for asset, total in account.balances().items()
        ]
        records.extend(
            PositionRecord(venue, p.instrument_id, p.qty, p.avg_open_px, p.realized_pnl, now)
            for p in self.kernel.portfolio.positions()
        )
        records.extend(
            StrategyStateRecord(sid, now, strategy.snapshot())
            for sid, strategy in sorted(self.kernel.strategies.items())
        )
        return records

    def _audit(self, action: str, detail: dict[str, Any]) -> None:
        if self.journal is not None and not self._quiet:
            now = self.kernel.clock.now_ns()
            self.journal.submit_nowait(
                AuditRecord(now, "daemon", action, json.dumps(detail, sort_keys=True))
            )

    def _store_version(self, config: StrategyConfig) -> None:
        """Keep every running version, by SHA-256, for ``genesis config versions|diff|rollback``."""
        if self.journal is not None and not self._quiet:
            body = json.dumps(config.model_dump(mode="json"), sort_keys=True, indent=2)
            now = self.kernel.clock.now_ns()
            self.journal.submit_nowait(
                ConfigVersionRecord(config.id, config.version_id(), body, now)
            )

    async def _recover_or_begin(self, repo: SqlRepository) -> None:
        """A new journal: record the session's configs. A used one: rebuild, reconcile, resume."""
        state = await repo.load_strategy_state(_REPLAY_ID)
        audits = await repo.audit_log(0)
        started = next((a for a in audits if a.action == "session_started"), None)
        check_session_mode(audits, PAPER)  # never a live session's journal (R23)
        await self.market.choose(json.loads(started.detail_json) if started else None)
        if state is None:
            if started is None:
                configs = {c.id: c.model_dump(mode="json") for c in self.config.strategies}
                detail = {"mode": PAPER, "configs": configs, **self.market.describe()}
                self._audit("session_started", detail)
                for config in self.config.strategies:
                    self._store_version(config)
            killed = kill_state(audits)  # crashed before its first checkpoint: still killed
            if killed.engaged and killed.source == "operator":
                self._engage(f"operator: {killed.reason}", False)
                self.health.report(Health("risk", Level.CRITICAL, f"kill switch: {killed.reason}"))
            return
        done = int(json.loads(state.blob)["events"])
        audits = [
            a for a in audits if a.action in ("session_started", "config_applied", ENGAGED, CLEARED)
        ]
        self._fast_forward(done, audits)
        journal = await repo.fills_since(0)
        reason = reconcile_fills(
            self._replayed_fills, [f for f in journal if f.ts_ns <= state.ts_ns]
        )
        if reason is None:
            reason = reconcile_balances(self.venue, await repo.load_balances(), state.ts_ns)
        self._fed = self.events = done
        self._replayed_fills = []
        if reason is not None:
            self.halted = reason
            self.health.report(Health("recovery", Level.CRITICAL, reason))
            self.log.critical("daemon_halted", reason=reason, events=done)
        else:
            self.log.info("daemon_recovered", events=done, fills=len(journal))

    def _fast_forward(self, done: int, audits: list[AuditRecord]) -> None:
        """Re-run the first ``done`` events silently, with the configs in force at each point
        and the operator's kills and resets applied where they happened."""
        start, actions = recovery_actions(audits)
        for raw in start.values():
            self._set_params(StrategyConfig.model_validate(raw))
        self._quiet, self._replayed_fills = True, []
        try:
            while actions and actions[0][0] < 0:  # applied before the strategies started
                self._replay_action(actions.pop(0)[1])
            self.replay.start()
            self._execute_outbox_now()
            for index, event in enumerate(self.market.recorded()):
                while actions and actions[0][0] <= index:
                    self._replay_action(actions.pop(0)[1])
                if index >= done:
                    break
                self.replay.step(event)
                self._execute_outbox_now()
                self._risk_monitor()  # the kill switch is part of the rebuilt state
        finally:
            self._quiet = False
        for config in self.config.strategies:  # files edited while the daemon was down
            if self._versions.get(config.id) != config:
                self._set_params(config)

    def _set_params(self, config: StrategyConfig) -> None:
        if config.id in self.kernel.strategies and self._versions.get(config.id) != config:
            spec = registry.get(config.strategy)
            self.kernel.replace_params(config.id, registry.parse_params(spec, config.params))
            self._versions[config.id] = config


Inbound = MarketEvent | ConfigChange | ControlRequest | VenueWake | None
_REPLAY_ID = "__replay__"  # the strategy-state row that records the recording's progress
_CHECKPOINT_EVERY = 500
_JOURNAL_HIGH_WATER = 5_000


def run_paper(config: DaemonConfig, on_ready: Callable[[PaperDaemon], None] | None = None) -> int:
    """Build and run the daemon in a fresh event loop; return its exit code."""

    async def main() -> int:
        daemon = PaperDaemon(config)
        if on_ready is not None:
            on_ready(daemon)
        return await serve(daemon)

    return asyncio.run(main())


async def serve(daemon: PaperDaemon) -> int:
    """Run ``daemon``; a task's failure becomes one CRITICAL line, never a silent hang."""
    try:
        return await daemon.run()
    except* GenesisError as group:
        # a task failed on bad input (e.g. the recording): report it as itself, once
        daemon.log.critical("daemon_failed", error=str(group.exceptions[0]))
        raise group.exceptions[0] from None
    except* Exception as group:
        first = group.exceptions[0]
        daemon.log.critical("daemon_failed", error=f"{type(first).__name__}: {first}")
        raise
