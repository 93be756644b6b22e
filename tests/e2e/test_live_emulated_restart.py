"""Emulated orders keep their exact state across kill -9 of a live daemon (EX-1).

Real processes, as in ``test_live_trading.py``: ``genesis sandbox`` (the loopback Binance
venue) and ``python -m genesis --live``. No venue carries trailing stops or icebergs, so
the kernel holds them; what it holds is journaled and a restart holds it again exactly.
The test drives prices with the sandbox's public trade prints (``trade`` action): a print
at or below a resting buy's limit fills it (as maker, at the limit), and every print
reaches the daemon's trade stream. The sandbox's ledger (what the venue saw) is the
ground truth for fills and orders.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_live_trading import KEY, SECRET, _control, _exchange, _ledger_fills

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
SYMBOL = "NKNUSDT"
_STRATEGY = '''
from decimal import Decimal
from genesis.core.enums import Side
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class EmuParams(StrategyParams):
    mode: str = "trailing"


class Emu(Strategy[EmuParams]):
    """On its first quote, unless a restart brought its orders back: ``trailing`` buys 40
    NKN at market and protects them with a trailing stop 0.0200 behind the best price;
    ``iceberg`` bids 120 NKN at 0.3500 showing 30. Logs every trade print it sees."""

    Params = EmuParams

    def on_start(self):
        self.acted = False

    def on_quote(self, quote):
        sym = quote.instrument_id
        if self.acted:
            return
        self.acted = True
        if self.ctx.portfolio.position_qty(sym) != 0 or self.ctx.open_orders(sym):
            return  # a restart: its position and orders are back
        if self.params.mode in ("trailing", "modify"):
            self.ctx.buy(sym, 40, confidence=1.0, reason="entry")
        else:
            order = self.ctx.orders.iceberg(sym, Side.BUY, 120, "0.3500", 30, confidence=1.0)
            self.ctx.submit(order)

    def on_fill(self, fill):
        if self.params.mode in ("trailing", "modify") and fill.side is Side.BUY:
            stop = self.ctx.orders.trailing_stop(
                fill.instrument_id, Side.SELL, fill.last_qty, offset="0.0200", confidence=1.0
            )
            self.ctx.submit(stop)

    def on_trade(self, trade):
        self.ctx.log.info("e2e_trade", price=format(trade.price.normalize(), "f"))
        if self.params.mode == "modify" and trade.price == Decimal("0.3600"):
            for order in self.ctx.open_orders(trade.instrument_id):  # the held stop: sell 30
                if order.side is Side.SELL:
                    self.ctx.modify(order, quantity=30)
'''
_CONFIG = """strategy: "emu_e2e:Emu"
tier: sniper
instruments: [NKNUSDT]
enabled: true
requires_stop_loss: false
params: {{mode: {mode}}}
"""


def _home(root: Path, mode: str) -> Path:
    (root / "emu_e2e.py").write_text(_STRATEGY)
    (root / "strategies").mkdir()
    (root / "strategies" / "emu.yaml").write_text(_CONFIG.format(mode=mode))
    return root


@pytest.fixture
def sandbox() -> Iterator[dict[str, str]]:
    with _exchange(KEY, SECRET) as urls:
        yield urls


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_daemon_left_behind() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


class Live:
    """One ``genesis --live`` process on this checkout; its JSON lines, read by a thread."""

    def __init__(self, home: Path, urls: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
        env.update(
            GENESIS_DATA_DIR=str(home / "data"), PYTHONPATH=os.pathsep.join((str(ROOT), str(home))),
            GENESIS_BINANCE_REST_URL=urls["rest_url"], GENESIS_BINANCE_WS_URL=urls["ws_url"],
            GENESIS_BINANCE_WS_API_URL=urls["ws_api_url"],
            GENESIS_BINANCE_API_KEY=KEY, GENESIS_BINANCE_API_SECRET=SECRET,
        )  # fmt: skip
        self.urls = urls
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "genesis", "--tier", "sniper", "--live",
             "--strategies", str(home / "strategies"), "--symbol", SYMBOL,
             "--live-streams", "bookTicker,depth@100ms,trade"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home, env=env,
        )  # fmt: skip
        _STARTED.append(self.proc)
        self.lines: list[dict[str, Any]] = []
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def named(self, event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e for e in list(self.lines)
            if e["event"] == event and all(e.get(k) == v for k, v in match.items())
        ]  # fmt: skip

    def wait(self, done: Callable[[], bool], *, feed: bool = False, timeout_s: float = 30) -> None:
        """Until ``done()``; with ``feed`` the venue replays 4 capture messages per 50 ms."""
        deadline = time.monotonic() + timeout_s
        while not done():
            assert self.proc.poll() is None, "".join(self.err)[-3000:]
            assert time.monotonic() < deadline, f"timed out; last lines: {self.lines[-5:]}"
            if feed and self.named("market_data_selected"):
                _control(self.urls, "/actions", {"action": "advance", "n": 4})
            time.sleep(0.05)

    def ready(self) -> None:
        self.wait(lambda: bool(self.named("market_data_selected")))
        assert not self.named("daemon_halted"), self.named("daemon_halted")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def _print(urls: dict[str, str], price: str, qty: str = "1") -> None:
    """A public trade at ``price`` on the venue (fills a resting buy at or above it)."""
    _control(urls, "/actions", {"action": "trade", "symbol": SYMBOL, "price": price, "qty": qty})


def _until_heard(d: Live, price: str) -> None:
    """Print ``price`` until the daemon's strategy hears it: market data published before
    the daemon's stream subscription lands is not replayed to it."""
    deadline = time.monotonic() + 30
    while not d.named("e2e_trade", price=format(D(price).normalize(), "f")):
        assert time.monotonic() < deadline, f"trade stream silent; last lines: {d.lines[-5:]}"
        _print(d.urls, price)
        time.sleep(0.2)


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "data" / "genesis-live.db")


