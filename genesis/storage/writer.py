"""BatchingWriter: persistence off the trading loop, with one explicit durability point.

The trading loop hands records to ``submit_nowait`` (never waits, never drops:
a full queue raises ``StorageError``) or ``await submit`` (waits for room).
One drain task takes everything queued, up to ``max_batch`` records, and
writes it with ``Repository.write_batch`` in one transaction. Records are
written in the order they were submitted. ``max_batch`` caps throughput at
``max_batch`` records per commit latency: 5,000 keeps a slow commit (tens of
ms on a loaded machine, each order ~7 records) above 10,000 orders/s.

``await record_order_intent(order)`` is the durability point: it queues the
order behind everything submitted before it and returns only after the batch
holding it has committed, so an order is on disk before it is sent.

Failure policy is fail-closed (reliability plan R17): when a batch fails
(disk full, database locked, connection killed, fsync error), nothing is
discarded and nobody is told it committed. The writer keeps the batch and
retries the same transaction with capped backoff; callers waiting on a
durability point keep waiting, so an order whose intent is not committed is
never sent and trading pauses. ``fault`` says why meanwhile (the daemon
reports it as CRITICAL health); ``on_fault``/``on_recovered`` are called once
per outage. When the database accepts the batch again everything continues
in order. A transaction is all or nothing, so retrying it writes each record
once. A permanent error (a constraint violation: a bug) stops the writer
instead: every waiting caller and every later call gets it. Only ``aclose``
gives up on a transient fault, after ``close_timeout_s``, with the
``StorageError``: what was not committed is then rebuilt by recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from genesis.errors import ConfigError, StorageError
from genesis.retry import Backoff, BackoffPolicy, retry
from genesis.storage.repository import (
    OrderRecord,
    Repository,
    StrategyStateRecord,
    WriteRecord,
)

__all__ = ["BatchingWriter", "QueueStats"]

_Item = tuple[WriteRecord | None, asyncio.Future[None] | None]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Writer queue counters: ``depth`` queued now, ``written`` records committed."""

    depth: int
    max_depth: int
    written: int
    batches: int
    failures: int = 0  # failed commit attempts (each was retried)
    outages: int = 0  # distinct periods during which commits failed


