"""The venue's user data over ccxt.pro, where the exchange has it; decided once, at construction.

``watch_my_trades`` carries fills and ``watch_orders`` order states, each in
a ``WatchLoop`` when the exchange's ``has`` declares it (``watchMyTrades``,
``watchOrders``), else that half stays on the venue's REST polling. The
venue asks ``fills_live()`` (no REST fill sync needed) and ``all_live()``
(no periodic polling needed beyond the slow reconciliation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from genesis.exchange.ccxt.session import CcxtSession
from genesis.exchange.ccxt.watch import WatchLoop
from genesis.retry import Backoff, BackoffPolicy

__all__ = ["UserStreams"]

log = structlog.get_logger(__name__)

Handler = Callable[[Any, str], Awaitable[None]]  # (result, "stream" | "cache")


class UserStreams:
    """Fills and order states streamed where ``exchange.has`` allows (see the module docstring).

    Args:
        session: the venue's guarded ccxt session.
        market_type: the ccxt market type whose user stream is watched (e.g. ``spot``).
        on_trades / on_orders: the venue's handlers of a ``watch_my_trades`` /
            ``watch_orders`` result (source ``stream``); after each result they are
            also given what ccxt.pro cached for it (``CcxtSession.cached``, source
            ``cache``) and must dedup.
        on_live: the venue's REST backfill, run whenever a stream (re)becomes live.
        backoff / seed: each loop's reconnect delays and jitter seed.
        sleep: every wait of the loops goes through it.
    """

    def __init__(
        self,
        session: CcxtSession,
        market_type: str,
        *,
        on_trades: Handler,
        on_orders: Handler,
        on_live: Callable[[], Awaitable[None]],
        backoff: BackoffPolicy,
        seed: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session, self._market_type = session, market_type
        self._on_live, self._backoff, self._seed, self._sleep = on_live, backoff, seed, sleep
        self.fills = self._loop("watchMyTrades", "watch_my_trades", on_trades, 0)
        self.orders = self._loop("watchOrders", "watch_orders", on_orders, 1)
        self.mode = {
            "fills": self.fills.method if self.fills else "poll",
            "orders": self.orders.method if self.orders else "poll",
        }
        log.info("ccxt_user_data_mode", venue=session.venue, **self.mode)

    def _loop(self, feature: str, method: str, handler: Handler, salt: int) -> WatchLoop | None:
        session = self._session
        if not session.has(feature):
            return None

        async def on_items(items: Any) -> None:
            await handler(items, "stream")

        async def catch_up() -> None:
            await handler(session.cached(method), "cache")

        return WatchLoop(
            session,
            method,
            on_items=on_items,
            on_live=self._on_live,
            catch_up=catch_up,
            ready=lambda: session.user_stream_ready(self._market_type),
            backoff=Backoff(self._backoff, seed=self._seed + salt),
            sleep=self._sleep,
        )

    def __repr__(self) -> str:
        return f"UserStreams(fills={self.mode['fills']!r}, orders={self.mode['orders']!r})"

    def loops(self) -> list[WatchLoop]:
        return [loop for loop in (self.fills, self.orders) if loop is not None]

    def fills_live(self) -> bool:
        """Fills arrive by stream now: a REST fill sync is only a backfill."""
        return self.fills is not None and self.fills.live

    def all_live(self) -> bool:
        """Fills and order states both arrive by stream now: no regular polling needed."""
        return self.fills_live() and self.orders is not None and self.orders.live

    def statistics(self) -> dict[str, int]:
        """Per loop: live (0/1), deliveries, failures, gaps, recoveries; 0/1 per streamed half."""
        out = {
            "user_stream_fills": int(self.fills is not None),
            "user_stream_orders": int(self.orders is not None),
        }
        for loop in self.loops():
            s = loop.statistics()
            out.update(
                {
                    f"{s.method}_live": int(s.live),
                    f"{s.method}_deliveries": s.deliveries,
                    f"{s.method}_failures": s.failures,
                    f"{s.method}_gaps": s.gaps,
                    f"{s.method}_recoveries": s.recoveries,
                }
            )
        return out
