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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from genesis.core.commands import Command
from genesis.core.events import OrderEvent
from genesis.core.instruments import DEFAULT_VENUE, ids_on, split_instrument_id
from genesis.daemon.bridge import Mailbox
from genesis.daemon.health import Health
from genesis.exchange.darkpool import DarkPoolVenue
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.driver import VenuePort
from genesis.storage.repository import BalanceRecord

if TYPE_CHECKING:  # the paper daemon imports this module: no network stack at import
    from genesis.daemon.live_venues import LiveVenue

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

    def __init__(self, venues: Mapping[str, SimulatedVenue | DarkPoolVenue]) -> None:
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
    """The live venues of a session (native Binance, ccxt exchanges), one ``Mailbox``."""

    mode = "live"

    def __init__(self, venues: Sequence[LiveVenue], mailbox: Mailbox) -> None:
        self.live = list(venues)
        self.mailbox = mailbox
        self._by_key = {v.key: v for v in self.live}
        self.ports: Mapping[str, VenuePort] = {v.key: v.port for v in self.live}

    def of(self, instrument_id: str) -> LiveVenue:
        return self._by_key[split_instrument_id(instrument_id)[0]]

    def name_of(self, instrument_id: str) -> str:
        return self.of(instrument_id).name

    def balance_records(self, now_ns: int) -> list[BalanceRecord]:
        return [r for v in self.live for r in v.balance_records(now_ns)]

    def kill_commands(self, now_ns: int, instrument_ids: Iterable[str]) -> list[Command]:
        """A cancel-all per instrument: orders the kernel does not know are cancelled too."""
        ids = list(instrument_ids)
        return [c for v in self.live for c in v.kill_commands(now_ns, ids_on(v.key, ids))]

    async def unexplained_open_orders(self, instrument_ids: Iterable[str]) -> list[str]:
        """Client ids of open orders this process did not place, at every venue (fresh reads)."""
        ids = list(instrument_ids)
        found: list[str] = []
        for v in self.live:
            found += await v.unexplained_open_orders(ids_on(v.key, ids))
        return sorted(found)

    def health(self) -> list[Health]:
        return [h for v in self.live for h in v.health()]

    def attach(self, wake: Callable[[], bool]) -> None:
        self.mailbox.attach(wake)

    def pending(self) -> int:
        return len(self.mailbox)

    def drain(self) -> list[OrderEvent]:
        return self.mailbox.drain()

    async def close(self) -> None:
        for v in self.live:
            await v.close()


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
