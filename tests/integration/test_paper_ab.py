"""A/B inside one paper daemon (PT-3): two parameter sets of one strategy, side by side.

The busy Sniper of the reliability tests runs as two instances, ``breakout.fast``
(lookback 20) and ``breakout.slow`` (lookback 40), in one paper daemon on the bundled
BTCUSDT month (real 1m bars) at full speed with a SQLite journal. Each instance keeps
its own positions and P&L; the journal's ``strategy_trade`` rows are each instance's
round trips, and ``genesis ab compare --journal`` tests their return series.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
from genesis.risk.limits import Tier
from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[2]


class _Log:
    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: None


def _variant(base: StrategyConfig, sid: str, lookback: int) -> StrategyConfig:
    fields = base.model_dump(mode="json")
    return StrategyConfig.model_validate(
        {**fields, "id": sid, "params": {**fields["params"], "lookback": lookback}}
    )


def _ab(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "genesis", "ab", "compare", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


async def test_two_variants_in_one_paper_daemon_are_compared_from_its_journal(
    tmp_path: Path,
) -> None:
    """Own trades and P&L per instance (the journal's rows sum to each one's figures, and
    the two differ); ab compare reads both series from the journal and tests them."""
    (base,) = load_strategy_configs(ROOT / "tests" / "data" / "strategies")
    fast, slow = _variant(base, "breakout.fast", 20), _variant(base, "breakout.slow", 40)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=(fast, slow), data=(bars,), speed=0.0, max_events=12_000,
        instruments=load_exchange_info(resources.EXCHANGE_INFO), cash=Decimal(1000),
        data_dir=tmp_path, status_interval_s=0,
    )  # fmt: skip
    repo = await open_repository(None, tmp_path)
    daemon = paper_daemon(config, repo, None, log=_Log())
    assert await daemon.run() == 0

    check = await open_repository(None, tmp_path)
    try:
        audits = await check.audit_log(0)
    finally:
        await check.close()
    trades = [json.loads(a.detail_json) for a in audits if a.action == "strategy_trade"]
    by_id = {sid: [t for t in trades if t["strategy_id"] == sid] for sid in (fast.id, slow.id)}
    assert {t["strategy_id"] for t in trades} == {fast.id, slow.id}
    book = daemon.kernel.performance
    for sid, rows in by_id.items():
        assert len(rows) == book.of(sid).trades
        assert sum(Decimal(t["net_pnl"]) for t in rows) == book.of(sid).realized_pnl
    assert [t["opened_ns"] for t in by_id[fast.id]] != [t["opened_ns"] for t in by_id[slow.id]]

    journal = str(tmp_path / "genesis.db")
    daily = _ab(fast.id, slow.id, "--journal", journal, "--capital", "1000")
    per_trade = _ab(fast.id, slow.id, "--journal", journal, "--returns", "trades")
    assert (daily["baseline"], daily["variants"][0]["strategy"]) == (fast.id, slow.id)
    (d,) = daily["variants"]
    (t,) = per_trade["variants"]
    # the same 9 UTC days for both (12,000 minutes from 2022-01-01); 113 and 70 round trips
    assert (d["n_a"], d["n_b"], t["n_a"], t["n_b"]) == (9, 9, 113, 70)
    assert (len(by_id[fast.id]), len(by_id[slow.id])) == (113, 70)
    # slow loses less per day (-0.041 % against -0.069 %), not significantly at 5 %
    assert (round(d["welch_p"], 4), d["mannwhitney_u"], d["different"]) == (0.0776, 59.0, False)
    assert (round(t["welch_p"], 4), t["different"]) == (0.8638, False)
