"""The dashboard in a real headless browser against a live paper daemon (OP-4).

Driven by playwright-python with Debian's chromium (``/usr/bin/chromium``, installed
by ``.ci/run``; playwright's own browsers are never downloaded). Skipped, saying
why, only when no chromium or no playwright can be had.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from .conftest import TOKEN, start_daemon

CHROMIUM = Path("/usr/bin/chromium")
# a manual buy that risk accepts (sniper tier: confident, with a stop, under 2% of equity)
BUY = {"instrument_id": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0004",
       "confidence": 0.9, "stop_loss": "30000"}  # fmt: skip


def test_dashboard_shows_the_daemon_and_its_kill_button_engages_the_switch(
    tmp_path: Path,
) -> None:
    """Token entered; health, positions, orders and the chart render; kill → engaged."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    live = start_daemon(tmp_path)
    try:
        placed = live.call("POST", "/api/v1/orders", BUY)
        assert placed[0] == 201, placed[1]
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(live.base + "/dashboard/")
                page.fill("#token", TOKEN)
                page.click("#login-form button")
                page.wait_for_selector("#positions tr[data-row]", timeout=20_000)
                page.wait_for_selector("#orders tr[data-row]", timeout=20_000)
                health = page.inner_text("#health-status")
                positions = page.inner_text("#positions")
                chart = page.locator("#pnl-chart svg").count()
                page.click("#kill")
                page.click("#confirm-kill")
                sync_api.expect(page.locator("#kill-state")).to_have_text(
                    re.compile("^ENGAGED"), timeout=20_000
                )
                stored = page.evaluate("sessionStorage.getItem('genesis.token') !== null")
            finally:
                browser.close()
        risk = live.call("GET", "/api/v1/risk/status")[1]
    finally:
        assert live.stop() == 0
    assert health in ("HEALTHY", "DEGRADED", "CRITICAL")
    assert "operator" in positions
    assert "BTCUSDT" in positions
    assert chart == 1
    assert stored
    assert (risk["kill_switch"]["engaged"], risk["kill_switch"]["reason"]) == (True, "dashboard")
    with sqlite3.connect(f"file:{tmp_path / 'genesis.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT detail_json FROM audit_log WHERE action='kill_switch_engaged'")
        reasons = [json.loads(text)["reason"] for (text,) in rows]
    assert reasons == ["dashboard"]
