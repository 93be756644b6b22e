"""Health says what is true and recovers when the cause goes; the status line shows the state."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.health import Level
from genesis.data.loaders import read_bars
from genesis.data.sources import DataSpec
from genesis.risk.limits import Tier

ROOT = Path(__file__).resolve().parents[3]


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for _, e, fields in self.lines if e == event]


def _daemon(log: _Log) -> Daemon:
    strategies = tuple(
        c
        for c in load_strategy_configs(ROOT / "tests" / "data" / "strategies")
        if c.enabled and c.tier is Tier.SNIPER
    )
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, data=(bars,), stale_after_s=5.0,
        instruments=load_exchange_info(resources.EXCHANGE_INFO), cash=Decimal(1000),
    )  # fmt: skip
    return paper_daemon(config, None, None, log=log)


def _feed(daemon: Daemon) -> Level:
    return next(r for r in daemon.health._reports.values() if r.component == "feed").level


async def test_feed_health_follows_the_data_both_ways() -> None:
    """Events flowing: HEALTHY; 6 s without one: DEGRADED (logged); the next event: HEALTHY."""
    log = _Log()
    daemon = _daemon(log)
    daemon.driver.start()
    bars = iter(read_bars(resources.BTCUSDT_1M_BARS, "BTCUSDT"))
    for _ in range(3):
        await daemon._market_event(next(bars))  # the trading loop's per-event path
    now = daemon.progress.last_event_at
    daemon.check_health(now + 1.0)
    assert _feed(daemon) is Level.HEALTHY
    daemon.check_health(now + 6.0)  # the feed stalled
    assert _feed(daemon) is Level.DEGRADED
    assert log.named("health_changed")[-1]["status"] == "DEGRADED"
    await daemon._market_event(next(bars))  # it resumed
    daemon.check_health(daemon.progress.last_event_at + 0.5)
    assert _feed(daemon) is Level.HEALTHY
    assert log.named("health_changed")[-1]["status"] == "HEALTHY"


async def test_a_stopping_or_halted_daemon_does_not_call_its_feed_stale() -> None:
    """No data is expected while stopping or halted: the feed is not what is wrong then."""
    daemon = _daemon(_Log())
    daemon.request_stop("test")
    daemon.check_health(daemon.progress.last_event_at + 60)
    assert _feed(daemon) is Level.HEALTHY


async def test_status_line_shows_equity_positions_orders_and_pnl() -> None:
    """daemon_status: equity, open positions and working orders, P&L per strategy, health."""
    log = _Log()
    daemon = _daemon(log)
    daemon.driver.start()
    for bar in read_bars(resources.BTCUSDT_1M_BARS, "BTCUSDT"):
        await daemon._market_event(bar)
        if daemon.kernel.portfolio.position_qty("BTCUSDT") != 0:
            break
    daemon.log_status()
    [status] = log.named("daemon_status")
    assert status["health"] == "HEALTHY"
    assert status["open_positions"] == {"sniper-breakout-btc:BTCUSDT": "0.00042"}
    assert status["working_orders"] == 2  # the position's stop and target
    assert set(status["strategy_pnl"]) == {"sniper-breakout-btc"}
    assert Decimal(status["equity"]) > 0
