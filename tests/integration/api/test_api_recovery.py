"""kill -9 after manual orders: the paper rebuild replays them where they happened."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .conftest import start_daemon

ORDER = {"instrument_id": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.0004",
         "confidence": 0.9, "stop_loss": "29000"}  # fmt: skip


def test_manual_orders_survive_kill_9_and_the_rebuild_agrees_with_the_journal(
    tmp_path: Path,
) -> None:
    """Two API orders (one then cancelled), kill -9, restart: the session recovers (no halt),
    both orders are known with their states, and every journaled fill was logged once."""
    first = start_daemon(tmp_path, speed="200")
    resting = first.call("POST", "/api/v1/orders", {**ORDER, "price": "30000"})[1]
    cancelled = first.call("POST", "/api/v1/orders", {**ORDER, "price": "30500"})[1]
    assert first.call("PUT", f"/api/v1/orders/{cancelled['client_order_id']}/cancel")[0] == 200
    first.proc.kill()
    first.proc.wait(timeout=30)
    _progress_lags_the_cancel(tmp_path / "genesis.db")

    second = start_daemon(tmp_path, speed="200")
    listed = second.call("GET", "/api/v1/orders?strategy=operator")[1]
    assert second.stop() == 0

    logs = first.logs() + second.logs()
    assert '"daemon_recovered"' in second.logs()
    assert '"daemon_halted"' not in logs
    states = {o["client_order_id"]: o["status"] for o in listed}
    assert states[cancelled["client_order_id"]] == "CANCELED"
    assert states[resting["client_order_id"]] in ("ACCEPTED", "SUBMITTED")
    logged = [json.loads(line)["trade_id"] for line in logs.splitlines()
              if '"order_filled"' in line]  # fmt: skip
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        journaled = [t for (t,) in db.execute("SELECT trade_id FROM fills")]
    assert sorted(set(logged)) == sorted(journaled)
    assert len(journaled) == len(set(journaled))


def _progress_lags_the_cancel(path: Path) -> None:
    """What a kill between the cancel's commit and the next progress mark leaves (that mark
    is written after the next event): progress one event short of the cancel. Its durable
    audit row alone must bring the rebuild that far."""
    with sqlite3.connect(path) as db:
        (detail,) = db.execute(
            "SELECT detail_json FROM audit_log WHERE action = 'api_cancel'"
        ).fetchone()
        index = json.loads(detail)["event_index"]
        db.execute(
            "UPDATE strategy_state SET blob = ? WHERE strategy_id = '__progress__'"
            " AND CAST(json_extract(blob, '$.events') AS INTEGER) >= ?",
            (json.dumps({"events": index - 1}).encode(), index),
        )
        (checkpoint,) = db.execute(
            "SELECT COALESCE(MAX(CAST(json_extract(blob, '$.events') AS INTEGER)), 0)"
            " FROM strategy_state WHERE strategy_id = '__replay__'"
        ).fetchone()
    assert checkpoint < index  # nothing else carries the rebuild to the cancel
