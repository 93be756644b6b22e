"""OANDA's own replace chain: where an order went, read from the venue, never guessed.

A replace (``PUT /orders/{spec}``) leaves the replaced order CANCELLED with
``replacedByOrderID`` naming its replacement, which carries ``replacesOrderID``.
So what became of order ``X`` is read, not probed for: ``GET /orders/@X`` (by
client id), then, while the order read is CANCELLED with ``replacedByOrderID``,
``GET /orders/{that id}`` (by OANDA id). The last order read is ``X`` now.

A query that fails (5xx, timeout, lost connection) is retried ``tries`` times,
``delay_s`` growing between them; still failing, ``ChainUnknown`` is raised: the
caller must not adopt a guess (an order of the chain may be live at the venue).
A 404 of the first order is an answer (no such order); a 404 of a replacement the
venue itself named is not, and raises ``ChainUnknown`` too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from genesis.errors import VenueError
from genesis.exchange.oanda.errors import OandaNotFound
from genesis.exchange.oanda.rest import OandaClient

__all__ = ["ChainUnknown", "follow", "read_order"]

log = structlog.get_logger(__name__)

_MAX_HOPS = 10_000  # a chain longer than this is not believed (a loop)


class ChainUnknown(VenueError):
    """What became of an order could not be read from the venue."""


async def read_order(
    client: OandaClient, spec: str, *, tries: int, delay_s: float
) -> dict[str, Any] | None:
    """``GET /orders/{spec}``; None on 404; a failing query is retried, then ChainUnknown."""
    last = ""
    for attempt in range(max(tries, 1)):
        if attempt:
            await asyncio.sleep(min(delay_s * 2 ** (attempt - 1), 5.0))
        try:
            return await client.order(spec)
        except OandaNotFound:
            return None
        except VenueError as exc:
            last = f"{type(exc).__name__}: {exc}"
            log.warning("oanda_order_query_failed", spec=spec, attempt=attempt + 1, error=last)
    raise ChainUnknown(f"order {spec} unreadable after {max(tries, 1)} queries ({last})")


async def follow(
    client: OandaClient, spec: str, *, tries: int, delay_s: float
) -> list[dict[str, Any]] | None:
    """The chain of ``spec``: its order, then each replacement, the live end last; None
    when OANDA has no order ``spec`` (see the module docstring)."""
    first = await read_order(client, spec, tries=tries, delay_s=delay_s)
    if first is None:
        return None
    chain = [first]
    while chain[-1].get("state") == "CANCELLED" and chain[-1].get("replacedByOrderID"):
        if len(chain) > _MAX_HOPS:
            raise ChainUnknown(f"order {spec}: replace chain longer than {_MAX_HOPS}")
        by = str(chain[-1]["replacedByOrderID"])
        nxt = await read_order(client, by, tries=tries, delay_s=delay_s)
        if nxt is None:
            raise ChainUnknown(
                f"order {chain[-1].get('id')} was replaced by order {by}, which OANDA does not find"
            )
        chain.append(nxt)
    return chain