def _state(home: Path, cid: str) -> tuple[Any, ...] | None:
    with _db(home) as db:
        return db.execute(
            "SELECT watermark, trigger_price, triggered, slice_no, slice_leaves"
            " FROM emulated_orders WHERE client_order_id = ?", (cid,),
        ).fetchone()  # fmt: skip


def _trigger(home: Path, cid: str) -> Decimal | None:
    state = _state(home, cid)
    return None if state is None or state[1] is None else D(state[1])


def _slice_state(home: Path, cid: str) -> tuple[int, Decimal] | None:
    state = _state(home, cid)
    return None if state is None else (state[3], D(state[4]))


def _tag(line: dict[str, Any]) -> str:
    """A log line as "event [client id order type | price]", to find it in the order of lines."""
    if line["event"] == "e2e_trade":
        return f"e2e_trade {line['price']}"
    if line["event"] == "order_submitted":
        return f"order_submitted {line['client_order_id']} {line['order_type']}"
    return str(line["event"])


def _journal_fills(home: Path) -> list[tuple[str, str, str, Decimal, Decimal, Decimal, str]]:
    with _db(home) as db:
        rows = db.execute(
            "SELECT trade_id, client_order_id, side, price, quantity, fee, fee_currency FROM fills"
        ).fetchall()
    return sorted((str(t), c, s, D(p), D(q), D(f), fc) for t, c, s, p, q, f, fc in rows)


def _journal_orders(home: Path) -> dict[str, tuple[str, Decimal]]:
    with _db(home) as db:
        rows = db.execute("SELECT client_order_id, status, filled_qty FROM orders").fetchall()
    return {c: (s, D(q)) for c, s, q in rows}


