"""Paper restarts rebuild what happened, including what happened at the very end (review
findings, pinned): a kill right before a clean stop, a hot reload before a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.control import KILL, ControlRequest
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.reload import ConfigChange
from genesis.data.loaders import read_bars
from genesis.data.sources import DataSpec
from genesis.risk.limits import Tier
from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[2]
# a busy Sniper (tests/data/strategies): orders in flight at every crash and restart
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"


class _Log:
    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = error = critical = _noop


def _config(tmp_path: Path, events: int) -> DaemonConfig:
    strategies = tuple(c for c in load_strategy_configs(BUSY_STRATEGIES) if c.enabled)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    return DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, data=(bars,), speed=0, max_events=events,
        instruments=load_exchange_info(resources.EXCHANGE_INFO), data_dir=tmp_path,
    )  # fmt: skip


async def _started(config: DaemonConfig) -> Daemon:
    assert config.data_dir is not None
    daemon = paper_daemon(config, await open_repository(None, config.data_dir), None, log=_Log())
    assert daemon.journal is not None
    daemon.journal.start()
    await daemon.recovery.begin(daemon)
    daemon.driver.start()
    return daemon


async def _feed(daemon: Daemon, first: int, last: int) -> None:
    for n, bar in enumerate(read_bars(resources.BTCUSDT_1M_BARS, "BTCUSDT")):
        if n >= last:
            return
        if n >= first:
            await daemon._market_event(bar)


async def test_a_kill_right_before_a_clean_stop_survives_the_restart(tmp_path: Path) -> None:
    """Every event processed, then a kill, then a clean stop: the rebuild ends on that kill."""
    config = _config(tmp_path, events=600)
    first = await _started(config)
    await _feed(first, 0, 600)
    await first.apply_control(ControlRequest(KILL, "kill-1", "operator stops trading"))
    await first._stop_trading()
    await first._close()

    second = await _started(config)
    try:
        assert second.events == 600
        assert second.kernel.risk.kill_switch == "operator stops trading"
        assert second.halted is None
    finally:
        await second._close()


async def test_a_hot_reload_then_a_crash_restarts(tmp_path: Path) -> None:
    """Params changed at event 300, crash at 400: the restart rebuilds with both versions
    (it used to fail on every start: the swap ran before the strategies had started)."""
    config = _config(tmp_path, events=3000)
    first = await _started(config)
    await _feed(first, 0, 300)
    old = config.strategies[0]
    new = old.model_copy(update={"params": {**old.params, "take_profit_pct": "0.03"}})
    first.apply_config(ConfigChange(new, "test"))
    await _feed(first, 300, 400)
    await first._close()  # no clean stop: what was queued is committed, nothing else

    second = await _started(config)
    try:
        assert second.halted is None
        # resumed at the last event that wrote anything (the progress mark); the events after
        # it did nothing, so processing them again sends nothing twice
        assert 300 < second.events <= 400
        # the file on disk still says 0.02 (the reload here came from no file edit): what the
        # files say at a start wins, applied after the rebuild and journaled there
        assert second.versions[old.id] == old
    finally:
        await second._close()
