"""Parity (issue 13): a paper session's log, replayed by ``backtest``, gives the session's own
orders and fills byte for byte, as ``genesis journal export`` writes them from its journal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ROOT / "tests" / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"
BUSY_SNIPER = ROOT / "tests" / "data" / "strategies"  # momentum breakout, stop and target
IMBALANCE = """\
strategy: book_imbalance
tier: sniper
instruments: [BTCUSDT]
enabled: true
params:
  levels: 5
  entry_threshold: 0.6
  exit_threshold: 0.6
  position_pct: "0.02"
"""


def _daemon(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(data_dir), "GENESIS_MARKET_DATA": "recording"}
    env.pop("GENESIS_TIER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=data_dir, env=env,
    )  # fmt: skip


def _run_to_end(data_dir: Path, *args: str) -> dict[str, object]:
    """Run the session to its end; return its ``daemon_stopped`` line."""
    proc = _daemon(data_dir, *args)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    last: dict[str, object] = json.loads(out.splitlines()[-1])
    assert last["event"] == "daemon_stopped"
    return last


def _stop_after_fills(proc: subprocess.Popen[str], fills: int, sig: signal.Signals) -> None:
    """Read the log until ``fills`` fills are logged, then send ``sig`` and wait."""
    assert proc.stdout is not None
    seen, deadline = 0, time.monotonic() + 120
    while seen < fills and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += '"order_filled"' in line
    proc.send_signal(sig)
    proc.communicate(timeout=60)


def _replay_and_export(
    data_dir: Path, out: Path, log_name: str = "session-BTCUSDT.jsonl"
) -> tuple[Path, Path]:
    """``backtest --data SESSION_LOG`` and ``journal export``; return both directories."""
    log = data_dir / log_name
    replay, exported = out / "replay", out / "exported"
    assert main(["backtest", "--data", str(log), "--out", str(replay), "--quiet"]) == 0
    db = data_dir / "genesis.db"
    assert main(["journal", "export", "--journal", str(db), "--out", str(exported)]) == 0
    return replay, exported


def _rows(path: Path) -> int:
    return len(path.read_bytes().splitlines()) - 1  # without the header


def test_paper_session_on_l2_streams_replays_byte_identical(tmp_path: Path) -> None:
    """20,000 events of the BTCUSDT streams (book walking, partial fills): 40 orders, 21 fills."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "imbalance-btc.yaml").write_text(IMBALANCE, encoding="utf-8")
    data_dir = tmp_path / "session"
    data_dir.mkdir()
    stopped = _run_to_end(
        data_dir, "--strategies", str(strategies), "--cash", "10000", "--speed", "0",
        "--max-bars", "20000", "--data", str(STREAMS),
    )  # fmt: skip

    replay, exported = _replay_and_export(data_dir, tmp_path)

    assert (replay / "orders.csv").read_bytes() == (exported / "orders.csv").read_bytes()
    assert (replay / "fills.csv").read_bytes() == (exported / "fills.csv").read_bytes()
    assert (_rows(replay / "orders.csv"), _rows(replay / "fills.csv")) == (40, 21)
    metrics = json.loads((replay / "metrics.json").read_text())
    assert Decimal(metrics["final_equity"]) == Decimal(str(stopped["equity"]))
    assert Decimal(metrics["final_equity"]) == Decimal("9996.2537698959")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """The busy Sniper over 6,000 bundled bars, run straight through: its exported files."""
    data_dir = tmp_path_factory.mktemp("reference")
    _run_to_end(data_dir, "--strategies", str(BUSY_SNIPER), "--speed", "0", "--max-bars", "6000")
    replay, exported = _replay_and_export(data_dir, data_dir / "out")
    orders, fills = (exported / "orders.csv").read_bytes(), (exported / "fills.csv").read_bytes()
    assert (replay / "orders.csv").read_bytes() == orders
    assert (replay / "fills.csv").read_bytes() == fills
    return orders, fills


def test_uninterrupted_session_trades_the_bundled_bars(uninterrupted: tuple[bytes, bytes]) -> None:
    """The reference session replays byte-identical (checked in the fixture): 236 orders, 118 fills."""
    orders, fills = uninterrupted
    assert (len(orders.splitlines()) - 1, len(fills.splitlines()) - 1) == (236, 118)


def test_session_killed_and_restarted_replays_byte_identical(
    tmp_path: Path, uninterrupted: tuple[bytes, bytes]
) -> None:
    """kill -9 twice mid-trade, restarted to the end: the replay equals the journal and the
    uninterrupted session."""
    data_dir = tmp_path / "session"
    data_dir.mkdir()
    args = ("--strategies", str(BUSY_SNIPER), "--max-bars", "6000")
    for fills in (6, 30):
        _stop_after_fills(_daemon(data_dir, *args, "--speed", "3000"), fills, signal.SIGKILL)
    _run_to_end(data_dir, *args, "--speed", "0")

    replay, exported = _replay_and_export(data_dir, tmp_path)

    assert (replay / "orders.csv").read_bytes() == (exported / "orders.csv").read_bytes()
    assert (replay / "fills.csv").read_bytes() == (exported / "fills.csv").read_bytes()
    assert (exported / "orders.csv").read_bytes() == uninterrupted[0]
    assert (exported / "fills.csv").read_bytes() == uninterrupted[1]


