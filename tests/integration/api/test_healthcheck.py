"""``python -m genesis healthcheck`` against a running daemon (the container's HEALTHCHECK)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import TOKEN, LiveDaemon, daemon_env


def _healthcheck(live: LiveDaemon, token: str | None) -> subprocess.CompletedProcess[str]:
    port = live.base.rsplit(":", 1)[1]
    env = daemon_env(live.data_dir)
    env["GENESIS_API_PORT"] = port
    env.pop("GENESIS_API_TOKEN")
    if token is not None:
        env["GENESIS_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "genesis", "healthcheck"],
        capture_output=True, text=True, env=env, cwd=live.data_dir, timeout=60, check=False,
    )  # fmt: skip


def test_healthcheck_passes_on_a_running_daemon_and_never_prints_the_token(
    daemon: LiveDaemon,
) -> None:
    """The running paper daemon answers HEALTHY or DEGRADED: exit 0, token not shown."""
    done = _healthcheck(daemon, TOKEN)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("healthcheck: HEALTHY") or "DEGRADED" in done.stdout
    assert TOKEN not in done.stdout + done.stderr


def test_healthcheck_fails_with_a_wrong_token(daemon: LiveDaemon) -> None:
    """A token the daemon refuses is an unhealthy answer (exit 1), not a pass."""
    done = _healthcheck(daemon, "x" * 40)

    assert done.returncode == 1
    assert "answered 401" in done.stdout
