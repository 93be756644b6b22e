"""``WatchLoop``: one ccxt.pro ``watch_*`` method consumed for as long as its owner runs.

Theory of operation
-------------------
A ccxt.pro ``watch_*`` call returns the next update(s) of one subscription;
ccxt connects and (re)subscribes inside the call when it has to, and a
socket that drops rejects the pending call (``NetworkError``). The loop keeps
one call pending at all times (the next call is armed before a result is
handled), maps every failure through the session's seam (``CcxtSession.call``),
and after a failure sleeps the seeded backoff and calls again.

A *gap* is any span in which the stream may have missed updates: the start,
a failed call, or a socket of the exchange object that closed between two
deliveries (ccxt may then have reconnected inside the next call without
failing it). After a gap the loop is *unproven* (``live`` is False) until
either the venue acknowledged the new subscription (``ready`` returned True:
the session can wait for that on some venues) or the stream delivered again.
At that moment ``on_live`` runs: the owner's REST backfill. Everything before
it is then fetched by REST and everything after comes from the stream; the
owner dedups the overlap. While a loop is unproven its owner polls instead.

ccxt reads all buffered frames in one go and wakes only the call pending at
that moment: a frame handled after a result and before the next call is
registered stays in ccxt's cache until yet another frame arrives. So after
each result the loop re-arms, yields once (the new call registers its
wakeup) and then runs ``catch_up``: the owner reads ccxt's cache
(``CcxtSession.cached``) and takes what it has not seen.

A call the venue's ccxt class cannot make (``NotSupported``,
``ArgumentsRequired``) ends the loop for good (``unsupported``); the owner
keeps polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog

from genesis.errors import OrderRejectedByVenue, VenueError
from genesis.exchange.ccxt.session import CcxtSession
from genesis.retry import Backoff, BackoffPolicy

__all__ = ["STREAM_BACKOFF", "WatchLoop", "WatchStats"]

log = structlog.get_logger(__name__)

_UNSUPPORTED: Final = frozenset({"NotSupported", "ArgumentsRequired"})

# The default reconnect delays of a watch loop: 0.5 s doubling to 30 s, full jitter.
STREAM_BACKOFF: Final = BackoffPolicy(initial_s=0.5, cap_s=30.0)

Handler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchStats:
    """Figures of one watch loop (R19 ``statistics()``)."""

    method: str
    live: bool
    unsupported: bool
    deliveries: int  # results the watch call returned
    failures: int  # calls that raised (mapped VenueError)
    gaps: int  # spans that may have missed updates (start excluded)
    recoveries: int  # times the loop became live (each ran ``on_live``)


class WatchLoop:
    """``await session.call(method, *args)`` forever, handing each result to ``on_items``.

    Args:
        session: the guarded ccxt session (errors arrive mapped and scrubbed).
        method: the ccxt.pro method, e.g. ``watch_my_trades``.
        args: its positional arguments.
        on_items: coroutine given each result, in order.
        on_live: coroutine run each time the stream becomes live (start and after a gap);
            a VenueError from it counts as a failure and the loop tries again.
        ready: coroutine that waits until the venue acknowledged the subscription and
            returns True, or returns False where that cannot be known.
        catch_up: coroutine run after each result is handled: the owner takes what
            ccxt cached without a wakeup (see above).
        backoff: the delays between failed attempts (seeded).
        sleep: every wait goes through it (tests compress time).
    """

    def __init__(
        self,
        session: CcxtSession,
        method: str,
        args: tuple[Any, ...] = (),
        *,
        on_items: Handler,
        on_live: Callable[[], Awaitable[None]] | None = None,
        ready: Callable[[], Awaitable[bool]] | None = None,
        catch_up: Callable[[], Awaitable[None]] | None = None,
        backoff: Backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self.method = method
        self._args = args
        self._on_items = on_items
        self._on_live = on_live
        self._ready = ready
        self._catch_up = catch_up
        self._backoff = backoff
        self._sleep = sleep
        self.live = False
        self.unsupported = False
        self._deliveries = self._failures = self._gaps = self._recoveries = 0

    def __repr__(self) -> str:
        return f"WatchLoop(method={self.method!r}, live={self.live})"

    def statistics(self) -> WatchStats:
        return WatchStats(
            method=self.method,
            live=self.live,
            unsupported=self.unsupported,
            deliveries=self._deliveries,
            failures=self._failures,
            gaps=self._gaps,
            recoveries=self._recoveries,
        )

    async def run(self) -> None:
        """Watch until cancelled, or until the venue's class cannot watch at all."""
        while True:
            try:
                await self._connected()
            except OrderRejectedByVenue as exc:
                if str(exc.code) in _UNSUPPORTED:
                    self._give_up(exc)
                    return
                self._gap("failed", exc)
            except VenueError as exc:
                self._gap("failed", exc)
            await self._sleep(self._backoff.next_delay())

    async def _connected(self) -> None:
        closes = self._session.ws_closes
        ready = await self._ready() if self._ready is not None else False
        pending = self._arm()
        try:
            await asyncio.sleep(0)  # the call registers its subscription before any backfill
            if ready:
                await self._go_live()
            while True:
                items = await pending
                pending = self._arm()
                await asyncio.sleep(0)  # the next call registers its wakeup before catch_up
                self._deliveries += 1
                if not self.live:
                    await self._go_live()
                await self._on_items(items)
                if self._catch_up is not None:
                    await self._catch_up()
                if self._session.ws_closes != closes:
                    self._gap("socket_closed", None)
                    return
        finally:
            pending.cancel()

    def _arm(self) -> asyncio.Future[Any]:
        future = asyncio.ensure_future(self._session.call(self.method, *self._args))
        future.add_done_callback(_retrieve)
        return future

    async def _go_live(self) -> None:
        if self._on_live is not None:
            await self._on_live()
        self.live = True
        self._recoveries += 1
        self._backoff.reset()
        log.info("ccxt_watch_live", method=self.method, recoveries=self._recoveries)

    def _gap(self, reason: str, exc: VenueError | None) -> None:
        if exc is not None:
            self._failures += 1
        if self.live:
            self._gaps += 1
        self.live = False
        log.warning(
            "ccxt_watch_gap",
            method=self.method,
            reason=reason,
            error=str(exc) if exc is not None else None,
        )

    def _give_up(self, exc: VenueError) -> None:
        self.live = False
        self.unsupported = True
        self._failures += 1
        log.warning("ccxt_watch_unsupported", method=self.method, error=str(exc))


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A call abandoned by cancellation may still have failed; mark its error retrieved.
    if not future.cancelled():
        with contextlib.suppress(Exception):
            future.exception()
