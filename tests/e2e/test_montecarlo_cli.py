"""``python -m genesis montecarlo RUN_DIR`` as a subprocess on the reference backtest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main

REFERENCE = [
    "backtest", "--strategy", "sma_cross", "--symbol", "BTCUSDT", "--param", "fast=10",
    "--param", "slow=30", "--param", "quantity=1", "--cash", "1000000", "--fee-bps", "10",
    "--quiet", "--data", str(resources.BTCUSDT_1M_BARS),
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    assert main([*REFERENCE, "--out", str(out)]) == 0
    return out


def _genesis(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "genesis", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_montecarlo_writes_json_and_prints_the_table(run_dir: Path) -> None:
    """Exit 0; montecarlo.json holds the 5/50/95 % intervals; the table names the method."""
    done = _genesis("montecarlo", str(run_dir), "--paths", "1000", "--seed", "7", "--ruin", "0.1")

    assert done.returncode == 0, done.stderr
    result = json.loads((run_dir / "montecarlo.json").read_text())
    assert (result["method"], result["series"], result["paths"], result["seed"]) == (
        "trades", "trades", 1000, 7,
    )  # fmt: skip
    assert result["percentiles"] == [5.0, 50.0, 95.0]
    assert result["final_equity"] == pytest.approx([894475.431575, 902902.16475, 911404.87725])
    assert result["ruin_probability"] == 0.287
    assert len(result["fan"]) == 3
    assert len(result["fan"][0]) == len(result["fan_steps"]) == 250
    assert "trade bootstrap of 945 trades" in done.stdout
    assert "ruin (dd 10%)  28.70% of paths" in done.stdout


def test_block_bootstrap_from_the_command_line(run_dir: Path, tmp_path: Path) -> None:
    """--method blocks --block 5 resamples the 33 daily returns, annualised with 365."""
    done = _genesis("montecarlo", str(run_dir), "--method", "blocks", "--block", "5", "--quiet")

    assert done.returncode == 0, done.stderr
    result = json.loads((run_dir / "montecarlo.json").read_text())
    assert (result["series"], result["steps"], result["block"]) == ("daily", 33, 5)
    assert result["periods_per_year"] == 365.0
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing-dir", "no such run directory"),
        ("no-trades-file", "no trades.csv; is this a finished backtest's --out directory?"),
        ("block-too-long", "invalid block 40; expected an int in 1..33"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    run_dir: Path, tmp_path: Path, setup: str, message: str
) -> None:
    """A bad RUN_DIR, a missing file or a bad option: one line on stderr, exit 2, no traceback."""
    target, extra = tmp_path / "run", []
    if setup == "no-trades-file":
        shutil.copytree(run_dir, target)
        (target / "trades.csv").unlink()
    elif setup == "block-too-long":
        target, extra = run_dir, ["--method", "blocks", "--block", "40"]

    done = _genesis("montecarlo", str(target), *extra)

    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
