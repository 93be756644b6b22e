"""A virtual clock shared by the exchange and the connector, to compress minutes into ms.

The exchange reads ``wall_ms`` (its rate-limit windows, Retry-After, bans),
the connector reads ``mono`` and ``wall_ns`` and waits through ``sleep``,
which moves the clock forward at once instead of waiting. Only waits move
time, so a run is deterministic in virtual time whatever the machine's load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class FakeTime:
    def __init__(self, start_s: float) -> None:
        self.now = start_s
        self.slept: list[float] = []
        self.on_sleep: Callable[[], None] = lambda: None  # runs before and after every wait

    def mono(self) -> float:
        return self.now

    def wall_ms(self) -> int:
        return round(self.now * 1000)

    def wall_ns(self) -> int:
        return round(self.now * 1000) * 1_000_000

    async def sleep(self, seconds: float) -> None:
        self.on_sleep()
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        self.on_sleep()
        await asyncio.sleep(0)
