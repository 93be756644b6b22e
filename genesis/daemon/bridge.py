"""The seam between the synchronous driver and a live venue: ``VenueBridge`` and ``Mailbox``.

The driver drives a venue that answers synchronously: it calls ``execute``,
then asks ``next_arrival_ns``/``deliver_until`` for what came back, and
``process`` for fills a market event causes. A live venue answers later, on
its own tasks, through the sink it was started with. ``VenueBridge`` gives
the driver the venue surface it expects with nothing to deliver (so every
order event arrives through the one live path), and ``Mailbox`` is that
path: the sink appends to an ordered, unbounded buffer and puts a single
``VenueWake`` token on the trading loop's bounded inbound queue, which then
hands each event to the kernel through ``Driver.deliver``, the same
order-event path the paper daemon uses (journal, logs, correlation ids).

The buffer is unbounded on purpose: an order event is never dropped, and the
queue never blocks the venue's tasks. Its size is bounded in practice by the
orders in flight; ``Mailbox.peak`` reports it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from genesis.core.commands import Command
from genesis.core.events import MarketEvent, OrderEvent

__all__ = ["WAKE", "Mailbox", "VenueBridge", "VenueWake"]


@dataclass(frozen=True, slots=True)
class VenueWake:
    """Inbound item: order events are waiting in the mailbox."""


WAKE = VenueWake()


class Mailbox:
    """The venue's event sink: ordered, never drops, wakes the trading loop once per batch."""

    def __init__(self) -> None:
        self._events: deque[OrderEvent] = deque()
        self._wake: Callable[[], bool] | None = None
        self._woken = False
        self.received = 0
        self.peak = 0

    def attach(self, wake: Callable[[], bool]) -> None:
        """``wake()`` queues a ``VenueWake`` for the loop; False when the queue is full
        (the loop is busy then, and drains the mailbox after its current event)."""
        self._wake = wake
        self._ring()

    def __call__(self, event: OrderEvent) -> None:
        self._events.append(event)
        self.received += 1
        self.peak = max(self.peak, len(self._events))
        self._ring()

    def _ring(self) -> None:
        if self._events and not self._woken and self._wake is not None:
            self._woken = self._wake()

    def drain(self) -> list[OrderEvent]:
        """Everything received so far, in arrival order; the next event wakes the loop again."""
        self._woken = False
        events = list(self._events)
        self._events.clear()
        return events

    def __len__(self) -> int:
        return len(self._events)


class _Executes(Protocol):
    name: str

    def execute(self, command: Command, now_ns: int) -> None: ...


class VenueBridge:
    """What the driver needs from a venue, backed by a live venue (native or ccxt)."""

    def __init__(self, venue: _Executes) -> None:
        self.venue = venue
        self.name = venue.name

    def execute(self, command: Command, now_ns: int) -> None:
        self.venue.execute(command, now_ns)

    def process(self, event: MarketEvent) -> Sequence[OrderEvent]:
        return ()  # the venue matches; its events come through the mailbox

    def next_arrival_ns(self) -> int | None:
        return None

    def deliver_until(self, now_ns: int) -> Sequence[OrderEvent]:
        return ()
