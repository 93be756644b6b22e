"""``python -m genesis`` with GENESIS_ALERT_URLS: the alert reaches a loopback webhook and the
URL's token appears in no output of the process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parents[3]
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
TOKEN = "CANARYHOOKq8Zt41mWx0"


async def _webhook(received: list[dict[str, Any]]) -> tuple[web.AppRunner, int]:
    async def hook(request: web.Request) -> web.Response:
        received.append({"path": request.path, **await request.json()})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hooks/{token}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def test_the_daemon_notifies_a_drawdown_and_never_prints_the_token(tmp_path: Path) -> None:
    """A 0.01% drawdown threshold on the busy Sniper's 3000 bars: the drawdown alert is
    logged and posted to the webhook; stdout and stderr never contain the token."""
    received: list[dict[str, Any]] = []
    runner, port = await _webhook(received)
    env = {
        **os.environ,
        "GENESIS_DATA_DIR": str(tmp_path),
        "GENESIS_ALERT_URLS": f"json://127.0.0.1:{port}/hooks/{TOKEN}",
        "GENESIS_ALERT_DRAWDOWN_PCT": "0.0001",
        # this checkout's genesis, not the one installed in the shared venv
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    env.pop("GENESIS_TIER", None)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies",
            str(BUSY_STRATEGIES), "--speed", "0", "--max-bars", "3000",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 180)
    finally:
        await runner.cleanup()

    assert process.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    alerts = [line for line in lines if line["event"] == "alert"]
    assert "drawdown" in {a["rule"] for a in alerts}
    assert any(r["title"].endswith(": drawdown") for r in received)
    assert {r["path"] for r in received} == {f"/hooks/{TOKEN}"}
    assert TOKEN.encode() not in out
    assert TOKEN.encode() not in err
