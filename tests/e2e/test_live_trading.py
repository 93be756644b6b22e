"""Live trading end to end: the daemon with ``--live`` against the loopback Binance sandbox.

Real processes: ``python -m genesis sandbox`` (the venue, replaying the real
2021 capture; the test paces it through the control port's ``advance`` so
the 30 s capture is not used up by process start-ups), the daemon, and the
operator's ``genesis kill``/``reset``. The strategy is a tiny module written
into ``tmp_path``: it buys 40 NKNUSDT at market on its 2nd quote and sells
on its 6th (every 10 quotes), and rests one far-away bid (60 @ 0.2).

The sandbox's ledger is the ground truth: the journal's fills must equal its
trades exactly (Decimal), and orders it shows cancelled were cancelled.
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

KEY, SECRET = "CANARYKEYlive7f3a9c0d", "CANARYSECRETlive5d2e8b1a"
D = Decimal
_FLIPPER = """
from decimal import Decimal
from genesis.core.enums import Side
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams


class FlipperParams(StrategyParams):
    quantity: Decimal = Decimal(40)
    rest_quantity: Decimal = Decimal(60)
    rest_price: Decimal = Decimal("0.2")


class QuoteFlipper(Strategy[FlipperParams]):
    Params = FlipperParams

    def on_start(self):
        self.quotes, self.rested = 0, False

    def on_quote(self, quote):
        self.quotes += 1
        step, sym, p = self.quotes % 10, quote.instrument_id, self.params
        held = self.ctx.portfolio.position_qty(sym)
        if step == 2 and held == 0:
            self.ctx.buy(sym, p.quantity, confidence=1.0, reason="flip")
            if not self.rested:
                self.rested = True
                self.ctx.buy(sym, p.rest_quantity, price=p.rest_price, confidence=1.0)
        elif step == 6 and held > 0:
            self.ctx.sell(sym, held, reason="flop")
"""
_CONFIG = """strategy: "flipper:QuoteFlipper"
tier: sniper
instruments: [NKNUSDT]
enabled: true
requires_stop_loss: false
"""


@contextlib.contextmanager
def _exchange(key: str, secret: str, weight_limit: str = "6000") -> Iterator[dict[str, str]]:
    """``genesis sandbox`` in its own process: its URLs; its stderr never shows the secrets."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "genesis", "sandbox", "--port", "0", "--control-port", "0",
         "--speed", "0", "--api-key", key, "--api-secret", secret, "--balances", "USDT=1000",
         "--weight-limit", weight_limit],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    urls: dict[str, str] = json.loads(proc.stdout.readline())
    try:
        yield urls
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert key not in err
        assert secret not in err


@pytest.fixture
def sandbox() -> Iterator[dict[str, str]]:
    # Binance's weight limit today (6000/min; the 2021 exchangeInfo says 1200): a crash loop of
    # 21 starts in a minute spends ~2,600 weight; under 1200 it waits Retry-After, as it should
    with _exchange(KEY, SECRET) as urls:
        yield urls


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "flipper.py").write_text(_FLIPPER)
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "flipper.yaml").write_text(_CONFIG)
    return tmp_path


