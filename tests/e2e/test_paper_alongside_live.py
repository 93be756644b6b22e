"""Paper alongside live (PT-1): two daemons on the same venue's streams, separate state.

Real processes, as in ``test_live_trading.py``: ``python -m genesis sandbox`` (the
loopback Binance-protocol venue replaying the real 2021-10-12 capture, paced by the
test through its control port), a live daemon trading it (``--live``), and a paper
daemon (``GENESIS_MARKET_DATA=live``) subscribed to the same sandbox's market streams,
each with its own data directory and journal. The strategy is the same tiny flipper
(same id in both: promotion maps a paper strategy to its live twin by id).

What "separate state" means, checked: the venue's ledger holds exactly the live
daemon's orders and trades (its journal equals them, Decimal for Decimal), the paper
daemon's orders never reach the venue, both daemons traded on the same quotes, and
neither wrote a file in the other's directory.

The second test is the live side of promotions: a strategy with a ``promotion:``
section trades live only once ``live-allocations.json`` approves it, up to its amount.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

KEY, SECRET = "CANARYKEYpaperlive3b1c", "CANARYSECRETpaperlive9e4f"
D = Decimal
_FLIPPER = """
from decimal import Decimal
from genesis.core.enums import Side
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class FlipperParams(StrategyParams):
    quantity: Decimal = Decimal(40)


class QuoteFlipper(Strategy[FlipperParams]):
    Params = FlipperParams

    def on_start(self):
        self.quotes = 0

    def on_quote(self, quote):
        self.quotes += 1
        step, sym = self.quotes % 10, quote.instrument_id
        held = self.ctx.portfolio.position_qty(sym)
        if step == 2 and held == 0:
            self.ctx.buy(sym, self.params.quantity, confidence=1.0, reason="flip")
        elif step == 6 and held > 0:
            self.ctx.sell(sym, held, reason="flop")
"""
_CONFIG = """strategy: "flipper:QuoteFlipper"
tier: sniper
instruments: [NKNUSDT]
enabled: true
requires_stop_loss: false
"""
_PROMOTION = """promotion:
  min_trades: 300
  min_days: 7
  min_sharpe: 0.5
  max_drawdown: 0.10
  capital: "1000"
  target: "100"
"""
_STREAMS = "bookTicker,depth@100ms,trade"
_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_daemon_left_behind() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def sandbox() -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "sandbox", "--port", "0", "--control-port", "0",
         "--speed", "0", "--api-key", KEY, "--api-secret", SECRET, "--balances", "USDT=1000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    urls: dict[str, str] = json.loads(proc.stdout.readline())
    try:
        yield urls
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _home(root: Path, name: str, config: str = _CONFIG) -> Path:
    home = root / name
    (home / "strategies").mkdir(parents=True)
    (home / "flipper.py").write_text(_FLIPPER)
    (home / "strategies" / "flipper.yaml").write_text(config)
    return home


def _control(urls: dict[str, str], path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urls["control_url"] + path, data=data, timeout=10) as resp:
        return json.loads(resp.read(), parse_float=Decimal)


class Proc:
    """One daemon process; its stdout lines are collected by a thread."""

    def __init__(self, home: Path, args: list[str], env: dict[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
        base["GENESIS_NATIVE"] = os.environ.get("GENESIS_NATIVE", "")
        # the strategy module's directory first, then whatever genesis this test runs
        path = os.pathsep.join(p for p in (str(home), os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "genesis", "--tier", "sniper",
             "--strategies", str(home / "strategies"), "--live-streams", _STREAMS, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home,
            env={**base, "GENESIS_DATA_DIR": str(home / "data"), "PYTHONPATH": path, **env},
        )  # fmt: skip
        _STARTED.append(self.proc)
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]  # fmt: skip
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in list(self.lines) if e["event"] == event]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=10)
        return self.proc.returncode, "".join(self.err)


def _live(home: Path, urls: dict[str, str]) -> Proc:
    return Proc(home, ["--live", "--symbol", "NKNUSDT"], {
        "GENESIS_BINANCE_REST_URL": urls["rest_url"], "GENESIS_BINANCE_WS_URL": urls["ws_url"],
        "GENESIS_BINANCE_WS_API_URL": urls["ws_api_url"],
        "GENESIS_BINANCE_API_KEY": KEY, "GENESIS_BINANCE_API_SECRET": SECRET,
    })  # fmt: skip


def _paper(home: Path, urls: dict[str, str]) -> Proc:
    return Proc(home, [], {"GENESIS_MARKET_DATA": "live", "GENESIS_MARKET_REST_URL":
                           urls["rest_url"], "GENESIS_MARKET_WS_URL": urls["ws_url"]})  # fmt: skip


def _feed(urls: dict[str, str], procs: list[Proc], done: Callable[[], bool], timeout_s: float = 30
          ) -> None:  # fmt: skip
    """Once every daemon subscribed, replay 4 capture messages per 50 ms until ``done()``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        for p in procs:
            assert p.proc.poll() is None, "".join(p.err)[-3000:]
        assert time.monotonic() < deadline, f"timed out; last lines: {[p.raw[-3:] for p in procs]}"
        if all(p.named("market_data_selected") for p in procs):
            assert _control(urls, "/actions", {"action": "advance", "n": 4})["advanced"]
        time.sleep(0.05)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def _ledger_fills(urls: dict[str, str]) -> list[tuple[str, str, str, Decimal, Decimal]]:
    return sorted((str(t["id"]), t["clientOrderId"], "BUY" if t["isBuyer"] else "SELL",
                   D(t["price"]), D(t["qty"])) for t in _control(urls, "/ledger")["trades"])  # fmt: skip