def test_session_stopped_by_sigterm_replays_only_what_it_processed(tmp_path: Path) -> None:
    """A SIGTERM mid-session (working orders cancelled at the stop): the replay ends where the
    journal says the session did and still matches it."""
    data_dir = tmp_path / "session"
    data_dir.mkdir()
    args = ("--strategies", str(BUSY_SNIPER), "--max-bars", "6000", "--speed", "2000")
    _stop_after_fills(_daemon(data_dir, *args), 10, signal.SIGTERM)

    replay, exported = _replay_and_export(data_dir, tmp_path)

    orders = (exported / "orders.csv").read_bytes()
    assert _rows(exported / "fills.csv") >= 10
    assert (replay / "orders.csv").read_bytes() == orders
    assert (replay / "fills.csv").read_bytes() == (exported / "fills.csv").read_bytes()


@pytest.fixture
def sandbox() -> Iterator[dict[str, str]]:
    """The loopback Binance-compatible exchange replaying the real 2021 capture, live."""
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


def test_paper_session_on_live_data_replays_byte_identical(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """Paper on live streams (the loopback exchange's NKNUSDT book, trades and tickers, stamped
    as received): the replay of its session log gives its orders and fills."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "nkn.yaml").write_text(
        "strategy: book_imbalance\ntier: sniper\ninstruments: [NKNUSDT]\nenabled: true\n"
    )
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path), "GENESIS_MARKET_DATA": "live",
           "GENESIS_MARKET_REST_URL": sandbox["rest_url"],
           "GENESIS_MARKET_WS_URL": sandbox["ws_url"]}  # fmt: skip
    env.pop("GENESIS_TIER", None)
    done = subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies", str(strategies),
         "--cash", "10000", "--live-streams", "depth@100ms,bookTicker,trade",
         "--max-bars", "80"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    replay, exported = _replay_and_export(tmp_path, tmp_path / "out", "session-NKNUSDT.jsonl")

    assert '"market_data":"live"' in done.stdout.replace(" ", "")
    assert _rows(exported / "fills.csv") > 0
    assert (replay / "orders.csv").read_bytes() == (exported / "orders.csv").read_bytes()
    assert (replay / "fills.csv").read_bytes() == (exported / "fills.csv").read_bytes()


def _read_until(proc: subprocess.Popen[str], needle: str, count: int = 1) -> None:
    """Read the daemon's log until ``needle`` has appeared ``count`` more times."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while count > 0:
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise AssertionError(f"{needle} not seen")
        count -= needle in line


def test_operator_actions_are_replayed_where_they_happened(tmp_path: Path) -> None:
    """A parameter edit, a kill and a reset mid-session: the replay applies each at its event
    index (from the journal) and still gives the session's orders and fills."""
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    source = (BUSY_SNIPER / "sniper-breakout-btc.yaml").read_text(encoding="utf-8")
    config = strategies / "sniper-breakout-btc.yaml"
    config.write_text(source, encoding="utf-8")
    data_dir = tmp_path / "session"
    data_dir.mkdir()
    env = {**os.environ, "GENESIS_DATA_DIR": str(data_dir)}
    proc = _daemon(
        data_dir, "--strategies", str(strategies), "--max-bars", "6000", "--speed", "200"
    )
    try:
        _read_until(proc, '"order_filled"', 4)
        config.write_text(source.replace('"0.02"\n  max_risk', '"0.03"\n  max_risk'), "utf-8")
        _read_until(proc, '"config_applied"')
        _read_until(proc, '"order_filled"', 4)
        for verb in ("kill", "reset"):
            subprocess.run(
                [sys.executable, "-m", "genesis", verb, "--reason", "parity test"],
                env=env, cwd=data_dir, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            _read_until(proc, f'"kill_switch_{"engaged" if verb == "kill" else "reset"}"')
        _read_until(proc, '"order_filled"', 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)

    replay, exported = _replay_and_export(data_dir, tmp_path)

    with sqlite3.connect(data_dir / "genesis.db") as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit_log ORDER BY ts_ns")]
    assert {"config_applied", "kill_switch_engaged", "kill_switch_reset"} <= set(actions)
    assert _rows(exported / "fills.csv") >= 10
    assert (replay / "orders.csv").read_bytes() == (exported / "orders.csv").read_bytes()
    assert (replay / "fills.csv").read_bytes() == (exported / "fills.csv").read_bytes()
