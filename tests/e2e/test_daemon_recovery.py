"""kill -9 mid-run, restart: the journal ends exactly as an uninterrupted run's (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[2]
# a busy Sniper (tests/data/strategies): orders in flight at every crash and restart
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
_SCHEMAS = itertools.count(1)


def _daemon(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies", str(BUSY_STRATEGIES), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env={**os.environ, **env},
    )  # fmt: skip


def _kill_after_fills(env: dict[str, str], cwd: Path, fills: int) -> None:
    proc = _daemon(env, cwd, "--speed", "400")
    assert proc.stdout is not None
    seen, deadline = 0, time.monotonic() + 60
    while seen < fills and time.monotonic() < deadline:
        seen += '"order_filled"' in proc.stdout.readline()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert seen >= fills


def _finish(env: dict[str, str], cwd: Path, bars: int) -> str:
    proc = _daemon(env, cwd, "--speed", "0", "--max-bars", str(bars))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


async def _journal(url: str | None, data_dir: Path) -> list[tuple[object, ...]]:
    repo = await open_repository(url, data_dir)
    try:
        return sorted(
            (f.trade_id, f.side.value, f.price, f.quantity, f.fee, f.client_order_id)
            for f in await repo.fills_since(0)
        )
    finally:
        await repo.close()


def test_kill_9_then_restart_loses_no_fill_and_duplicates_no_order_sqlite(tmp_path: Path) -> None:
    """SQLite: killed after ~20 fills, restarted to bar 4,000: fills and orders equal the uninterrupted run's."""
    crashed, reference = tmp_path / "crashed", tmp_path / "reference"
    _kill_after_fills({"GENESIS_DATA_DIR": str(crashed)}, tmp_path, fills=20)
    out = _finish({"GENESIS_DATA_DIR": str(crashed)}, tmp_path, 4000)
    _finish({"GENESIS_DATA_DIR": str(reference)}, tmp_path, 4000)

    assert '"daemon_recovered"' in out
    for sql in ("SELECT trade_id, side, price, quantity, fee FROM fills ORDER BY trade_id",
                "SELECT client_order_id, status, filled_qty FROM orders ORDER BY client_order_id"):  # fmt: skip
        got = sqlite3.connect(crashed / "genesis.db").execute(sql).fetchall()
        want = sqlite3.connect(reference / "genesis.db").execute(sql).fetchall()
        assert got == want
        assert len(got) > 40


def test_kill_9_then_restart_on_postgresql(tmp_path: Path) -> None:
    """PostgreSQL: the same crash and restart give the same journal as an uninterrupted run."""
    schemas = [f"genesis_e2e_{os.getpid()}_{next(_SCHEMAS)}" for _ in range(2)]

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        for schema in schemas:
            asyncio.run(admin(f'CREATE SCHEMA "{schema}"'))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    urls = [f"{PG_URL}?search_path={schema}" for schema in schemas]
    try:
        _kill_after_fills({"GENESIS_DATABASE_URL": urls[0]}, tmp_path, fills=20)
        out = _finish({"GENESIS_DATABASE_URL": urls[0]}, tmp_path, 4000)
        _finish({"GENESIS_DATABASE_URL": urls[1]}, tmp_path, 4000)
        got, want = (
            asyncio.run(_journal(urls[0], tmp_path)),
            asyncio.run(_journal(urls[1], tmp_path)),
        )
    finally:
        for schema in schemas:
            asyncio.run(admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    assert '"daemon_recovered"' in out
    assert got == want
    assert len(got) > 40


def test_journal_that_disagrees_comes_up_halted(tmp_path: Path) -> None:
    """A journaled fill the rebuild cannot reproduce: the daemon comes up HALTED, says why, trades nothing, stops cleanly."""
    env = {"GENESIS_DATA_DIR": str(tmp_path / "data")}
    _finish(env, tmp_path, 2000)
    with sqlite3.connect(tmp_path / "data" / "genesis.db") as db:
        db.execute(
            "UPDATE fills SET price = price + 1 WHERE trade_id = (SELECT MIN(trade_id) FROM fills)"
        )
    proc = _daemon(env, tmp_path, "--speed", "0", "--max-bars", "4000")
    assert proc.stdout is not None
    deadline, halted = time.monotonic() + 60, ""
    while not halted and time.monotonic() < deadline:
        line = proc.stdout.readline()
        halted = line if '"daemon_halted"' in line else ""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert "rebuilt fills differ from the journal" in halted
    assert '"order_filled"' not in out
    assert proc.returncode == 0


def test_journaled_balance_that_disagrees_comes_up_halted(tmp_path: Path) -> None:
    """The paper account journaled with the checkpoint must equal the rebuilt one, else HALTED."""
    env = {"GENESIS_DATA_DIR": str(tmp_path / "data")}
    _finish(env, tmp_path, 2000)
    with sqlite3.connect(tmp_path / "data" / "genesis.db") as db:
        assert db.execute("UPDATE balances SET free = free + 1 WHERE asset = 'USDT'").rowcount == 1
        positions = db.execute("SELECT COUNT(*) FROM positions").fetchone()[0]
        snapshots = db.execute("SELECT COUNT(DISTINCT strategy_id) FROM strategy_state").fetchone()[
            0
        ]
    proc = _daemon(env, tmp_path, "--speed", "0", "--max-bars", "4000")
    assert proc.stdout is not None
    deadline, halted = time.monotonic() + 60, ""
    while not halted and time.monotonic() < deadline:
        line = proc.stdout.readline()
        halted = line if '"daemon_halted"' in line else ""
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert "rebuilt balances" in halted
    assert positions == 1  # BTCUSDT, journaled with each checkpoint
    assert snapshots == 3  # the strategy, the checkpoint and the progress mark
