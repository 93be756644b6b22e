"""Recovery: how a daemon begins, behind one interface (``begin``, ``on_reset``).

``PaperRecovery`` rebuilds. The paper venue is simulated and deterministic,
so a restart replays the session's market events silently (nothing logged,
sent or journaled) with the configs, kills, resets and shutdown orders
applied at the event index where they happened, up to the journal's
progress mark: the last event whose records reached the journal. It resumes
exactly at the crash point, so no order is sent twice. Then it checks the
rebuild against the journal: every journaled fill must be reproduced (else
HALTED, naming the difference), and the paper accounts must equal the
balances journaled at the last checkpoint; fills the crashed run made but
did not get to journal are journaled now, and journaled orders whose status
went stale take the rebuilt status.

``LiveRecovery`` reconciles. A live venue cannot be replayed: the venue is
the truth (``genesis.daemon.reconcile``). It journals the venue's fills the
journal lacks and its balances, restores the kill switch, the day's loss
baseline and the circuit breakers' running pauses, and comes up HALTED (kill
switch engaged, reason named) on anything it cannot explain. The orders the
kernel emulated come back with their journaled state, icebergs reassembled
from their slices and fills (``genesis.daemon.emulated``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from genesis.config.models import StrategyConfig
from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide
from genesis.core.events import OrderFilled, TradeCompleted
from genesis.core.orders import Order
from genesis.daemon.control import CLEARED, ENGAGED, TRADE, kill_state, refused_requests
from genesis.daemon.emulated import held_state, reassemble, slice_of, slices_by_parent
from genesis.daemon.health import Health, Level
from genesis.daemon.journal import CHECKPOINT_ID, PROGRESS_ID
from genesis.daemon.logs import plain
from genesis.daemon.reconcile import (
    LIVE,
    PAPER,
    check_session_mode,
    journaled_baseline,
    journaled_breakers,
    reconcile,
)
from genesis.daemon.records import INTENT, emulated_from, event_record, fill_record, intent_from
from genesis.daemon.reload import ConfigChange
from genesis.daemon.risk_reload import APPLIED as COMPLIANCE_APPLIED
from genesis.daemon.session_record import paper_detail
from genesis.errors import ConfigError, GenesisError
from genesis.execution.emulation import EmulatedState
from genesis.execution.restore import order_from_intent
from genesis.risk.config import ComplianceModel, RiskConfig
from genesis.risk.monitor import day_of
from genesis.storage.repository import (
    AuditRecord,
    BalanceRecord,
    FillRecord,
    OrderRecord,
    WriteRecord,
)

if TYPE_CHECKING:
    from genesis.daemon.daemon import Daemon
    from genesis.daemon.venues import LiveVenues

__all__ = ["LiveRecovery", "PaperRecovery", "events_done", "replay_actions"]

_REPLAYED = (
    "config_applied", ENGAGED, CLEARED, "shutdown_orders", COMPLIANCE_APPLIED,
    # the control API's orders, cancels and modifies (genesis.daemon.operator)
    "api_order", "api_close_position", "api_cancel", "api_modify",
)  # fmt: skip


def _detail(audit: AuditRecord) -> dict[str, Any]:
    try:
        detail = json.loads(audit.detail_json)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _events(record: Any) -> int:
    return 0 if record is None else int(json.loads(record.blob)["events"])


def _acted(audits: list[AuditRecord]) -> int:
    """The highest event index any journaled action names (0 without one)."""
    indexes = (_detail(a).get("event_index") for a in audits)
    return max((int(i) for i in indexes if isinstance(i, int)), default=0)


def events_done(checkpoint: Any, progress: Any, audits: list[AuditRecord]) -> int:
    """How many market events the journal proves the session processed, from its
    checkpoint and progress rows (``StrategyStateRecord`` or None) and its audit log."""
    # an audit row at event index N is durable proof that N events were processed,
    # though the progress record can lag it (a kill -9 between the two commits)
    return max(_events(checkpoint), _events(progress), _acted(audits))


def session_configs(audits: list[AuditRecord]) -> dict[str, Any]:
    for audit in audits:
        if audit.action == "session_started":
            configs = _detail(audit).get("configs", {})
            return configs if isinstance(configs, dict) else {}
    return {}


def session_compliance(audits: list[AuditRecord]) -> ComplianceModel | None:
    """The compliance section a paper session started with (its ``session_started`` row's
    risk config; the defaults, no rules, when it had none), or None for a session started
    before sessions recorded their settings."""
    for audit in audits:
        if audit.action == "session_started":
            paper = _detail(audit).get("paper")
            if not isinstance(paper, dict):
                return None
            risk = paper.get("risk")
            return RiskConfig.model_validate(risk).compliance if risk else ComplianceModel()
    return None


def replay_actions(audits: list[AuditRecord]) -> list[tuple[int, AuditRecord]]:
    """The (event index, action)s a rebuild re-applies, in order. Automatic kill-switch
    engagements (daily loss) are left out: the kernel re-derives them."""
    actions: list[tuple[int, int, AuditRecord]] = []
    for n, audit in enumerate(audits):
        if audit.action not in _REPLAYED:
            continue
        detail = _detail(audit)
        if audit.action == ENGAGED and detail.get("source") not in ("operator", "signal"):
            continue
        if "event_index" in detail:
            actions.append((int(detail["event_index"]), n, audit))
    actions.sort(key=lambda a: a[:2])
    return [(index, a) for index, _, a in actions]


async def start_session(d: Daemon, mode: str, audits: list[AuditRecord], **extra: Any) -> bool:
    """Journal ``session_started`` and the configs for a new journal; True if it was new."""
    if d.journal is None or any(a.action == "session_started" for a in audits):
        return False
    now = d.kernel.clock.now_ns()
    configs = {c.id: c.model_dump(mode="json") for c in d.config.strategies}
    detail = {"mode": mode, "configs": configs, **extra, **d.market.describe()}
    if mode == PAPER:  # what a replay of its session log builds the same kernel from
        detail["paper"] = paper_detail(d.config)
    d.journal.audit("session_started", detail, now)
    for config in d.config.strategies:
        d.journal.store_version(config, now)
    await d.journal.commit()
    return True


class PaperRecovery:
    """Rebuild a paper session from its market events; see the module docstring.

    ``last_round`` names the orders of the last event rebuilt: durable, so sent, but a
    crash between the commit and the log line can have kept them out of the log; the
    ``daemon_recovered`` line names them.
    """

    def __init__(self) -> None:
        self.last_round: list[str] = []

    async def begin(self, d: Daemon) -> None:
        if d.journal is None:
            await d.market.choose(None)
            return
        repo = d.journal.repo
        audits = await repo.audit_log(0)
        check_session_mode(audits, PAPER)  # never a live session's journal (R23)
        started = next((a for a in audits if a.action == "session_started"), None)
        await d.market.choose(_detail(started) if started else None)
        if await start_session(d, PAPER, audits):
            return
        d.refused = refused_requests(audits)
        checkpoint = await repo.load_strategy_state(CHECKPOINT_ID)
        progress = await repo.load_strategy_state(PROGRESS_ID)
        at_checkpoint = _events(checkpoint)
        done = events_done(checkpoint, progress, audits)
        limit = d.market.max_events
        if limit is not None and done > limit:
            raise ConfigError(
                f"--max-bars {limit} is below the {done} events this journal has already"
                " processed: the session cannot be rebuilt that far; raise --max-bars, or"
                " start a new session in another data directory"
            )
        balances = self._rebuild(d, done, at_checkpoint, audits)
        reason = await self._check(d, balances, checkpoint.ts_ns if checkpoint else None)
        d.progress.fed = d.progress.events = done
        for config in d.config.strategies:  # files edited while the daemon was down:
            if d.versions.get(config.id) != config:  # applied here, journaled at this index
                d.apply_config(ConfigChange(config, "edited while the daemon was stopped"))
        file_rules = (d.config.risk or RiskConfig()).compliance  # and the compliance rules
        d.risk_watcher.apply(file_rules, "edited while the daemon was stopped")
        if reason is not None:
            d.halted = reason
            d.health.report(Health("recovery", Level.CRITICAL, reason))
            d.log.critical(
                "daemon_halted",
                reason=reason,
                events=done,
                hint="the journal and the rebuilt session disagree; see docs/runbook.md",
            )

    def _rebuild(
        self, d: Daemon, done: int, at_checkpoint: int, audits: list[AuditRecord]
    ) -> dict[tuple[str, str], Decimal]:
        """Replay the first ``done`` events silently; the accounts at the checkpoint."""
        for raw in session_configs(audits).values():
            d.set_params(StrategyConfig.model_validate(raw))
        started = session_compliance(audits)  # the rules the session started with
        if started is not None:
            d.risk_watcher.restore(started)
        actions = replay_actions(audits)
        balances: dict[tuple[str, str], Decimal] = {}
        last: list[str] = []
        d.quiet, d.rebuilt_fills = True, []
        try:
            while actions and actions[0][0] < 0:  # applied before the strategies started
                self._apply(d, actions.pop(0)[1])
            d.driver.start()
            d.execute_now()
            for index, event in enumerate(d.market.recorded()):
                if index == at_checkpoint:
                    balances = _accounts(d)
                while actions and actions[0][0] <= index:
                    self._apply(d, actions.pop(0)[1])
                if index >= done:
                    break
                d.driver.step(event)
                last = [c.client_order_id for c in d.execute_now() if isinstance(c, SubmitOrder)]
                d.progress.events = index + 1
            else:
                balances = balances or _accounts(d)
            while actions and actions[0][0] <= done:  # what happened after the last event
                self._apply(d, actions.pop(0)[1])
        finally:
            d.quiet = False
        self.last_round = last
        return balances

    def _apply(self, d: Daemon, audit: AuditRecord) -> None:
        detail = _detail(audit)
        if audit.action == "config_applied":
            d.set_params(StrategyConfig.model_validate(detail["config"]))
        elif audit.action == COMPLIANCE_APPLIED:
            d.risk_watcher.restore(ComplianceModel.model_validate(detail["compliance"]))
        elif audit.action == ENGAGED:
            d.engage(
                str(detail.get("reason", "")), str(detail.get("source", "operator")),
                str(detail.get("request_id", "")), bool(detail.get("flatten")),
            )  # fmt: skip
        elif audit.action == CLEARED:
            d.reset(str(detail.get("reason", "")), str(detail.get("request_id", "")))
        elif audit.action == "shutdown_orders":
            scope = detail.get("scope")
            d.driver.send(d.kernel.flatten() if scope == "flatten" else d.kernel.cancel_entries())
        elif audit.action.startswith("api_"):
            _replay_api(d, audit.action, detail)
        d.execute_now()

    async def _check(
        self, d: Daemon, balances: dict[tuple[str, str], Decimal], checkpoint_ts: int | None
    ) -> str | None:
        assert d.journal is not None
        repo = d.journal.repo
        journaled = await repo.fills_since(0)
        reason = _fills_reason(d.rebuilt_fills, journaled)
        if reason is None and checkpoint_ts is not None:
            reason = _balances_reason(balances, await repo.load_balances(), checkpoint_ts)
        if reason is not None:
            return reason
        have = {(f.venue, f.symbol, f.trade_id) for f in journaled}
        missing = [f for f in d.rebuilt_fills if (f.venue, f.instrument_id, f.trade_id) not in have]
        for fill in missing:  # its order event row too: the journal's fills, complete
            await d.journal.writer.submit(event_record(fill))
            await d.journal.writer.submit(fill_record(fill))
        corrected = await self._correct_orders(d)
        await d.journal.commit()
        d.log.info(
            "daemon_recovered",
            events=d.progress.events,
            fills=len(journaled),
            fills_journaled_now=len(missing),
            orders_corrected=corrected,
            last_round=self.last_round,
        )
        d.rebuilt_fills = []
        return None

    async def _correct_orders(self, d: Daemon) -> int:
        """Journaled open orders whose rebuilt status differs take the rebuilt state."""
        assert d.journal is not None
        corrected = 0
        for row in await d.journal.repo.load_open_orders():
            order = d.kernel.oms.get(row.client_order_id)
            if order is not None and (order.status, order.filled_qty) != (
                row.status,
                row.filled_qty,
            ):
                d.journal.order(order, row.venue)
                corrected += 1
        return corrected

    def after_start(self, d: Daemon) -> None:
        """Nothing to restore: the rebuild ran the strategies through every event."""

    async def on_reset(self, d: Daemon) -> None:
        """Nothing to clear: a paper session's positions are rebuilt, never stale."""


