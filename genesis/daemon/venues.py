"""The daemon's venues: simulated ones for paper, live ones behind a bridge; one interface.

``Venues`` is everything the shell needs from the venues of a session: the
ports the kernel's driver sends commands to (``VenuePort``), the balances a
checkpoint journals, what an operator's kill adds at the venue, whether the
venue holds orders this process cannot explain, venue health, and the order
events a live venue delivered. ``PaperVenues`` (one simulated matching engine
per venue, each with its own account) and ``LiveVenues`` implement it; the
daemon never asks which it has.
The seam to a live venue (``VenueBridge``, ``Mailbox``) is in ``genesis.daemon.bridge``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from genesis.core.commands import CancelAllOrders, Command
from genesis.core.events import OrderEvent
from genesis.core.instruments import DEFAULT_VENUE, split_instrument_id
from genesis.daemon.bridge import VenueBridge
from genesis.daemon.health import Health, Level
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.driver import VenuePort
from genesis.storage.repository import BalanceRecord

if TYPE_CHECKING:  # the paper daemon imports this module: no network stack at import
    from genesis.daemon.live_session import LiveSession

__all__ = ["LiveVenues", "PaperVenues", "Venues", "paper_venue_name", "wait_settled"]


class Venues(Protocol):
    """What the daemon needs from the venues of its session (see the module docstring)."""

    ports: Mapping[str, VenuePort]  # by venue name (lower case), for the driver
    mode: str  # "paper" or "live"

    def name_of(self, instrument_id: str) -> str:
        """The venue's journal name for orders and fills of ``instrument_id``."""
        ...

    def balance_records(self, now_ns: int) -> list[BalanceRecord]: ...
    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]: ...
    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]: ...
    def health(self) -> list[Health]: ...
    def attach(self, wake: Callable[[], bool]) -> None: ...
    def pending(self) -> int: ...
    def drain(self) -> list[OrderEvent]: ...
    async def close(self) -> None: ...


def paper_venue_name(venue: str) -> str:
    """``PAPER`` for the default venue (as journals have always said), ``PAPER-BYBIT`` else."""
    return "PAPER" if venue == DEFAULT_VENUE else f"PAPER-{venue.upper()}"


class PaperVenues:
    """One simulated matching engine per venue, each with its own account."""

    mode = "paper"

    def __init__(self, venues: Mapping[str, SimulatedVenue]) -> None:
        self.sims = dict(venues)
        self.ports: Mapping[str, VenuePort] = self.sims

    def name_of(self, instrument_id: str) -> str:
        return self.sims[split_instrument_id(instrument_id)[0]].name

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        records = []
        for venue in self.sims.values():
            account = venue.account
            for asset, total in account.balances().items():
                free = account.free(asset)
                records.append(BalanceRecord(venue.name, asset, free, total - free, now_ns))
        return records

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        return []  # the simulated venues hold only what the kernel placed

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        return []

    def health(self) -> list[Health]:
        return []

    def attach(self, wake: Callable[[], bool]) -> None:
        """The simulated venues answer inside the driver's step: nothing to wake."""

    def pending(self) -> int:
        return 0

    def drain(self) -> list[OrderEvent]:
        return []

    async def close(self) -> None:
        """Nothing to close."""


class LiveVenues:
    """The live Binance venue of a session, behind ``VenueBridge`` and its ``Mailbox``."""

    mode = "live"

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.bridge = VenueBridge(session.venue)
        self.ports: Mapping[str, VenuePort] = {DEFAULT_VENUE: self.bridge}

    def name_of(self, instrument_id: str) -> str:
        return self.bridge.name

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        venue = self.session.venue
        return [
            BalanceRecord(venue.name, b.asset, b.free, b.locked, now_ns)
            for _, b in sorted(venue.balances.items())
        ]

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        """A cancel-all per instrument: orders the kernel does not know are cancelled too."""
        return [
            CancelAllOrders(ts_init=now_ns, strategy_id="operator", instrument_id=i)
            for i in sorted(instrument_ids)
        ]

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        """Client ids of the venue's open orders this process did not place (a fresh read)."""
        from genesis.errors import VenueError

        known = set(self.session.venue.tracker.orders)
        unknown: list[str] = []
        try:
            for symbol in sorted(instrument_ids):
                rows = await self.session.rest.open_orders(symbol)
                unknown += [
                    str(r.get("clientOrderId"))
                    for r in rows
                    if isinstance(r, dict) and r.get("clientOrderId") not in known
                ]
        except VenueError as exc:
            return [f"(open orders unreadable: {type(exc).__name__})"]
        return sorted(unknown)

    def health(self) -> list[Health]:
        clock, stream = self.session.rest.clock, self.session.stream
        return [
            Health("venue_clock", Level.DEGRADED, f"venue clock offset {clock.offset_ms:.0f} ms")
            if clock.degraded
            else Health("venue_clock", Level.HEALTHY),
            Health("user_stream", Level.DEGRADED, "user data stream silent or disconnected")
            if stream.degraded or not stream.subscribed
            else Health("user_stream", Level.HEALTHY),
        ]

    def attach(self, wake: Callable[[], bool]) -> None:
        self.session.mailbox.attach(wake)

    def pending(self) -> int:
        return len(self.session.mailbox)

    def drain(self) -> list[OrderEvent]:
        return self.session.mailbox.drain()

    async def close(self) -> None:
        await self.session.close()


async def wait_settled(
    venues: Venues, in_flight: Callable[[], list[str]], deliver: Callable[[], Any], timeout_s: float
) -> list[str]:
    """Deliver the venue's answers until no order is in flight or ``timeout_s`` passes;
    return the client ids still in flight (empty when settled)."""
    deadline = time.monotonic() + timeout_s
    while True:
        await deliver()
        waiting = in_flight()
        if not waiting or venues.mode == "paper" or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.02)
