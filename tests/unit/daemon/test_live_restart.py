"""What a live restart must not forget: the day's loss baseline, open positions, big backfills.

The daily-loss limit is the kernel's kill switch (``genesis.risk.monitor.KillSwitch``
watching a ``DailyLossMonitor``): the kernel calls ``on_equity`` after every market
event and journals the notices it returns; a live restart restores the day's
journaled baseline with ``restore_baseline`` (``genesis.daemon.recovery.LiveRecovery``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis import resources
from genesis.config.models import StrategyConfig
from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import DailyLossBaseline, KillSwitchChanged, OrderFilled
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import live_daemon
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.live_session import AuthRelay
from genesis.daemon.reconcile import (
    BASELINE,
    baseline_detail,
    journaled_baseline,
)
from genesis.exchange.live import VenueBalance, VenueSnapshot
from genesis.risk.limits import Tier
from genesis.risk.monitor import DailyLossMonitor, KillSwitch, day_of
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.storage.repository import (
    AuditRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
    SqlRepository,
)

D = Decimal
DAY = 86_400 * 1_000_000_000
T0 = 19_000 * DAY + 3_600 * 1_000_000_000  # 01:00 UTC on day 19000


def _switch(start: Decimal) -> KillSwitch:
    """The kill switch watching a 5% daily-loss limit, as the kernel's risk engine holds it
    (was ``DailyLossMonitor(RiskEngine(Tier.SNIPER), 0.05, start)``)."""
    return KillSwitch(DailyLossMonitor(D("0.05"), start))


def _update(switch: KillSwitch, now_ns: int, equity: Decimal) -> str | None:
    """The kernel's daily-loss check after a market event: "engaged" when it engaged the
    kill switch (the old ``DailyLossMonitor.update`` result), else None."""
    events = switch.on_equity(now_ns, equity)
    engaged = [e for e in events if isinstance(e, KillSwitchChanged) and e.engaged]
    return "engaged" if engaged else None


def _baseline_row(day: int, start: str) -> AuditRecord:
    return AuditRecord(1, "daemon", BASELINE, json.dumps({"day": day, "day_start": start}))


# --- the monitor ---------------------------------------------------------------------------


def test_restore_continues_the_day_from_the_journaled_start() -> None:
    """Day start 1000, restart at 970: 948 is a 5.2% loss of the day (engaged), although
    only 2.27% below the restart's equity."""
    switch = _switch(D(970))
    monitor = switch.daily_loss
    assert monitor is not None
    restored = switch.restore_baseline(T0, day_of(T0), D(1000))
    assert (restored.day, restored.day_start_equity) == (day_of(T0), D(1000))
    assert _update(switch, T0 + 1, D(960)) is None  # same day: no rebase, 4% lost
    assert monitor.day_start == D(1000)
    [engaged] = switch.on_equity(T0 + 2, D(948))  # the one notice: the switch engaged
    assert isinstance(engaged, KillSwitchChanged)
    assert (engaged.engaged, engaged.source) == (True, "daily_loss")
    assert switch.reason == engaged.reason == "daily loss 5.2000% exceeds 5.00%"


def test_without_restore_a_restart_rebases_the_day() -> None:
    """The bug the restore fixes: the first event after a start sets the day's start."""
    switch = _switch(D(970))
    assert _update(switch, T0 + 1, D(960)) is None
    assert _update(switch, T0 + 2, D(948)) is None  # 1.25% below 960
    assert switch.reason is None


def test_a_restored_day_still_rolls_over_at_midnight() -> None:
    switch = _switch(D(970))
    monitor = switch.daily_loss
    assert monitor is not None
    switch.restore_baseline(T0, day_of(T0), D(1000))
    assert _update(switch, T0 + DAY, D(940)) is None  # next day: measured from 940
    assert (monitor.day, monitor.day_start) == (day_of(T0) + 1, D(940))


@pytest.mark.parametrize("bad", [D(0), D(-5), D("NaN"), D("Infinity")])
def test_restore_rejects_an_unusable_start_and_changes_nothing(bad: Decimal) -> None:
    switch = _switch(D(970))
    monitor = switch.daily_loss
    assert monitor is not None
    with pytest.raises(ValueError, match="day start equity must be a finite decimal > 0"):
        switch.restore_baseline(T0, day_of(T0), bad)
    assert (monitor.day, monitor.day_start) == (None, D(970))