def _ledger_orders(urls: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    orders: dict[str, list[dict[str, Any]]] = _control(urls, "/ledger")["orders"]
    return orders


def _ledger_qty(urls: dict[str, str]) -> dict[str, Decimal]:
    """What the venue traded per client order id."""
    out: dict[str, Decimal] = {}
    for t in _control(urls, "/ledger")["trades"]:
        out[t["clientOrderId"]] = out.get(t["clientOrderId"], D(0)) + D(t["qty"])
    return out


def test_a_trailing_stop_keeps_its_trigger_across_kill_9(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """Bought 40, the trailing stop ratchets on prints 0.3600 and 0.3650 to a trigger of
    0.3450; kill -9; the restart holds it at exactly 0.3650 / 0.3450: a print at 0.3451
    leaves it, the next at 0.3450 releases it and the venue sells the 40. (Restarting
    from the first price after the restart, ~0.352, would have put it near 0.332.)"""
    home = _home(tmp_path, "trailing")
    first = Live(home, sandbox)
    first.wait(lambda: bool(first.named("order_submitted", order_type="TRAILING_STOP_MARKET")),
               feed=True)  # fmt: skip
    [held] = first.named("order_submitted", order_type="TRAILING_STOP_MARKET")
    stop = held["client_order_id"]
    for price in ("0.3600", "0.3650"):
        _print(sandbox, price)
    first.wait(lambda: _trigger(home, stop) == D("0.345"))
    at_kill = _state(home, stop)
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = Live(home, sandbox)
    second.ready()
    [restored] = second.named("emulated_order_restored", client_order_id=stop)
    _until_heard(second, "0.3460")  # neither ratchets nor triggers: the trade stream is live
    _print(sandbox, "0.3451")
    second.wait(lambda: bool(second.named("e2e_trade", price="0.3451")))
    _print(sandbox, "0.3450")
    second.wait(lambda: bool(second.named("order_filled", client_order_id=stop)))
    assert second.stop() == 0, "".join(second.err)[-2000:]

    assert at_kill is not None
    assert (D(at_kill[0]), D(at_kill[1]), at_kill[2]) == (D("0.365"), D("0.345"), 0)
    assert (restored["watermark"], restored["trigger"], restored["triggered"]) == (
        "0.365", "0.345", False,
    )  # fmt: skip
    order = [_tag(e) for e in second.lines]
    release = order.index(f"order_submitted {stop} MARKET")
    assert order.index("e2e_trade 0.3451") < order.index("e2e_trade 0.345") < release
    assert _ledger_qty(sandbox)[stop] == D(40)  # the venue sold the 40, once
    assert [r["status"] for r in _ledger_orders(sandbox)[stop]] == ["FILLED"]
    assert _journal_fills(home) == _ledger_fills(sandbox)
    assert _state(home, stop)[2] == 1  # journaled released


def test_a_modified_held_stop_keeps_its_new_quantity_across_kill_9(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """Bought 40, the held trailing stop is modified to sell 30 (on the print at 0.3600,
    which also ratchets it to 0.3600 / 0.3400); kill -9; the restart holds it with 30, not
    the 40 of its first command; 0.3400 releases it and the venue sells exactly 30."""
    home = _home(tmp_path, "modify")
    first = Live(home, sandbox)
    first.wait(lambda: bool(first.named("order_submitted", order_type="TRAILING_STOP_MARKET")),
               feed=True)  # fmt: skip
    [held] = first.named("order_submitted", order_type="TRAILING_STOP_MARKET")
    stop = held["client_order_id"]
    _until_heard(first, "0.3600")
    first.wait(lambda: _trigger(home, stop) == D("0.340") and _quantity(home, stop) == 30)
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = Live(home, sandbox)
    second.ready()
    [restored] = second.named("emulated_order_restored", client_order_id=stop)
    assert (restored["quantity"], restored["trigger"]) == ("30", "0.34")
    _until_heard(second, "0.3450")
    _print(sandbox, "0.3400")
    second.wait(lambda: bool(second.named("order_filled", client_order_id=stop)))
    assert second.stop() == 0, "".join(second.err)[-2000:]
    assert _ledger_qty(sandbox)[stop] == D(30)  # the modified quantity, once
    assert _journal_fills(home) == _ledger_fills(sandbox)


def _quantity(home: Path, cid: str) -> Decimal | None:
    with _db(home) as db:
        row = db.execute("SELECT quantity FROM orders WHERE client_order_id = ?", (cid,))
        found = row.fetchone()
    return None if found is None else D(found[0])


def _slice_filled(d: Live, cid: str, qty: str) -> Callable[[], bool]:
    return lambda: any(
        D(e["quantity"]) == D(qty) for e in d.named("order_filled", client_order_id=cid)
    )


def _accepted(d: Live, cid: str) -> Callable[[], bool]:
    return lambda: bool(d.named("order_event", client_order_id=cid, event_type="OrderAccepted"))


def test_an_iceberg_reassembles_across_two_kill_9s_and_ends_filled(
    tmp_path: Path, sandbox: dict[str, str]
) -> None:
    """Bid 120 @ 0.3500 showing 30. Run 1: slice 1 fills, slice 2 fills 10; kill -9. Run 2
    adopts slice 2 as the parent's working slice (20 left): it fills, slice 3 goes and fills
    5; kill -9; the venue fills slice 3's last 25 while the daemon is down. Run 3 moves the
    parent on from the venue's fills: slice 4 goes and fills. The venue saw each slice
    placed once and filled 30; the parent ends FILLED 120 in the journal, whose fills and
    order statuses equal the venue's."""
    _control(sandbox, "/actions", {"action": "deposit", "asset": "USDT", "amount": "4000"})
    home = _home(tmp_path, "iceberg")
    first = Live(home, sandbox)

    def slice_one() -> list[dict[str, Any]]:
        return [e for e in first.named("order_submitted") if e["client_order_id"].endswith("-s1")]

    first.wait(lambda: bool(slice_one()), feed=True)
    parent = slice_one()[0]["client_order_id"].removesuffix("-s1")
    s = [f"{parent}-s{n}" for n in range(5)]  # s[1] .. s[4]
    first.wait(_accepted(first, s[1]))
    _print(sandbox, "0.3500", "30")
    first.wait(_accepted(first, s[2]))
    _print(sandbox, "0.3500", "10")
    first.wait(_slice_filled(first, s[2], "10"))
    first.wait(lambda: _slice_state(home, parent) == (2, D(20)))
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    second = Live(home, sandbox)
    second.ready()
    [restored] = second.named("emulated_order_restored", client_order_id=parent)
    _print(sandbox, "0.3500", "20")
    second.wait(_accepted(second, s[3]))
    _print(sandbox, "0.3500", "5")
    second.wait(_slice_filled(second, s[3], "5"))
    assert second.stop(signal.SIGKILL) == -signal.SIGKILL
    _print(sandbox, "0.3500", "25")  # slice 3 completes at the venue, nobody listening

    third = Live(home, sandbox)
    third.ready()
    [resumed] = third.named("emulated_order_restored", client_order_id=parent)
    third.wait(_accepted(third, s[4]))
    _print(sandbox, "0.3500", "30")
    third.wait(_slice_filled(third, s[4], "30"))
    third.wait(lambda: _journal_orders(home)[parent] == ("FILLED", D(120)))
    assert third.stop() == 0, "".join(third.err)[-2000:]

    assert (restored["slice_no"], restored["slice_leaves"], restored["filled"]) == (2, "20", "40")
    assert (resumed["slice_no"], resumed["slice_leaves"], resumed["filled"]) == (3, "0", "90")
    ledger = _ledger_orders(sandbox)
    assert sorted(c for c in ledger if c.startswith(parent)) == s[1:]
    assert {c: [r["status"] for r in ledger[c]] for c in s[1:]} == {c: ["FILLED"] for c in s[1:]}
    assert _ledger_qty(sandbox) == {c: D(30) for c in s[1:]}
    assert _journal_fills(home) == _ledger_fills(sandbox)
    journal = _journal_orders(home)
    assert {c: journal[c][0] for c in ledger} == {
        c: rows[-1]["status"] for c, rows in ledger.items()
    }
    assert journal[parent] == ("FILLED", D(120))
    submitted = [e["client_order_id"] for d in (first, second, third)
                 for e in d.named("order_submitted")]  # fmt: skip
    assert len(submitted) == len(set(submitted))  # no client id sent twice