def _journal_fills(db: Path) -> list[tuple[str, str, str, Decimal, Decimal]]:
    rows = _rows(db, "SELECT trade_id, client_order_id, side, price, quantity FROM fills")
    return sorted((str(t), c, s, D(p), D(q)) for t, c, s, p, q in rows)


def test_paper_alongside_live_on_the_same_streams_keeps_separate_state(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """Both trade on the same quotes; the venue holds exactly live's orders and trades;
    paper's never reach it; each daemon's files stay in its own directory."""
    live_home, paper_home = _home(tmp_path, "live"), _home(tmp_path, "paper")
    live, paper = _live(live_home, sandbox), _paper(paper_home, sandbox)
    _feed(
        sandbox,
        [live, paper],
        lambda: len(live.named("order_filled")) >= 2 and len(paper.named("order_filled")) >= 2,
    )
    for proc in (live, paper):
        code, err = proc.stop()
        assert code == 0, err[-2000:]
    assert (live.named("daemon_started")[0]["mode"], paper.named("daemon_started")[0]["mode"]) == (
        "live", "paper")  # fmt: skip

    live_db, paper_db = live_home / "data" / "genesis-live.db", paper_home / "data" / "genesis.db"
    ledger = _control(sandbox, "/ledger")
    live_orders = {c for (c,) in _rows(live_db, "SELECT client_order_id FROM orders")}
    paper_orders = {c for (c,) in _rows(paper_db, "SELECT client_order_id FROM orders")}
    assert set(ledger["orders"]) == live_orders  # the venue's orders are exactly live's
    assert _journal_fills(live_db) == _ledger_fills(sandbox)  # and its trades, exactly
    assert len(paper_orders) >= 2
    paper_trades = {t for t, *_ in _journal_fills(paper_db)}
    assert not paper_trades & {t for t, *_ in _ledger_fills(sandbox)}  # none at the venue
    # same quotes, same strategy: both bought on the 2nd quote each saw
    first_buys = [p.named("order_submitted")[0] for p in (live, paper)]
    assert [b["side"] for b in first_buys] == ["BUY", "BUY"]

    live_files = {p.name for p in (live_home / "data").iterdir()}
    paper_files = {p.name for p in (paper_home / "data").iterdir()}
    journals = {"genesis.db", "genesis-live.db"}
    assert (live_files & journals, paper_files & journals) == ({"genesis-live.db"}, {"genesis.db"})
    for proc in (live, paper):
        assert not any(KEY in line or SECRET in line for line in proc.raw + proc.err)


def test_live_promoted_strategy_trades_only_within_its_approved_allocation(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """With a ``promotion:`` section and no allocation file the flipper's buys are refused
    (LIVE_NOT_ALLOCATED) and nothing reaches the venue; the operator's approval (the file
    the ledger writes, amount 20 USDT) is read while running and the next buy is sent."""
    home = _home(tmp_path, "live", _CONFIG + _PROMOTION)
    live = _live(home, sandbox)
    _feed(sandbox, [live], lambda: bool(live.named("order_denied")))
    denied = live.named("order_denied")[0]
    assert denied["code"] == "LIVE_NOT_ALLOCATED"
    assert live.named("live_allocations_applied")[0]["not_allocated"] == ["flipper"]
    assert _control(sandbox, "/ledger")["orders"] == {}

    entry = {"promotion_id": "P1", "status": "approved", "step": 1, "of_steps": 4,
             "fraction": "0.2", "amount": "20", "target": "100"}  # fmt: skip
    allocations = home / "data" / "live-allocations.json"
    allocations.write_text(json.dumps({"flipper": entry}))
    _feed(sandbox, [live], lambda: len(live.named("live_allocations_applied")) >= 2)
    _feed(sandbox, [live], lambda: bool(live.named("order_filled")))
    code, err = live.stop()
    assert code == 0, err[-2000:]
    applied = live.named("live_allocations_applied")[1]
    assert applied["allocations"]["flipper"]["amount"] == "20"
    assert applied["not_allocated"] == []
    events = [e["event"] for e in live.lines]
    approved = events.index("live_allocations_applied", events.index("order_denied"))
    assert "order_submitted" not in events[:approved]  # nothing was sent before approval
    db = home / "data" / "genesis-live.db"
    ledger = _control(sandbox, "/ledger")
    assert len(ledger["orders"]) >= 1
    sent = _rows(db, "SELECT client_order_id FROM orders WHERE status != 'DENIED'")
    assert set(ledger["orders"]) == {c for (c,) in sent}
    # the refusal is journaled as the decision it was (hash-chained), never sent
    refused = _rows(db, "SELECT client_order_id, detail_json FROM order_events"
                        " WHERE kind = 'OrderDenied'")  # fmt: skip
    assert denied["client_order_id"] in {c for c, _ in refused}
    assert {json.loads(d)["code"] for _, d in refused} == {"LIVE_NOT_ALLOCATED"}
    assert not set(ledger["orders"]) & {c for c, _ in refused}
    audits = [a for (a,) in _rows(db, "SELECT action FROM audit_log")
              if a.startswith("live_allocations")]  # fmt: skip
    assert audits == ["live_allocations_applied", "live_allocations_applied"]
