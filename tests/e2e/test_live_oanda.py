"""Live FX end to end: the daemon with ``--live`` trading ``oanda:GBP_USD`` on the loopback
OANDA v20 server (issue 14), killed with SIGKILL mid-trade and restarted at once, as
systemd's ``Restart=always`` would.

Real processes: ``python -m genesis oanda-sandbox`` (the venue, replaying the real
February 2012 GBP/USD minutes; the test steps it through the control port) and the
daemons. The strategy is a tiny module written into ``tmp_path``: it buys 1,000 units
at market on every 4th quote and sells what it holds two quotes later.

The venue's transaction ledger is the ground truth: every order it created carries a
client id the journal holds, none twice; the journal's fills equal its ORDER_FILL
transactions exactly (Decimal); the JSON logs name no fill the venue did not make and
none twice; the journal's position equals the account's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_live_trading import (
    Daemon,
    _journal_fills,
    _journal_orders,
    _journal_positions,
    _no_daemon_left_behind,  # noqa: F401 - the autouse cleanup applies here too
)

TOKEN = "canary-oanda-live-3c9d2e71"
ID = "oanda:GBP_USD"
D = Decimal
_FLIPPER = """
from decimal import Decimal
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class FxFlipParams(StrategyParams):
    units: Decimal = Decimal(1000)


class FxFlipper(Strategy[FxFlipParams]):
    Params = FxFlipParams

    def on_start(self):
        self.quotes = 0

    def on_quote(self, quote):
        self.quotes += 1
        step, sym = self.quotes % 4, quote.instrument_id
        held = self.ctx.portfolio.position_qty(sym)
        if step == 1 and held == 0:
            self.ctx.buy(sym, self.params.units, confidence=1.0, reason="flip")
        elif step == 3 and held > 0:
            self.ctx.sell(sym, held, reason="flop")
"""
_CONFIG = """strategy: "fxflip:FxFlipper"
tier: sniper
instruments: ["oanda:GBP_USD"]
enabled: true
requires_stop_loss: false
"""


@pytest.fixture
def fx() -> Iterator[dict[str, str]]:
    """``genesis oanda-sandbox`` in its own process (quotes move only when stepped)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "oanda-sandbox", "--speed", "0", "--heartbeat", "1",
         "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    urls: dict[str, str] = json.loads(proc.stdout.readline())
    try:
        yield urls
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert TOKEN not in err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "fxflip.py").write_text(_FLIPPER)
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "fxflip.yaml").write_text(_CONFIG)
    return tmp_path


