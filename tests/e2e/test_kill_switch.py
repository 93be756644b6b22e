"""P10: the kill switch is durable. It survives restarts and only ``genesis reset`` clears it.

Real processes: the daemon, ``genesis kill``/``reset``/``status`` writing to
and reading from the same journal, restarts that rebuild the session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# a busy Sniper (tests/data/strategies): orders in flight at every crash and restart
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path)}
    env.pop("GENESIS_TIER", None)
    env.pop("GENESIS_DATABASE_URL", None)
    return env


def _daemon(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper",
         "--strategies", str(BUSY_STRATEGIES), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env(tmp_path),
    )  # fmt: skip


def _cli(tmp_path: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "genesis", *args],
        capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _finish(tmp_path: Path, bars: int, *extra: str) -> list[dict[str, Any]]:
    proc = _daemon(tmp_path, "--speed", "0", "--max-bars", str(bars), *extra)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return _events(out)


def _after(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    names = [e["event"] for e in events]
    return events[names.index(name) + 1 :]


def test_operator_kill_survives_restart_until_reset(tmp_path: Path) -> None:
    """kill while trading: orders cancelled, entries denied; a restart is still killed; reset trades again."""
    proc = _daemon(tmp_path, "--speed", "400", "--max-bars", "9000")
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any('"order_filled"' in x for x in lines):
        lines.append(proc.stdout.readline())
    requested = _cli(tmp_path, "kill", "--reason", "operator test")
    while time.monotonic() < deadline and not any('"kill_switch_engaged"' in x for x in lines):
        lines.append(proc.stdout.readline())
    time.sleep(1.0)  # let it trade on (or try to) after the kill
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    first = _events("".join(lines) + out)
    engaged = next(e for e in first if e["event"] == "kill_switch_engaged")
    assert (engaged["request_id"], engaged["source"]) == (requested["request_id"], "operator")
    after_kill = _after(first, "kill_switch_engaged")
    # no new exposure reached the venue after the kill: only exits of a long position
    assert all(e["side"] == "SELL" for e in after_kill if e["event"] == "order_submitted")
    assert _cli(tmp_path, "status")["kill_switch"] == "engaged"

    second = _finish(tmp_path, 12000)  # restart: rebuild, then more bars than before
    assert any(e["event"] == "daemon_recovered" for e in second)
    assert not any(e["event"] == "kill_switch_reset" for e in second)
    assert not any(e["event"] == "order_filled" and e["side"] == "BUY" for e in second)
    assert any(e.get("code") == "KILL_SWITCH" for e in second)  # entries were tried and denied
    assert _cli(tmp_path, "status")["kill_switch"] == "engaged"

    cleared = _cli(tmp_path, "reset", "--reason", "reviewed")
    assert _cli(tmp_path, "status")["pending"][0]["request_id"] == cleared["request_id"]
    third = _finish(tmp_path, 20000)
    reset = next(e for e in third if e["event"] == "kill_switch_reset")
    assert reset["request_id"] == cleared["request_id"]
    assert any(
        e["event"] == "order_filled" and e["side"] == "BUY"
        for e in _after(third, "kill_switch_reset")
    )
    status = _cli(tmp_path, "status")
    assert {k: status[k] for k in ("kill_switch", "pending", "reason", "source")} == {
        "kill_switch": "clear", "pending": [], "reason": "", "source": "",
    }  # fmt: skip
    # the strategy's figures read from the journal are those its last trade line logged
    journaled = dict(status["strategies"]["sniper-breakout-btc"])
    del journaled["last_trade_ns"]
    logged = [e for e in first + second + third if e["event"] == "strategy_trade"]
    assert journaled == logged[-1]["performance"]
    assert journaled["trades"] >= len([e for e in third if e["event"] == "strategy_trade"]) > 0


def test_daily_loss_kill_switch_needs_a_manual_reset(tmp_path: Path) -> None:
    """The automatic trigger stays engaged across days and a restart; reset re-baselines the loss."""
    first = _finish(tmp_path, 6000, "--max-daily-loss-pct", "0.0001")
    names = [e["event"] for e in first]
    assert names.count("kill_switch_engaged") == 1
    assert "kill_switch_reset" not in names
    engaged = first[names.index("kill_switch_engaged")]
    assert "daily loss" in str(engaged["reason"])
    assert engaged["source"] == "daily_loss"
    assert not any(
        e["event"] == "order_filled" and e["side"] == "BUY"
        for e in _after(first, "kill_switch_engaged")
    )
    assert _cli(tmp_path, "status")["source"] == "daily_loss"

    second = _finish(tmp_path, 8000, "--max-daily-loss-pct", "0.0001")
    assert any(e["event"] == "daemon_recovered" for e in second)
    assert not any(e["event"] == "order_filled" and e["side"] == "BUY" for e in second)

    _cli(tmp_path, "reset", "--reason", "loss reviewed")
    third = _finish(tmp_path, 20000, "--max-daily-loss-pct", "0.0001")
    assert any(
        e["event"] == "order_filled" and e["side"] == "BUY"
        for e in _after(third, "kill_switch_reset")
    )


def test_kill_and_reset_refuse_an_empty_reason(tmp_path: Path) -> None:
    """A blank --reason is a one-line error (exit 2) and writes nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "genesis", "kill", "--reason", "  "],
        capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--reason must not be empty" in done.stderr
    assert _cli(tmp_path, "status") == {
        "kill_switch": "clear", "pending": [], "reason": "", "source": "", "strategies": {},
        "venue_kill_switches": {},
    }  # fmt: skip


def test_kill_before_the_first_checkpoint_survives_kill_9(tmp_path: Path) -> None:
    """A kill applied early (no periodic checkpoint yet) is checkpointed at once: kill -9 keeps it."""
    proc = _daemon(tmp_path, "--speed", "40", "--max-bars", "9000")
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any('"market_data_selected"' in x for x in lines):
        lines.append(proc.stdout.readline())
    _cli(tmp_path, "kill", "--reason", "early")
    while time.monotonic() < deadline and not any('"kill_switch_engaged"' in x for x in lines):
        lines.append(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    second = _finish(tmp_path, 6000)  # no checkpoint yet: the session starts over, still killed
    assert not any(e["event"] == "order_filled" and e["side"] == "BUY" for e in second)
    assert any(e.get("code") == "KILL_SWITCH" for e in second)
    assert _cli(tmp_path, "status")["kill_switch"] == "engaged"


def test_a_kill_written_while_down_applies_before_any_order(tmp_path: Path) -> None:
    """Requested with the daemon stopped: on the next start it is engaged before strategies act."""
    _finish(tmp_path, 200)
    _cli(tmp_path, "kill", "--reason", "while down")
    events = _finish(tmp_path, 6000)
    names = [e["event"] for e in events]
    assert names.index("kill_switch_engaged") < names.index("market_data_selected")
    assert not any(e["event"] == "order_filled" and e["side"] == "BUY" for e in events)


def test_kill_without_a_session_in_that_journal_is_refused(tmp_path: Path) -> None:
    """`kill` aimed at a journal no daemon uses (e.g. the paper one of a live daemon) says so."""
    done = subprocess.run(
        [sys.executable, "-m", "genesis", "kill", "--reason", "x"],
        capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "no daemon session in the paper journal" in done.stderr
    assert "add --live" in done.stderr
