"""A real paper daemon with its control API on loopback, for the API tests.

The daemon runs as a subprocess (``python -m genesis``) on the bundled BTCUSDT
recording, paced so it keeps trading while a test talks to it; its stdout and
stderr go to files (the R21 scan reads them). The API listens on a free port
(``GENESIS_API_PORT=0``), read from the ``api_listening`` line. The token and
the venue key are canaries: random, so a leak cannot be a coincidence.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
STRATEGIES = ROOT / "tests" / "data" / "strategies"  # a busy Sniper: orders all the time
TOKEN = "canary-api-token-" + secrets.token_hex(16)
VENUE_KEY = "canary-venue-key-" + secrets.token_hex(12)
VENUE_SECRET = "canary-venue-secret-" + secrets.token_hex(12)


@dataclass
class LiveDaemon:
    """A running daemon and how to talk to it."""

    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    out: Path
    err: Path

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = TOKEN,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; returns the status and the parsed JSON (or the raw bytes)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _parse(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _parse(exc.read())

    def stop(self) -> int:
        """SIGTERM, then wait for the clean exit; return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def logs(self) -> str:
        return self.out.read_text() + self.err.read_text()


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def daemon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test daemon: its own data dir, the canaries, a free port."""
    kept = ("GENESIS_NATIVE", "GENESIS_EXPECT_NATIVE")  # pure Python or compiled, as the run
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_") or k in kept}
    env.update(
        PYTHONPATH=str(ROOT),  # this tree's genesis, whatever the venv's install points to
        GENESIS_DATA_DIR=str(data_dir),
        GENESIS_MARKET_DATA="recording",
        GENESIS_API_TOKEN=TOKEN,
        GENESIS_API_PORT="0",
        GENESIS_BINANCE_API_KEY=VENUE_KEY,
        GENESIS_BINANCE_API_SECRET=VENUE_SECRET,
        **extra,
    )
    return env


def start_daemon(data_dir: Path, *args: str, speed: str = "40", **env: str) -> LiveDaemon:
    """Start a paper daemon and wait (60 s at most) until its API listens."""
    data_dir.mkdir(parents=True, exist_ok=True)
    n = len(list(data_dir.glob("stdout-*.log")))
    out, err = data_dir / f"stdout-{n}.log", data_dir / f"stderr-{n}.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies",
             str(STRATEGIES), "--speed", speed, *args],
            stdout=stdout, stderr=stderr, cwd=data_dir, env=daemon_env(data_dir, **env),
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        for line in out.read_text().splitlines():
            if '"api_listening"' in line:
                port = json.loads(line)["port"]
                return LiveDaemon(proc, f"http://127.0.0.1:{port}", data_dir, out, err)
        time.sleep(0.05)  # polling a log file for a line; not a timing assertion
    proc.kill()
    proc.wait()
    raise AssertionError(f"the daemon's API did not start: {err.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    """One daemon shared by a module's read-mostly tests; stopped (exit 0) at the end."""
    live = start_daemon(tmp_path_factory.mktemp("api-daemon"))
    try:
        yield live
    finally:
        assert live.stop() == 0, live.err.read_text()[-2000:]
