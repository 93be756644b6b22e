"""kill -9 a paper session over and over (R1): the journal equals an uninterrupted run's,
and no client order id is ever submitted twice, in the logs or at the (simulated) venue."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a busy Sniper (tests/data/strategies): orders in flight at every crash and restart
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
BARS = "6000"


def _start(data_dir: Path, speed: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(data_dir), "GENESIS_MARKET_DATA": "recording"}
    env.pop("GENESIS_TIER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies",
         str(BUSY_STRATEGIES), "--speed", speed, "--max-bars", BARS],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=data_dir, env=env,
    )  # fmt: skip


def _kill_after(proc: subprocess.Popen[str], seconds: float, on_submit: bool) -> list[str]:
    """Read its log until ``seconds`` after its ``daemon_started`` line (its recovery and
    trading, not the interpreter's start, which a loaded machine stretches), or, with
    ``on_submit``, until an order is logged as submitted; then SIGKILL it; return the lines
    read."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60  # until it has started
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if '"daemon_started"' in line:
            deadline = time.monotonic() + seconds
        if on_submit and '"order_submitted"' in line:
            break
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    return lines + rest.splitlines(keepends=True)


def _journal(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        fills = conn.execute(
            "SELECT trade_id, client_order_id, side, price, quantity, fee FROM fills ORDER BY trade_id"
        ).fetchall()
        orders = conn.execute(
            "SELECT client_order_id, status, filled_qty FROM orders ORDER BY client_order_id"
        ).fetchall()
    return fills, orders


def _submitted(lines: list[str]) -> list[str]:
    return [
        json.loads(line)["client_order_id"]
        for line in lines
        if line.startswith("{") and '"order_submitted"' in line
    ]


def test_twenty_kills_lose_nothing_and_send_nothing_twice(tmp_path: Path) -> None:
    """22 kill -9 (random points, and right as an order is logged), restarts, then to the end."""
    reference = tmp_path / "reference"
    reference.mkdir()
    ref = _start(reference, "0")
    ref_out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    rng = random.Random(20261207)
    logged: list[str] = []
    for n in range(22):
        proc = _start(crashed, "3000")
        logged += _kill_after(proc, rng.uniform(0.6, 1.9), on_submit=n % 3 == 2)
    final = _start(crashed, "0")
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0
    logged += out.splitlines(keepends=True)
    assert _journal(crashed / "genesis.db") == _journal(reference / "genesis.db")
    ids = Counter(_submitted(logged))
    assert [i for i, n in ids.items() if n > 1] == []
    sent = set(_submitted(ref_out.splitlines(keepends=True)))
    assert set(ids) <= sent
    # an order is logged as soon as its intent commits; a kill between the commit and the
    # line loses the line, and the restart's daemon_recovered names that round instead
    recovered = [json.loads(line) for line in logged if '"daemon_recovered"' in line]
    assert sent - set(ids) <= {i for r in recovered for i in r["last_round"]}
    assert _journal(crashed / "genesis.db") == _journal(reference / "genesis.db")
    assert sum('"daemon_recovered"' in line for line in logged) >= 20
