"""Paper trading on live market data: the native feed, its session log, recovery, and the fallback.

No internet here: "live" is the loopback Binance-compatible exchange
(``python -m genesis sandbox``) replaying the real 2021 capture over its
REST and WebSocket endpoints; the daemon reaches it through the same native
feed and URLs settings it would use for data-stream.binance.vision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the busy Sniper of the reliability tests (tests/data/strategies)
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def sandbox() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "sandbox", "--port", "0", "--control-port", "0",
         "--speed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    urls: dict[str, str] = json.loads(proc.stdout.readline())
    try:
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _daemon(
    tmp_path: Path, rest: str, ws: str, *args: str, strategies: Path | None = None
) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "GENESIS_DATA_DIR": str(tmp_path),
        "GENESIS_MARKET_DATA": "live",
        "GENESIS_MARKET_REST_URL": rest,
        "GENESIS_MARKET_WS_URL": ws,
    }
    env.pop("GENESIS_TIER", None)
    done = subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", "sniper",
         "--strategies", str(strategies or BUSY_STRATEGIES), *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return _events(done.stdout)


def test_live_feed_is_logged_and_a_restart_rebuilds_from_the_log(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """The daemon subscribes to what its strategies trade (NKNUSDT here), logs every event
    before the strategies see it, and a restart rebuilds from the log, then goes on live."""
    rest, ws = sandbox["rest_url"], sandbox["ws_url"]
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "nkn.yaml").write_text(
        "strategy: book_imbalance\ntier: sniper\ninstruments: [NKNUSDT]\nenabled: true\n"
    )
    streams = ("--live-streams", "depth@100ms,bookTicker,trade")
    first = _daemon(tmp_path, rest, ws, *streams, "--max-bars", "40", strategies=strategies)
    selected = next(e for e in first if e["event"] == "market_data_selected")
    assert (selected["market_data"], selected["data"]) == ("live", ws)
    assert first[-1]["event"] == "daemon_stopped"
    assert first[-1]["events"] == 40
    log = tmp_path / "session-NKNUSDT.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 40
    types = [x["type"] for x in lines]
    assert "BookSnapshot" in types  # the feed fetched the REST snapshot for its book
    assert set(types) <= {"BookSnapshot", "BookDelta", "QuoteTick", "TradeTick"}

    second = _daemon(tmp_path, rest, ws, *streams, "--max-bars", "70", strategies=strategies)
    recovered = next(e for e in second if e["event"] == "daemon_recovered")
    assert recovered["events"] == 40  # rebuilt from the session log, then live again
    assert second[-1]["events"] == 70
    assert len(log.read_text().splitlines()) == 70


def test_unreachable_live_data_falls_back_to_the_recording_once(tmp_path: Path) -> None:
    events = _daemon(
        tmp_path, "http://127.0.0.1:1", "ws://127.0.0.1:1", "--speed", "0", "--max-bars", "3000"
    )
    names = [e["event"] for e in events]
    assert names.count("market_data_unreachable") == 1
    unreachable = events[names.index("market_data_unreachable")]
    assert str(unreachable["fallback"]).endswith("btcusdt-perp-1m-2022-01.csv.gz")
    selected = events[names.index("market_data_selected")]
    assert selected["market_data"] == "recording"
    assert "order_filled" in names
