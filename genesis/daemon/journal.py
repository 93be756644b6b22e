"""The journal part: what the daemon writes, in one place, off the trading path (DB-2).

Everything goes through one ``BatchingWriter`` (a queue drained by its own
task, committed in batches). Durability points are explicit: ``commit``
waits until every record queued so far is committed; the daemon calls it
with a round of order intents queued, before that round is sent (P1).

Each event's records are followed by a progress mark (how many market
events the session had started to process), in the same queue and so in the
same or a later transaction: after a crash the mark says exactly how far the
journal got, and a paper recovery rebuilds to there before it sends
anything (no client order id is ever sent twice).

Orders the kernel emulates (trailing stops, if-touched orders, icebergs) are
held by the kernel, not a venue, so what it holds of them is journaled too:
every change of an ``EmulatedState`` (a watermark ratchet, a trigger moved, a
release, a slice sent or filled) as one upserted ``emulated_orders`` row, and
the rows of the held orders and their slices as their status moves. The
daemon queues them before the intents of the round that follows from them,
so the commit that makes a release or a next slice durable makes its cause
durable too.

Kill-switch changes and daily-loss baselines arrive as kernel notices and
are journaled as audit rows of one shape: ``kill_switch_engaged`` /
``kill_switch_reset`` with source, reason, request id, flatten and the event
index, and ``daily_loss_baseline`` with the day and its starting equity; the
circuit breakers' ``BreakerTripped`` / ``BreakerCleared`` as ``breaker_tripped`` /
``breaker_cleared`` rows (scope, strategy, code, reason, since/until ns).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any

from genesis.config.models import StrategyConfig
from genesis.core.commands import SubmitOrder
from genesis.core.events import (
    BreakerCleared,
    BreakerTripped,
    DailyLossBaseline,
    Event,
    KillSwitchChanged,
    OrderEvent,
    OrderFilled,
    ParentOrderDone,
    RegimeSwitched,
    TradeCompleted,
)
from genesis.core.orders import Order
from genesis.daemon.control import CLEARED, ENGAGED, TCA, TRADE
from genesis.daemon.reconcile import (
    BASELINE,
    BREAKER_CLEARED,
    BREAKER_TRIPPED,
    baseline_detail,
    breaker_detail,
)
from genesis.daemon.records import (
    emulated_record,
    event_record,
    fill_record,
    intent_detail,
    intent_record,
    order_record,
)
from genesis.errors import StorageError
from genesis.execution.emulation import EmulatedState
from genesis.portfolio.performance import PerformanceBook, StrategyPerformance
from genesis.storage.repository import (
    AuditRecord,
    ConfigVersionRecord,
    PositionRecord,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
)
from genesis.storage.writer import BatchingWriter, QueueStats

__all__ = ["CHECKPOINT_ID", "PROGRESS_ID", "Journal"]

CHECKPOINT_ID = "__replay__"  # strategy-state row: events processed at the last checkpoint
REGIME = "strategy_regime"  # audit row: a strategy switched on/off by its regime
PROGRESS_ID = "__progress__"  # strategy-state row: events started when the journal last wrote
_HIGH_WATER = 5_000


class Journal:
    """The repository and its writer; typed methods for every record the daemon keeps."""

    def __init__(
        self,
        repo: SqlRepository,
        *,
        retry_s: tuple[float, float] = (0.05, 2.0),
        on_fault: Callable[[StorageError], None] | None = None,
        on_recovered: Callable[[float], None] | None = None,
    ) -> None:
        self.repo = repo
        base, cap = retry_s
        self.writer = BatchingWriter(
            repo, retry_base_s=base, retry_cap_s=cap, on_fault=on_fault, on_recovered=on_recovered
        )
        self.peak_depth = 0
        self.stats: QueueStats | None = None  # the writer's counters, after close
        self._dirty = False

    def start(self) -> None:
        self.writer.start()

    async def close(self) -> None:
        """Commit everything queued, stop the writer, close the repository."""
        try:
            await self.writer.aclose()
            self.stats = self.writer.statistics()
        finally:
            await self.repo.close()

    @property
    def backend(self) -> str:
        return self.repo.backend

    # --- order flow ------------------------------------------------------------------

    async def queue_intents(
        self, intents: Iterable[SubmitOrder], venue_of: Callable[[str], str]
    ) -> int:
        """Queue the intents of one round (awaits room in the queue); return how many."""
        n = 0
        writer = self.writer
        for intent in intents:
            row, detail = (
                intent_record(intent, venue_of(intent.instrument_id)),
                intent_detail(intent),
            )
            if writer.room() >= 2:  # the usual case: no coroutine per record
                writer.submit_nowait(row)
                writer.submit_nowait(detail)
            else:
                await writer.submit(row)
                await writer.submit(detail)
            n += 1
        self._dirty = self._dirty or n > 0
        return n

    def order_event(self, event: OrderEvent, order: Order | None, venue: str) -> None:
        """The event, the fill it carries, and the order's new state."""
        self.writer.submit_nowait(event_record(event))
        if isinstance(event, OrderFilled):
            self.writer.submit_nowait(fill_record(event))
        if order is not None:
            self.writer.submit_nowait(order_record(order, venue))
        self._dirty = True

    def emulated(
        self,
        orders: Iterable[Order],
        states: Iterable[EmulatedState],
        venue_of: Callable[[str], str],
        now_ns: int,
    ) -> None:
        """What changed of the orders the kernel emulates (``Emulator.take_changes``):
        the rows of held orders and their slices, and each changed state (one upserted
        row per order: the latest wins)."""
        for order in orders:
            self.writer.submit_nowait(order_record(order, venue_of(order.instrument_id)))
            self._dirty = True
        for state in states:
            self.writer.submit_nowait(emulated_record(state, now_ns))
            self._dirty = True

    def position(self, record: PositionRecord) -> None:
        self.writer.submit_nowait(record)
        self._dirty = True

    def strategy_state(self, strategy_id: str, blob: bytes, now_ns: int) -> None:
        self.writer.submit_nowait(StrategyStateRecord(strategy_id, now_ns, blob))
        self._dirty = True

    def order(self, order: Order, venue: str) -> None:
        """An order's current state (a reconciliation correcting a stale row)."""
        self.writer.submit_nowait(order_record(order, venue))
        self._dirty = True

    def progress(self, events_started: int, now_ns: int) -> None:
        """After an event that wrote anything: how far the session has got (see above)."""
        if self._dirty:
            blob = b'{"events": %d}' % events_started  # json.dumps's bytes, per event: cheaper
            self.writer.submit_nowait(StrategyStateRecord(PROGRESS_ID, now_ns, blob, True))
            self._dirty = False

    async def commit(self) -> None:
        """Wait until everything queued so far is committed (a durability point)."""
        await self.writer.flush()

    async def commit_later(self) -> asyncio.Future[None]:
        """Queue a durability point now; the future resolves once everything queued so
        far is committed (``commit`` without the wait: lets rounds pipeline)."""
        return await self.writer.mark()

    async def relieve(self) -> None:
        """Backpressure: past the high-water mark, wait for the writer to catch up."""
        depth = self.writer.statistics().depth
        self.peak_depth = max(self.peak_depth, depth)
        if depth > _HIGH_WATER:
            await self.writer.flush()

    # --- audit, notices, configs ------------------------------------------------------

    def audit(
        self, action: str, detail: dict[str, Any], now_ns: int, actor: str = "daemon"
    ) -> None:
        record = AuditRecord(now_ns, actor, action, json.dumps(detail, sort_keys=True, default=str))
        self.writer.submit_nowait(record)
        self._dirty = True

    def notice(self, notice: Event, event_index: int) -> None:
        """A kernel notice (kill switch, daily-loss baseline, breaker) as its audit row."""
        if isinstance(notice, KillSwitchChanged):
            detail = {
                "source": notice.source,
                "reason": notice.reason,
                "event_index": event_index,
                "request_id": notice.request_id,
                "flatten": notice.flatten,
            }
            self.audit(ENGAGED if notice.engaged else CLEARED, detail, notice.ts_event)
        elif isinstance(notice, DailyLossBaseline):
            detail = baseline_detail(notice.day, notice.day_start_equity)
            self.audit(BASELINE, detail, notice.ts_event)
        elif isinstance(notice, BreakerTripped | BreakerCleared):
            action = BREAKER_TRIPPED if isinstance(notice, BreakerTripped) else BREAKER_CLEARED
            self.audit(action, breaker_detail(notice, event_index), notice.ts_event)

    def trade(self, trade: TradeCompleted, performance: StrategyPerformance) -> None:
        """A strategy's completed round trip, with its running figures, as an audit row
        (``strategy_trade``): how a strategy is doing is readable from the journal."""
        detail = {
            "strategy_id": trade.strategy_id,
            "instrument": trade.instrument_id,
            "opened_ns": trade.opened_ns,
            "net_pnl": str(trade.net_pnl),
            "fills": trade.fills,
            "performance": performance.as_fields(),
        }
        self.audit(TRADE, detail, trade.ts_event)

    def strategy_notice(
        self, notice: TradeCompleted | ParentOrderDone | RegimeSwitched, book: PerformanceBook
    ) -> None:
        """A strategy's completed trade, parent order TCA or regime switch, as its audit row."""
        if isinstance(notice, TradeCompleted):
            self.trade(notice, book.of(notice.strategy_id))
        elif isinstance(notice, ParentOrderDone):
            self.audit(TCA, notice.fields, notice.ts_event)
        else:
            self.regime(notice)

    def regime(self, switched: RegimeSwitched) -> None:
        """A regime-gated strategy switched on or off (``strategy_regime`` audit row)."""
        detail = {
            "strategy_id": switched.strategy_id,
            "instrument": switched.instrument_id,
            "active": switched.active,
            "regime": switched.regime,
            "confidence": switched.confidence,
        }
        self.audit(REGIME, detail, switched.ts_event)

    def store_version(self, config: StrategyConfig, now_ns: int) -> None:
        """Keep every running version, by SHA-256, for ``genesis config versions|diff|rollback``."""
        body = json.dumps(config.model_dump(mode="json"), sort_keys=True, indent=2)
        self.writer.submit_nowait(ConfigVersionRecord(config.id, config.version_id(), body, now_ns))

    # --- checkpoints ----------------------------------------------------------------

    def checkpoint(
        self,
        records: Iterable[WriteRecord],
        events: int,
        now_ns: int,
        mid: Callable[[], None] | None = None,
    ) -> None:
        """State records, then the mark that makes the checkpoint whole (written last)."""
        for n, record in enumerate(records):
            self.writer.submit_nowait(record)
            if n == 1 and mid is not None:
                mid()
        blob = json.dumps({"events": events}).encode()
        self.writer.submit_nowait(StrategyStateRecord(CHECKPOINT_ID, now_ns, blob))
        self.writer.submit_nowait(StrategyStateRecord(PROGRESS_ID, now_ns, blob, True))
        self._dirty = False
