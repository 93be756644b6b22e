"""REST dispatch: parameters, weight and headers, auth, and the order-response faults.

Every route goes through ``RestApi.dispatch`` in the §8.3 order: forced
faults, weight (429/418), key (-2014/-2015), timing check 1 (-1021),
signature (-1022), then the handler, which does the parameter, symbol,
filter, rate, duplicate, balance and maker/trigger checks and the timing
check 2 right before the engine. Handlers live in ``handlers.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from genesis.exchange.sandbox.auth import check_key, check_time, rest_payload, verify
from genesis.exchange.sandbox.config import Clock
from genesis.exchange.sandbox.errors import ApiError, mandatory
from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.limits import RateLimiter

__all__ = ["NONE", "SIGNED", "USER_STREAM", "Ctx", "Cut", "RequestLog", "RestApi", "Route"]

log = structlog.get_logger(__name__)

NONE, SIGNED, USER_STREAM = "NONE", "SIGNED", "USER_STREAM"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    client_order_id: str | None
    orig_client_order_id: str | None
    status: int
    code: int | None
    received_ms: int = 0  # exchange clock on receipt
    timestamp_ms: int | None = None  # the signed ``timestamp`` parameter, if any


class RequestLog:
    """Every REST request seen (the secret-free parts), for "0 resends" assertions."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.counts[(record.method, record.path)] += 1

    def count(self, method: str, path: str, client_order_id: str | None = None) -> int:
        if client_order_id is None:
            return self.counts[(method, path)]
        return sum(
            1
            for r in self.records
            if (r.method, r.path, r.client_order_id) == (method, path, client_order_id)
        )

    def clear(self) -> None:
        self.records.clear()
        self.counts.clear()


@dataclass(slots=True)
class Ctx:
    request: web.Request
    params: dict[str, str]
    ip: str
    headers: dict[str, str] = field(default_factory=dict)


class Cut(Exception):
    """Raised by a handler to answer with a transport fault instead of a response."""

    def __init__(self, mode: str, body: Any = None) -> None:
        super().__init__(mode)
        self.mode = mode
        self.body = body


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    security: str
    weight: Callable[[dict[str, str]], int]


def _opt_int(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


def parse_params(query: str, body: str) -> dict[str, str]:
    """Query and form body; a name given in both takes the query's value (§2)."""
    out: dict[str, str] = {}
    for source in (body, query):
        seen: set[str] = set()
        for key, value in parse_qsl(source, keep_blank_values=True):
            if key in seen:
                raise ApiError(-1101, "Duplicate values for a parameter detected.")
            seen.add(key)
            out[key] = value
    return out


class RestApi:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        clock: Clock,
        faults: FaultPlan,
        limiter: RateLimiter,
        requests: RequestLog,
    ) -> None:
        self._key = api_key
        self._secret = api_secret
        self.clock = clock
        self.faults = faults
        self.limiter = limiter
        self.requests = requests

    def add_routes(self, app: web.Application, routes: list[Route]) -> None:
        for route in routes:
            app.router.add_route(route.method, route.path, self._bind(route))

    def _bind(self, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self.dispatch(request, route)

        return handler

    async def dispatch(self, request: web.Request, route: Route) -> web.StreamResponse:
        query = request.rel_url.raw_query_string
        body = (await request.read()).decode("utf-8", "replace") if request.can_read_body else ""
        ip = request.remote or "?"
        received_ms = self.clock.now_ms()
        params: dict[str, str] = {}
        status, code = 200, None
        try:
            params = parse_params(query, body)
            ctx = Ctx(request, params, ip)
            result = await self._run(ctx, route, query, body)
            response: web.StreamResponse = web.json_response(
                result, dumps=lambda o: json.dumps(o, separators=(",", ":"))
            )
            response.headers.update(ctx.headers)
        except ApiError as err:
            status, code = err.status, err.code
            response = web.json_response(err.body, status=err.status)
            if "retry_after" in err.extra:
                response.headers["Retry-After"] = str(err.extra["retry_after"])
        except Cut as cut:
            status = 0
            response = await self._cut(request, cut)
        self.requests.add(
            RequestRecord(
                route.method,
                route.path,
                params.get("newClientOrderId"),
                params.get("origClientOrderId"),
                status,
                code,
                received_ms,
                _opt_int(params.get("timestamp")),
            )
        )
        used = str(self.limiter.used(ip))
        if not response.prepared:
            response.headers["X-MBX-USED-WEIGHT-1M"] = used
            response.headers["X-MBX-USED-WEIGHT"] = used
        return response

    async def _run(self, ctx: Ctx, route: Route, query: str, body: str) -> Any:
        forced = self.faults.take("rest.force", path=route.path)
        if forced is not None:
            raise ApiError(
                int(forced.get("code", -1003)),
                str(forced.get("msg", "Injected fault.")),
                int(forced.get("status", 429)),
                **({"retry_after": int(forced["retry_after"])} if "retry_after" in forced else {}),
            )
        self.limiter.charge(ctx.ip, route.weight(ctx.params))
        if route.security != NONE:
            check_key(ctx.request.headers.get("X-MBX-APIKEY"), self._key)
        if route.security == SIGNED:
            check_time(ctx.params, self.clock.now_ms(), on_receipt=True)
            payload, signature = rest_payload(query, body)
            if not signature:
                raise mandatory("signature")
            if not verify(self._secret, payload, signature):
                raise ApiError(-1022, "Signature for this request is not valid.")
        return await route.handler(ctx)

    async def second_time_check(self, ctx: Ctx, delay_s: float) -> None:
        """§3.3 check 2, right before the engine, after the injected delay."""
        delay = self.faults.recv_window_delay_s or delay_s
        if delay > 0:
            self.faults.count("recv_window.delay")
            await asyncio.sleep(delay)
        try:
            check_time(ctx.params, self.clock.now_ms(), on_receipt=False)
        except ApiError:
            self.limiter.count_order()  # a check-2 rejection counts as an unfilled order
            raise

    async def _cut(self, request: web.Request, cut: Cut) -> web.StreamResponse:
        transport = request.transport
        if cut.mode == "truncate" and transport is not None:
            data = json.dumps(cut.body, separators=(",", ":")).encode()
            response = web.StreamResponse(
                status=200,
                headers={"Content-Type": "application/json", "Content-Length": str(len(data))},
            )
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            transport.close()
            return response
        if transport is not None:
            if cut.mode == "reset":
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            else:
                transport.close()
        return web.Response(status=500)
