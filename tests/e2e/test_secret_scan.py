"""R21: canary secrets never leave memory: not in stdout, stderr, the journal files or error lines.

The daemon runs with canary API credentials and a database password in its
environment, through a normal session, a kill switch request, and forced
failures that print context (an unreachable database whose URL carries the
password, an invalid setting next to the secrets, a traceback with
GENESIS_DEBUG). Every artifact is then grepped for the canaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the busy Sniper of the reliability tests (tests/data/strategies)
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
KEY = "CANARYKEYvmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91"
SECRET = "CANARYSECRETNhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqq"
PASSWORD = "CANARYPASSWORDx9Qz"
CANARIES = (KEY, SECRET, PASSWORD)


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "GENESIS_DATA_DIR": str(tmp_path),
        "GENESIS_BINANCE_API_KEY": KEY,
        "GENESIS_BINANCE_API_SECRET": SECRET,
        **env,
    }
    full.pop("GENESIS_TIER", None)
    return subprocess.run(
        [sys.executable, "-m", "genesis", *args],
        capture_output=True, text=True, cwd=tmp_path, env=full, timeout=120,
    )  # fmt: skip


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [c for c in CANARIES if c.encode() in data]


def test_no_canary_in_any_output_or_file(tmp_path: Path) -> None:
    outputs: list[str] = []
    strategies = str(BUSY_STRATEGIES)
    session = _run(
        tmp_path,
        "--tier",
        "sniper",
        "--strategies",
        strategies,
        "--speed",
        "0",
        "--max-bars",
        "3000",
    )
    assert session.returncode == 0, session.stderr
    assert '"order_filled"' in session.stdout
    outputs += [session.stdout, session.stderr]

    for args in (("kill", "--reason", "scan"), ("status",), ("reset", "--reason", "scan")):
        done = _run(tmp_path, *args)
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]

    # a database URL with the password that cannot be reached: the error names the server, not the password
    unreachable = _run(
        tmp_path, "--tier", "sniper", "--strategies", strategies,
        GENESIS_DATABASE_URL=f"postgresql://genesis:{PASSWORD}@127.0.0.1:1/nowhere",
    )  # fmt: skip
    assert unreachable.returncode != 0
    assert "127.0.0.1:1" in unreachable.stderr
    outputs += [unreachable.stdout, unreachable.stderr]

    # an invalid setting beside the secrets, with tracebacks switched on
    invalid = _run(
        tmp_path, "--tier", "sniper", "--strategies", strategies,
        GENESIS_SHUTDOWN_TIMEOUT_S="-1", GENESIS_DEBUG="1",
        GENESIS_DATABASE_URL=f"sqlite:///{tmp_path / 'genesis.db'}?password={PASSWORD}",
    )  # fmt: skip
    assert invalid.returncode != 0
    assert "GENESIS_SHUTDOWN_TIMEOUT_S" in invalid.stderr
    outputs += [invalid.stdout, invalid.stderr]

    leaks = {n: _leaks(text) for n, text in enumerate(outputs) if _leaks(text)}
    assert leaks == {}
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "genesis.db" for p in files)
    assert {str(p): _leaks(p.read_bytes()) for p in files if _leaks(p.read_bytes())} == {}
