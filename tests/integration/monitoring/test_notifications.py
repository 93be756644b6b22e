"""Alerts reach a loopback webhook through apprise; the URL's token never reaches a log."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog
from aiohttp import web

from genesis.daemon.cli import alert_config
from genesis.logs import configure
from genesis.monitoring.alerts import Alerts, Severity
from genesis.settings import Settings

TOKEN = "wh00k-t0ken-8c1f2a9e"


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP server that records every JSON body posted to /hooks/<token>."""
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append({"path": request.path, **await request.json()})
        arrived.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hooks/{token}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"json://127.0.0.1:{port}/hooks/{TOKEN}", received
    finally:
        await runner.cleanup()


@pytest.fixture
def json_log() -> AsyncIterator[io.StringIO]:
    """The production JSON log chain on a buffer; structlog's defaults restored after."""
    out = io.StringIO()
    yield out
    structlog.reset_defaults()


async def test_an_alert_is_posted_to_the_webhook_and_its_token_never_logged(
    webhook: tuple[str, list[dict[str, Any]]], json_log: io.StringIO, capfd: Any
) -> None:
    """json:// on 127.0.0.1: the body arrives with title, message and type; the log (even a
    message that quotes the URL) and stderr never show the token."""
    url, received = webhook
    settings = Settings(alert_urls=url, alert_min_severity="warning")
    configure(level="debug", stream=json_log, secrets=settings.secret_values())
    alerts = Alerts(alert_config(settings), structlog.get_logger())
    stopping = asyncio.Event()
    task = asyncio.create_task(alerts.run(stopping))

    alerts.fire("journal", Severity.CRITICAL, f"journal down (posting to {url} failed)")
    stopping.set()
    await asyncio.wait_for(task, 30)

    [body] = received
    assert body["path"] == f"/hooks/{TOKEN}"
    assert body["title"] == "Genesis CRITICAL: journal"
    assert body["message"].startswith("journal down")
    assert body["type"] == "failure"
    assert alerts.delivery.sent == 1
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["alert"]
    assert TOKEN not in json_log.getvalue()
    assert TOKEN not in "".join(capfd.readouterr())
    assert TOKEN not in repr(settings)
    assert TOKEN not in repr(alert_config(settings))
