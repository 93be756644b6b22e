"""The paper daemon proposes a promotion by itself, and never approves one.

The busy Sniper of the reliability tests, with a lenient ``promotion:`` section, paper
trades the bundled BTCUSDT month at full speed with a SQLite journal; the monitor (a
daemon task) must journal a proposal whose evidence meets the criteria, and no decision.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.config.models import StrategyConfig
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import DaemonConfig
from genesis.data.sources import DataSpec
from genesis.paper.ledger import ALLOCATIONS_FILE
from genesis.risk.limits import Tier
from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[2]
LENIENT = {"min_trades": 3, "min_days": 2, "min_sharpe": -1000, "max_drawdown": 1,
           "capital": "1000", "target": "500"}  # fmt: skip


class _Log:
    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: None


async def test_paper_daemon_journals_a_proposal_and_no_decision(tmp_path: Path) -> None:
    """A proposal row (actor paper) with >= 3 trades and >= 2 days; nothing approved, no
    live allocation written."""
    (base,) = load_strategy_configs(ROOT / "tests" / "data" / "strategies")
    config = StrategyConfig.model_validate({**base.model_dump(mode="json"), "promotion": LENIENT})
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    daemon_config = DaemonConfig(
        tier=Tier.SNIPER, strategies=(config,), data=(bars,), speed=0.0, max_events=12_000,
        instruments=load_exchange_info(resources.EXCHANGE_INFO), cash=Decimal(1000),
        data_dir=tmp_path, status_interval_s=0,
    )  # fmt: skip
    repo = await open_repository(None, tmp_path)
    daemon = paper_daemon(daemon_config, repo, None, log=_Log())
    assert daemon.promotion_monitor is not None
    daemon.promotion_monitor.poll_s = 0.05

    assert await daemon.run() == 0

    check = await open_repository(None, tmp_path)
    try:
        audits = await check.audit_log(0)
    finally:
        await check.close()
    actions = [a.action for a in audits if a.action.startswith("promotion_")]
    proposal = json.loads(next(a.detail_json for a in audits if a.action == "promotion_proposed"))
    assert actions == ["promotion_proposed"]
    assert proposal["strategy_id"] == config.id
    assert proposal["evidence"]["trades"] >= 3
    assert proposal["evidence"]["days"] >= 2
    assert not (tmp_path / ALLOCATIONS_FILE).exists()