def _env(home: Path, urls: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(
        GENESIS_DATA_DIR=str(home / "data"), GENESIS_STATUS_INTERVAL_S="0",
        PYTHONPATH=os.pathsep.join([str(home), *filter(None, [os.environ.get("PYTHONPATH")])]),
        GENESIS_OANDA_REST_URL=urls["rest_url"], GENESIS_OANDA_STREAM_URL=urls["stream_url"],
        GENESIS_OANDA_ACCOUNT_ID=urls["account_id"], GENESIS_OANDA_TOKEN=TOKEN,
    )  # fmt: skip
    if os.environ.get("GENESIS_NATIVE"):
        env["GENESIS_NATIVE"] = os.environ["GENESIS_NATIVE"]
    return env


def _start(home: Path, urls: dict[str, str]) -> Daemon:
    return Daemon(home, urls, args=[], env=_env(home, urls))


def _v20(urls: dict[str, str], path: str) -> Any:
    request = urllib.request.Request(
        f"{urls['rest_url']}/v3/accounts/{urls['account_id']}{path}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def _ledger(urls: dict[str, str]) -> list[dict[str, Any]]:
    """Every transaction of the account, oldest first (the venue's own record)."""
    return list(_v20(urls, "/transactions/sinceid?id=0")["transactions"])


def _venue_fills(ledger: list[dict[str, Any]]) -> list[tuple[str, str, str, D, D, D, str]]:
    return sorted(
        (t["id"], t["clientOrderID"], "BUY" if D(t["units"]) > 0 else "SELL", D(t["price"]),
         abs(D(t["units"])), D(t.get("commission", "0")), "USD")
        for t in ledger
        if t["type"] == "ORDER_FILL"
    )  # fmt: skip


def _arm(urls: dict[str, str], hook: str, **params: Any) -> None:
    body = json.dumps({"hook": hook, "params": params}).encode()
    with urllib.request.urlopen(urls["control_url"] + "/faults", data=body, timeout=10) as resp:
        assert json.loads(resp.read()) == {"armed": hook}


def _feed_until_submitted(d: Daemon, budget: int) -> None:
    """Step the replay until the daemon logs one more order as submitted."""
    seen = len(d.named("order_submitted"))
    d.wait(lambda: len(d.named("order_submitted")) > seen, feed=True, timeout_s=budget)


def test_fx_on_oanda_survives_kill_9_mid_trade(home: Path, fx: dict[str, str]) -> None:
    """Trades, is killed (SIGKILL) right as an order is logged as submitted three times and
    restarted at once each time; a last run stops cleanly. No order lost or sent twice, the
    journal's fills == the venue's ORDER_FILLs, the logs' fills are the venue's, once."""
    daemons: list[Daemon] = []
    ready_s: list[float] = []  # restart to trading (process start included)
    first = _start(home, fx)
    daemons.append(first)
    first.wait(lambda: len(first.named("order_filled")) >= 2, feed=True, timeout_s=60)
    started = first.named("daemon_started")[0]
    assert (started["mode"], started["instruments"]) == ("live", [ID])
    assert started["balances"] == {"GBP": "0", "USD": "100000"}
    for n in range(3):  # kill -9 right after an order is logged, restart at once
        d = daemons[-1]
        if n == 0:  # the venue fills it but its answer is late: the kill lands in between
            _arm(fx, "order.delay_response", seconds=5)
        _feed_until_submitted(d, 60)
        if n == 0:
            time.sleep(0.5)
            assert len(_venue_fills(_ledger(fx))) > len(_journal_fills(home))
        d.stop(signal.SIGKILL)
        began = time.monotonic()
        nxt = _start(home, fx)
        daemons.append(nxt)
        nxt.wait(lambda n=nxt: bool(n.named("market_data_selected")), feed=False, timeout_s=60)  # type: ignore[misc]
        ready_s.append(time.monotonic() - began)
        assert not nxt.named("daemon_halted"), nxt.named("daemon_halted")
    last = daemons[-1]
    fills_before = len(last.named("order_filled"))
    last.wait(lambda: len(last.named("order_filled")) >= fills_before + 2, feed=True, timeout_s=60)
    code, err = last.stop()
    assert code == 0, err[-2000:]

    ledger = _ledger(fx)
    created = [t["clientExtensions"]["id"] for t in ledger if t["type"] == "MARKET_ORDER"]
    journal = _journal_orders(home)
    assert len(created) == len(set(created))  # no order sent twice
    assert set(created) <= set(journal)  # no order the journal does not know
    submitted = [e["client_order_id"] for d in daemons for e in d.named("order_submitted")]
    assert len(submitted) == len(set(submitted))
    assert set(created) <= set(submitted)
    venue_fills = _venue_fills(ledger)
    assert _journal_fills(home) == venue_fills  # 0 lost, 0 phantom fills, exact
    logged = [e["trade_id"] for d in daemons for e in d.named("order_filled")]
    assert len(logged) == len(set(logged))  # no fill logged twice across restarts
    venue_ids = {f[0] for f in venue_fills}
    assert set(logged) <= venue_ids
    backfilled = sum(e["fills_backfilled"] for d in daemons for e in d.named("live_reconciled"))
    assert len(venue_ids - set(logged)) <= backfilled
    for d in daemons:
        for e in d.named("order_filled"):
            venue = next(f for f in venue_fills if f[0] == e["trade_id"])
            assert (e["client_order_id"], D(e["quantity"]), D(e["price"])) == (
                venue[1], venue[4], venue[3])  # fmt: skip
    (position,) = _v20(fx, "/positions")["positions"] or [{"long": {}, "short": {}}]
    units = D(position["long"].get("units", "0")) + D(position["short"].get("units", "0"))
    assert _journal_positions(home).get(ID, D(0)) == units
    statuses = {cid: journal[cid] for cid in created}
    assert set(statuses.values()) == {"FILLED"}, statuses
    assert len(venue_fills) >= 6
    adopted = sum(e["orders_adopted"] for d in daemons for e in d.named("live_reconciled"))
    assert backfilled >= 1  # the fill made while the process was dead
    assert adopted >= 1  # its order, resumed by client id and never resent
    # each round trip announced once across the restarts: in the logs and in the audit trail
    # (a restart books the journaled fills again; it must not announce their trades again)
    logged_trades = [(e["strategy_id"], e["instrument"], e["net_pnl"], e["held_s"])
                     for d in daemons for e in d.named("strategy_trade")]  # fmt: skip
    assert len(logged_trades) == len(set(logged_trades)), logged_trades
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        rows = db.execute("SELECT detail_json FROM audit_log WHERE action = 'strategy_trade'")
        trades = [json.loads(r[0]) for r in rows]
    keys = [(t["strategy_id"], t["instrument"], t["opened_ns"]) for t in trades]
    assert len(keys) == len(set(keys)), keys
    assert len(trades) >= len(venue_fills) // 2 - 1  # every closed round trip is there
    with contextlib.suppress(FileNotFoundError):
        for path in (home / "data").iterdir():
            assert TOKEN.encode() not in path.read_bytes()
    assert not any(TOKEN in line for d in daemons for line in d.raw + d.err)
    market = [e for d in daemons for e in d.named("market_data_selected")]
    assert all(e["data"].startswith("OANDA") for e in market), market
    print(f"orders {len(created)}, fills {len(venue_fills)}, backfilled {backfilled},"
          f" adopted {adopted}, restart-to-ready s: {[round(r, 2) for r in ready_s]}")  # fmt: skip


_RESTER = """
from decimal import Decimal
from genesis.core.enums import OrderStatus
from genesis.errors import InvalidOrder
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class FxResterParams(StrategyParams):
    units: Decimal = Decimal(1000)


class FxRester(Strategy[FxResterParams]):
    Params = FxResterParams

    def on_start(self):
        self.quotes = 0

    def on_quote(self, quote):
        self.quotes += 1
        sym = quote.instrument_id
        orders = self.ctx.open_orders(sym)
        if not orders and self.quotes == 1:
            self.ctx.buy(sym, self.params.units, price=Decimal("1.50000"), confidence=1.0)
        for order in orders:
            if order.status is OrderStatus.ACCEPTED and order.price == Decimal("1.50000"):
                try:
                    self.ctx.modify(order, price=Decimal("1.50010"), quantity=Decimal(1200))
                except InvalidOrder:
                    pass
"""


def test_a_restart_adopts_the_replacement_of_a_modified_order(
    home: Path, fx: dict[str, str]
) -> None:
    """A resting bid modified through an order replace (X -> X-r1), then kill -9: the next
    process adopts X-r1 as X with its new terms, sends nothing for it, and its clean stop
    cancels X-r1. The venue created X and X-r1 only; the journal ends as the venue."""
    (home / "fxflip.py").write_text(_RESTER)
    (home / "strategies" / "fxflip.yaml").write_text(
        _CONFIG.replace("fxflip:FxFlipper", "fxflip:FxRester")
    )
    first = _start(home, fx)
    first.wait(
        lambda: any(e["event_type"] == "OrderUpdated" for e in first.named("order_event")),
        feed=True,
        timeout_s=60,
    )
    (cid,) = {e["client_order_id"] for e in first.named("order_submitted")}
    first.stop(signal.SIGKILL)
    second = _start(home, fx)
    second.wait(
        lambda: any(e["event_type"] == "OrderUpdated" for e in second.named("order_event")),
        feed=True,
        timeout_s=60,
    )
    (reconciled,) = second.named("live_reconciled")
    assert (reconciled["orders_adopted"], reconciled["unknown_orders"]) == (1, 0)
    assert not second.named("daemon_halted")
    assert not second.named("order_submitted")  # nothing new, nothing resent
    code, err = second.stop()
    assert code == 0, err[-2000:]

    ledger = _ledger(fx)
    creates = [(t["clientExtensions"]["id"], t["reason"], t["units"], t["price"])
               for t in ledger if t["type"] == "LIMIT_ORDER"]  # fmt: skip
    assert creates == [(cid, "CLIENT_ORDER", "1000", "1.50000"),
                       (f"{cid}-r1", "REPLACEMENT", "1200", "1.50010")]  # fmt: skip
    cancels = [(t["clientOrderID"], t["reason"]) for t in ledger if t["type"] == "ORDER_CANCEL"]
    assert cancels == [(cid, "CLIENT_REQUEST_REPLACED"), (f"{cid}-r1", "CLIENT_REQUEST")]
    assert _journal_orders(home) == {cid: "CANCELED"}
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        (row,) = db.execute("SELECT quantity, price FROM orders").fetchall()
    assert (D(row[0]), D(row[1])) == (D(1200), D("1.50010"))  # the terms it ended with
    assert _journal_fills(home) == _venue_fills(ledger) == []
