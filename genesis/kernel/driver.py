"""Event-driven replay of any market data (bars, trades, quotes, L2 books) into the kernel.

The same loop the daemon's paper mode runs, without an event loop: for each
event, in time order, fire the timers due, let the simulated venue deliver
the commands that reached it and match against the new market state, hand
the venue's order events and then the market event to the kernel, and send
the kernel's commands back to the venue. Events are ordered by ``ts_init``
(when Genesis saw them: the receive time of a recording), which is what a
live session would have seen; equal times keep their input order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from genesis.core.clock import SimClock
from genesis.core.commands import Command
from genesis.core.events import Bar, MarketEvent, OrderEvent, OrderFilled
from genesis.engine.kernel import Kernel
from genesis.exchange.simulated import SimulatedVenue

__all__ = ["Replay", "ReplayStats", "merge_streams"]


def merge_streams(*streams: Iterable[MarketEvent]) -> Iterator[MarketEvent]:
    """Merge time-ordered streams into one, by ``ts_init``; ties keep stream order."""
    return heapq.merge(*streams, key=_seen_at)


def _seen_at(event: MarketEvent) -> int:
    return event.ts_init


@dataclass(slots=True)
class ReplayStats:
    events: int = 0
    order_events: int = 0
    fills: int = 0
    commands: int = 0


class Replay:
    """Drives one kernel and one simulated venue from a stream of market events."""

    def __init__(
        self,
        kernel: Kernel,
        venue: SimulatedVenue,
        *,
        record: bool = True,
        on_command: Callable[[Command], None] | None = None,
        on_order_event: Callable[[OrderEvent], None] | None = None,
        defer_commands: bool = False,
    ) -> None:
        """``record`` keeps every order event in ``order_events`` (tests); a long-running
        process passes False and observes through the two callbacks instead.

        With ``defer_commands`` the kernel's commands are collected in ``outbox``
        instead of going to the venue: the caller persists what it must (an order
        intent before it is sent) and hands each one on with ``execute``."""
        if not isinstance(kernel.clock, SimClock):
            raise TypeError("replay needs the kernel to run on a SimClock")
        self.kernel = kernel
        self.venue = venue
        self.clock: SimClock = kernel.clock
        self.stats = ReplayStats()
        self.order_events: list[OrderEvent] = []
        self._record = record
        self._defer = defer_commands
        self.outbox: list[Command] = []
        self._on_command = on_command
        self._on_order_event_cb = on_order_event
        self._started = False

    @property
    def started(self) -> bool:
        """Whether the strategies' ``on_start`` has run."""
        return self._started

    def start(self) -> None:
        """Call the strategies' ``on_start`` once (``run`` does it by itself)."""
        if not self._started:
            self._started = True
            self._send(self.kernel.start())

    def run(self, events: Iterable[MarketEvent]) -> ReplayStats:
        """Replay ``events`` (already in time order); may be called again to continue."""
        self.start()
        for event in events:
            self.step(event)
        return self.stats

    def step(self, event: MarketEvent) -> None:
        """Process one market event completely."""
        # a bar's fills happen at its open; everything else at the time it was seen
        seen = event.ts_open if type(event) is Bar else event.ts_init
        self._advance(max(seen, self.clock.now_ns()))
        for order_event in self.venue.process(event):
            self._on_order_event(order_event)
        self._advance(max(event.ts_init, self.clock.now_ns()))
        self._send(self.kernel.handle(event))
        self.stats.events += 1

    def finish(self) -> None:
        """Call the strategies' ``on_stop`` and deliver what they send."""
        self._send(self.kernel.stop())

    def _advance(self, ts: int) -> None:
        for timer in self.clock.advance_to(ts):
            self._send(self.kernel.handle(timer))

    def _on_order_event(self, event: OrderEvent) -> None:
        if self._record:
            self.order_events.append(event)
        self.stats.order_events += 1
        if isinstance(event, OrderFilled):
            self.stats.fills += 1
        self._send(self.kernel.handle(event))
        if self._on_order_event_cb is not None:
            self._on_order_event_cb(event)

    def send(self, commands: Sequence[Command]) -> None:
        """Route commands produced outside ``step`` (operator actions) like the kernel's own."""
        self._send(commands)

    def execute(self, command: Command) -> None:
        """Send one (deferred) command to the venue now and process what follows from it."""
        self._execute((command,))

    def _send(self, commands: Sequence[Command]) -> None:
        if not commands:
            return
        if self._defer:
            self.outbox.extend(commands)
        else:
            self._execute(commands)

    def _execute(self, commands: Sequence[Command]) -> None:
        now = self.clock.now_ns()
        for command in commands:
            if self._on_command is not None:
                self._on_command(command)
            self.venue.execute(command, now)
            self.stats.commands += 1
        due = self.venue.next_arrival_ns()
        if due is not None and due <= now:  # zero latency: the venue sees it at once
            for order_event in self.venue.deliver_until(now):
                self._on_order_event(order_event)
