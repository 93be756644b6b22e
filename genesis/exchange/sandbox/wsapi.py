"""The WebSocket API (``/ws-api/v3``) for user data, and the user-event fan-out.

Served methods: ``ping``, ``time``, ``session.status``,
``userDataStream.subscribe.signature``, ``userDataStream.unsubscribe``. Events
go to every subscribed connection as ``{"subscriptionId": n, "event": {...}}``
and, unwrapped, to legacy ``/ws/<listenKey>`` sockets. The user-stream faults
(drop, duplicate, reorder, replay of executionReports; silence) act here, once
per event for all subscribers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from genesis.exchange.sandbox.auth import check_key, check_time, verify, ws_payload
from genesis.exchange.sandbox.errors import ApiError, mandatory
from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.limits import ConnectionAttempts, RateLimiter
from genesis.exchange.sandbox.streams import Connection

__all__ = ["UserHub"]


@dataclass(slots=True, eq=False)
class _Session:
    conn: Connection
    connected_ms: int
    subscription: int | None = None
    next_id: int = 0
    api_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class UserHub:
    """User-data subscribers (WS API sessions and legacy listenKey sockets)."""

    def __init__(
        self,
        faults: FaultPlan,
        limiter: RateLimiter,
        api_key: str,
        api_secret: str,
        now_ms: Callable[[], int],
        ping_interval_s: float,
    ) -> None:
        self.faults = faults
        self.connects = ConnectionAttempts(1 << 30, 300.0, lambda: 0)  # the server shares its own
        self.peak_rate = 0  # most messages any session sent within one second (counted only)
        self.limiter = limiter
        self._key = api_key
        self._secret = api_secret
        self.now_ms = now_ms
        self.ping_interval_s = ping_interval_s
        self.sessions: set[_Session] = set()
        self.legacy: dict[str, set[Connection]] = {}
        self.history: list[dict[str, Any]] = []
        self._held: dict[str, Any] | None = None
        self.sent = 0

    # --- fan-out ------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        """Deliver one user event, through the user-stream faults."""
        if event.get("e") == "executionReport":
            self.history.append(event)
            if self.faults.take("user.drop") is not None:
                return
            if self.faults.take("user.reorder") is not None:
                self._held = event
                return
            if self.faults.take("user.replay") is not None:
                for old in self.history[:-1]:
                    self._deliver(old)
        self._deliver(event)
        if event.get("e") == "executionReport" and self.faults.take("user.duplicate") is not None:
            self._deliver(event)
        if self._held is not None and self._held is not event:
            held, self._held = self._held, None
            self._deliver(held)

    def _deliver(self, event: dict[str, Any]) -> None:
        if self.faults.user_silenced:
            self.faults.count("user.silenced_event")
            return
        malformed = self.faults.take("user.malformed")
        for s in list(self.sessions):
            if s.subscription is not None:
                if malformed is not None:
                    s.conn.send(self.faults.fuzz_frame(malformed))
                self.sent += 1
                s.conn.send(json.dumps({"subscriptionId": s.subscription, "event": event}))
        for conns in self.legacy.values():
            for conn in conns:
                self.sent += 1
                conn.send(json.dumps(event))

    def terminate(self) -> int:
        """Send eventStreamTerminated to every subscription and end it."""
        n = 0
        for s in list(self.sessions):
            if s.subscription is not None:
                event = {"e": "eventStreamTerminated", "E": self.now_ms()}
                s.conn.send(json.dumps({"subscriptionId": s.subscription, "event": event}))
                s.subscription = None
                n += 1
        self.faults.count("user.terminated", n)
        return n

    def listen_key_expired(self, key: str) -> None:
        for conn in self.legacy.pop(key, set()):
            conn.send(json.dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}))

    def server_shutdown(self) -> None:
        for s in list(self.sessions):
            s.conn.send(json.dumps({"e": "serverShutdown", "E": self.now_ms()}))

    async def close_all(self) -> int:
        sessions = list(self.sessions)
        for s in sessions:
            await s.conn.ws.close(code=1001, message=b"sandbox closed the socket")
        return len(sessions)

    # --- the WS API -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.connects.attempt(request.remote or "?"):
            self.faults.count("ws.connect_limit")
            return web.json_response({"code": -1034, "msg": "Too many connections."}, status=429)
        if self.faults.refuse_connects or self.faults.take("ws.refuse_connect") is not None:
            self.faults.count("ws.refused")
            return web.json_response({"code": -1034, "msg": "Too many connections."}, status=503)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, combined=False)
        session = _Session(conn, self.now_ms())
        ip = request.remote or "?"
        tasks = [
            asyncio.create_task(conn.writer()),
            asyncio.create_task(conn.pinger(self.ping_interval_s)),
        ]
        self.sessions.add(session)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.over_rate(0)
                    self.peak_rate = max(self.peak_rate, len(conn.received))
                    conn.send(json.dumps(self._answer(session, ip, msg.data)))
        finally:
            self.sessions.discard(session)
            await conn.finish(tasks)
        return ws

    def _answer(self, session: _Session, ip: str, text: str) -> dict[str, Any]:
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return {
                "id": None,
                "status": 400,
                "error": {"code": -1013, "msg": "Malformed request."},
            }
        rid = request.get("id")
        method, params = request.get("method"), request.get("params") or {}
        weight = 2 if str(method).startswith("userDataStream") else 1
        try:
            used = self.limiter.charge(ip, weight)
            if not isinstance(params, dict):
                raise ApiError(
                    -1102,
                    "Mandatory parameter 'params' was not sent, was empty/null, or malformed.",
                )
            result = self._call(session, str(method), params)
        except ApiError as err:
            out: dict[str, Any] = {"id": rid, "status": err.status, "error": err.body}
            if "retry_after" in err.extra:
                now = self.now_ms()
                out["error"]["data"] = {
                    "retryAfter": now + err.extra["retry_after"] * 1000,
                    "serverTime": now,
                }
            return out
        return {
            "id": rid,
            "status": 200,
            "result": result,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.limiter.weight_limit,
                    "count": used,
                }
            ],
        }

    def _call(self, session: _Session, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.now_ms()}
        if method == "session.status":
            return {
                "apiKey": session.api_key,
                "authorizedSince": None,
                "connectedSince": session.connected_ms,
                "returnRateLimits": True,
                "serverTime": self.now_ms(),
                "userDataStream": session.subscription is not None,
            }
        if method == "userDataStream.subscribe.signature":
            return self._subscribe(session, params)
        if method == "userDataStream.unsubscribe":
            wanted = params.get("subscriptionId")
            if session.subscription is None or (
                wanted is not None and wanted != session.subscription
            ):
                raise ApiError(-2036, "User Data Stream subscription not active.")
            session.subscription = None
            return {}
        raise ApiError(-1100, f"Unknown method {method[:40]!r}.")

    def _subscribe(self, session: _Session, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise mandatory(name)
        check_key(str(params["apiKey"]), self._key)
        check_time(params, self.now_ms(), on_receipt=True)
        if not verify(self._secret, ws_payload(params), str(params["signature"])):
            raise ApiError(-1022, "Signature for this request is not valid.")
        if session.subscription is not None:
            raise ApiError(-2035, "User Data Stream subscription already active.")
        session.subscription, session.next_id = session.next_id, session.next_id + 1
        session.api_key = str(params["apiKey"])
        return {"subscriptionId": session.subscription}
