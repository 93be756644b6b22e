"""One order an ``OandaVenue`` tracks: what ``venue`` and its ``replace`` module share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genesis.core.commands import SubmitOrder

__all__ = ["Tracked"]


@dataclass(slots=True)
class Tracked:
    cmd: SubmitOrder
    venue_order_id: str = ""  # set once accepted; stream events wait for it
    done: bool = False
    filled: Decimal = Decimal(0)
    early: list[dict[str, Any]] = field(default_factory=list)  # stream txs before the answer
    wire: str = ""  # the client id the venue knows it by now (``X-rN`` once replaced)
    replaces: int = 0  # replacements made (``replace.replacement_id``)
    replacing: bool = False  # a replace request is out: stream news waits for its answer
    settled: asyncio.Event | None = None  # set once the replace out is resolved (a cancel waits)
