"""BatchingWriter: persistence off the trading loop, with one explicit durability point.

The trading loop hands records to ``submit_nowait`` (never waits, never drops:
a full queue raises ``StorageError``) or ``await submit`` (waits for room).
One drain task takes everything queued, up to ``max_batch`` records, and
writes it with ``Repository.write_batch`` in one transaction. Records are
written in the order they were submitted.

``await record_order_intent(order)`` is the durability point: it queues the
order behind everything submitted before it and returns only after the batch
holding it has committed, so an order is on disk before it is sent.

Failure policy is fail-stop: when a batch fails, every waiting caller gets the
``StorageError``, queued records are discarded, and every later call raises
it (chained). Persistence that silently skips records would break recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from genesis.errors import ConfigError, StorageError
from genesis.storage.repository import OrderRecord, Repository, WriteRecord

__all__ = ["BatchingWriter", "QueueStats"]

_Item = tuple[WriteRecord | None, asyncio.Future[None] | None]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Writer queue counters: ``depth`` queued now, ``written`` records committed."""

    depth: int
    max_depth: int
    written: int
    batches: int


class BatchingWriter:
    """Queue writes and commit them in batches from one owned drain task."""

    def __init__(self, repo: Repository, *, max_depth: int = 10_000, max_batch: int = 500) -> None:
        if max_depth < 1 or max_batch < 1:
            raise ConfigError(
                f"writer max_depth and max_batch must be >= 1, were {max_depth} and {max_batch}"
            )
        self._repo = repo
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=max_depth)
        self._task: asyncio.Task[None] | None = None
        self._error: StorageError | None = None
        self._closing = False
        self._written = 0
        self._batches = 0

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
        return QueueStats(self._queue.qsize(), self._queue.maxsize, self._written, self._batches)

    def submit_nowait(self, record: WriteRecord) -> None:
        """Queue a record without waiting.

        Raises:
            StorageError: the queue is full (nothing is dropped silently), the
                writer is closed, or an earlier batch failed.
        """
        self._check_usable()
        try:
            self._queue.put_nowait((record, None))
        except asyncio.QueueFull:
            raise StorageError(
                f"storage writer queue full ({self._queue.maxsize} records); record not queued"
            ) from None

    async def submit(self, record: WriteRecord) -> None:
        """Queue a record, waiting for room when the queue is full."""
        self._check_usable()
        await self._queue.put((record, None))

    async def record_order_intent(self, order: OrderRecord) -> None:
        """Persist an order intent and return once it is committed (durability point).

        Raises:
            StorageError: the write failed; the order must not be sent.
        """
        await self._wait_committed(order)

    async def flush(self) -> None:
        """Return once everything submitted before this call is committed."""
        await self._wait_committed(None)

    async def aclose(self) -> None:
        """Write what is queued, stop the drain task, and close nothing else.

        Raises:
            StorageError: a batch failed (now or earlier).
        """
        if self._task is None or self._closing:
            return
        self._closing = True
        if not self._task.done():
            await self._queue.put((None, None))  # the stop marker
        try:
            await self._task  # re-raises the drain task's StorageError
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
        self._check_usable()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((record, done))
        if self._task is not None and self._task.done() and not done.done():
            # the drain task ended while we waited for room: nobody will commit this
            raise StorageError("storage writer stopped before committing") from self._error
        await done

    async def _drain(self) -> None:
        stop = False
        batch: list[_Item] = []
        try:
            while not stop:
                batch = [await self._queue.get()]
                while len(batch) < self._max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                stop = any(rec is None and fut is None for rec, fut in batch)
                await self._commit(batch)
                batch = []
        except asyncio.CancelledError:
            self._fail(StorageError("storage writer was cancelled before committing"), batch)
            raise

    async def _commit(self, batch: Sequence[_Item]) -> None:
        records = [rec for rec, _ in batch if rec is not None]
        try:
            if records:
                await self._repo.write_batch(records)
        except StorageError as exc:
            self._fail(exc, batch)
            raise
        if records:
            self._written += len(records)
            self._batches += 1
        for _, fut in batch:
            if fut is not None and not fut.done():
                fut.set_result(None)

    def _fail(self, exc: StorageError, batch: Sequence[_Item]) -> None:
        self._error = exc
        self._fail_pending(exc, batch)

    def _fail_pending(self, exc: StorageError, batch: Sequence[_Item]) -> None:
        pending = list(batch)
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for _, fut in pending:
            if fut is not None and not fut.done():
                fut.set_exception(exc)
