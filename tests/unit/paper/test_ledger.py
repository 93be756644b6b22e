"""The journal side of promotions: the monitor proposes, only the operator decides (CLI and
ledger), and a decision writes the live allocation file; bad requests change nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from genesis.__main__ import main
from genesis.config.models import StrategyConfig
from genesis.monitoring.alerts import AlertConfig, Alerts
from genesis.paper.ledger import ALLOCATIONS_FILE, PromotionLedger, PromotionRefused
from genesis.paper.monitor import PromotionMonitor
from genesis.paper.promotion import NS_PER_DAY, PROPOSED, REGRESSION
from genesis.portfolio.performance import TradeRecord
from genesis.storage import open_repository
from genesis.storage.factory import DEFAULT_SQLITE_NAME

SID = "sma-btc"
DAY12 = (18992 + 12) * NS_PER_DAY - 1  # end of the 12th day of the record


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((event, fields))


def _config(**promotion: object) -> StrategyConfig:
    section = {"min_trades": 300, "min_days": 7, "min_sharpe": -14, "max_drawdown": 0.14,
               "capital": "100000", "target": "20000", "step_days": 5, **promotion}  # fmt: skip
    return StrategyConfig.model_validate({
        "id": SID, "strategy": "sma_cross", "tier": "sniper", "instruments": ["BTCUSDT"],
        "params": {"fast": 20, "slow": 30, "quantity": "1"}, "promotion": section,
    })  # fmt: skip


async def _propose(data_dir: Path, trades: list[TradeRecord], **promotion: object) -> Any:
    """The paper daemon's monitor, one pass at the end of day 12 of the record."""
    repo = await open_repository(None, data_dir, DEFAULT_SQLITE_NAME)
    try:
        log = _Log()
        alerts = Alerts(AlertConfig(), _Log())
        monitor = PromotionMonitor(PromotionLedger(repo, data_dir / ALLOCATIONS_FILE), alerts, log)
        decisions = await monitor.check({SID: _config(**promotion)}, trades, DAY12)
        again = await monitor.check({SID: _config(**promotion)}, trades, DAY12)
        return decisions, again, alerts.recent(10), await repo.audit_log(0)
    finally:
        await repo.close()


def test_monitor_proposes_once_with_evidence_and_alerts(
    tmp_path: Path, trades: list[TradeRecord]
) -> None:
    """Day 12 meets the criteria: one proposal row (actor paper) with its evidence and four
    steps, one promotion alert; a second pass writes nothing; nothing is allocated yet."""
    decisions, again, alerts, audits = asyncio.run(_propose(tmp_path, trades))

    assert [d.action for d in decisions] == [PROPOSED]
    assert again == []
    row = json.loads(audits[-1].detail_json)
    assert (audits[-1].actor, audits[-1].ts_ns) == ("paper", DAY12)
    assert row["evidence"]["trades"] == 330
    assert row["evidence"]["sharpe"] == -13.436518
    assert [s["amount"] for s in row["steps"]] == ["2000.00", "5000.00", "10000.00", "20000"]
    assert [a["rule"] for a in alerts] == ["promotion"]
    assert not (tmp_path / ALLOCATIONS_FILE).exists()


def test_monitor_journals_a_regression_against_the_backtest_interval(
    tmp_path: Path, trades: list[TradeRecord]
) -> None:
    """A paper mean of -19.55 per trade below [-5, 20]: a strategy_regression row and a
    warning alert, once."""
    decisions, again, alerts, _ = asyncio.run(
        _propose(tmp_path, trades, expected_trade_pnl=["-5", "20"])
    )

    assert [d.action for d in decisions] == [PROPOSED, REGRESSION]
    assert again == []
    assert decisions[1].detail["evidence"]["mean_trade_pnl"] == "-19.545455"
    assert [(a["rule"], a["severity"]) for a in alerts] == [  # newest first
        ("regression", "warning"), ("promotion", "info")]  # fmt: skip


def _cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main(["promotion", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_cli_approve_then_reject_writes_and_revokes_the_allocation(
    tmp_path: Path,
    trades: list[TradeRecord],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """approve grants step 1 (2,000 of 20,000) in live-allocations.json; reject revokes it;
    each decision is an audit row of actor operator with its reason."""
    monkeypatch.setenv("GENESIS_DATA_DIR", str(tmp_path))
    asyncio.run(_propose(tmp_path, trades))
    pid = f"{SID}-{DAY12}"

    code, approved, _ = _cli("approve", pid, "--reason", "week two looks fine", capsys=capsys)
    allocation = json.loads((tmp_path / ALLOCATIONS_FILE).read_text())
    code_r, rejected, _ = _cli("reject", pid, "--reason", "drawdown too deep", capsys=capsys)
    _, listed, _ = _cli("list", capsys=capsys)

    assert (code, approved["status"], approved["allocation"]) == (0, "approved", "2000.00")
    assert allocation == {SID: {"promotion_id": pid, "status": "approved", "step": 1,
                                "of_steps": 4, "fraction": "0.10", "amount": "2000.00",
                                "target": "20000"}}  # fmt: skip
    assert (code_r, rejected["status"], rejected["allocation"]) == (0, "rejected", None)
    assert json.loads((tmp_path / ALLOCATIONS_FILE).read_text()) == {}
    assert [(h["action"], h.get("actor"), h.get("reason")) for h in listed[0]["history"]] == [
        ("promotion_proposed", None, None),
        ("promotion_approved", "operator", "week two looks fine"),
        ("promotion_rejected", "operator", "drawdown too deep"),
    ]


def test_cli_refuses_unknown_ids_and_closed_promotions_without_a_row(
    tmp_path: Path,
    trades: list[TradeRecord],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unknown id, or approving a rejected promotion: exit 2, one line, no new audit row."""
    monkeypatch.setenv("GENESIS_DATA_DIR", str(tmp_path))
    asyncio.run(_propose(tmp_path, trades))
    pid = f"{SID}-{DAY12}"
    _cli("reject", pid, "--reason", "no", capsys=capsys)
    before = len(asyncio.run(_audits(tmp_path)))

    unknown = _cli("approve", "nope", "--reason", "x", capsys=capsys)
    closed = _cli("approve", pid, "--reason", "x", capsys=capsys)

    assert unknown[0] == 2
    assert "no promotion 'nope' (unknown_promotion)" in unknown[2]
    assert closed[0] == 2
    assert "is rejected; nothing changed (promotion_not_open)" in closed[2]
    assert len(asyncio.run(_audits(tmp_path))) == before


async def _audits(data_dir: Path) -> list[Any]:
    repo = await open_repository(None, data_dir, DEFAULT_SQLITE_NAME)
    try:
        return await repo.audit_log(0)
    finally:
        await repo.close()


async def test_ledger_refuses_a_blank_reason(tmp_path: Path) -> None:
    """A decision without a reason is a 422 before the journal is read."""
    repo = await open_repository(None, tmp_path, DEFAULT_SQLITE_NAME)
    try:
        ledger = PromotionLedger(repo, tmp_path / ALLOCATIONS_FILE)
        with pytest.raises(PromotionRefused, match="non-empty reason") as caught:
            await ledger.approve("any", "api", "  ", 1)
    finally:
        await repo.close()
    assert (caught.value.status, caught.value.code) == (422, "reason_required")
