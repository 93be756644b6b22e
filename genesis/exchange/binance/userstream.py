"""User data over the WebSocket API (§11.1): subscribe, filter, resubscribe, watch for silence.

The event stream is not replayable, so every (re)subscription and every
silence of more than ``silence_s`` while orders are open triggers
``on_resync(reason)``: the venue backfills ``openOrders``, ``myTrades`` from
the last trade id + 1 and ``account`` (P6, R8). Responses to our own requests
(``id`` + ``status``) are filtered out of the event stream;
``eventStreamTerminated`` resubscribes on the same socket; ``serverShutdown``
and the 24 h cut reconnect. The subscription is signed per §3.4 (sorted
params including ``apiKey``); the signed params are never logged.

The WS API spends the IP's request weight too (§5.2): given the REST
client's ``limiter``, a connection waits out a Retry-After that any client
of the host drew, and a 429/418 answer here (``data.retryAfter``, epoch ms)
blocks the REST clients as well and reconnects after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.errors import AUTH_CODES, AuthError
from genesis.exchange.binance.parse import Malformed, decode_object
from genesis.exchange.binance.ratelimit import RateLimiter
from genesis.exchange.binance.signing import Credentials
from genesis.retry import Backoff, BackoffPolicy

__all__ = ["BinanceUserStream", "UserStreamConfig", "UserStreamStats"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStreamConfig:
    """Timings of the user data stream; all configurable so tests run fast."""

    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    ping_interval_s: float = 20.0
    open_timeout_s: float = 10.0
    silence_s: float = 60.0
    watchdog_interval_s: float = 1.0
    max_connection_age_s: float = 23.5 * 3600
    recv_window_ms: int = 5000
    seed: int = 0

    def backoff_policy(self) -> BackoffPolicy:
        """Reconnect delays: full jitter over [initial, min(max, initial * 2**n)]."""
        return BackoffPolicy(initial_s=self.backoff_initial_s, cap_s=self.backoff_max_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStreamStats:
    events: int
    malformed: int
    subscriptions: int
    reconnects: int
    terminations: int
    silences: int
    degraded: bool
    subscribed: bool


class BinanceUserStream:
    """One WS API connection carrying the account's user data events.

    Args:
        ws_api_url: e.g. ``wss://ws-api.binance.com:443/ws-api/v3``.
        credentials: key and secret used to sign the subscription.
        clock: server clock for ``timestamp``.
        on_event: called with each event payload (``executionReport`` ...), in order.
        on_resync: awaited (as a task) after each subscription and on silence.
        has_open_orders: whether silence matters right now.
        on_auth_error: called when the venue refuses the key (the daemon halts).
    """

    def __init__(
        self,
        ws_api_url: str,
        credentials: Credentials,
        clock: ServerClock,
        *,
        on_event: Callable[[Mapping[str, Any]], None],
        on_resync: Callable[[str], Awaitable[None]],
        has_open_orders: Callable[[], bool],
        on_auth_error: Callable[[AuthError], None] = lambda _exc: None,
        config: UserStreamConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = ws_api_url
        self._credentials = credentials
        self._clock = clock
        self._on_event = on_event
        self._on_resync = on_resync
        self._has_open_orders = has_open_orders
        self._on_auth_error = on_auth_error
        self.config = config or UserStreamConfig()
        self._mono = monotonic
        self._limiter = limiter
        self._sleep = sleep
        self._backoff = Backoff(self.config.backoff_policy(), seed=self.config.seed)
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_event = monotonic()
        self.degraded = False
        self.subscribed = False
        self._events = self._malformed = self._subs = self._reconnects = 0
        self._terminations = self._silences = 0
        self.subscribed_event = asyncio.Event()

    def __repr__(self) -> str:
        return "BinanceUserStream()"

    async def start(self) -> None:
        """Start the connection and watchdog tasks."""
        self._spawn(self._run(), "binance-user-stream")
        self._spawn(self._watchdog(), "binance-user-watchdog")

    async def close(self) -> None:
        """Cancel every task (the socket closes with its task)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def statistics(self) -> UserStreamStats:
        return UserStreamStats(
            events=self._events, malformed=self._malformed, subscriptions=self._subs,
            reconnects=self._reconnects, terminations=self._terminations,
            silences=self._silences, degraded=self.degraded, subscribed=self.subscribed,
        )  # fmt: skip

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connection ---------------------------------------------------------------

    async def _run(self) -> None:
        first = True
        while True:
            cfg = self.config
            await self._wait_rate_limit()
            try:
                async with connect(self._url, ping_interval=cfg.ping_interval_s,
                                   ping_timeout=cfg.ping_interval_s,
                                   open_timeout=cfg.open_timeout_s) as ws:  # fmt: skip
                    if not first:
                        self._reconnects += 1
                    first = False
                    await self._subscribe(ws)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._read(ws), cfg.max_connection_age_s)
            except (OSError, TimeoutError, WebSocketException) as exc:
                log.warning("binance_user_stream_disconnected", error=type(exc).__name__)
            self.subscribed = False
            self.subscribed_event.clear()
            await self._sleep(self._backoff.next_delay())

    async def _wait_rate_limit(self) -> None:
        """Send nothing on the IP before a Retry-After drawn by any client has passed."""
        wait = self._limiter.ip.blocked_for(self._mono()) if self._limiter is not None else 0.0
        if wait > 0:
            log.warning("binance_rate_limit_wait", path="ws-api", wait_s=round(wait, 1),
                        reason="Retry-After of a 429/418 on this IP")  # fmt: skip
            await self._sleep(wait)

    async def _subscribe(self, ws: ClientConnection) -> None:
        params = self._credentials.signed_ws_params(
            {"timestamp": self._clock.now_ms(), "recvWindow": self.config.recv_window_ms}
        )
        request = {"id": f"sub{next(self._ids)}", "method": "userDataStream.subscribe.signature",
                   "params": params}  # fmt: skip
        await ws.send(msgspec.json.encode(request).decode())

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            try:
                message = decode_object(frame)
            except Malformed as exc:
                self._malformed += 1
                log.warning("binance_user_frame_rejected", reason=str(exc))
                continue
            if "status" in message and "id" in message:
                if self._on_response(message):
                    return  # rate limited: reconnect once Retry-After has passed
            elif isinstance(event := message.get("event"), dict):
                if await self._on_payload(ws, event):
                    return
            elif message.get("e") == "serverShutdown":
                log.info("binance_user_stream_server_shutdown")
                return
            else:
                self._malformed += 1

    def _on_response(self, message: Mapping[str, Any]) -> bool:
        """Handle an answer to our own request; True when the IP is now rate limited."""
        status = message.get("status")
        if status == 200 and str(message.get("id", "")).startswith("sub"):
            self._subs += 1
            self.subscribed = True
            self.subscribed_event.set()
            self._last_event = self._mono()
            self._backoff.reset()
            log.info("binance_user_stream_subscribed", subscriptions=self._subs)
            self._spawn(self._on_resync("subscribed"), "binance-user-resync")
            return False
        error = message.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        log.error("binance_user_stream_request_failed", status=status, code=code)
        if status == 401 or code in AUTH_CODES:
            self._on_auth_error(AuthError(f"user stream subscription refused: code {code}",
                                          code if isinstance(code, int) else 0))  # fmt: skip
        if status in (418, 429) and self._limiter is not None:
            data = error.get("data") if isinstance(error, dict) else None
            until_ms = data.get("retryAfter") if isinstance(data, dict) else None
            wait = (until_ms - self._clock.now_ms()) / 1000 if type(until_ms) is int else 60.0
            self._limiter.ip.block(status, max(0.0, wait), self._mono())
        return status in (418, 429)

    async def _on_payload(self, ws: ClientConnection, event: Mapping[str, Any]) -> bool:
        self._last_event = self._mono()
        kind = event.get("e")
        if kind == "eventStreamTerminated":
            self._terminations += 1
            self.subscribed = False
            log.warning("binance_user_stream_terminated")
            await self._subscribe(ws)
            return False
        if kind == "serverShutdown":
            return True
        self._events += 1
        if self.degraded:
            self.degraded = False
            log.info("binance_user_stream_recovered")
        self._on_event(event)
        return False

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.config.watchdog_interval_s)
            silent = self._mono() - self._last_event
            if silent <= self.config.silence_s or not self._has_open_orders():
                continue
            if not self.degraded:
                self.degraded = True
                self._silences += 1
                log.warning("binance_user_stream_silent", silent_s=round(silent, 1))
                self._spawn(self._on_resync("silence"), "binance-user-resync")
            self._last_event = self._mono()  # backfill again after another silent period
