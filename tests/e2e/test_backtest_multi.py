"""The backtest on several recordings (``--data F1 --data F2``) is the paper daemon's run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from genesis import resources

BACKTEST = ["--strategy", "sma_cross", "--param", "fast=5", "--param", "slow=20",
            "--param", "quantity=1", "--cash", "2000000", "--fee-bps", "10"]  # fmt: skip


def _backtest(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genesis", "backtest", *BACKTEST,
         "--data", str(resources.BINANCE_BTCUSD_1M_TRADES),
         "--data", str(resources.BYBIT_BTCUSD_1M_TRADES), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_two_venues_backtest_like_paper_and_byte_identically(tmp_path: Path) -> None:
    """Binance and Bybit BTCUSD bars of 2022-12-13: 134 fills on two venues, final equity
    1,998,160.2981 exactly as the paper daemon's two-venue run (tests/e2e/test_multi_instrument);
    a rerun writes the same bytes."""
    first = _backtest(tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert "sma_cross on BTCUSD, bybit:BTCUSD" in first.stdout
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["final_equity"] == "1998160.2981"
    assert metrics["trades"] == 67
    second = _backtest(tmp_path / "b")
    assert second.returncode == 0, second.stderr
    for name in ("trades.csv", "equity.csv", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
