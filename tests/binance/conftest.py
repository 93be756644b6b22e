"""Loopback helpers for the Binance connector tests: a tiny aiohttp app on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

CANARY_KEY = "CANARYKEYvmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7J"
CANARY_SECRET = "CANARYSECRETNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvq"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Loopback:
    """An aiohttp server whose routes each test sets; records every request it saw."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[web.Request] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        async def recording(request: web.Request) -> web.StreamResponse:
            self.requests.append(request)
            return await handler(request)

        self.app.router.add_route(method, path, recording)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    server = Loopback()
    yield server
    await server.stop()