# --- the journaled baseline -------------------------------------------------------------


def test_the_last_baseline_of_today_is_restored() -> None:
    """A reset's rebase (the later row) wins; another day's baseline is not restored."""
    day = day_of(T0)
    rows = [_baseline_row(day, "1000.5"), _baseline_row(day, "987.25")]
    assert journaled_baseline(rows, day) == D("987.25")
    assert journaled_baseline(rows, day + 1) is None
    assert journaled_baseline([], day) is None


@pytest.mark.parametrize(
    "detail",
    ['{"day": 19000, "day_start": "x"}', '{"day": 19000, "day_start": "0"}',
     '{"day": "19000", "day_start": "5"}', '{"day": 19000}', "[1]", "not json",
     '{"day": 19000, "day_start": "-1"}', '{"day": 19000, "day_start": "NaN"}'],
)  # fmt: skip
def test_a_malformed_baseline_row_is_skipped(detail: str) -> None:
    rows = [_baseline_row(19_000, "1000"), AuditRecord(2, "daemon", BASELINE, detail)]
    assert journaled_baseline(rows, 19_000) == D(1000)


@given(st.decimals(min_value=D("0.00000001"), max_value=D("1e12"), places=8))
def test_baseline_detail_round_trips_exactly(start: Decimal) -> None:
    """The equity is journaled as a plain decimal string and read back unchanged."""
    detail = baseline_detail(19_000, start)
    assert "E" not in detail["day_start"].upper()
    row = AuditRecord(1, "daemon", BASELINE, json.dumps(detail))
    assert journaled_baseline([row], 19_000) == start


def test_a_crash_loop_keeps_the_daily_limit() -> None:
    """Three restarts, each 2% lower: the journaled baseline makes the third trip the 5%
    limit (5.88% of the day's 1000); rebasing at each start would never trip it."""
    journal: list[AuditRecord] = []
    equity, now, engaged = D(1000), T0, []
    for _ in range(4):
        switch = _switch(equity)
        start = journaled_baseline(journal, day_of(now))
        if start is not None:  # what LiveRecovery does at start-up (the notice is not journaled)
            switch.restore_baseline(now, day_of(now), start)
        notices = switch.on_equity(now, equity)
        engaged.append(
            "engaged" if any(isinstance(e, KillSwitchChanged) for e in notices) else None
        )
        for notice in notices:  # what the journal does with a DailyLossBaseline notice
            if isinstance(notice, DailyLossBaseline):
                detail = baseline_detail(notice.day, notice.day_start_equity)
                journal.append(AuditRecord(now, "daemon", BASELINE, json.dumps(detail)))
        equity, now = equity * D("0.98"), now + 1_000_000_000
    assert engaged == [None, None, None, "engaged"]
    assert len(journal) == 1
    assert switch.reason == "daily loss 5.8808% exceeds 5.00%"


# --- journaled positions ----------------------------------------------------------------


def _position(symbol: str, qty: str, venue: str = "BINANCE") -> PositionRecord:
    return PositionRecord(venue, symbol, D(qty), D("0.3524"), D(0), 5)


# --- the start-up reconciliation (LiveRecovery) --------------------------------------------