def _accounts(d: Daemon) -> dict[tuple[str, str], Decimal]:
    return {
        (b.venue, b.asset): b.free + b.locked
        for b in d.venues.balance_records(0)
        if b.free + b.locked != 0
    }


def _fills_reason(rebuilt: list[OrderFilled], journal: list[FillRecord]) -> str | None:
    """None when every journaled fill is reproduced by the rebuild, else why not."""
    mine = {(f.trade_id, f.side, f.last_qty, f.last_px, f.fee) for f in rebuilt}
    theirs = {(f.trade_id, f.side, f.quantity, f.price, f.fee) for f in journal}
    lost = sorted(theirs - mine)
    if not lost:
        return None
    return (
        f"rebuilt fills differ from the journal: {len(lost)} journaled fills not reproduced"
        f" (e.g. {[t[0] for t in lost[:3]]})"
    )


def _balances_reason(
    rebuilt: dict[tuple[str, str], Decimal], stored: list[BalanceRecord], ts_ns: int
) -> str | None:
    """The rebuilt paper accounts must equal the balances journaled with the checkpoint."""
    at = {(b.venue, b.asset): b.free + b.locked for b in stored if b.ts_ns == ts_ns}
    at = {k: v for k, v in at.items() if v != 0}
    if not at or at == rebuilt:
        return None  # balances of that checkpoint were not committed: fills decide alone
    shown = {f"{v}:{a}": plain(x) for (v, a), x in sorted(rebuilt.items())}
    theirs = {f"{v}:{a}": plain(x) for (v, a), x in sorted(at.items())}
    return f"rebuilt balances {shown} differ from the journal's {theirs}"


