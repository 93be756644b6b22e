"""What a live restart must not forget: the day's loss baseline, open positions, big backfills."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from genesis.core.enums import Side
from genesis.engine.live_daemon import LiveDaemon
from genesis.daemon.reconcile import (
    BASELINE,
    Reconciliation,
    baseline_detail,
    journaled_baseline,
    open_positions,
    position_halt_reason,
)
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import Tier
from genesis.risk.monitor import DailyLossMonitor, day_of
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.storage.repository import AuditRecord, BalanceRecord, FillRecord, PositionRecord
from genesis.storage.writer import BatchingWriter

D = Decimal
DAY = 86_400 * 1_000_000_000
T0 = 19_000 * DAY + 3_600 * 1_000_000_000  # 01:00 UTC on day 19000


def _monitor(start: Decimal) -> DailyLossMonitor:
    return DailyLossMonitor(RiskEngine(Tier.SNIPER), D("0.05"), start)


def _baseline_row(day: int, start: str) -> AuditRecord:
    return AuditRecord(1, "daemon", BASELINE, json.dumps({"day": day, "day_start": start}))


# --- the monitor ---------------------------------------------------------------------------


def test_restore_continues_the_day_from_the_journaled_start() -> None:
    """Day start 1000, restart at 970: 948 is a 5.2% loss of the day (engaged), although
    only 2.27% below the restart's equity."""
    monitor = _monitor(D(970))
    monitor.restore(day_of(T0), D(1000))
    assert monitor.update(T0 + 1, D(960)) is None  # same day: no rebase, 4% lost
    assert monitor.day_start == D(1000)
    assert monitor.update(T0 + 2, D(948)) == "engaged"
    assert monitor.risk.kill_switch == "daily loss 5.2000% exceeds 5.00%"


def test_without_restore_a_restart_rebases_the_day() -> None:
    """The bug the restore fixes: the first event after a start sets the day's start."""
    monitor = _monitor(D(970))
    assert monitor.update(T0 + 1, D(960)) is None
    assert monitor.update(T0 + 2, D(948)) is None  # 1.25% below 960
    assert monitor.risk.kill_switch is None


def test_a_restored_day_still_rolls_over_at_midnight() -> None:
    monitor = _monitor(D(970))
    monitor.restore(day_of(T0), D(1000))
    assert monitor.update(T0 + DAY, D(940)) is None  # next day: measured from 940
    assert (monitor.day, monitor.day_start) == (day_of(T0) + 1, D(940))


@pytest.mark.parametrize("bad", [D(0), D(-5), D("NaN"), D("Infinity")])
def test_restore_rejects_an_unusable_start_and_changes_nothing(bad: Decimal) -> None:
    monitor = _monitor(D(970))
    with pytest.raises(ValueError, match="day start equity must be a finite decimal > 0"):
        monitor.restore(day_of(T0), bad)
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
        monitor = _monitor(equity)
        start = journaled_baseline(journal, day_of(now))
        if start is not None:
            monitor.restore(day_of(now), start)
        before = monitor.day
        engaged.append(monitor.update(now, equity))
        if monitor.day != before:
            journal.append(AuditRecord(now, "daemon", BASELINE, json.dumps(
                baseline_detail(day_of(now), monitor.day_start))))  # fmt: skip
        equity, now = equity * D("0.98"), now + 1_000_000_000
    assert engaged == [None, None, None, "engaged"]
    assert len(journal) == 1
    assert monitor.risk.kill_switch == "daily loss 5.8808% exceeds 5.00%"


# --- journaled positions ----------------------------------------------------------------


def _position(symbol: str, qty: str, venue: str = "BINANCE") -> PositionRecord:
    return PositionRecord(venue, symbol, D(qty), D("0.3524"), D(0), 5)


def test_only_open_positions_of_traded_symbols_at_this_venue_halt() -> None:
    rows = [_position("NKNUSDT", "40.00000000"), _position("BTCUSDT", "0.5"),
            _position("ETHUSDT", "0E-8"), _position("XRPUSDT", "-3", venue="PAPER")]  # fmt: skip
    held = open_positions(rows, "BINANCE", ["NKNUSDT", "ETHUSDT", "XRPUSDT"])
    assert [p.symbol for p in held] == ["NKNUSDT"]
    assert position_halt_reason(held) == (
        "journal holds an open position from the previous live session: NKNUSDT 40;"
        " close it at the venue, then `genesis reset --live`"
    )
    assert position_halt_reason(()) is None


def test_the_halt_reason_names_every_position_without_exponents() -> None:
    held = (_position("BTCUSDT", "-0.00001000"), _position("NKNUSDT", "1E+2"))
    assert position_halt_reason(held) == (
        "journal holds an open position from the previous live session: BTCUSDT -0.00001,"
        " NKNUSDT 100; close it at the venue, then `genesis reset --live`"
    )


# --- the start-up backfill --------------------------------------------------------------


async def test_a_backfill_larger_than_the_writer_queue_is_journaled_whole(tmp_path: Path) -> None:
    """12,000 backfilled fills through a writer whose queue holds 10,000: all are committed
    (the start-up no longer fails with "queue full")."""
    repo = await open_repository(None, tmp_path, LIVE_SQLITE_NAME)
    writer = BatchingWriter(repo)
    writer.start()
    fills = tuple(
        FillRecord("BINANCE", "NKNUSDT", str(n), f"c-{n}", str(n), Side.BUY, D("0.3524"), D(1),
                   D("0.0003"), "USDT", n)
        for n in range(12_000)
    )  # fmt: skip
    balance = BalanceRecord("BINANCE", "USDT", D("985.5"), D(0), 1)
    found = Reconciliation(fills, (balance,), (), None)
    host: Any = SimpleNamespace(
        journal=writer, log=structlog.get_logger(),
        session=SimpleNamespace(snapshot=SimpleNamespace(open_orders=())),
    )  # fmt: skip
    try:
        await LiveDaemon._journal_reconciliation(host, found)
        await writer.flush()
        assert len(await repo.fills_since(0)) == 12_000
        assert await repo.load_balances() == [balance]
    finally:
        await writer.aclose()
        await repo.close()
