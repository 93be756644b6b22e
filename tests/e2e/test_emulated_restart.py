"""kill -9 while an emulated trailing stop is held, restart: it still triggers exactly once.

The paper daemon trades the bundled real BTCUSDT 1-minute bars. A test strategy buys
0.0004 BTC on its first bar and, once filled, protects it with a trailing stop 50 bps behind
the best price: an order no venue carries, held by the kernel's emulator. The daemon is
killed right after the stop's intent is journaled; the restarted daemon must end with the
same fills as an uninterrupted run: one buy, one trailing-stop sell, nothing twice.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = '''
from genesis.core.enums import Side
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class TrailingExit(Strategy[StrategyParams]):
    """Buys 0.0004 BTC once (under the tier's 2% of 1,000 USDT); protects the fill with a 50 bps trailing stop."""

    def on_start(self) -> None:
        self.entered = False
        self.protected = False

    def on_bar(self, bar) -> None:
        if not self.entered:
            self.entered = True
            self.ctx.buy(bar.instrument_id, "0.0004", confidence=1.0, reason="e2e entry")

    def on_fill(self, fill) -> None:
        if fill.side is Side.BUY and not self.protected:
            self.protected = True
            stop = self.ctx.orders.trailing_stop(
                fill.instrument_id, Side.SELL, fill.last_qty, offset_bps="50", confidence=1.0
            )
            self.ctx.submit(stop)
'''

CONFIG = """strategy: "emulated_e2e:TrailingExit"
tier: sniper
instruments: [BTCUSDT]
enabled: true
params: {}
"""


def _setup(root: Path) -> Path:
    (root / "emulated_e2e.py").write_text(STRATEGY)
    strategies = root / "strategies"
    strategies.mkdir()
    (strategies / "trailing.yaml").write_text(CONFIG)
    return strategies


def _daemon(data: Path, cwd: Path, *args: str) -> subprocess.Popen[str]:
    # this checkout's genesis (not whichever the venv installed) and the test strategy
    path = os.pathsep.join((str(ROOT), str(cwd)))
    env = {**os.environ, "GENESIS_DATA_DIR": str(data), "PYTHONPATH": path}
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--strategies", str(cwd / "strategies"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env,
    )  # fmt: skip


def _fills(data: Path) -> list[tuple[object, ...]]:
    sql = "SELECT trade_id, side, price, quantity, client_order_id FROM fills ORDER BY trade_id"
    return sqlite3.connect(data / "genesis.db").execute(sql).fetchall()


def test_a_held_trailing_stop_survives_kill_9_and_triggers_once(tmp_path: Path) -> None:
    """Killed with the stop held; restarted to bar 3,000: the same two fills as a clean run."""
    _setup(tmp_path)
    crashed, reference = tmp_path / "crashed", tmp_path / "reference"
    proc = _daemon(crashed, tmp_path, "--speed", "50")
    assert proc.stdout is not None
    held, deadline = False, time.monotonic() + 60
    while not held and time.monotonic() < deadline:
        held = "TRAILING_STOP_MARKET" in proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    at_kill = [row[1] for row in _fills(crashed)]  # the stop held, not yet triggered
    finish = _daemon(crashed, tmp_path, "--speed", "0", "--max-bars", "3000")
    out, err = finish.communicate(timeout=180)
    clean = _daemon(reference, tmp_path, "--speed", "0", "--max-bars", "3000")
    _, clean_err = clean.communicate(timeout=180)

    assert held
    assert at_kill == ["BUY"]
    assert finish.returncode == 0, err[-2000:]
    assert clean.returncode == 0, clean_err[-2000:]
    assert '"daemon_recovered"' in out
    got, want = _fills(crashed), _fills(reference)
    assert got == want
    assert [row[1] for row in got] == ["BUY", "SELL"]
