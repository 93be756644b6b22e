"""The daemon as a real process: paper trades on the bundled recording, correlated logs, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path)}
    env.pop("GENESIS_TIER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies", str(ROOT / "config" / "strategies"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip


def _events(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_daemon_paper_trades_and_correlates_every_step(tmp_path: Path) -> None:
    """3,000 real bars at full speed: it says what it runs on, trades, and one id links signal to fill."""
    proc = _start("--speed", "0", "--max-bars", "3000", tmp_path=tmp_path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    events = _events(out)
    started = events[0]
    assert (started["event"], started["mode"], started["tier"]) == (
        "daemon_started",
        "paper",
        "sniper",
    )
    assert "btcusdt-perp-1m-2022-01.csv.gz" in str(started["data"])
    submitted = {
        e["client_order_id"]: e["correlation_id"] for e in events if e["event"] == "order_submitted"
    }
    fills = [e for e in events if e["event"] == "order_filled"]
    assert fills
    assert all(f["correlation_id"] == submitted[f["client_order_id"]] for f in fills)
    exits = [
        e
        for e in events
        if e["event"] == "order_submitted" and e["order_type"] in ("STOP_MARKET", "LIMIT")
    ]
    assert exits
    assert all(e["correlation_id"] != e["client_order_id"] for e in exits)  # the entry's id
    assert events[-1]["event"] == "daemon_stopped"


def test_sigterm_stops_cleanly_with_exit_0(tmp_path: Path) -> None:
    """At the default pace it trades within seconds; SIGTERM then ends it with exit 0 and a final line."""
    proc = _start("--speed", "200", tmp_path=tmp_path)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    traded = False
    while time.monotonic() < deadline and not traded:
        line = proc.stdout.readline()
        traded = '"order_filled"' in line
    assert traded, "no paper fill within 60 s"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    tail = _events(out)
    assert any(e["event"] == "daemon_stopping" and e["reason"] == "SIGTERM" for e in tail)
    assert tail[-1]["event"] == "daemon_stopped"


def test_no_strategy_for_the_tier_is_one_clear_line(tmp_path: Path) -> None:
    """A tier without enabled strategies refuses to start, exit 2, no traceback."""
    only_sniper = ROOT / "tests" / "data" / "strategies"  # one Sniper config, no Strategist
    proc = subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", "strategist", "--strategies", str(only_sniper)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "no enabled strategy for tier strategist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_recording_fails_at_once_with_one_line(tmp_path: Path) -> None:
    """A NaN in the replayed file stops the daemon with file:line, exit 2, no retries, no traceback."""
    data = tmp_path / "bars.csv"
    data.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2021-12-31 23:01:00,46319.0,46385.0,46319.0,46377.0,2300413.7295\n"
        "2021-12-31 23:02:00,nan,46411.0,46377.0,46411.0,1829623.1938\n"
    )
    proc = _start("--speed", "0", "--data", str(data), tmp_path=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "bars.csv:3" in err
    assert "Traceback" not in err
    assert '"feed_failed"' not in out


def _read_until(
    proc: subprocess.Popen[str], needle: str, timeout_s: float = 60
) -> list[dict[str, object]]:
    assert proc.stdout is not None
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("{"):
            seen.append(json.loads(line))
            if needle in line:
                return seen
    raise AssertionError(f"{needle} not seen within {timeout_s} s")


def test_hot_reload_rejects_bad_edits_and_applies_good_ones(tmp_path: Path) -> None:
    """A bad edit is refused with file, line, field and reason and changes nothing; a good one is applied live."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    source = (ROOT / "config" / "strategies" / "sniper-breakout-btc.yaml").read_text()
    config = strategies / "sniper-breakout-btc.yaml"
    config.write_text(source)
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--speed", "20", "--strategies", str(strategies)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    try:
        _read_until(proc, '"daemon_started"')
        time.sleep(1.0)  # let the watcher start
        config.write_text(source.replace('take_profit_pct: "0.01"', 'take_profit_pct: "-5"'))
        rejected = _read_until(proc, '"config_rejected"')[-1]
        config.write_text(source.replace('take_profit_pct: "0.01"', 'take_profit_pct: "0.03"'))
        applied = _read_until(proc, '"config_applied"')[-1]
        after = _read_until(proc, '"order_type":"LIMIT"')  # the next take profit
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert rejected["file"] == str(config)
    assert rejected["line"] == source.splitlines().index('  take_profit_pct: "0.01"') + 1
    assert rejected["field"] == "params.take_profit_pct"
    assert "greater than 0" in str(rejected["reason"])
    assert applied["strategy_id"] == "sniper-breakout-btc"
    assert applied["params"]["take_profit_pct"] == "0.03"  # type: ignore[index]
    assert applied["old_version"] != applied["new_version"]
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        audited = db.execute("SELECT action, detail_json FROM audit_log ORDER BY ts_ns").fetchall()
    configs = [(a, d) for a, d in audited if a.startswith("config_")]
    assert [a for a, _ in configs] == ["config_rejected", "config_applied"]
    assert "params.take_profit_pct" in configs[0][1]  # the rejected attempt, with its field
    stop, target = [e for e in after if e["event"] == "order_submitted"][-2:]
    ratio = Decimal(str(target["price"])) / Decimal(str(stop["trigger_price"]))
    assert abs(ratio - Decimal("1.03") / Decimal("0.98")) < Decimal("0.0005")  # 3% target, 2% stop
    assert proc.returncode == 0


def test_emergency_stop_flattens_and_exits(tmp_path: Path) -> None:
    """SIGUSR1 while long: open orders are cancelled, the position is sold at market, then a clean exit."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "sma.yaml").write_text(
        'strategy: sma_cross\ntier: sniper\ninstruments: [BTCUSDT]\nparams:\n  quantity: "0.0003"\n'
    )
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--speed", "200", "--strategies", str(strategies)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    _read_until(proc, '"side":"BUY","quantity":"0.0003","price"')  # a buy filled: long now
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=60)
    events = _events(out)
    assert proc.returncode == 0, err
    assert any(e["event"] == "daemon_stopping" and e["reason"] == "flattened" for e in events)
    assert [e["side"] for e in events if e["event"] == "order_filled"][-1] == "SELL"
    assert events[-1]["balances"]["BTC"] in ("0", "0.00000")  # type: ignore[index]


def test_daemon_replays_l2_recordings(tmp_path: Path) -> None:
    """The L2 capture and the raw BTCUSDT streams replay through the daemon's feed (books kept by BookSync)."""
    from genesis import resources

    capture = _start("--speed", "0", "--data", str(resources.SPOT_CAPTURE), tmp_path=tmp_path)
    out, err = capture.communicate(timeout=120)
    assert capture.returncode == 0, err
    assert (
        _events(out)[-1]["events"] == 267
    )  # every snapshot, diff, ticker and trade of the capture
    streams = ROOT / "tests" / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
    (tmp_path / "s").mkdir()
    live = _start(
        "--speed", "0", "--data", str(streams), "--max-bars", "5000", tmp_path=tmp_path / "s"
    )
    out, err = live.communicate(timeout=120)
    assert live.returncode == 0, err
    assert _events(out)[-1]["events"] == 5000
