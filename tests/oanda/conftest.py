"""Shared fixtures: an OANDA sandbox on an ephemeral loopback port and a native client on it.

The replay starts at the first minute of the bundled GBP/USD files: bid 1.57576,
ask 1.57585 (the 2012-02-01 00:00 bars' closes); the next minute is 1.57543 / 1.57552.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from genesis.exchange.oanda import OandaClient
from genesis.exchange.oanda_sandbox import OandaSandboxConfig, OandaSandboxServer

TOKEN = "canary-token-5d1e0a"
D = Decimal
BID0, ASK0 = D("1.57576"), D("1.57585")
BID1, ASK1 = D("1.57543"), D("1.57552")


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[OandaSandboxServer]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    srv = OandaSandboxServer(OandaSandboxConfig(token=TOKEN, heartbeat_s=0.05, **overrides))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def client(server: OandaSandboxServer) -> AsyncIterator[OandaClient]:
    c = OandaClient(server.url, TOKEN, rate=1000)
    await c.use_first_account()
    await c.load_instruments()
    try:
        yield c
    finally:
        await c.close()
