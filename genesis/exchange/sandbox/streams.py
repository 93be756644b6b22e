"""Market streams over WebSocket: ``/ws/<name>``, ``/stream?streams=a/b``, SUBSCRIBE & co.

Each connection has a writer task draining its own queue, so frames leave in
publish order. Stream names are lower case; ``<s>@depth`` and
``<s>@depth@100ms`` are the same feed (the sandbox batches every
``depth_interval_s``). The 5-messages-a-second limit counts every text frame
the client sends; past it the connection is closed (1008), as Binance drops
it. Depth faults act once per published depthUpdate, for every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.limits import ConnectionAttempts

__all__ = ["Connection", "StreamHub"]

log = structlog.get_logger(__name__)

_MAX_STREAMS = 1024


def feed_of(name: str) -> str:
    """The feed behind a stream name: ``x@depth@100ms`` and ``x@depth`` are one feed."""
    return name[: -len("@100ms")] if name.endswith("@depth@100ms") else name


def normal(name: str) -> str:
    """Symbols in stream names are lower case; the stream type keeps its case."""
    symbol, sep, rest = name.partition("@")
    return symbol.lower() + sep + rest


class Connection:
    """One client socket with its outgoing queue and ping task."""

    def __init__(self, ws: web.WebSocketResponse, combined: bool) -> None:
        self.ws = ws
        self.combined = combined
        self.names: set[str] = set()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.received: deque[float] = deque()
        self.close_code: int | None = None

    def send(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def writer(self) -> None:
        while (text := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
        if self.close_code is not None and not self.ws.closed:
            await self.ws.close(code=self.close_code, message=b"Too many requests")

    async def finish(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let the writer drain (then close, when asked), stop the pinger."""
        self.queue.put_nowait(None)
        writer, *others = tasks
        for task in others:
            task.cancel()
        try:
            await asyncio.wait_for(writer, timeout=1.0)
        except (TimeoutError, asyncio.CancelledError):
            writer.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def pinger(self, interval_s: float) -> None:
        while not self.ws.closed:
            await asyncio.sleep(interval_s)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.ping(b"sandbox")

    def over_rate(self, limit: int) -> bool:
        now = time.monotonic()
        self.received.append(now)
        while self.received and now - self.received[0] > 1.0:
            self.received.popleft()
        return len(self.received) > limit


