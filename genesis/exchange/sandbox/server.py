"""``SandboxServer``: the loopback Binance-compatible test exchange, wired and served.

Two aiohttp servers on 127.0.0.1: the exchange (REST ``/api/v3``, market
streams ``/ws`` and ``/stream``, WS API ``/ws-api/v3``) and the control port
(fault hooks, actions and the ledger as HTTP JSON). Background tasks flush
depth batches every ``depth_interval_s``, replay the capture in real time when
``replay_speed`` > 0, and close sockets on the fault plan's schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from genesis.exchange.sandbox.config import Clock, SandboxConfig
from genesis.exchange.sandbox.control import control_routes
from genesis.exchange.sandbox.engine import Engine
from genesis.exchange.sandbox.errors import ApiError
from genesis.exchange.sandbox.faults import FaultPlan
from genesis.exchange.sandbox.handlers import Handlers
from genesis.exchange.sandbox.klines import BUNDLED_KLINES, KlineHistory
from genesis.exchange.sandbox.limits import ConnectionAttempts, RateLimiter
from genesis.exchange.sandbox.orders import BinanceOrder
from genesis.exchange.sandbox.rest import RequestLog, RestApi
from genesis.exchange.sandbox.streams import Connection, StreamHub
from genesis.exchange.sandbox.symbols import ExchangeInfo
from genesis.exchange.sandbox.validate import check_filters, parse_placement
from genesis.exchange.sandbox.wsapi import UserHub
from genesis.resources import SPOT_CAPTURE

__all__ = ["SandboxServer"]

log = structlog.get_logger(__name__)


class SandboxServer:
    """The test exchange; see the package docstring for what is served."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock(config.clock)
        self.faults = FaultPlan(config.seed)
        self.info = ExchangeInfo(config.exchange_info)
        info = self.info
        self.limiter = RateLimiter(
            config.weight_limit or info.limit("REQUEST_WEIGHT", "MINUTE", 1) or 1200,
            config.order_limit_10s or info.limit("ORDERS", "SECOND", 10) or 50,
            config.order_limit_1d or info.limit("ORDERS", "DAY", 1) or 160_000,
            config.ban_seconds,
            self.clock.wall_ms,
        )
        self.requests = RequestLog()
        self.connects = ConnectionAttempts(
            config.ws_connect_limit, config.ws_connect_window_s, self.clock.wall_ms
        )
        self.streams = StreamHub(
            self.faults, self.clock.now_ms, config.ping_interval_s, config.ws_max_messages_per_s
        )
        self.users = UserHub(
            self.faults,
            self.limiter,
            config.api_key,
            config.api_secret,
            self.clock.now_ms,
            config.ping_interval_s,
        )
        self.engine = Engine(
            info,
            config.balances,
            maker_bps=config.maker_bps,
            taker_bps=config.taker_bps,
            seed=config.seed,
            now_ms=self.clock.now_ms,
            emit=self.users.emit,
            publish=self.streams.publish,
        )
        self.engine.on_first_fill = self.limiter.order_traded
        self.api = RestApi(
            api_key=config.api_key,
            api_secret=config.api_secret,
            clock=self.clock,
            faults=self.faults,
            limiter=self.limiter,
            requests=self.requests,
        )
        self.handlers = Handlers(
            engine=self.engine,
            info=info,
            api=self.api,
            faults=self.faults,
            limiter=self.limiter,
            users=self.users,
            legacy_listen_key=config.legacy_listen_key,
            check_delay_s=config.recv_window_check_delay_s,
            history=KlineHistory(BUNDLED_KLINES if config.klines is None else config.klines),
        )
        self.streams.connects = self.users.connects = self.connects
        self.streams.listen_key_route = self._route_listen_key
        self.streams.on_close = self._legacy_closed
        if config.replay:
            self.engine.market.load_capture(config.capture or SPOT_CAPTURE)
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.rest_url = self.ws_url = self.ws_api_url = self.control_url = ""

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        self.api.add_routes(app, self.handlers.routes())
        app.router.add_get("/ws/{name}", self.streams.handle_raw)
        app.router.add_get("/stream", self.streams.handle_combined)
        app.router.add_get("/ws-api/v3", self.users.handle)
        control = web.Application(client_max_size=1 << 20)
        control.add_routes(control_routes(self))
        port = await self._serve(app, self.config.port)
        cport = await self._serve(control, self.config.control_port)
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        self.rest_url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"
        self.ws_api_url = f"ws://{host}:{port}/ws-api/v3"
        self.control_url = f"http://{host}:{cport}"
        self._tasks = [asyncio.create_task(self._flusher()), asyncio.create_task(self._closer())]
        if self.config.replay_speed > 0:
            self._tasks.append(asyncio.create_task(self._replayer()))
        log.info("sandbox_started", rest=self.rest_url, control=self.control_url)

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        self._runners.append(runner)
        server = site._server
        assert server is not None
        sockets: list[Any] = list(getattr(server, "sockets", None) or [])
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.streams.close_all()
        await self.users.close_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.depth_interval_s)
            self.engine.market.flush(self.clock.now_ms())

    async def _closer(self) -> None:
        while True:
            every = self.faults.close_sockets_every_s
            await asyncio.sleep(every or 0.05)
            if every:
                self.faults.count("ws.scheduled_close", await self.close_sockets())

    async def _replayer(self) -> None:
        market = self.engine.market
        first = market.first_replay_ms()
        if first is None:
            return
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while market.replay_remaining:
            target = first + int((loop.time() - t0) * 1000 * self.config.replay_speed)
            await self.advance_until(target)
            await asyncio.sleep(min(self.config.depth_interval_s, 0.05))

    # --- test API --------------------------------------------------------------------

    def set_book(
        self,
        symbol: str,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
    ) -> None:
        """Replace ``symbol``'s book; the diff is published at the next depth flush."""
        self.engine.market.set_book(symbol, list(bids), list(asks), self.clock.now_ms())

    def flush(self) -> None:
        """Publish pending depth changes now (tests need not wait for the 100 ms batch)."""
        self.engine.market.flush(self.clock.now_ms())

    def trade(self, symbol: str, price: Decimal, qty: Decimal, buyer_maker: bool = False) -> int:
        """A public trade print; returns its trade id."""
        return self.engine.market.print_trade(symbol, price, qty, buyer_maker, self.clock.now_ms())

    def advance(self, n_events: int) -> int:
        return self.engine.market.advance(n_events, self.clock.now_ms())

    async def advance_until(self, ts_ms: int) -> int:
        market, done = self.engine.market, 0
        while (nxt := market.next_replay_ms()) is not None and nxt <= ts_ms:
            done += market.advance(1, self.clock.now_ms())
        return done

    def ledger(self) -> dict[str, Any]:
        return self.engine.ledger.export(self.engine.positions())

    # --- fault actions ---------------------------------------------------------------

    async def close_sockets(self) -> int:
        return await self.streams.close_all() + await self.users.close_all()

    def server_shutdown(self) -> None:
        self.faults.count("server_shutdown")
        self.streams.server_shutdown()
        self.users.server_shutdown()

    def terminate_user_streams(self) -> int:
        return self.users.terminate()

    def expire_listen_keys(self) -> None:
        for key in list(self.handlers.listen_keys):
            del self.handlers.listen_keys[key]
            self.users.listen_key_expired(key)
            self.faults.count("user.listen_key_expired")

    def step_clock(self, ms: int) -> None:
        self.clock.skew_ms += ms
        self.faults.count("clock.step")

    def set_clock_skew(self, ms: int) -> None:
        self.clock.skew_ms = ms
        self.faults.count("clock.skew")

    def external_order(self, **params: str) -> BinanceOrder:
        """An order placed "from the UI" (R24): same checks, no REST request, no POST count."""
        p = parse_placement(self.info, params)
        check_filters(
            p, self.engine.last_price(p.spec.symbol), *self.engine.open_counts(p.spec.symbol)
        )
        cid = p.client_id or f"web_{self.engine.new_client_id()}"
        qty = self.engine.check_placement(p, cid)
        self.faults.count("external.place")
        return self.engine.place(p, cid, qty, external=True, via_post=False)

    def external_cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        o = self.engine.find(symbol, None, client_order_id)
        if o is None:
            raise ApiError(-2011, "Unknown order sent.")
        self.faults.count("external.cancel")
        return self.engine.cancel(o, None)

    def deposit(self, asset: str, amount: Decimal) -> None:
        self.faults.count("external.deposit")
        self.engine.adjust_balance(asset, amount)

    def withdraw(self, asset: str, amount: Decimal) -> None:
        self.faults.count("external.withdraw")
        self.engine.adjust_balance(asset, -amount)

    def _route_listen_key(self, key: str, conn: Connection) -> bool:
        if key not in self.handlers.listen_keys:
            return False
        self.users.legacy.setdefault(key, set()).add(conn)
        return True

    def _legacy_closed(self, conn: Connection) -> None:
        for conns in self.users.legacy.values():
            conns.discard(conn)

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.stop()
