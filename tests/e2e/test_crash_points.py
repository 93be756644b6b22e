"""R1 (paper scale): kill -9 at every named crash point, repeatedly; the journal ends exact.

One session is killed 12 times in a row: three times at each of the plan's
named instants (after an intent commit, after a send, after a fill arrives,
in the middle of a checkpoint), each restart recovering and carrying on
further. The final journal must equal an uninterrupted run's: no lost fill,
no duplicated order, no phantom, the same account.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from genesis.daemon.crashpoints import HOOKS

ROOT = Path(__file__).resolve().parents[2]
# a busy Sniper (tests/data/strategies): orders in flight at every crash and restart
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
BARS = 12000


def _daemon(
    data_dir: Path, *args: str, crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(data_dir)}
    env.pop("GENESIS_TIER", None)
    env.pop("GENESIS_DATABASE_URL", None)
    if crash is not None:
        env["GENESIS_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", "sniper",
         "--strategies", str(BUSY_STRATEGIES), "--speed", "0", *args],
        capture_output=True, text=True, cwd=data_dir.parent, env=env, timeout=120,
    )  # fmt: skip


def _journal(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            "fills": db.execute(
                "SELECT trade_id, client_order_id, side, price, quantity, fee FROM fills ORDER BY trade_id"
            ).fetchall(),
            "orders": db.execute(
                "SELECT client_order_id, side, order_type, quantity, price, status, filled_qty"
                " FROM orders ORDER BY client_order_id"
            ).fetchall(),
        }


def test_twelve_kills_at_named_points_lose_nothing(tmp_path: Path) -> None:
    crashed, reference = tmp_path / "crashed", tmp_path / "reference"
    crashed.mkdir()
    reference.mkdir()
    kills = [f"{hook}:{n}" for n in (1, 3, 6) for hook in HOOKS]
    outcomes = []
    for spec in kills:
        run = _daemon(crashed, "--max-bars", str(BARS), crash=spec)
        outcomes.append((spec, run.returncode, f"crash point {spec} reached" in run.stderr))
        assert "daemon_halted" not in run.stdout, run.stdout[-2000:]
    final = _daemon(crashed, "--max-bars", str(BARS))
    assert final.returncode == 0, final.stderr
    assert '"daemon_recovered"' in final.stdout
    assert _daemon(reference, "--max-bars", str(BARS)).returncode == 0

    assert outcomes == [(spec, 137, True) for spec in kills]  # every kill happened where named
    got, want = _journal(crashed / "genesis.db"), _journal(reference / "genesis.db")
    assert len(want["fills"]) > 40
    assert got["fills"] == want["fills"]  # no lost fill, no phantom
    assert got["orders"] == want["orders"]  # no duplicated or missing order