class StreamHub:
    """All market-stream connections; ``publish`` fans a payload out to subscribers."""

    def __init__(
        self, faults: FaultPlan, now_ms: Callable[[], int], ping_interval_s: float, max_rate: int
    ) -> None:
        self.faults = faults
        self.now_ms = now_ms
        self.ping_interval_s = ping_interval_s
        self.max_rate = max_rate
        self.connections: set[Connection] = set()
        self._held: dict[str, tuple[str, dict[str, Any]]] = {}  # swapped depthUpdate per feed
        self.listen_key_route: Callable[[str, Connection], bool] = lambda key, conn: False
        self.on_close: Callable[[Connection], None] = lambda conn: None
        self.published = 0
        self.connects = ConnectionAttempts(1 << 30, 300.0, lambda: 0)  # the server shares its own
        self.peak_rate = 0  # most client messages any socket sent within one second

    # --- fan-out -----------------------------------------------------------------

    def publish(self, name: str, payload: dict[str, Any]) -> None:
        if payload.get("e") == "depthUpdate":
            self._publish_depth(name, payload)
        else:
            self._send(name, payload)

    def _publish_depth(self, name: str, payload: dict[str, Any]) -> None:
        if self.faults.take("depth.drop") is not None:
            return
        if self.faults.take("depth.swap") is not None:
            self._held[name] = (name, payload)
            return
        self._send(name, payload)
        held = self._held.pop(name, None)
        if held is not None:
            self._send(*held)
        if self.faults.take("depth.duplicate") is not None:
            self._send(name, payload)

    def _send(self, name: str, payload: dict[str, Any]) -> None:
        feed = feed_of(name)
        malformed = self.faults.take("stream.malformed")
        raw = json.dumps(payload, separators=(",", ":"))
        for conn in list(self.connections):
            if malformed is not None:
                conn.send(self.faults.fuzz_frame(malformed))
            for sub in conn.names:
                if feed_of(sub) == feed:
                    self.published += 1
                    conn.send(f'{{"stream":"{sub}","data":{raw}}}' if conn.combined else raw)

    def server_shutdown(self) -> None:
        event = {"e": "serverShutdown", "E": self.now_ms()}
        raw = json.dumps(event, separators=(",", ":"))
        for conn in list(self.connections):
            conn.send(
                json.dumps({"stream": "!serverShutdown", "data": event}) if conn.combined else raw
            )

    async def close_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            await conn.ws.close(code=1001, message=b"sandbox closed the socket")
        return len(conns)

    # --- connections -----------------------------------------------------------------

    async def handle_raw(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, [request.match_info["name"]], combined=False)

    async def handle_combined(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("streams", "").split("/") if n]
        return await self._serve(request, names, combined=True)

    async def _serve(
        self, request: web.Request, names: list[str], combined: bool
    ) -> web.StreamResponse:
        if not self.connects.attempt(request.remote or "?"):
            self.faults.count("ws.connect_limit")
            return web.json_response({"code": -1034, "msg": "Too many connections."}, status=429)
        if self.faults.refuse_connects or self.faults.take("ws.refuse_connect") is not None:
            self.faults.count("ws.refused")
            return web.json_response({"code": -1034, "msg": "Too many connections."}, status=503)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, combined)
        tasks = [
            asyncio.create_task(conn.writer()),
            asyncio.create_task(conn.pinger(self.ping_interval_s)),
        ]
        if not combined and len(names) == 1 and self.listen_key_route(names[0], conn):
            names = []
        conn.names.update(normal(n) for n in names[:_MAX_STREAMS])
        self.connections.add(conn)
        try:
            await self._read(conn)
        finally:
            self.connections.discard(conn)
            self.on_close(conn)
            await conn.finish(tasks)
        return ws

    async def _read(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            over = conn.over_rate(self.max_rate)
            self.peak_rate = max(self.peak_rate, len(conn.received))
            if over:
                self.faults.count("ws.rate_limit_disconnect")
                conn.close_code = 1008  # the writer closes once the queued answers are out
                return
            conn.send(json.dumps(self._control(conn, msg.data)))

    def _control(self, conn: Connection, text: str) -> dict[str, Any]:
        try:
            request = json.loads(text)
        except ValueError:
            return {"code": 3, "msg": "Invalid JSON: expected value", "id": None}
        if not isinstance(request, dict):
            return {"code": 2, "msg": "Invalid request: request must be an object", "id": None}
        rid, method, params = request.get("id"), request.get("method"), request.get("params")
        if not isinstance(rid, int | str | None) or isinstance(rid, bool):
            return {"code": 2, "msg": "Invalid request: invalid id", "id": None}
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {"code": 2, "msg": "Invalid request: params must be stream names", "id": rid}
            names = {normal(p) for p in params}
            if method == "SUBSCRIBE":
                if len(conn.names | names) > _MAX_STREAMS:
                    return {"code": 2, "msg": "Invalid request: too many streams", "id": rid}
                conn.names |= names
            else:
                conn.names -= names
            return {"result": None, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.names), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(conn, method, params, rid)
        return {
            "code": 2,
            "msg": f"Invalid request: unknown method {str(method)[:40]!r}",
            "id": rid,
        }

    @staticmethod
    def _property(conn: Connection, method: str, params: Any, rid: Any) -> dict[str, Any]:
        if not isinstance(params, list) or not params or params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": rid}
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": rid}
        if len(params) != 2 or not isinstance(params[1], bool):
            return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": rid}
        conn.combined = params[1]
        return {"result": None, "id": rid}