class _Log:
    """Records every line as (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record

    def named(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        return [(level, fields) for level, e, fields in self.lines if e == event]


@dataclass
class _Started:
    daemon: Daemon
    repo: SqlRepository
    log: _Log


def _nkn_fill(n: int) -> OrderFilled:
    return OrderFilled(
        venue="BINANCE", trade_id=str(n), side=Side.BUY, last_qty=D(1), last_px=D("0.3524"),
        fee=D("0.0003"), fee_currency="USDT", liquidity=LiquiditySide.TAKER,
        venue_order_id=str(n), client_order_id=f"c-{n}", strategy_id="", instrument_id="NKNUSDT",
        ts_event=n, ts_init=n,
    )  # fmt: skip


async def _start_live(
    tmp_path: Path,
    closing: list[Daemon],
    *,
    fills: tuple[OrderFilled, ...] = (),
    positions: tuple[PositionRecord, ...] = (),
    audits: tuple[AuditRecord, ...] = (),
    orders: tuple[OrderRecord, ...] = (),
    journaled: tuple[FillRecord, ...] = (),
    nkn: Decimal | None = None,
) -> _Started:
    """A live daemon assembled by ``live_daemon`` on a stand-in for the opened session
    (journal, venue name, snapshot), through ``LiveRecovery.begin``: what a start does
    before the strategies run. Nothing is contacted."""
    repo = await open_repository(None, tmp_path, LIVE_SQLITE_NAME)
    if positions or audits or orders or journaled:
        await repo.write_batch([*orders, *journaled, *positions, *audits])
    balances = {"USDT": VenueBalance("USDT", D("985.5"), D(0))}
    if nkn:
        balances["NKN"] = VenueBalance("NKN", nkn, D(0))
    table = load_exchange_info(resources.EXCHANGE_INFO)
    venue: Any = SimpleNamespace(  # a stand-in LiveVenue: nothing is contacted
        key="binance", name="BINANCE", port=None, instruments=[table.get("NKNUSDT")], marks={},
        snapshot=VenueSnapshot(open_orders=(), balances=balances, fills=fills),
        recover=lambda intent, ts_ms: None,
    )  # fmt: skip
    strategy = StrategyConfig(
        id="nkn", strategy="momentum_breakout", tier=Tier.SNIPER, instruments=("NKNUSDT",)
    )
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=(strategy,), instruments=table, data_dir=tmp_path,
    )  # fmt: skip
    relay = AuthRelay()
    log = _Log()
    journal = (repo, list(audits), list(journaled))
    daemon = live_daemon(config, [venue], journal, Mailbox(), relay, log=log)
    closing.append(daemon)
    assert daemon.journal is not None
    daemon.journal.start()
    await daemon.recovery.begin(daemon)
    return _Started(daemon, repo, log)


@pytest.fixture
async def closing() -> AsyncIterator[list[Daemon]]:
    """The daemons a test started: their journals are closed afterwards, pass or fail."""
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        if daemon.journal is not None:
            await daemon.journal.close()  # the writer, then the repository


def _own_order(cid: str, qty: Decimal) -> OrderRecord:
    """A journaled order of strategy ``nkn``, filled (terminal: nothing to adopt)."""
    return OrderRecord(
        client_order_id=cid, strategy_id="nkn", venue="BINANCE", symbol="NKNUSDT",
        side=Side.BUY, order_type=OrderType.MARKET, quantity=qty, price=None,
        status=OrderStatus.FILLED, filled_qty=qty, venue_order_id="1", ts_init=1, ts_last=2,
    )  # fmt: skip


def _own_fill(cid: str, trade_id: str, qty: Decimal) -> FillRecord:
    return FillRecord(
        venue="BINANCE", symbol="NKNUSDT", trade_id=trade_id, client_order_id=cid,
        venue_order_id="1", side=Side.BUY, price=D("0.3524"), quantity=qty, fee=D("0.01"),
        fee_currency="USDT", ts_ns=2,
    )  # fmt: skip


async def test_a_restart_resumes_the_position_its_journaled_fills_made(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """A fresh kernel books the journal's fills per strategy (no balance moves: the venue's
    balances are the account) and trades on: not halted, nothing bought twice."""
    started = await _start_live(
        tmp_path, closing, orders=(_own_order("nkn-1-1", D(40)),),
        journaled=(_own_fill("nkn-1-1", "7", D(40)),), nkn=D(40),
    )  # fmt: skip
    portfolio = started.daemon.kernel.portfolio
    assert portfolio.position_qty("NKNUSDT", "nkn") == D(40)
    assert portfolio.balance("NKN") == D(40)  # the venue's, not 40 + 40
    [(_level, reconciled)] = started.log.named("live_reconciled")
    assert reconciled["positions"] == {"nkn:NKNUSDT": "40"}
    assert started.log.named("daemon_halted") == []
    assert started.daemon.kernel.risk.kill_switch is None


async def test_a_venue_holding_less_than_the_journals_positions_halts(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """The journal says 40 NKN were bought; the venue holds none: sold outside, so halted,
    naming the asset, both quantities and the --live reset; engaged and journaled once."""
    started = await _start_live(
        tmp_path, closing, orders=(_own_order("nkn-1-1", D(40)),),
        journaled=(_own_fill("nkn-1-1", "7", D(40)),),
    )  # fmt: skip
    [(level, halted)] = started.log.named("daemon_halted")
    assert level == "critical"
    assert "NKN 0 < 40" in halted["reason"]
    assert "genesis reset --live" in halted["reason"]
    assert started.daemon.kernel.risk.kill_switch == halted["reason"]
    rows = [a for a in await started.repo.audit_log(0) if a.action == "kill_switch_engaged"]
    assert [json.loads(a.detail_json)["source"] for a in rows] == ["reconciliation"]


async def test_fills_of_orders_it_did_not_place_halt(tmp_path: Path, closing: list[Daemon]) -> None:
    """A venue fill whose order no journaled intent placed cannot be explained: halted."""
    started = await _start_live(tmp_path, closing, fills=(_nkn_fill(1),), nkn=D(1))
    [(_level, halted)] = started.log.named("daemon_halted")
    assert "1 fill(s) of orders this process did not place" in halted["reason"]


async def test_a_restart_restores_the_days_journaled_baseline(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Today's journaled baseline is restored, not rebased on the restart's equity (985.5).
    By design the line is now ``daily_loss_baseline_restored`` at info (was warning) with the
    UTC ``date`` (was the day number) and the equity as a plain decimal."""
    today = day_of(time.time_ns())
    started = await _start_live(tmp_path, closing, audits=(_baseline_row(today, "1000.50000000"),))
    monitor = started.daemon.kernel.risk.switch.daily_loss
    assert monitor is not None
    assert (monitor.day, monitor.day_start) == (today, D("1000.5"))
    [(level, fields)] = started.log.named("daily_loss_baseline_restored")
    date = time.strftime("%Y-%m-%d", time.gmtime(today * 86_400))
    assert (level, fields) == ("info", {"date": date, "day_start_equity": "1000.5"})
    assert started.daemon.kernel.risk.kill_switch is None
    assert started.log.named("daemon_halted") == []


