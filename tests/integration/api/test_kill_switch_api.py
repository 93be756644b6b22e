"""RK-2 from the API: per-venue and global kill switches, journaled once, durable (R15)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .conftest import daemon_env, start_daemon

ORDER = {"instrument_id": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.0004",
         "price": "30000", "confidence": 0.9, "stop_loss": "29000"}  # fmt: skip


def _rows(data_dir: Path, action: str) -> list[dict[str, object]]:
    with sqlite3.connect(f"file:{data_dir / 'genesis.db'}?mode=ro", uri=True) as db:
        found = db.execute(
            "SELECT detail_json FROM audit_log WHERE action = ? ORDER BY id", (action,)
        )
        return [json.loads(text) for (text,) in found]


def test_kill_switches_are_journaled_once_and_survive_a_restart(tmp_path: Path) -> None:
    """Venue then global kill: orders refused, one row each, still engaged after a restart."""
    first = start_daemon(tmp_path, speed="400")  # the strategy keeps trying meanwhile
    try:
        venue = first.call("POST", "/api/v1/risk/binance/kill-switch?reason=venue%20drill")[1]
        refused = first.call("POST", "/api/v1/orders", ORDER)
        killed = first.call("POST", "/api/v1/risk/global/kill-switch?reason=global%20drill")[1]
        status = first.call("GET", "/api/v1/risk/status")[1]
    finally:
        assert first.stop() == 0
    assert (venue["engaged"], venue["reason"], killed["engaged"]) == (True, "venue drill", True)
    assert refused[0] == 422
    assert refused[1]["error"] == "KILL_SWITCH"
    assert "binance" in refused[1]["detail"]
    assert status["kill_switch"]["engaged"] is True
    assert status["accounts"] == {"binance": {"engaged": True, "reason": "venue drill"}}
    requests = _rows(tmp_path, "kill_requested")
    assert [r["request_id"] for r in requests] == [venue["request_id"], killed["request_id"]]
    assert requests[0]["account"] == "binance"
    engaged = [r["request_id"] for r in _rows(tmp_path, "kill_switch_engaged")]
    assert engaged == [killed["request_id"]]  # applied once: the poller did not repeat it
    assert [r["request_id"] for r in _rows(tmp_path, "venue_kill_engaged")] == [venue["request_id"]]
    # R15: after the kill is acknowledged, no order that adds exposure reaches the venue
    events = [json.loads(x) for x in first.out.read_text().splitlines() if x.startswith("{")]
    names = [e["event"] for e in events]
    since_kill = events[names.index("venue_kill_switch_engaged") + 1 :]
    sent = [e for e in since_kill if e["event"] == "order_submitted"]
    assert all(e["reduce_only"] for e in sent), sent

    again = start_daemon(tmp_path)
    try:
        after = again.call("GET", "/api/v1/risk/status")[1]
        still = again.call("POST", "/api/v1/orders", ORDER)
        again.call("POST", "/api/v1/risk/global/kill-switch/reset?reason=drill%20over")
        again.call("POST", "/api/v1/risk/binance/kill-switch/reset?reason=drill%20over")
        cleared = again.call("GET", "/api/v1/risk/status")[1]
        placed = again.call("POST", "/api/v1/orders", ORDER)
    finally:
        assert again.stop() == 0
    assert after["kill_switch"]["engaged"] is True
    assert after["kill_switch"]["reason"] == "global drill"
    assert after["accounts"] == {"binance": {"engaged": True, "reason": "venue drill"}}
    assert (still[0], still[1]["error"]) == (422, "KILL_SWITCH")
    assert (cleared["kill_switch"]["engaged"], cleared["accounts"]) == (False, {})
    assert placed[0] == 201, placed[1]


def test_cli_venue_kill_reaches_the_running_daemon_through_the_poller(tmp_path: Path) -> None:
    """genesis kill --account binance: the poller applies it; status and the API show it."""
    live = start_daemon(tmp_path)
    try:
        cli = [sys.executable, "-m", "genesis"]
        env = daemon_env(tmp_path)
        done = subprocess.run([*cli, "kill", "--account", "binance", "--reason", "cli drill"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 30
        accounts: dict[str, object] = {}
        while time.monotonic() < deadline and not accounts:
            accounts = live.call("GET", "/api/v1/risk/status")[1]["accounts"]
            time.sleep(0.05)  # waiting for the poller (0.5 s); not a timing assertion
        status = subprocess.run([*cli, "status"], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=60)  # fmt: skip
        global_switch = live.call("GET", "/api/v1/risk/status")[1]["kill_switch"]
    finally:
        assert live.stop() == 0
    assert accounts == {"binance": {"engaged": True, "reason": "cli drill"}}
    assert global_switch["engaged"] is False
    shown = json.loads(status.stdout)
    assert shown["venue_kill_switches"] == {"binance": "cli drill"}
    assert shown["kill_switch"] == "clear"
