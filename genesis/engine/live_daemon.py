"""Live trading: the paper daemon's kernel, tasks and journal, with a real venue behind it.

``LiveDaemon`` is ``PaperDaemon`` with four things changed:

* the venue is a ``BinanceVenue`` behind ``VenueBridge``; its order events
  come through the ``Mailbox`` as ``VenueWake`` items on the inbound queue
  and reach the kernel through ``LiveReplay.deliver`` (the paper path's
  journaling, logging and correlation ids);
* the market data is the live feed on the venue's own market streams,
  logged to ``live-session-<symbol>.jsonl``; there is no recording fallback
  and no rebuild: on a restart the venue is the truth, and the start-up
  reconciliation (``live_reconcile``) says whether it may trade;
* an unexplained start (open orders this process does not know) engages the
  kill switch with the reason (HALTED, health CRITICAL); an operator kill
  also sends ``CancelAllOrders`` per instrument straight to the venue, so the
  orders the kernel does not know are cancelled too (P10); a reset is
  refused (journaled as refused, so it is handled once and never applied
  later) until the venue holds no unknown open order;
* a start whose journal still holds an open position from the previous live
  session is HALTED too (a fresh kernel starts flat and would buy it again);
  the operator closes it at the venue and resets, which journals flat
  positions;
* the daily-loss baseline is journaled and restored for the same day, so a
  restart does not measure the day's loss from its own start;
* the venue's authentication failure engages the kill switch (R4), and the
  venue clock and user stream report into health.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from genesis.core.clock import SimClock
from genesis.core.commands import CancelAllOrders, Command
from genesis.core.enums import OrderStatus
from genesis.core.events import MarketEvent
from genesis.daemon.control import ENGAGED, REFUSED, RESET, ControlRequest, kill_state
from genesis.engine.daemon import DaemonConfig, PaperDaemon, serve
from genesis.daemon.health import Health, Level
from genesis.kernel.kernel import Kernel
from genesis.daemon.venues import WAKE, LiveReplay, VenueBridge
from genesis.daemon.reconcile import (
    BASELINE,
    LIVE,
    Reconciliation,
    baseline_detail,
    journaled_baseline,
    open_positions,
    position_halt_reason,
    reconcile,
)
from genesis.engine.live_session import LiveEndpoints, LiveSession, open_live_session
from genesis.engine.market_data import MarketData
from genesis.errors import ConfigError, VenueError
from genesis.exchange.binance import AuthError
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.portfolio import Portfolio
from genesis.risk.engine import RiskEngine
from genesis.risk.monitor import day_of
from genesis.storage.repository import (
    AuditRecord,
    BalanceRecord,
    PositionRecord,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
)
from genesis.storage.writer import BatchingWriter
from genesis.strategies import registry

__all__ = ["LiveDaemon", "LiveMarketData", "run_live"]

_IN_FLIGHT = frozenset(
    {OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE}
)
_AUTH_REASON = "venue authentication failed"


class LiveMarketData(MarketData):
    """The live feed only: its own session log, never a recording, never a replay of the log."""

    def __init__(self, config: DaemonConfig, log: Any) -> None:
        super().__init__(config, log)
        if config.live_market is None:
            raise ConfigError("live trading needs live market data endpoints")
        self.session_path = self.session_path.with_name(f"live-session-{config.symbol}.jsonl")

    async def choose(self, journaled: dict[str, Any] | None) -> None:
        """Always live: the venue was reached when the session opened."""

    async def live_events(self, skip: int) -> AsyncGenerator[MarketEvent, None]:
        """New events from the venue only: a live restart does not replay past market data."""
        async for event in self.from_venue():
            yield event


class LiveDaemon(PaperDaemon):
    """Live trading on one venue; see the module docstring."""

    def __init__(self, config: DaemonConfig, session: LiveSession, log: Any | None = None) -> None:
        self.session = session
        self.bridge = VenueBridge(session.venue)
        now = time.time_ns()
        self.reconciliation = reconcile(
            session.snapshot, session.journaled_fills, set(), session.venue.name, now
        )
        inst = session.instruments.get(config.symbol)
        held = self.reconciliation.start_balances
        self._start_balances = {a: held.get(a, Decimal(0)) for a in (inst.quote, inst.base)}
        self._start_mark = _decimal(session.book_top[0])
        cash = self._start_balances[inst.quote]
        if self._start_mark is not None:
            cash += self._start_balances[inst.base] * self._start_mark
        config = replace(config, instruments=session.instruments, cash=cash)
        super().__init__(config, log)
        self.market = LiveMarketData(config, self.log)
        self.live_replay = LiveReplay(
            self.kernel, cast(SimulatedVenue, self.bridge), record=False, defer_commands=True,
            on_command=self._log_command, on_order_event=self._on_order_event,
        )  # fmt: skip
        self.replay = self.live_replay
        self.unknown_orders = {o.client_order_id for o in self.reconciliation.unknown_orders}
        self.stale_positions: tuple[PositionRecord, ...] = ()  # journaled, not yet reset
        self._refused = {
            str(r.get("request_id")) for r in (_detail(a) for a in session.audits
                                               if a.action == REFUSED)
        }  # fmt: skip
        self._auth_engaged = False

    def _build(self) -> tuple[Kernel, SimulatedVenue]:
        """The paper daemon's kernel on the venue's balances, instruments and wall time."""
        cfg = self.config
        inst = cfg.instruments.get(cfg.symbol)
        portfolio = Portfolio(
            cfg.instruments.get, balances=self._start_balances, base_currency=inst.quote,
            dedup_window=100_000,
        )  # fmt: skip
        if self._start_mark is not None:
            portfolio.mark(cfg.symbol, self._start_mark)
        fees = FeeModel(maker_bps=cfg.fee_bps, taker_bps=cfg.fee_bps)
        kernel = Kernel(
            clock=SimClock(time.time_ns()), instruments=cfg.instruments.get, portfolio=portfolio,
            risk=RiskEngine(cfg.tier), fee_rate=fees.worst_rate, log=self.log,
        )  # fmt: skip
        for sc in cfg.strategies:
            spec = registry.get(sc.strategy)
            params = registry.parse_params(spec, sc.params, source=sc.id)
            kernel.add_strategy(
                spec.cls, sc.id, params, sc.instruments, requires_stop_loss=sc.requires_stop_loss
            )
        # Replay and the paper daemon use only the surface VenueBridge provides
        return kernel, cast(SimulatedVenue, self.bridge)

    # --- start-up -------------------------------------------------------------------

    def _log_start(self) -> None:
        cfg, live = self.config, self.session
        self.log.info(
            "daemon_started", mode=LIVE, tier=cfg.tier.value, venue=live.rest.base_url,
            symbol=cfg.symbol, balances=self._start_balances,
            strategies=[s.id for s in cfg.strategies],
        )  # fmt: skip

    async def _open_journal(self) -> SqlRepository | None:
        repo = self.session.repo  # opened (and checked for paper state) with the session
        self._repo = repo
        base, cap = self.config.journal_retry_s
        self.journal = BatchingWriter(
            repo, retry_base_s=base, retry_cap_s=cap,
            on_fault=self._journal_fault, on_recovered=self._journal_recovered,
        )  # fmt: skip
        self.journal.start()
        self.log.info("journal_opened", backend=repo.backend, mode=LIVE)
        return repo

    async def _recover_or_begin(self, repo: SqlRepository) -> None:
        """Journal what the venue holds, restore the kill switch and the daily-loss baseline,
        halt on the unexplained."""
        audits = self.session.audits
        if not any(a.action == "session_started" for a in audits):
            configs = {c.id: c.model_dump(mode="json") for c in self.config.strategies}
            detail: dict[str, Any] = {
                "mode": LIVE,
                "venue": self.session.rest.base_url,
                "configs": configs,
            }
            self._audit("session_started", {**detail, **self.market.describe()})
            for config in self.config.strategies:
                self._store_version(config)
        await self._journal_reconciliation(self.reconciliation)
        self._restore_baseline()
        symbols = self._symbols()
        self.stale_positions = open_positions(
            await repo.load_positions(), self.session.venue.name, symbols
        )
        self.session.relay.target = self._auth_failed
        for exc in self.session.relay.failures:
            self._auth_failed(exc)
        state = kill_state(audits)
        if state.engaged:
            self.kernel.risk.engage_kill_switch(state.reason)
            self.health.report(Health("risk", Level.CRITICAL, f"kill switch: {state.reason}"))
            self.log.critical("kill_switch_restored", reason=state.reason, source=state.source)
        reasons = (self.reconciliation.halt_reason, position_halt_reason(self.stale_positions))
        reason = "; ".join(r for r in reasons if r is not None) or None
        if reason is not None:
            self.kernel.risk.engage_kill_switch(f"reconciliation: {reason}")
            self.health.report(Health("reconciliation", Level.CRITICAL, reason))
            self.log.critical(
                "daemon_halted", reason=reason, unknown_orders=sorted(self.unknown_orders),
                open_positions={p.symbol: p.quantity for p in self.stale_positions},
            )  # fmt: skip
            detail = {
                "source": "reconciliation",
                "reason": reason,
                "event_index": self.events,
            }
            self._audit(ENGAGED, {**detail, "unknown_orders": sorted(self.unknown_orders)})
        self.session.mailbox.attach(self._wake)
        if self.journal is not None:
            await self.journal.flush()

    async def _journal_reconciliation(self, found: Reconciliation) -> None:
        """Backfilled fills and balances; awaited, as a backfill may exceed the writer's queue."""
        assert self.journal is not None
        records: list[WriteRecord] = [*found.fills, *found.balances]
        for record in records:
            await self.journal.submit(record)
        self.log.info(
            "live_reconciled", fills_backfilled=len(found.fills),
            open_orders=len(self.session.snapshot.open_orders),
            unknown_orders=len(found.unknown_orders), balances=found.start_balances,
        )  # fmt: skip

    # --- order events from the venue ----------------------------------------------------

    def _wake(self) -> bool:
        try:
            self.inbound.put_nowait(WAKE)
        except asyncio.QueueFull:
            return False  # the loop is busy: it drains the mailbox after its event
        return True

    async def _venue_wake(self) -> None:
        for event in self.session.mailbox.drain():
            self.live_replay.deliver(event)
        await self._send_outbox()

    async def _after_event(self) -> None:
        if len(self.session.mailbox):
            await self._venue_wake()
        await super()._after_event()

    async def _settle(self) -> None:
        """Wait (up to the shutdown timeout) for the venue's answers to the last commands."""
        deadline = time.monotonic() + self.config.shutdown_timeout_s
        while True:
            await self._venue_wake()
            waiting = [o.client_order_id for o in self.kernel.oms.open_orders()
                       if o.status in _IN_FLIGHT]  # fmt: skip
            if not waiting:
                return
            if time.monotonic() > deadline:
                self.log.warning("live_settle_timeout", orders=waiting)
                return
            await asyncio.sleep(0.02)

    # --- operator controls and venue faults -------------------------------------------------

    def _engage(self, reason: str, flatten: bool) -> list[Command]:
        """The kernel's cancels, plus a cancel-all per instrument at the venue: orders the
        kernel does not know (found at start-up) are cancelled too (P10)."""
        commands = super()._engage(reason, flatten)
        now = self.kernel.clock.now_ns()
        symbols = self._symbols()
        for symbol in symbols:
            commands.append(CancelAllOrders(ts_init=now, strategy_id="operator",
                                            instrument_id=symbol))  # fmt: skip
        self.log.warning("venue_cancel_all_sent", symbols=symbols)
        return commands

    async def _control(self, request: ControlRequest) -> None:
        if request.action == RESET and request.request_id in self._refused:
            return  # refused before a restart: handled, never applied later
        if request.action == RESET and (left := await self._unknown_open_orders()):
            reason = "the venue still holds open orders this process does not know"
            self.log.critical(
                REFUSED, request_id=request.request_id, reason=reason, unknown_orders=left
            )
            self._refused.add(request.request_id)
            self._audit(REFUSED, {"request_id": request.request_id, "reason": reason})
            if self.journal is not None:
                await self.journal.flush()  # handled once: a later start must not apply it
            return
        await super()._control(request)
        if request.action == RESET:
            self.unknown_orders.clear()
            self.health.report(Health("reconciliation", Level.HEALTHY))
            await self._clear_stale_positions()

    async def _clear_stale_positions(self) -> None:
        """The operator reset a start halted on journaled positions: journal them flat (and a
        checkpoint), so the next start does not halt on them again."""
        held, self.stale_positions = self.stale_positions, ()
        if not held or self.journal is None:
            return
        now = self.kernel.clock.now_ns()
        for p in held:
            await self.journal.submit(PositionRecord(p.venue, p.symbol, Decimal(0), Decimal(0),
                                                     p.realized_pnl, now))  # fmt: skip
        self._checkpoint()
        await self.journal.flush()
        self.log.warning(
            "journal_positions_cleared", positions={p.symbol: p.quantity for p in held}
        )

    def _symbols(self) -> list[str]:
        return sorted({i for s in self.config.strategies for i in s.instruments})

    async def _unknown_open_orders(self) -> list[str]:
        """Client ids of the venue's open orders this process did not place (a fresh read)."""
        known = set(self.session.venue.tracker.orders)
        unknown: list[str] = []
        try:
            for symbol in self._symbols():
                rows = await self.session.rest.open_orders(symbol)
                unknown += [str(r.get("clientOrderId")) for r in rows if isinstance(r, dict)
                            and r.get("clientOrderId") not in known]  # fmt: skip
        except VenueError as exc:
            return [f"(open orders unreadable: {type(exc).__name__})"]
        return sorted(unknown)

    def _auth_failed(self, exc: AuthError) -> None:
        """The venue refused the key: no new exposure until an operator resets (R4)."""
        if self._auth_engaged:
            return
        self._auth_engaged = True
        self.kernel.risk.engage_kill_switch(_AUTH_REASON)
        self.health.report(Health("venue", Level.CRITICAL, _AUTH_REASON))
        self.log.critical(ENGAGED, reason=_AUTH_REASON, source="venue", code=exc.code)
        detail = {"source": "venue", "reason": _AUTH_REASON, "event_index": self.events}
        self._audit(ENGAGED, {**detail, "code": exc.code})

    # --- the daily-loss baseline ----------------------------------------------------------

    def _restore_baseline(self) -> None:
        """Today's baseline from the journal: a restart continues the day, never rebases it."""
        today = day_of(self.kernel.clock.now_ns())
        start = journaled_baseline(self.session.audits, today)
        if start is None:
            return
        self.daily_loss.restore(today, start)
        self.log.warning("daily_loss_baseline_restored", day=today, day_start_equity=start)

    def _risk_monitor(self) -> None:
        before = (self.daily_loss.day, self.daily_loss.day_start)
        super()._risk_monitor()
        self._journal_baseline(before)

    def _reset_kill_switch(self) -> None:
        before = (self.daily_loss.day, self.daily_loss.day_start)
        super()._reset_kill_switch()
        self._journal_baseline(before)

    def _journal_baseline(self, before: tuple[int | None, Decimal]) -> None:
        """A new day or a reset's rebase: journal the baseline a restart restores."""
        monitor = self.daily_loss
        if monitor.day is not None and (monitor.day, monitor.day_start) != before:
            self._audit(BASELINE, baseline_detail(monitor.day, monitor.day_start))

    # --- health and checkpoints -------------------------------------------------------------

    async def _health_task(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._venue_health())
            await super()._health_task()

    async def _venue_health(self) -> None:
        clock, stream = self.session.rest.clock, self.session.stream
        while not self.stopping.is_set():
            offset = clock.offset_ms
            changed = self.health.report(
                Health("venue_clock", Level.DEGRADED, f"venue clock offset {offset:.0f} ms")
                if clock.degraded
                else Health("venue_clock", Level.HEALTHY)
            )
            changed |= self.health.report(
                Health("user_stream", Level.DEGRADED, "user data stream silent or disconnected")
                if stream.degraded or not stream.subscribed
                else Health("user_stream", Level.HEALTHY)
            )
            if changed:
                snap = self.health.snapshot()
                self.log.warning("health_changed", status=snap.status, reasons=list(snap.reasons))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.config.health_interval_s)

    def _state_records(self, now: int) -> list[WriteRecord]:
        """The venue's balances (its own account cache), positions and strategy snapshots."""
        venue = self.session.venue
        records: list[WriteRecord] = [
            BalanceRecord(venue.name, b.asset, b.free, b.locked, now)
            for _, b in sorted(venue.balances.items())
        ]
        records.extend(
            PositionRecord(venue.name, p.instrument_id, p.qty, p.avg_open_px, p.realized_pnl, now)
            for p in self.kernel.portfolio.positions()
        )
        records.extend(
            StrategyStateRecord(sid, now, strategy.snapshot())
            for sid, strategy in sorted(self.kernel.strategies.items())
        )
        return records


def _detail(audit: AuditRecord) -> dict[str, Any]:
    try:
        detail = json.loads(audit.detail_json)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def run_live(config: DaemonConfig, endpoints: LiveEndpoints) -> int:
    """Open the session, reconcile, trade until stopped; return the exit code."""

    async def main() -> int:
        session = await open_live_session(
            config.symbol, endpoints, config.database_url, config.data_dir or Path("data")
        )
        daemon = LiveDaemon(config, session)
        try:
            return await serve(daemon)
        finally:
            await session.close()

    return asyncio.run(main())
