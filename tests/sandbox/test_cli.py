"""``python -m genesis sandbox``: loopback only, balances parsed exactly, URLs printed."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from genesis.errors import ConfigError
from genesis.exchange.sandbox.cli import add_parser, parse_balances, run

from .conftest import D


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sandbox", *argv])


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="loopback only"):
        run(_args("--host", "0.0.0.0"))


def test_balances_are_exact_decimals() -> None:
    assert parse_balances("USDT=10000,btc=0.00000001") == {
        "USDT": D("10000"),
        "BTC": D("0.00000001"),
    }
    with pytest.raises(ConfigError, match="ASSET=AMOUNT"):
        parse_balances("USDT=-1")


def test_serves_until_sigterm_and_prints_urls(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "sandbox", "--speed", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["rest_url"].startswith("http://127.0.0.1:")
        assert line["ws_api_url"].endswith("/ws-api/v3")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
