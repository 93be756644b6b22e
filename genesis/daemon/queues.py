"""Bounded queues between the asyncio shell and the kernel, with visible backpressure (R19).

Three policies, chosen per queue at construction:

* ``BLOCK``: ``put`` waits for room (commands to a venue);
* ``DROP_OLDEST``: ``put_nowait`` never waits; when full the oldest item is
  dropped and counted (market data: a fresher tick replaces a stale one);
* ``NEVER_DROP``: ``put_nowait`` raises ``QueueFull`` rather than lose an item
  (orders and fills: the caller must slow down or fail loudly).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BoundedQueue", "QueuePolicy", "QueueStats"]

T = TypeVar("T")


class QueuePolicy(enum.Enum):
    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    NEVER_DROP = "never_drop"


@dataclass(frozen=True, slots=True)
class QueueStats:
    name: str
    depth: int
    maxsize: int
    max_depth: int
    put: int
    got: int
    dropped: int


class BoundedQueue(Generic[T]):
    """An ``asyncio.Queue`` with a size limit, a full-queue policy and statistics."""

    def __init__(self, name: str, maxsize: int, policy: QueuePolicy) -> None:
        if maxsize < 1:
            raise ValueError(f"queue {name}: maxsize must be >= 1, was {maxsize}")
        self.name = name
        self.policy = policy
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._max_depth = self._put = self._got = self._dropped = 0

    def put_nowait(self, item: T) -> None:
        """Enqueue without waiting, applying the policy when full.

        Raises:
            asyncio.QueueFull: full, and the policy is BLOCK or NEVER_DROP.
        """
        queue = self._queue
        if queue.full() and self.policy is QueuePolicy.DROP_OLDEST:
            queue.get_nowait()
            self._dropped += 1
        queue.put_nowait(item)
        self._count_put()

    async def put(self, item: T) -> None:
        """Enqueue, waiting for room unless the policy drops the oldest item."""
        if self.policy is QueuePolicy.DROP_OLDEST:
            self.put_nowait(item)
            return
        await self._queue.put(item)
        self._count_put()

    async def get(self) -> T:
        item = await self._queue.get()
        self._got += 1
        return item

    def get_nowait(self) -> T:
        """Raises ``asyncio.QueueEmpty`` when there is nothing to take."""
        item = self._queue.get_nowait()
        self._got += 1
        return item

    def qsize(self) -> int:
        return self._queue.qsize()

    def _count_put(self) -> None:
        self._put += 1
        self._max_depth = max(self._max_depth, self._queue.qsize())

    def statistics(self) -> QueueStats:
        return QueueStats(
            name=self.name,
            depth=self._queue.qsize(),
            maxsize=self._queue.maxsize,
            max_depth=self._max_depth,
            put=self._put,
            got=self._got,
            dropped=self._dropped,
        )