def _env(home: Path, urls: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(
        GENESIS_DATA_DIR=str(home / "data"), PYTHONPATH=str(home),
        GENESIS_BINANCE_REST_URL=urls["rest_url"], GENESIS_BINANCE_WS_URL=urls["ws_url"],
        GENESIS_BINANCE_WS_API_URL=urls["ws_api_url"],
        GENESIS_BINANCE_API_KEY=KEY, GENESIS_BINANCE_API_SECRET=SECRET, **extra,
    )  # fmt: skip
    return env


def _control(urls: dict[str, str], path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urls["control_url"] + path, data=data, timeout=10) as resp:
        return json.loads(resp.read(), parse_float=Decimal)


_STARTED: list[subprocess.Popen[str]] = []  # every daemon a test started, for the cleanup


@pytest.fixture(autouse=True)
def _no_daemon_left_behind() -> Iterator[None]:
    """A test that fails mid-way must not leave its daemon running."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


class Daemon:
    """One live daemon process; its stdout lines are collected by a thread."""

    def __init__(
        self,
        home: Path,
        urls: dict[str, str],
        extra: dict[str, str] | None = None,
        *,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``args`` after ``--live`` (default: the Binance sandbox's NKNUSDT and its
        streams); ``env`` the whole environment (default: ``_env`` with ``extra``)."""
        self.urls = urls
        if args is None:
            args = ["--symbol", "NKNUSDT", "--live-streams", "bookTicker,depth@100ms,trade"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "genesis", "--tier", "sniper", "--live",
             "--strategies", str(home / "strategies"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home,
            env=env if env is not None else _env(home, urls, **(extra or {})),
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

    def wait(self, done: Callable[[], bool], *, feed: bool, timeout_s: float = 20.0) -> None:
        """Until ``done()``; with ``feed`` the venue replays 4 capture messages per 50 ms."""
        deadline = time.monotonic() + timeout_s
        subscribed = False
        while not done():
            assert self.proc.poll() is None, "".join(self.err)[-3000:]
            assert time.monotonic() < deadline, f"timed out; last lines: {self.raw[-5:]}"
            subscribed = subscribed or bool(self.named("market_data_selected"))
            if feed and subscribed:
                assert _control(self.urls, "/actions", {"action": "advance", "n": 4})["advanced"]
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=10)
        return self.proc.returncode, "".join(self.err)


def _journal_fills(home: Path) -> list[tuple[str, str, str, Decimal, Decimal, Decimal, str]]:
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        rows = db.execute(
            "SELECT trade_id, client_order_id, side, price, quantity, fee, fee_currency FROM fills"
        ).fetchall()
    return sorted((str(t), c, s, D(p), D(q), D(f), fc) for t, c, s, p, q, f, fc in rows)


def _forget_last_fill(home: Path) -> tuple[str, str, str, Decimal, Decimal, Decimal, str]:
    last = max(_journal_fills(home), key=lambda f: int(f[0]))
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        db.execute("DELETE FROM fills WHERE trade_id = ?", (last[0],))
    return last


def _ledger_fills(
    urls: dict[str, str],
) -> list[tuple[str, str, str, Decimal, Decimal, Decimal, str]]:
    trades = _control(urls, "/ledger")["trades"]
    return sorted(
        (str(t["id"]), t["clientOrderId"], "BUY" if t["isBuyer"] else "SELL", D(t["price"]),
         D(t["qty"]), D(t["commission"]), t["commissionAsset"])
        for t in trades
    )  # fmt: skip


def _logged_fills(daemons: list[Daemon]) -> list[tuple[str, Decimal, Decimal]]:
    return sorted(
        (e["client_order_id"], D(e["quantity"]), D(e["price"]))
        for d in daemons
        for e in d.named("order_filled")
    )


def _resting_accepted(d: Daemon) -> str | None:
    limits = [
        e["client_order_id"] for e in d.named("order_submitted") if e["order_type"] == "LIMIT"
    ]
    accepted = {e["client_order_id"] for e in d.named("order_event")
                if e["event_type"] == "OrderAccepted"}  # fmt: skip
    return next((c for c in limits if c in accepted), None)


def _cli(home: Path, urls: dict[str, str], *args: str) -> dict[str, Any]:
    env = _env(home, urls)
    done = subprocess.run(
        [sys.executable, "-m", "genesis", *args, "--live"],
        capture_output=True, text=True, cwd=home, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _no_canary(home: Path, daemons: list[Daemon], errors: list[str]) -> None:
    texts = ["".join(d.raw) for d in daemons] + errors
    files = [p.read_bytes() for p in (home / "data").iterdir()]
    for secret in (KEY, SECRET):
        assert not any(secret in t for t in texts)
        assert not any(secret.encode() in f for f in files)


def test_trades_live_journal_equals_venue_and_restart_resumes(
    home: Path, sandbox: dict[str, str]
) -> None:
    """Buy and sell at the venue, SIGTERM cancels the resting bid and exits 0; a restart on a
    clean venue trades on; the journal's fills equal the venue's trades exactly."""
    first = Daemon(home, sandbox)
    first.wait(lambda: len(first.named("order_filled")) >= 2 and bool(_resting_accepted(first)),
               feed=True)  # fmt: skip
    resting = _resting_accepted(first)
    code, err1 = first.stop()
    assert code == 0, err1[-2000:]
    started = first.named("daemon_started")[0]
    assert (started["mode"], started["balances"]) == ("live", {"USDT": "1000", "NKN": "0"})
    canceled = [e["client_order_id"] for e in first.named("order_event")
                if e["event_type"] == "OrderCanceled"]  # fmt: skip
    assert canceled == [resting]
    ledger = _control(sandbox, "/ledger")
    assert [o["status"] for o in ledger["orders"][resting]] == ["CANCELED"]
    assert [e["side"] for e in first.named("order_filled")][:2] == ["BUY", "SELL"]
    assert _journal_fills(home) == _ledger_fills(sandbox)
    assert len(_ledger_fills(sandbox)) == len(first.named("order_filled"))

    lost = _forget_last_fill(home)  # as if the process died between the fill and its commit
    second = Daemon(home, sandbox)
    second.wait(lambda: bool(second.named("order_filled")), feed=True)
    code, err2 = second.stop()
    assert code == 0, err2[-2000:]
    reconciled = second.named("live_reconciled")[0]
    assert (reconciled["unknown_orders"], reconciled["fills_backfilled"]) == (0, 1)
    assert lost in _journal_fills(home)  # backfilled from the venue's myTrades, exactly
    assert not second.named("daemon_halted")
    assert _journal_fills(home) == _ledger_fills(sandbox)
    assert _logged_fills([first, second]) == sorted(
        (c, q, p) for _, c, _, p, q, _, _ in _ledger_fills(sandbox)
    )
    _no_canary(home, [first, second], [err1, err2])


def _journal_orders(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        return dict(db.execute("SELECT client_order_id, status FROM orders").fetchall())


def _ledger_status(urls: dict[str, str]) -> dict[str, str]:
    """Each order's last status at the venue, by client order id."""
    return {cid: rows[-1]["status"] for cid, rows in _control(urls, "/ledger")["orders"].items()}


def _place_outside(urls: dict[str, str]) -> str:
    """A bid placed "from the UI": an order this process did not place."""
    order = {"action": "place_order", "symbol": "NKNUSDT", "side": "BUY", "type": "LIMIT",
             "timeInForce": "GTC", "quantity": "50", "price": "0.21",
             "newClientOrderId": "web_manual_1"}  # fmt: skip
    return str(_control(urls, "/actions", order)["clientOrderId"])


def test_crash_with_a_resting_order_adopts_it_and_the_journal_ends_as_the_venue(
    home: Path, sandbox: dict[str, str]
) -> None:
    """kill -9 while its own bid rests: the restart adopts the bid (not halted), trades on,
    and its clean stop cancels it; every journaled order's status is the venue's."""
    first = Daemon(home, sandbox)
    first.wait(lambda: bool(_resting_accepted(first)), feed=True)
    resting = _resting_accepted(first)
    code, _ = first.stop(signal.SIGKILL)
    assert code == -signal.SIGKILL

    second = Daemon(home, sandbox)
    second.wait(lambda: bool(second.named("live_reconciled")), feed=False)
    assert second.named("live_reconciled")[0]["orders_adopted"] >= 1
    second.wait(lambda: len(second.named("order_filled")) >= 1, feed=True)
    assert not second.named("daemon_halted")
    code, err2 = second.stop()
    assert code == 0, err2[-2000:]
    canceled = [e["client_order_id"] for e in second.named("order_event")
                if e["event_type"] == "OrderCanceled"]  # fmt: skip
    assert resting in canceled  # the adopted bid, cancelled at the clean stop (an entry)
    assert _ledger_status(sandbox)[resting] == "CANCELED"
    journal = _journal_orders(home)
    ledger = _ledger_status(sandbox)
    assert {c: journal[c] for c in ledger} == ledger
    assert _journal_fills(home) == _ledger_fills(sandbox)
    _no_canary(home, [first, second], [err2])


def test_an_order_placed_outside_halts_until_killed_and_reset(
    home: Path, sandbox: dict[str, str]
) -> None:
    """A bid it did not place rests at the venue: the start is HALTED naming it and sends
    nothing; genesis kill cancels it at the venue (the kernel never knew it); genesis reset
    lets it trade."""
    outside = _place_outside(sandbox)
    second = Daemon(home, sandbox)
    second.wait(lambda: bool(second.named("daemon_halted")), feed=False)
    halted = second.named("daemon_halted")[0]
    assert halted["unknown_orders"] == [outside]
    assert outside in halted["reason"]
    assert "--live" in halted["hint"]
    second.wait(lambda: bool(second.named("order_denied")), feed=True)  # it tried, risk refused
    assert not second.named("order_submitted")

    requested = _cli(home, sandbox, "kill", "--reason", "x")
    second.wait(lambda: any(e.get("request_id") == requested["request_id"]
                            for e in second.named("kill_switch_engaged")), feed=False)  # fmt: skip
    assert second.named("venue_cancel_all_sent")[0]["symbols"] == ["NKNUSDT"]
    deadline = time.monotonic() + 10
    while _ledger_status(sandbox)[outside] != "CANCELED":
        assert time.monotonic() < deadline, "the outside order was not cancelled"
        time.sleep(0.05)

    _cli(home, sandbox, "reset", "--reason", "venue is clean")
    second.wait(lambda: bool(second.named("kill_switch_reset")), feed=False)
    second.wait(lambda: bool(second.named("order_filled")), feed=True)
    code, err2 = second.stop()
    assert code == 0, err2[-2000:]
    assert second.named("order_submitted")[0]["side"] == "BUY"
    assert _journal_fills(home) == _ledger_fills(sandbox)
    _no_canary(home, [second], [err2])


def test_venue_refusing_the_key_engages_the_kill_switch(
    home: Path, sandbox: dict[str, str]
) -> None:
    """R4: the venue answers an order with -2015: rejected, kill switch engaged (durably) with
    "venue authentication failed"; ``genesis status`` shows it."""
    body = {"hook": "order.error_before", "params": {"status": 401, "code": -2015}}
    _control(sandbox, "/faults", body)
    daemon = Daemon(home, sandbox)
    daemon.wait(lambda: bool(daemon.named("kill_switch_engaged")), feed=True)
    code, err = daemon.stop()
    assert code == 0, err[-2000:]
    engaged = daemon.named("kill_switch_engaged")[0]
    assert (engaged["source"], engaged["reason"]) == ("venue", "venue authentication failed")
    assert daemon.named("venue_auth_failed")[0]["code"] == -2015
    rejected = [e for e in daemon.named("order_event") if e["event_type"] == "OrderRejected"]
    assert len(rejected) == 1
    status = _cli(home, sandbox, "status")
    assert (status["kill_switch"], status["source"]) == ("engaged", "venue")
    _no_canary(home, [daemon], [err])


def _journal_positions(home: Path) -> dict[str, Decimal]:
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        rows = db.execute("SELECT symbol, quantity FROM positions").fetchall()
    return {s: D(q) for s, q in rows}


def _journal_audits(home: Path, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        rows = db.execute(
            "SELECT detail_json FROM audit_log WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    return [json.loads(r[0]) for r in rows]


def test_a_refused_reset_is_handled_once_and_never_undoes_a_later_kill(
    home: Path, sandbox: dict[str, str]
) -> None:
    """Halted start, reset refused (the unknown bid still rests), kill, stop: the refusal is
    journaled with the request's id, so the next start does not apply the stale reset and
    comes up still killed (the strategy's buy is denied, nothing is sent)."""
    resting = _place_outside(sandbox)
    second = Daemon(home, sandbox)
    second.wait(lambda: bool(second.named("daemon_halted")), feed=False)
    reset = _cli(home, sandbox, "reset", "--reason", "too early")
    second.wait(lambda: bool(second.named("kill_switch_reset_refused")), feed=False)
    _cli(home, sandbox, "kill", "--reason", "operator stops trading")
    second.wait(lambda: bool(second.named("kill_switch_engaged")), feed=False)
    deadline = time.monotonic() + 10
    while _control(sandbox, "/ledger")["orders"][resting][-1]["status"] != "CANCELED":
        assert time.monotonic() < deadline, "the resting order was not cancelled"
        time.sleep(0.05)
    code, err2 = second.stop()
    assert code == 0, err2[-2000:]
    assert not second.named("kill_switch_reset")
    assert _journal_audits(home, "kill_switch_reset_refused") == [{
        "request_id": reset["request_id"],
        "reason": "the venue still holds open orders this process does not know",
    }]  # fmt: skip

    third = Daemon(home, sandbox)
    third.wait(lambda: bool(third.named("order_denied")), feed=True)
    code, err3 = third.stop()
    assert code == 0, err3[-2000:]
    assert third.named("kill_switch_restored")[0]["reason"] == "operator stops trading"
    assert not third.named("kill_switch_reset")
    assert not third.named("order_submitted")
    status = _cli(home, sandbox, "status")
    assert (status["kill_switch"], status["source"]) == ("engaged", "operator")
    _no_canary(home, [second, third], [err2, err3])


def test_a_restart_holding_a_journaled_position_resumes_it(
    home: Path, sandbox: dict[str, str]
) -> None:
    """Run 1 buys 40 NKN and stops holding them: the restart books the position from the
    journal's fills (and continues the day's loss baseline) and sells those 40 at the
    strategy's next exit, instead of buying 40 more."""
    first = Daemon(home, sandbox)
    first.wait(lambda: bool(first.named("order_filled")), feed=True)
    code, err1 = first.stop()
    assert code == 0, err1[-2000:]
    assert [(e["side"], D(e["quantity"])) for e in first.named("order_filled")] == [("BUY", 40)]
    assert _journal_positions(home) == {"NKNUSDT": 40}
    baselines = _journal_audits(home, "daily_loss_baseline")
    assert len(baselines) == 1

    second = Daemon(home, sandbox)
    second.wait(lambda: bool(second.named("live_reconciled")), feed=False)
    assert second.named("live_reconciled")[0]["positions"] == {"flipper:NKNUSDT": "40"}
    restored = second.named("daily_loss_baseline_restored")[0]
    assert D(restored["day_start_equity"]) == D(baselines[0]["day_start"])
    second.wait(lambda: bool(second.named("order_filled")), feed=True)
    code, err2 = second.stop()
    assert code == 0, err2[-2000:]
    assert not second.named("daemon_halted")
    first_fill = second.named("order_filled")[0]
    assert (first_fill["side"], D(first_fill["quantity"])) == ("SELL", 40)
    trades = [("BUY" if t["isBuyer"] else "SELL", D(t["qty"]))
              for t in _control(sandbox, "/ledger")["trades"]]  # fmt: skip
    assert trades[:2] == [("BUY", 40), ("SELL", 40)]  # never more than 40 held
    assert _journal_fills(home) == _ledger_fills(sandbox)
    _no_canary(home, [first, second], [err1, err2])


def _positions_at_venue(urls: dict[str, str], own: set[str]) -> dict[str, Decimal]:
    """What the daemon's own trades left at the venue, by symbol (buys minus sells)."""
    held: dict[str, Decimal] = {}
    for t in _control(urls, "/ledger")["trades"]:
        if t["clientOrderId"] in own:
            sign = 1 if t["isBuyer"] else -1
            held[t["symbol"]] = held.get(t["symbol"], D(0)) + sign * D(t["qty"])
    return held


def _feed_until(d: Daemon, done: Callable[[], bool], budget: int) -> None:
    """Replay capture messages two at a time (at most ``budget``) until ``done()``."""
    fed = 0
    while not done() and fed < budget:
        assert d.proc.poll() is None, "".join(d.err)[-3000:]
        fed += 2
        if not _control(d.urls, "/actions", {"action": "advance", "n": 2})["advanced"]:
            return  # the capture is used up
        time.sleep(0.03)


def test_twenty_kills_in_a_row_against_the_venue(home: Path, sandbox: dict[str, str]) -> None:
    """kill -9 at random points and right as an order is logged, restarted at once each time
    (systemd's Restart=always): 0 client ids sent twice, journal fills == venue trades, every
    journaled order's status == the venue's, journal positions == the venue's; no restart
    needs an operator."""
    import random

    rng = random.Random(97)
    daemons: list[Daemon] = []
    ready_s: list[float] = []
    for n in range(20):
        started = time.monotonic()
        d = Daemon(home, sandbox)
        daemons.append(d)
        d.wait(lambda d=d: bool(d.named("market_data_selected")), feed=False)  # type: ignore[misc]
        ready_s.append(time.monotonic() - started)
        assert not d.named("daemon_halted"), d.named("daemon_halted")
        if n % 3 == 2:  # right as an order is logged as submitted
            seen = len(d.named("order_submitted"))
            _feed_until(d, lambda d=d, seen=seen: len(d.named("order_submitted")) > seen, budget=60)  # type: ignore[misc]
        else:  # at a random point: after a few replayed messages and a random pause
            _feed_until(d, lambda: False, budget=rng.randint(4, 16))
            time.sleep(rng.uniform(0.0, 0.3))
        d.stop(signal.SIGKILL)
    last = Daemon(home, sandbox)
    daemons.append(last)
    last.wait(lambda: bool(last.named("market_data_selected")), feed=False)
    assert not last.named("daemon_halted")
    code, err = last.stop()
    assert code == 0, err[-2000:]

    ledger = _control(sandbox, "/ledger")
    placed = [cid for cid, rows in ledger["orders"].items() for r in rows[:1]]
    assert len(placed) == len(set(placed))
    submitted = [e["client_order_id"] for d in daemons for e in d.named("order_submitted")]
    assert len(submitted) == len(set(submitted))  # no client order id sent twice
    assert set(ledger["orders"]) <= set(submitted)  # the venue saw nothing it was not told
    assert _journal_fills(home) == _ledger_fills(sandbox)  # 0 lost, 0 phantom fills
    journal, venue = _journal_orders(home), _ledger_status(sandbox)
    assert {c: journal[c] for c in venue} == venue
    assert _journal_positions(home) == _positions_at_venue(sandbox, set(journal)) or all(
        q == _positions_at_venue(sandbox, set(journal)).get(s, D(0))
        for s, q in _journal_positions(home).items()
    )
    assert len(ledger["trades"]) >= 4  # the kills landed while it traded
    adopted = sum(e["orders_adopted"] for d in daemons for e in d.named("live_reconciled"))
    print(
        f"orders {len(ledger['orders'])}, trades {len(ledger['trades'])}, adopted {adopted},"
        f" restart-to-ready s: max {max(ready_s):.2f}, median {sorted(ready_s)[10]:.2f}"
    )


@pytest.fixture
def second_sandbox() -> Iterator[dict[str, str]]:
    """Another loopback exchange: the venue the daemon reaches through ccxt's binance class."""
    with _exchange("CCXTKEY", "CCXTSECRETcanary9") as urls:
        yield urls


def _venue_fills(home: Path, venue: str) -> list[tuple[str, str, str, D, D, D, str]]:
    with sqlite3.connect(home / "data" / "genesis-live.db") as db:
        rows = db.execute(
            "SELECT trade_id, client_order_id, side, price, quantity, fee, fee_currency FROM fills"
            " WHERE venue = ?", (venue,),
        ).fetchall()  # fmt: skip
    return sorted((str(t), c, s, D(p), D(q), D(f), fc) for t, c, s, p, q, f, fc in rows)


def _ccxt_venue(urls: dict[str, str]) -> str:
    """GENESIS_CCXT_VENUES: venue ``sbx`` is ccxt's binance class on the second exchange."""
    dead = f"{urls['ws_url']}/not-served"
    spec = {
        "exchange": "binance",
        "api": {
            "public": f"{urls['rest_url']}/api/v3", "private": f"{urls['rest_url']}/api/v3",
            "ws": {"spot": f"{urls['ws_url']}/ws", "margin": dead,
                   "ws-api": {"spot": urls["ws_api_url"], "linear": dead, "inverse": dead}},
        },
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False, "fetchTradesMethod": "publicGetTrades",
                    "recvWindow": 300},
        "kinds": ["quote_book", "trades"],  # the flipper acts on quotes
    }  # fmt: skip
    return json.dumps({"sbx": spec})


def test_native_binance_and_a_ccxt_venue_trade_in_one_daemon(
    home: Path, sandbox: dict[str, str], second_sandbox: dict[str, str]
) -> None:
    """NKNUSDT natively on one exchange and sbx:NKNUSDT through ccxt on another, one daemon:
    each venue's trades equal the journal's fills for that venue, exactly; a kill -9 and a
    restart adopt both venues' orders; every log line names its venue."""
    (home / "strategies" / "flipper.yaml").write_text(
        _CONFIG.replace("instruments: [NKNUSDT]", "instruments: [NKNUSDT, sbx:NKNUSDT]")
    )
    extra = {
        "GENESIS_CCXT_VENUES": _ccxt_venue(second_sandbox),
        "GENESIS_CCXT_SBX_API_KEY": "CCXTKEY", "GENESIS_CCXT_SBX_API_SECRET": "CCXTSECRETcanary9",
    }  # fmt: skip

    def both(d: Daemon, want: int) -> bool:
        venues = [e["venue"] for e in d.named("order_filled")]
        return venues.count("BINANCE") >= want and venues.count("SBX") >= want

    def feed_both(d: Daemon, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 30
        while not done():
            assert d.proc.poll() is None, "".join(d.err)[-3000:]
            assert time.monotonic() < deadline, f"timed out; last lines: {d.raw[-5:]}"
            if d.named("market_data_selected"):
                for urls in (sandbox, second_sandbox):
                    _control(urls, "/actions", {"action": "advance", "n": 2})
            time.sleep(0.05)

    first = Daemon(home, sandbox, extra)
    feed_both(first, lambda: both(first, 1))
    first.stop(signal.SIGKILL)
    second = Daemon(home, sandbox, extra)
    feed_both(second, lambda: both(second, 1))
    code, err = second.stop()
    assert code == 0, err[-2000:]
    assert not second.named("daemon_halted")
    assert _venue_fills(home, "BINANCE") == _ledger_fills(sandbox)
    assert _venue_fills(home, "SBX") == _ledger_fills(second_sandbox)
    submitted = [e for d in (first, second) for e in d.named("order_submitted")]
    assert {(e["venue"], e["instrument"]) for e in submitted} == {
        ("BINANCE", "NKNUSDT"), ("SBX", "sbx:NKNUSDT"),
    }  # fmt: skip
    ids = [e["client_order_id"] for e in submitted]
    assert len(ids) == len(set(ids))