class LiveRecovery:
    """Reconcile with the live venue at start-up; see the module docstring.

    What the journal proves is taken over, not halted on: the orders this process
    placed (any journaled intent not terminal: resolved by the venue's answer to
    a query by client id, never sent again), the positions its fills made (the
    journal's fills plus the venue's backfill, booked per strategy) and each
    strategy's last state. What it cannot explain halts it: an open order at the
    venue that no journaled intent placed, a fill of such an order, or a base
    balance smaller than the positions the journal says the strategies hold.
    """

    def __init__(
        self,
        venues: LiveVenues,
        audits: list[AuditRecord],
        journaled_fills: list[FillRecord],
        relay: Any = None,
    ) -> None:
        self.venues = venues
        self.audits = audits
        self.journaled_fills = journaled_fills
        self.relay = relay  # the native venue's auth-failure relay, if it has one
        self.states: dict[str, bytes] = {}  # strategy id -> its last journaled snapshot
        self.emulated: list[str] = []  # the icebergs adopted (resumed once the switch is back)

    async def begin(self, d: Daemon) -> None:
        assert d.journal is not None
        names = [v.name for v in self.venues.live]
        await start_session(d, LIVE, self.audits, venues=names)
        d.refused = refused_requests(self.audits)
        orders = {o.client_order_id: o for o in await d.journal.repo.load_orders()}
        fills, unknown, halts = await self._reconcile_venues(d, orders)
        strange = self._restore_positions(d, fills, orders)
        adopted = await self._adopt(d, orders, fills)
        await self._load_states(d)
        balances = self._start_balances()
        d.log.info(
            "live_reconciled",
            venues=names,
            fills_backfilled=len(fills) - len(self.journaled_fills),
            open_orders=sum(len(v.snapshot.open_orders) for v in self.venues.live),
            unknown_orders=len(unknown),
            orders_adopted=adopted,
            positions=_positions(d),
            balances={a: plain(v) for a, v in balances.items()},
        )
        self._restore_baseline(d)
        self._restore_breakers(d)
        if self.relay is not None:
            self.relay.target = lambda exc: _venue_kill(d, exc)
            for exc in self.relay.failures:
                _venue_kill(d, exc)
        self._restore_kill_switch(d, self.audits)
        reasons = (*halts, strange, _balance_reason(d, balances, fills))
        reason = "; ".join(r for r in reasons if r is not None) or None
        if reason is not None:
            self._halt(d, reason, sorted(unknown))
        # icebergs between two slices go on, through the kill switch and breakers restored
        d.driver.send(d.kernel.resume_emulated(self.emulated))
        await d.journal.commit()

    async def _reconcile_venues(
        self, d: Daemon, orders: dict[str, OrderRecord]
    ) -> tuple[list[FillRecord], list[str], list[str | None]]:
        """Each venue's snapshot against the journal: backfilled fills and balances journaled."""
        assert d.journal is not None
        fills, unknown, halts = list(self.journaled_fills), [], []
        for v in self.venues.live:
            mine = [f for f in self.journaled_fills if f.venue == v.name]
            found = reconcile(v.snapshot, mine, set(orders), v.name, time.time_ns())
            records: list[WriteRecord] = [*found.fills, *found.balances]
            for record in records:
                await d.journal.writer.submit(record)  # awaited: a backfill may exceed the queue
            fills += found.fills
            unknown += [o.client_order_id for o in found.unknown_orders]
            halts.append(found.halt_reason)
        return fills, unknown, halts

    def _start_balances(self) -> dict[str, Decimal]:
        """Every venue's balances at the snapshot, summed by asset."""
        total: dict[str, Decimal] = {}
        for v in self.venues.live:
            for b in v.snapshot.balances.values():
                total[b.asset] = total.get(b.asset, Decimal(0)) + b.free + b.locked
        return total

    def _restore_positions(
        self, d: Daemon, fills: list[FillRecord], orders: dict[str, OrderRecord]
    ) -> str | None:
        """Book every journaled fill of this process's orders; name fills of other orders.

        A round trip the audit trail already holds (``strategy_trade``: logged and
        journaled by the process that saw its closing fill) is not announced again; one
        closed by a fill backfilled now (made while no process ran), or whose row a kill
        kept from the journal, is."""
        foreign = []
        for record in sorted(fills, key=lambda f: (f.ts_ns, f.trade_id)):
            order = orders.get(record.client_order_id)
            if order is None:
                foreign.append(record.trade_id)
                continue
            d.kernel.restore_fill(_filled(record, order.strategy_id))
        announced = _announced_trades(self.audits)
        for notice in d.kernel.take_notices():
            key = (
                (notice.strategy_id, notice.instrument_id, notice.opened_ns)
                if isinstance(notice, TradeCompleted)
                else None
            )
            if key is None or key not in announced:
                d._on_notice(notice)  # what the driver does with a notice, now
        if not foreign:
            return None
        return (
            f"the venue shows {len(foreign)} fill(s) of orders this process did not place"
            f" (trade ids {foreign[:5]}); check the account, then `genesis reset --live`"
        )

    async def _adopt(
        self, d: Daemon, orders: dict[str, OrderRecord], fills: list[FillRecord]
    ) -> int:
        """Every journaled order not terminal: rebuilt in the kernel, resolved at the venue.
        An iceberg's slices are adopted with their parent (``genesis.daemon.emulated``)."""
        assert d.journal is not None
        by_order: dict[str, list[OrderFilled]] = {}
        for record in fills:
            order = orders.get(record.client_order_id)
            if order is not None:
                by_order.setdefault(order.client_order_id, []).append(
                    _filled(record, order.strategy_id)
                )
        states = {r.client_order_id: emulated_from(r) for r in await d.journal.repo.load_emulated()}
        slices = slices_by_parent(list(orders), orders)
        ids: list[str] = []
        for cid, row in orders.items():
            if row.status.is_terminal or slice_of(cid, orders) is not None:
                continue  # finished, or a slice: its parent adopts it
            venue = next((v for v in self.venues.live if v.name == row.venue), None)
            if venue is None:
                continue  # a venue this session does not trade: its orders stay as journaled
            known = _Known(states.get(cid), slices.get(cid, []), by_order, orders)
            adopted, ask = await self._adopt_one(d, row, known)
            if adopted.status.is_terminal:  # its fills (journaled or backfilled) complete it:
                d.journal.order(adopted, row.venue)  # the row takes that status; nothing to ask
            elif ask is not None:  # at the venue: ask it where it stands
                venue.recover(ask, ask.ts_init // 1_000_000)
            ids.append(cid)
        # an entry that filled while the process was down gets its stop and target now
        d.driver.send(d.kernel.protect_adopted(ids))
        return len(ids)

    async def _adopt_one(
        self, d: Daemon, row: OrderRecord, known: _Known
    ) -> tuple[Order, SubmitOrder | None]:
        """One journaled order adopted; the order to ask its venue about (None: held here)."""
        cid = row.client_order_id
        intent, release = await self._intents(d, row)
        held = held_state(intent, release, known.state)
        if held is None:  # the venue's order
            return d.kernel.adopt(intent, known.fills.get(cid, ())), intent
        if intent.display_qty is not None:
            return await self._adopt_iceberg(d, row, intent, held, known)
        # a modify of a held order is applied here at once (``Kernel._modify``): its row
        # has the terms it was held with, its first command those it was placed with
        if (row.quantity, row.price) != (intent.quantity, intent.price):
            intent = msgspec.structs.replace(intent, quantity=row.quantity, price=row.price)
        adopted = d.kernel.adopt(intent, known.fills.get(cid, ()), held)
        _log_restored(d, adopted, d.kernel.emulator.state(cid) or held)
        return adopted, release  # released: the venue has it as itself

    async def _adopt_iceberg(
        self, d: Daemon, row: OrderRecord, intent: SubmitOrder, held: EmulatedState, known: _Known
    ) -> tuple[Order, SubmitOrder | None]:
        """An iceberg with its slices (``genesis.daemon.emulated.reassemble``); its working
        slice is the one to ask the venue about. Finished slices' rows take their fills."""
        assert d.journal is not None
        pieces = [await self._intent_of(d, f"{row.client_order_id}-s{n}", known.orders)
                  for n in known.slices]  # fmt: skip
        iceberg = reassemble(intent, held, pieces, known.fills)
        adopted = d.kernel.adopt(intent, iceberg.fills, iceberg.state, iceberg.working)
        for piece, piece_fills in iceberg.finished:
            d.journal.order(order_from_intent(piece, piece_fills), row.venue)
        self.emulated.append(row.client_order_id)
        _log_restored(d, adopted, iceberg.state)
        return adopted, None if iceberg.working is None else iceberg.working[0]

    async def _intent_of(self, d: Daemon, cid: str, orders: dict[str, OrderRecord]) -> SubmitOrder:
        """The journaled command of ``cid`` (an iceberg's slice), else its row's terms."""
        assert d.journal is not None
        for event in await d.journal.repo.order_events(cid):
            if event.kind == INTENT:
                return intent_from(event)
        return self._row_intent(orders[cid])

    async def _intents(self, d: Daemon, row: OrderRecord) -> tuple[SubmitOrder, SubmitOrder | None]:
        """The journaled command and, for an order the kernel held (emulated), the order it
        was released as on its trigger (same client id), if it got that far."""
        assert d.journal is not None
        found = [
            intent_from(event)
            for event in await d.journal.repo.order_events(row.client_order_id)
            if event.kind == INTENT
        ]
        if not found:
            return self._row_intent(row), None
        first = found[0]
        release = next((i for i in found[1:] if not i.emulated), None) if first.emulated else None
        return first, release

    @staticmethod
    def _row_intent(row: OrderRecord) -> SubmitOrder:
        """A journal from before intents were kept: the order row's terms."""
        return SubmitOrder(
            ts_init=row.ts_init,
            strategy_id=row.strategy_id,
            instrument_id=row.symbol,
            client_order_id=row.client_order_id,
            side=row.side,
            order_type=row.order_type,
            quantity=row.quantity,
            price=row.price,
        )

    async def _load_states(self, d: Daemon) -> None:
        assert d.journal is not None
        for sid in sorted(d.kernel.strategies):
            state = await d.journal.repo.load_strategy_state(sid)
            if state is not None:
                self.states[sid] = state.blob

    def after_start(self, d: Daemon) -> None:
        """The strategies resume their journaled state (after their ``on_start``)."""
        for sid, blob in self.states.items():
            d.driver.send(d.kernel.restore_strategy(sid, blob))
        if self.states:
            d.log.info("strategy_state_restored", strategies=sorted(self.states))

    def _restore_baseline(self, d: Daemon) -> None:
        """Today's baseline from the journal: a restart continues the day, never rebases it."""
        now = d.kernel.clock.now_ns()
        today = day_of(now)
        start = journaled_baseline(self.audits, today)
        if start is None or d.kernel.risk.switch.daily_loss is None:
            return
        d.kernel.risk.switch.restore_baseline(now, today, start)
        d.log.info(
            "daily_loss_baseline_restored",
            date=time.strftime("%Y-%m-%d", time.gmtime(now // 1_000_000_000)),
            day_start_equity=plain(start),
        )

    def _restore_breakers(self, d: Daemon) -> None:
        """The pauses journaled as running continue to their cool-down's end (a paper
        rebuild needs none of this: replaying the events re-trips them)."""
        trips = journaled_breakers(self.audits)
        if trips:
            d.kernel.restore_breakers(trips)
            d.log.warning("breakers_restored", breakers=[t.as_dict() for t in trips])

    def _restore_kill_switch(self, d: Daemon, audits: list[AuditRecord]) -> None:
        """Come up as journaled; then send, as real commands, what the engagement still
        implies (its cancels may not have reached the venue before the crash)."""
        state = kill_state(audits)
        if not state.engaged:
            return
        d.kernel.restore_kill_switch(state.reason, state.source or "operator")
        d.health.report(Health("risk", Level.CRITICAL, f"kill switch: {state.reason}"))
        d.log.critical("kill_switch_restored", reason=state.reason, source=state.source)
        if state.source in ("operator", "venue", "signal"):
            d.driver.send(d.kernel.cancel_all())
        else:  # daily loss, reconciliation: the positions keep their stops and targets
            d.driver.send(d.kernel.cancel_entries())

    def _halt(self, d: Daemon, reason: str, unknown: list[str]) -> None:
        d.health.report(Health("reconciliation", Level.CRITICAL, reason))
        d.log.critical(
            "daemon_halted",
            reason=reason,
            unknown_orders=unknown,
            positions=_positions(d),
            hint="`genesis kill --live` cancels every open order at the venue;"
            " `genesis reset --live` resumes once the venue is explained",
        )
        d.engage(reason, "reconciliation", at_venue=False, scope="entries")

    async def on_reset(self, d: Daemon) -> None:
        """Nothing journaled needs clearing: positions are the journal's own fills."""


def _announced_trades(audits: list[AuditRecord]) -> set[tuple[str, str, int]]:
    """(strategy, instrument, opened ns) of every round trip the audit trail holds."""
    found = set()
    for audit in audits:
        if audit.action == TRADE:
            detail = _detail(audit)
            sid, iid, opened = (detail.get(k) for k in ("strategy_id", "instrument", "opened_ns"))
            if isinstance(sid, str) and isinstance(iid, str) and isinstance(opened, int):
                found.add((sid, iid, opened))
    return found


def _filled(record: FillRecord, strategy_id: str) -> OrderFilled:
    return OrderFilled(
        ts_event=record.ts_ns,
        ts_init=record.ts_ns,
        client_order_id=record.client_order_id,
        strategy_id=strategy_id,
        instrument_id=record.symbol,
        venue=record.venue,
        trade_id=record.trade_id,
        side=record.side,
        last_qty=record.quantity,
        last_px=record.price,
        fee=record.fee,
        fee_currency=record.fee_currency,
        liquidity=LiquiditySide.TAKER,
        venue_order_id=record.venue_order_id,
    )


def _positions(d: Daemon) -> dict[str, str | None]:
    """Non-zero positions by strategy and instrument, as plain decimals."""
    return {
        f"{sid}:{p.instrument_id}": plain(p.qty)
        for sid in sorted(d.kernel.strategies)
        for p in d.kernel.portfolio.positions(sid)
        if p.qty != 0
    }


def _balance_reason(d: Daemon, balances: dict[str, Decimal], fills: list[FillRecord]) -> str | None:
    """The venue must hold at least the base the journal's long positions hold, less the
    commissions it took in that base (Binance charges a buy's fee in what it bought)."""
    held: dict[str, Decimal] = {}
    for sid in d.kernel.strategies:
        for p in d.kernel.portfolio.positions(sid):
            if p.qty > 0:
                base = d.kernel.instruments(p.instrument_id).base
                held[base] = held.get(base, Decimal(0)) + p.qty
    for f in fills:
        if f.fee_currency in held:
            held[f.fee_currency] -= f.fee
    short = {a: q for a, q in held.items() if balances.get(a, Decimal(0)) < q}
    if not short:
        return None
    named = ", ".join(
        f"{a} {plain(balances.get(a, Decimal(0)))} < {plain(q)}" for a, q in sorted(short.items())
    )
    return (
        f"the venue holds less than the journal's positions ({named}): something sold"
        " outside this process; check the account, then `genesis reset --live`"
    )


def _venue_kill(d: Daemon, exc: Any) -> None:
    """The venue refused the key: no new exposure until an operator resets (R4). Queued
    for the trading loop, so it is applied between two events like an operator's kill."""
    from genesis.daemon.control import KILL, ControlRequest

    reason = "venue authentication failed"
    d.health.report(Health("venue", Level.CRITICAL, reason))
    d.log.critical("venue_auth_failed", code=getattr(exc, "code", None), reason=reason)
    request = ControlRequest(KILL, f"venue-auth-{getattr(exc, 'code', '')}", reason, source="venue")
    if request not in d.internal_requests:
        d.internal_requests.add(request)
        try:
            d.inbound.put_nowait(request)
        except asyncio.QueueFull:  # the loop is busy: queue it as soon as there is room
            d.later(d.inbound.put(request))


@dataclass(frozen=True, slots=True)
class _Known:
    """What the journal knows for adopting one order: its emulated state (if journaled),
    its slices' numbers (an iceberg's), every order's fills, every order's row."""

    state: EmulatedState | None
    slices: list[int]
    fills: dict[str, list[OrderFilled]]
    orders: dict[str, OrderRecord]


def _log_restored(d: Daemon, order: Order, state: EmulatedState) -> None:
    """The emulated order held again, with the numbers it was held with."""
    d.log.info(
        "emulated_order_restored",
        client_order_id=order.client_order_id,
        order_type=order.order_type.value,
        status=order.status.value,
        quantity=plain(order.quantity),
        price=None if order.price is None else plain(order.price),
        filled=plain(order.filled_qty),
        watermark=plain(state.watermark),
        trigger=plain(state.trigger),
        triggered=state.triggered,
        slice_no=state.slice_no,
        slice_leaves=plain(state.slice_leaves),
    )


def _replay_api(d: Daemon, action: str, detail: dict[str, Any]) -> None:
    """An operator's order, cancel or modify again, where it happened: the same factory
    uses up the same client order id, the kernel decides as it did."""
    from genesis.api.errors import ApiError
    from genesis.api.models import OrderRequest
    from genesis.daemon.operator import build_order

    cid = str(detail.get("client_order_id", ""))
    try:
        if action in ("api_order", "api_close_position"):
            if "request" not in detail:
                return  # a journal from before requests were kept: nothing to rebuild from
            order = build_order(d, OrderRequest.model_validate(detail["request"]))
            d.driver.send(d.kernel.submit(order)[1])
        elif action == "api_cancel":
            d.driver.send(d.kernel.cancel(cid))
        elif action == "api_modify":
            price, quantity = detail.get("price"), detail.get("quantity")
            d.driver.send(d.kernel.modify(
                cid, None if price is None else Decimal(str(price)),
                None if quantity is None else Decimal(str(quantity)),
            ))  # fmt: skip
    except (ApiError, GenesisError, ValueError) as exc:  # as refused then: changes nothing
        d.log.debug("replay_operator_action_refused", action=action, error=type(exc).__name__)
