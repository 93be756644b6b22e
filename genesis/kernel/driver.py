"""The driver: feeds one kernel its events in time order and carries its commands to venues.

Every mode runs this loop; only what is plugged into it differs. For each
market event, in time order: fire the timers due, let the venue that lists
the instrument deliver the commands that reached it and match against the
new market state, hand the venue's order events and then the market event
to the kernel, and send the kernel's commands back to their venues. Events
are ordered by ``ts_init`` (when Genesis saw them: the receive time of a
recording), which is what a live session would have seen; equal times keep
their input order.

Venues are ports (``VenuePort``): the simulated matching engine answers
inside ``process``/``deliver_until``; a live venue answers later, on its own
tasks, and the shell hands each answer in through ``deliver``. With several
venues, a command goes to the venue of its instrument id (``venue:SYMBOL``,
a bare symbol on the default venue).

With ``defer_commands`` the kernel's commands wait in the driver until the
caller takes them (``take_commands``), persists what it must (an order
intent before it is sent) and hands each one on with ``execute``. What the
kernel decided about itself (kill switch, daily-loss baseline) goes to
``on_notice``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from genesis.core.clock import SimClock
from genesis.core.commands import Command, KernelCommand, SubmitOrder
from genesis.core.events import Bar, Event, MarketEvent, OrderEvent, OrderFilled
from genesis.core.instruments import split_instrument_id
from genesis.errors import ConfigError
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.kernel import Kernel

__all__ = ["Driver", "DriverStats", "VenuePort", "merge_streams"]


class VenuePort(Protocol):
    """What the driver needs from a venue: simulated, or a live one behind a bridge."""

    name: str

    def execute(self, command: Command, now_ns: int) -> None: ...
    def process(self, event: MarketEvent) -> Sequence[OrderEvent]: ...
    def next_arrival_ns(self) -> int | None: ...
    def deliver_until(self, ts_ns: int) -> Sequence[OrderEvent]: ...


def merge_streams(*streams: Iterable[MarketEvent]) -> Iterator[MarketEvent]:
    """Merge time-ordered streams into one, by ``ts_init``; ties keep stream order."""
    return heapq.merge(*streams, key=_seen_at)


def _seen_at(event: MarketEvent) -> int:
    return event.ts_init


@dataclass(slots=True)
class DriverStats:
    events: int = 0
    order_events: int = 0
    fills: int = 0
    commands: int = 0


class Driver:
    """Drives one kernel and its venue ports from a stream of market events."""

    def __init__(
        self,
        kernel: Kernel,
        venues: VenuePort | Mapping[str, VenuePort],
        *,
        record: bool = True,
        on_command: Callable[[Command], None] | None = None,
        on_order_event: Callable[[OrderEvent], None] | None = None,
        on_notice: Callable[[Event], None] | None = None,
        defer_commands: bool = False,
    ) -> None:
        """``venues``: one port for every instrument, or one per venue name (lower case).

        ``record`` keeps every order event in ``order_events`` (tests); a long-running
        process passes False and observes through the callbacks instead."""
        if not isinstance(kernel.clock, SimClock):
            raise TypeError("the driver needs the kernel to run on a SimClock")
        self.kernel = kernel
        self.venues: dict[str, VenuePort] = (
            dict(venues) if isinstance(venues, Mapping) else {"": venues}
        )
        self._single = None if isinstance(venues, Mapping) else venues
        # the one venue when it is the simulated engine: called natively when compiled (a
        # call through the VenuePort protocol is a Python method call, four per order)
        self._sim = venues if type(venues) is SimulatedVenue else None
        self.clock: SimClock = kernel.clock
        self.stats = DriverStats()
        self.order_events: list[OrderEvent] = []
        self._record = record
        self._defer = defer_commands
        self._outbox: list[Command] = []
        self._on_command = on_command
        self._on_order_event_cb = on_order_event
        self._on_notice = on_notice
        self._started = False

    @property
    def venue(self) -> VenuePort:
        """The only venue (single-venue sessions)."""
        if self._single is None:
            raise TypeError("a multi-venue driver has no single venue; use venue_of()")
        return self._single

    def venue_of(self, instrument_id: str) -> VenuePort:
        """The port that trades ``instrument_id``.

        Raises:
            ConfigError: no venue of that name is plugged in.
        """
        if self._single is not None:
            return self._single
        venue = split_instrument_id(instrument_id)[0]
        port = self.venues.get(venue)
        if port is None:
            known = ", ".join(sorted(self.venues))
            raise ConfigError(f"instrument {instrument_id}: no venue {venue!r} (have: {known})")
        return port

    @property
    def started(self) -> bool:
        """Whether the strategies' ``on_start`` has run."""
        return self._started

    def start(self) -> None:
        """Call the strategies' ``on_start`` once (``run`` does it by itself)."""
        if not self._started:
            self._started = True
            self._send(self.kernel.start())

    def run(self, events: Iterable[MarketEvent]) -> DriverStats:
        """Replay ``events`` (already in time order); may be called again to continue."""
        self.start()
        for event in events:
            self.step(event)
        return self.stats

    def step(self, event: MarketEvent) -> None:
        """Process one market event completely: timers due before it, the venue's matching
        (and the order events it causes), timers those set, then the kernel."""
        clock = self.clock
        # a bar's fills happen at its open; everything else at the time it was seen
        fired = clock.catch_up(event.ts_open if type(event) is Bar else event.ts_init)
        for timer in fired:
            self._handle(timer)
        again = bool(fired) or type(event) is Bar
        port = self._single
        if port is None:
            port = self.venue_of(event.instrument_id)
            order_events = port.process(event)
            for order_event in order_events:
                self._on_order_event(order_event)
            self._deliver_others(port, clock.now_ns())
            again = True  # another venue may have answered
        else:
            sim = self._sim
            order_events = port.process(event) if sim is None else sim.process(event)
            for order_event in order_events:
                self._on_order_event(order_event)
        # timers set on the way (by a timer or an order event) may be due, and a bar's
        # close is later than its open; otherwise nothing can have become due
        if again or order_events:
            for timer in clock.catch_up(event.ts_init):
                self._handle(timer)
        commands = self.kernel.handle(event)  # _handle, inlined: most events send nothing
        if self._on_notice is not None:
            for notice in self.kernel.take_notices():
                self._on_notice(notice)
        if commands:
            self._send(commands)
        self.stats.events += 1

    def command(self, command: KernelCommand) -> None:
        """Hand the kernel a command of its own (kill switch) between two events."""
        self._handle(command)

    def deliver(self, event: OrderEvent) -> None:
        """An order event a live venue sent: advance the kernel clock to when it was seen,
        then handle it like a simulated venue's event (timers due first, as ``step`` does)."""
        self._advance(max(event.ts_init, self.clock.now_ns()))
        self._on_order_event(event)

    def finish(self) -> None:
        """Call the strategies' ``on_stop``, deliver what they send, and pass on what the
        stop decided (the TCA of parent orders still open)."""
        commands = self.kernel.stop()
        if self._on_notice is not None:
            for notice in self.kernel.take_notices():
                self._on_notice(notice)
        self._send(commands)

    def send(self, commands: Sequence[Command]) -> None:
        """Route commands produced outside ``step`` (operator actions) like the kernel's own."""
        self._send(commands)

    def take_commands(self) -> list[Command]:
        """The deferred commands, oldest first; the driver forgets them."""
        out, self._outbox = self._outbox, []
        return out

    def has_commands(self) -> bool:
        return bool(self._outbox)

    def execute(self, command: Command) -> None:
        """Send one (deferred) command to its venue now and process what follows from it."""
        self._execute((command,))

    def _handle(self, item: Event | KernelCommand) -> None:
        commands = self.kernel.handle(item)
        if self._on_notice is not None:
            for notice in self.kernel.take_notices():
                self._on_notice(notice)
        self._send(commands)

    def _advance(self, ts: int) -> None:
        for timer in self.clock.advance_to(ts):
            self._handle(timer)

    def _deliver_others(self, port: VenuePort, now: int) -> None:
        for other in self.venues.values():
            due = other.next_arrival_ns()
            if other is not port and due is not None and due <= now:
                for order_event in other.deliver_until(now):
                    self._on_order_event(order_event)

    def _on_order_event(self, event: OrderEvent) -> None:
        if self._record:
            self.order_events.append(event)
        self.stats.order_events += 1
        if type(event) is OrderFilled:
            self.stats.fills += 1
        self._handle(event)
        if self._on_order_event_cb is not None and self.kernel.last_event_applied:
            self._on_order_event_cb(event)  # not for a duplicate or a refused event

    def _send(self, commands: Sequence[Command]) -> None:
        if not commands:
            return
        if self._defer:
            self._outbox.extend(commands)
        else:
            self._execute(commands)

    def _execute(self, commands: Sequence[Command]) -> None:
        now = self.clock.now_ns()
        if self._sim is not None:
            self._execute_simulated(self._sim, commands, now)
            return
        touched: list[VenuePort] = []
        for command in commands:
            if self._on_command is not None:
                self._on_command(command)
            if type(command) is SubmitOrder and command.emulated:
                continue  # an order the kernel holds: its intent is journaled, never sent
            port = self.venue_of(command.instrument_id)
            port.execute(command, now)
            if port not in touched:
                touched.append(port)
            self.stats.commands += 1
        for port in touched:
            due = port.next_arrival_ns()
            if due is not None and due <= now:  # zero latency: the venue sees it at once
                for order_event in port.deliver_until(now):
                    self._on_order_event(order_event)

    def _execute_simulated(
        self, sim: SimulatedVenue, commands: Sequence[Command], now: int
    ) -> None:
        """``_execute`` for the one simulated venue (the same steps, native calls)."""
        touched = False
        for command in commands:
            if self._on_command is not None:
                self._on_command(command)
            if type(command) is SubmitOrder and command.emulated:
                continue  # an order the kernel holds: its intent is journaled, never sent
            sim.execute(command, now)
            touched = True
            self.stats.commands += 1
        if not touched:
            return
        due = sim.next_arrival_ns()
        if due is not None and due <= now:  # zero latency: the venue sees it at once
            for order_event in sim.deliver_until(now):
                self._on_order_event(order_event)
