"""The live daemon reads ``live-allocations.json`` (PT-2): at start, on change, a bad file kept
out, every change journaled; the cap is the risk engine's last check.

The daemon is assembled by ``live_daemon`` on a stand-in venue (nothing is contacted),
as in ``test_live_restart.py``. NKNUSDT's price 0.3524 is a real trade of the bundled
2021-10-12 capture (``genesis.resources.SPOT_CAPTURE``), as in that test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from genesis import resources
from genesis.config.models import StrategyConfig
from genesis.core.enums import Side
from genesis.core.instruments import load_exchange_info
from genesis.daemon.allocations import APPLIED, REJECTED
from genesis.daemon.assemble import live_daemon
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.live_session import AuthRelay
from genesis.exchange.live import VenueBalance, VenueSnapshot
from genesis.paper.ledger import ALLOCATIONS_FILE
from genesis.risk.checks import RiskInput
from genesis.risk.limits import Tier
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.testing.builders import order

D = Decimal
NKN = D("0.3524")
CRITERIA = {"min_trades": 3, "min_days": 2, "min_sharpe": 0.5, "max_drawdown": 0.1,
            "capital": "1000", "target": "100"}  # fmt: skip
ENTRY = {"promotion_id": "P1", "status": "approved", "step": 1, "of_steps": 4,
         "fraction": "0.15", "amount": "15", "target": "100"}  # fmt: skip


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event, fields))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [f for _, e, f in self.lines if e == event]


@pytest.fixture
async def closing() -> AsyncIterator[list[Daemon]]:
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        if daemon.journal is not None:
            await daemon.journal.close()


async def _live(tmp_path: Path, closing: list[Daemon], log: _Log) -> Daemon:
    """Two strategies: ``nkn`` under promotion (a ``promotion:`` section), ``free`` not."""
    repo = await open_repository(None, tmp_path, LIVE_SQLITE_NAME)
    table = load_exchange_info(resources.EXCHANGE_INFO)
    venue: Any = SimpleNamespace(
        key="binance", name="BINANCE", port=None, instruments=[table.get("NKNUSDT")], marks={},
        snapshot=VenueSnapshot(open_orders=(), fills=(),
                               balances={"USDT": VenueBalance("USDT", D(1000), D(0))}),
        recover=lambda intent, ts_ms: None,
    )  # fmt: skip
    strategies = tuple(
        StrategyConfig.model_validate({"id": sid, "strategy": "momentum_breakout",
                                       "tier": "sniper", "instruments": ["NKNUSDT"], **extra})
        for sid, extra in (("nkn", {"promotion": CRITERIA}), ("free", {}))
    )  # fmt: skip
    config = DaemonConfig(tier=Tier.SNIPER, strategies=strategies, instruments=table,
                          data_dir=tmp_path)  # fmt: skip
    daemon = live_daemon(config, [venue], (repo, [], []), Mailbox(), AuthRelay(), log=log)
    closing.append(daemon)
    assert daemon.journal is not None
    daemon.journal.start()
    return daemon


def _verdict(daemon: Daemon, sid: str, qty: str) -> str | None:
    """The kernel's risk engine on a market buy of ``qty`` NKN at 0.3524 with cash."""
    risk = RiskInput(
        instrument=daemon.kernel.instruments("NKNUSDT"), reference_price=NKN, equity=D(1000),
        free_quote=D(1000), free_base=D(0), position_qty=D(0), fee_rate=D(0), tier=None,
        limits=None, requires_stop_loss=False, reduce_only=False,
    )  # fmt: skip
    buy = order(Side.BUY, qty, strategy_id=sid, instrument_id="NKNUSDT", client_order_id=sid)
    refused = daemon.kernel.risk.check(buy, lambda: risk)
    return None if refused is None else refused.code


async def _audits(daemon: Daemon) -> list[tuple[str, dict[str, Any]]]:
    assert daemon.journal is not None
    await daemon.journal.commit()
    rows = await daemon.journal.repo.audit_log(0)
    return [(r.action, json.loads(r.detail_json)) for r in rows if "allocations" in r.action]


async def test_no_file_refuses_the_governed_strategy_only_and_says_so_once(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Without a file ``nkn`` (promotion section) is LIVE_NOT_ALLOCATED; ``free`` trades."""
    log = _Log()
    daemon = await _live(tmp_path, closing, log)
    assert daemon.allocations is not None
    assert _verdict(daemon, "nkn", "40") == "LIVE_NOT_ALLOCATED"
    assert _verdict(daemon, "free", "40") is None
    [applied] = log.named(APPLIED)
    assert (applied["missing"], applied["allocations"], applied["not_allocated"]) == (
        True, {}, ["nkn"])  # fmt: skip
    daemon.allocations._flush()  # what the task does first
    assert [a for a, _ in await _audits(daemon)] == [APPLIED]


async def test_file_at_start_caps_the_strategy_at_its_amount(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Amount 15 USDT: 40 NKN (14.096) passes, 50 (17.62) is LIVE_ALLOCATION_CAP."""
    (tmp_path / ALLOCATIONS_FILE).write_text(json.dumps({"nkn": ENTRY}))
    daemon = await _live(tmp_path, closing, _Log())
    assert _verdict(daemon, "nkn", "40") is None
    assert _verdict(daemon, "nkn", "50") == "LIVE_ALLOCATION_CAP"


async def test_watcher_applies_a_step_keeps_the_old_on_a_bad_file_and_fails_closed_on_delete(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Step 2 (amount 20) lets 50 NKN through; a corrupt file is rejected (error line,
    audit row) and step 2 stays; deleting the file refuses ``nkn`` again."""
    path = tmp_path / ALLOCATIONS_FILE
    path.write_text(json.dumps({"nkn": ENTRY}))
    log = _Log()
    daemon = await _live(tmp_path, closing, log)
    watcher = daemon.allocations
    assert watcher is not None
    stopping = asyncio.Event()
    task = asyncio.create_task(watcher.run(stopping))

    async def changed(text: str | None) -> None:
        await asyncio.sleep(0.3)  # the watch is set up
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        for _ in range(100):
            if daemon.operator_lane:
                break
            await asyncio.sleep(0.05)
        while daemon.operator_lane:  # what the trading loop runs between two events
            await daemon.operator_lane.popleft()()

    assert _verdict(daemon, "nkn", "50") == "LIVE_ALLOCATION_CAP"
    await changed(json.dumps({"nkn": {**ENTRY, "step": 2, "amount": "20"}}))
    assert _verdict(daemon, "nkn", "50") is None
    await changed('{"nkn": {"amount": ')
    assert _verdict(daemon, "nkn", "50") is None
    await changed(None)
    assert _verdict(daemon, "nkn", "50") == "LIVE_NOT_ALLOCATED"
    stopping.set()
    await task

    [error] = [f for level, e, f in log.lines if e == REJECTED and level == "error"]
    assert error["reason"].endswith("not valid JSON: Expecting value")
    assert error["kept"] == {"nkn": "20"}
    audits = await _audits(daemon)
    assert [a for a, _ in audits] == [APPLIED, APPLIED, REJECTED, APPLIED]
    assert [d["allocations"].get("nkn", {}).get("amount") for a, d in audits if a == APPLIED] == [
        "15", "20", None]  # fmt: skip
