"""Observing what a session sends to a venue, without patching the venue.

A compiled ``SimulatedVenue`` (``genesis native build``) has read-only methods, so a
test cannot replace ``venue.execute``; it puts a ``VenueTap`` in the driver's port
table instead, which calls ``before(command, now_ns)`` and then the venue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis.core.commands import Command
from genesis.kernel.driver import Driver

__all__ = ["VenueTap", "tap_venue"]


class VenueTap:
    """A venue port whose ``execute`` calls ``before`` first; the rest is the venue's."""

    def __init__(self, venue: Any, before: Callable[[Command, int], None]) -> None:
        self.venue = venue
        self.before = before

    def execute(self, command: Command, now_ns: int) -> None:
        self.before(command, now_ns)
        self.venue.execute(command, now_ns)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)


def tap_venue(driver: Driver, venue: str, before: Callable[[Command, int], None]) -> VenueTap:
    """Route ``driver``'s commands for ``venue`` (its port name) through a tap."""
    tap = VenueTap(driver.venues[venue], before)
    driver.venues[venue] = tap
    return tap