async def test_another_days_baseline_is_not_restored(tmp_path: Path, closing: list[Daemon]) -> None:
    yesterday = day_of(time.time_ns()) - 1
    started = await _start_live(tmp_path, closing, audits=(_baseline_row(yesterday, "1000.5"),))
    monitor = started.daemon.kernel.risk.switch.daily_loss
    assert monitor is not None
    assert monitor.day is None  # the first market event sets today's baseline
    assert started.log.named("daily_loss_baseline_restored") == []


# --- the start-up backfill --------------------------------------------------------------


async def test_a_backfill_larger_than_the_writer_queue_is_journaled_whole(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """12,000 backfilled fills through a writer whose queue holds 10,000: all are committed
    (the start-up no longer fails with "queue full")."""
    fills = tuple(_nkn_fill(n) for n in range(12_000))
    orders = tuple(_own_order(f"c-{n}", D(1)) for n in range(12_000))
    started = await _start_live(tmp_path, closing, fills=fills, orders=orders, nkn=D(12_000))
    journal = started.daemon.journal
    assert journal is not None
    assert journal.writer.statistics().max_depth == 10_000
    assert len(await started.repo.fills_since(0)) == 12_000
    balances = await started.repo.load_balances()
    assert sorted((b.venue, b.asset, b.free, b.locked) for b in balances) == [
        ("BINANCE", "NKN", D(12_000), D(0)),
        ("BINANCE", "USDT", D("985.5"), D(0)),
    ]
    [(_level, reconciled)] = started.log.named("live_reconciled")
    assert reconciled["fills_backfilled"] == 12_000
    assert reconciled["positions"] == {"nkn:NKNUSDT": "12000"}
    assert started.log.named("daemon_halted") == []
