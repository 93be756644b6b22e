"""Many instruments, many venues: the paper daemon on two symbols and on two venues, as a process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

from genesis import resources

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"


def _run(strategies: Path, tmp_path: Path, *args: str) -> list[dict[str, object]]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path)}
    env.pop("GENESIS_TIER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies", str(strategies),
         "--speed", "0", *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _fills(events: list[dict[str, object]]) -> Counter[tuple[object, object]]:
    return Counter((e["venue"], e["instrument"]) for e in events if e["event"] == "order_filled")


def test_two_symbols_replay_interleaved_and_both_trade(tmp_path: Path) -> None:
    """BTCUSDT and ETHUSDT streams of 2024-08-08 together: fills on both, each naming venue and symbol."""
    events = _run(
        EXAMPLES / "two-symbols", tmp_path, "--cash", "10000",
        "--data", str(resources.BTCUSDT_STREAMS), "--data", str(resources.ETHUSDT_STREAMS),
    )  # fmt: skip
    # ten losing round trips in a row pause the strategy (RK-3, the default loss-streak
    # breaker) for an hour of event time: longer than the rest of the recording
    assert _fills(events) == {("PAPER", "BTCUSDT"): 8, ("PAPER", "ETHUSDT"): 12}
    assert [e["code"] for e in events if e["event"] == "breaker_tripped"] == ["BREAKER_LOSS_STREAK"]
    submitted = [e for e in events if e["event"] == "order_submitted"]
    assert {(e["venue"], e["instrument"]) for e in submitted} == {
        ("PAPER", "BTCUSDT"),
        ("PAPER", "ETHUSDT"),
    }
    assert events[-1]["events"] == 41_249 + 33_618  # every message of both files, once


def test_two_venues_keep_their_own_accounts(tmp_path: Path) -> None:
    """Binance and Bybit BTCUSD bars of 2022-12-13 as two venues: fills on both, two accounts."""
    events = _run(
        EXAMPLES / "two-venues", tmp_path, "--cash", "2000000",
        "--data", str(resources.BINANCE_BTCUSD_1M_TRADES),
        "--data", str(resources.BYBIT_BTCUSD_1M_TRADES),
    )  # fmt: skip
    # the loss-streak breaker (RK-3) pauses one strategy for an hour of event time once
    assert _fills(events) == {("PAPER", "BTCUSD"): 86, ("PAPER-BYBIT", "bybit:BTCUSD"): 36}
    assert [e["code"] for e in events if e["event"] == "breaker_tripped"] == ["BREAKER_LOSS_STREAK"]
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        fills = db.execute("SELECT venue, symbol, COUNT(*) FROM fills GROUP BY venue, symbol")
        assert sorted(fills.fetchall()) == [
            ("PAPER", "BTCUSD", 86),
            ("PAPER-BYBIT", "bybit:BTCUSD", 36),
        ]
        venues = db.execute("SELECT DISTINCT venue FROM balances").fetchall()
    assert sorted(v for (v,) in venues) == ["PAPER", "PAPER-BYBIT"]