class BatchingWriter:
    """Queue writes and commit them in batches from one owned drain task."""

    def __init__(
        self,
        repo: Repository,
        *,
        max_depth: int = 10_000,
        max_batch: int = 5_000,
        retry_base_s: float = 0.05,
        retry_cap_s: float = 2.0,
        close_timeout_s: float = 5.0,
        write_timeout_s: float = 30.0,
        on_fault: Callable[[StorageError], None] | None = None,
        on_recovered: Callable[[float], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_depth < 1 or max_batch < 1:
            raise ConfigError(
                f"writer max_depth and max_batch must be >= 1, were {max_depth} and {max_batch}"
            )
        self._repo = repo
        self._max_batch = max_batch
        # a deque and two events, not an asyncio.Queue: each order queues ~7 records, and
        # the Queue's per-item bookkeeping was a tenth of the journaled order path
        self._items: deque[_Item] = deque()
        self._max_depth = max_depth
        self._ready = asyncio.Event()  # set while something is queued
        self._room = asyncio.Event()  # set while the queue is below max_depth
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self._error: StorageError | None = None
        self._closing = False
        self._written = 0
        self._batches = 0
        self._failures = 0
        self._outages = 0
        try:  # no jitter: one database, nobody to spread apart; exact min(cap, base * 2**n)
            self._retry = BackoffPolicy(initial_s=retry_base_s, cap_s=retry_cap_s, jitter=0.0)
        except ValueError as exc:
            raise ConfigError(f"writer retry: {exc}") from None
        self._close_timeout_s = close_timeout_s
        self._write_timeout_s = write_timeout_s
        self._on_fault = on_fault
        self._on_recovered = on_recovered
        self._sleep = sleep  # the retry wait, injected so tests do not wait
        self.fault: StorageError | None = None  # set while commits fail (being retried)

    async def __aenter__(self) -> BatchingWriter:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start the drain task on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="db-writer")

    def statistics(self) -> QueueStats:
        """Current counters (records, not flush markers)."""
        return QueueStats(
            len(self._items),
            self._max_depth,
            self._written,
            self._batches,
            self._failures,
            self._outages,
        )

    def submit_nowait(self, record: WriteRecord) -> None:
        """Queue a record without waiting.

        Raises:
            StorageError: the queue is full (nothing is dropped silently), the
                writer is closed, or an earlier batch failed.
        """
        self._check_usable()
        if len(self._items) >= self._max_depth:
            raise StorageError(
                f"storage writer queue full ({self._max_depth} records); record not queued"
            )
        self._items.append((record, None))
        self._ready.set()

    def room(self) -> int:
        """How many records ``submit_nowait`` can queue now before the queue is full."""
        return self._max_depth - len(self._items)

    async def submit(self, record: WriteRecord) -> None:
        """Queue a record, waiting for room when the queue is full."""
        self._check_usable()
        await self._put((record, None))

    async def _put(self, item: _Item) -> None:
        """Queue ``item``, waiting for room when the queue is full."""
        while len(self._items) >= self._max_depth:
            self._room.clear()
            await self._room.wait()
        self._items.append(item)
        self._ready.set()

    async def record_order_intent(self, order: OrderRecord) -> None:
        """Persist an order intent and return once it is committed (durability point).

        Raises:
            StorageError: the write failed; the order must not be sent.
        """
        await self._wait_committed(order)

    async def flush(self) -> None:
        """Return once everything submitted before this call is committed."""
        await self._wait_committed(None)

    async def mark(self) -> asyncio.Future[None]:
        """Queue a durability marker now and return without waiting for the commit.

        The returned future resolves once everything submitted before this call
        is committed (the same point as ``flush``), or fails with the
        ``StorageError`` that ``flush`` would raise. It lets a caller pipeline:
        queue the next round's intents while this round's commit is in flight,
        and send this round only when its future resolves (group commit).
        """
        return await self._queue_marker(None)

    async def aclose(self) -> None:
        """Write what is queued, stop the drain task, and close nothing else.

        Raises:
            StorageError: the database still failed ``close_timeout_s`` after
                the close began; what was queued is not committed.
        """
        if self._task is None or self._closing:
            return
        self._closing = True
        task = self._task
        try:
            async with asyncio.timeout(self._close_timeout_s):
                if not task.done():
                    await self._put((None, None))  # the stop marker
                await asyncio.shield(task)  # re-raises if the drain task failed
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, StorageError):
                await task
            raise StorageError(
                f"storage writer closed with records not committed: {self.fault}"
            ) from self.fault
        finally:
            # callers that queued behind the stop marker would otherwise wait forever
            self._fail_pending(StorageError("storage writer closed before committing"), [])

    def _check_usable(self) -> None:
        if self._error is not None:
            raise StorageError(f"storage writer stopped after an error: {self._error}") from (
                self._error
            )
        if self._closing or self._task is None:
            raise StorageError("storage writer is not running (start() it; not after aclose())")

    async def _wait_committed(self, record: WriteRecord | None) -> None:
        await (await self._queue_marker(record))

    async def _queue_marker(self, record: WriteRecord | None) -> asyncio.Future[None]:
        self._check_usable()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._put((record, done))
        if self._task is not None and self._task.done() and not done.done():
            # the drain task ended while we waited for room: nobody will commit this
            raise StorageError("storage writer stopped before committing") from self._error
        return done

    async def _drain(self) -> None:
        stop = False
        batch: list[_Item] = []
        try:
            items = self._items
            while not stop:
                while not items:
                    self._ready.clear()
                    await self._ready.wait()
                take = min(len(items), self._max_batch)
                batch = [items.popleft() for _ in range(take)]
                self._room.set()
                stop = any(rec is None and fut is None for rec, fut in batch)
                await self._commit(batch)
                batch = []
        except asyncio.CancelledError:
            self._fail(StorageError("storage writer was cancelled before committing"), batch)
            raise

    async def _commit(self, batch: Sequence[_Item]) -> None:
        records = _without_superseded([rec for rec, _ in batch if rec is not None])
        if records:
            await self._write_until_committed(records, batch)
            self._written += len(records)
            self._batches += 1
        for _, fut in batch:
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def _write_until_committed(
        self, records: list[WriteRecord], batch: Sequence[_Item]
    ) -> None:
        """Retry a transiently failing transaction until it commits (fail closed)."""
        started = 0.0

        def transient(exc: Exception) -> bool:
            self._failures += 1
            return isinstance(exc, StorageError) and exc.transient

        def on_retry(_attempt: int, exc: Exception, _delay_s: float) -> None:
            nonlocal started
            assert isinstance(exc, StorageError)  # transient() retries nothing else
            if self.fault is None:
                self._outages += 1
                started = asyncio.get_running_loop().time()
                if self._on_fault is not None:
                    self._on_fault(exc)
            self.fault = exc

        try:
            await retry(lambda: self._write_once(records), retry_on=transient,
                        backoff=Backoff(self._retry), on_retry=on_retry,
                        sleep=self._sleep)  # fmt: skip
        except Exception as exc:
            # a bug, not the environment: retrying cannot help; never leave a caller
            # waiting on a drain task that died
            error = exc if isinstance(exc, StorageError) else StorageError(
                f"storage write failed: {type(exc).__name__}: {exc}")  # fmt: skip
            self._fail(error, batch)
            raise error from exc
        if self.fault is not None:
            self.fault = None
            if self._on_recovered is not None:
                self._on_recovered(asyncio.get_running_loop().time() - started)

    async def _write_once(self, records: list[WriteRecord]) -> None:
        """One bounded transaction: a write stuck on a dead connection is a transient fault."""
        try:
            async with asyncio.timeout(self._write_timeout_s):
                await self._repo.write_batch(records)
        except TimeoutError:
            raise StorageError(
                f"storage write did not finish within {self._write_timeout_s} s", transient=True
            ) from None

    def _fail(self, exc: StorageError, batch: Sequence[_Item]) -> None:
        self._error = exc
        self._fail_pending(exc, batch)

    def _fail_pending(self, exc: StorageError, batch: Sequence[_Item]) -> None:
        pending = [*batch, *self._items]
        self._items.clear()
        self._room.set()
        for _, fut in pending:
            if fut is not None and not fut.done():
                fut.set_exception(exc)


def _without_superseded(records: list[WriteRecord]) -> list[WriteRecord]:
    """``records`` less every ``latest_only`` state mark that a later one of the same
    strategy id in the same batch supersedes. One transaction writes them all, so no
    reader could ever see the dropped ones, and the table is read by its newest row:
    the result is the same, with one row where a busy loop queued hundreds."""
    last: dict[str, int] = {}
    marks = 0
    for i, record in enumerate(records):
        if type(record) is StrategyStateRecord and record.latest_only:
            last[record.strategy_id] = i
            marks += 1
    if marks == len(last):
        return records  # nothing superseded
    keep = set(last.values())
    return [
        r
        for i, r in enumerate(records)
        if i in keep or not (type(r) is StrategyStateRecord and r.latest_only)
    ]
