"""``genesis config versions|diff|rollback`` against the journal of a daemon that ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "sniper-breakout-btc"


def _genesis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "genesis", *args], capture_output=True, text=True, timeout=120,
        cwd=tmp_path, env=env, check=False,
    )  # fmt: skip


def test_versions_drift_diff_and_rollback(tmp_path: Path) -> None:
    """The running version is listed; an edit shows as drift and in the diff; rollback restores the file."""
    strategies = tmp_path / "strategies"
    shutil.copytree(ROOT / "config" / "strategies", strategies)
    ran = _genesis(
        tmp_path,
        "--tier",
        "sniper",
        "--speed",
        "0",
        "--max-bars",
        "600",
        "--strategies",
        str(strategies),
    )
    assert ran.returncode == 0, ran.stderr
    config = strategies / f"{NAME}.yaml"
    original = config.read_text()
    config.write_text(original.replace('take_profit_pct: "0.01"', 'take_profit_pct: "0.04"'))

    versions = _genesis(tmp_path, "config", "--strategies", str(strategies), "versions", NAME)
    diff = _genesis(tmp_path, "config", "--strategies", str(strategies), "diff", NAME)
    running_sha = versions.stdout.split()[1]
    rollback = _genesis(
        tmp_path, "config", "--strategies", str(strategies), "rollback", NAME, running_sha
    )
    after = _genesis(tmp_path, "config", "--strategies", str(strategies), "versions", NAME)

    assert versions.returncode == 0, versions.stderr
    assert versions.stdout.splitlines()[0].endswith("running")
    assert "drift: file" in versions.stdout
    assert '-  "params": {' not in diff.stdout
    assert '"take_profit_pct": "0.01"' in diff.stdout
    assert '+    "take_profit_pct": "0.04"' in diff.stdout
    assert rollback.returncode == 0, rollback.stderr
    assert "take_profit_pct: '0.01'" in config.read_text()
    assert "drift" not in after.stdout


def test_rollback_to_an_unknown_version_is_one_line(tmp_path: Path) -> None:
    """An unknown SHA is refused, naming what is stored; exit 2."""
    strategies = tmp_path / "strategies"
    shutil.copytree(ROOT / "config" / "strategies", strategies)
    result = _genesis(
        tmp_path, "config", "--strategies", str(strategies), "rollback", NAME, "deadbeef"
    )
    assert result.returncode == 2
    assert "0 versions match 'deadbeef'" in result.stderr
    assert "Traceback" not in result.stderr
