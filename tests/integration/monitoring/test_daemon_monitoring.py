"""A real paper daemon on the bundled recording: its /metrics agree with its own counts, and
an alert whose notifier hangs does not hold trading up."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from apprise.decorators import notify
from prometheus_client.parser import text_string_to_metric_families

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.enums import OrderStatus
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.control import KILL, ControlRequest
from genesis.daemon.daemon import Daemon, DaemonConfig, serve
from genesis.data.sources import DataSpec
from genesis.errors import DataError
from genesis.monitoring.alerts import AlertConfig, Severity
from genesis.risk.limits import Tier
from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[3]
# the busy Sniper of the reliability tests: hundreds of orders a month of bars
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
HUNG = threading.Event()  # released by the test that hangs the notifier
CALLED: list[int] = []  # the daemon's event count when the hung notifier was called


@notify(on="genesistest")  # a notification service that never answers (until released)
def _hanging_service(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    CALLED.append(1)
    HUNG.wait(60)
    return True


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, *args: Any, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record

    def bind(self, **values: Any) -> _Log:
        return self

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for _, e, fields in self.lines if e == event]


def _config(tmp_path: Path, events: int = 3000, **overrides: Any) -> DaemonConfig:
    strategies = tuple(c for c in load_strategy_configs(BUSY_STRATEGIES) if c.enabled)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=(bars,), speed=0, max_events=events, data_dir=tmp_path,
    )  # fmt: skip
    return replace(config, **overrides)


async def _daemon(config: DaemonConfig, log: _Log) -> Daemon:
    assert config.data_dir is not None
    return paper_daemon(config, await open_repository(None, config.data_dir), None, log=log)


def _scrape(daemon: Daemon) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> labels -> value, from the text the API serves."""
    body, content_type = daemon.metrics.render()
    assert content_type.startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def _by(samples: dict[tuple[tuple[str, str], ...], float], label: str) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for labels, value in samples.items():
        totals[dict(labels)[label]] += value
    return dict(totals)


async def test_metrics_of_a_paper_run_agree_with_the_daemons_own_counts(tmp_path: Path) -> None:
    """Fills, orders by final status, rejections by code, events, equity: as the kernel says."""
    daemon = await _daemon(_config(tmp_path), _Log())

    assert await daemon.run() == 0

    metrics = _scrape(daemon)
    kernel = daemon.kernel
    orders = list(kernel.oms)
    final = Counter(o.status.value.lower() for o in orders)
    by_status = _by(metrics["genesis_orders_total"], "status")
    assert daemon.driver.stats.fills > 40
    assert sum(metrics["genesis_fills_total"].values()) == daemon.driver.stats.fills
    assert sum(metrics["genesis_fills_total"].values()) == kernel.oms.statistics().fills
    for status in ("filled", "canceled", "expired", "rejected"):
        assert by_status.get(status, 0) == final.get(status, 0), status
    assert by_status["submitted"] == sum(1 for o in orders if o.status is not OrderStatus.DENIED)
    rejections = _by(metrics.get("genesis_risk_rejections_total", {}), "code")
    assert rejections == dict(kernel.risk.rejections)
    filled_orders = sum(1 for o in orders if o.filled_qty > 0)
    assert (
        sum(metrics["genesis_order_submit_to_first_fill_seconds_count"].values()) == filled_orders
    )
    assert sum(metrics["genesis_feed_latency_seconds_count"].values()) == daemon.events == 3000
    assert metrics["genesis_equity"][(("currency", "USDT"),)] == float(kernel.portfolio.equity())
    assert metrics["genesis_process_resident_memory_bytes"][()] > 10_000_000
    assert set(metrics["genesis_queue_depth"]) == {(("queue", "inbound"),), (("queue", "journal"),)}
    assert metrics["genesis_kill_switch_engaged"][()] == 0


async def test_a_hung_notifier_does_not_hold_up_trading(tmp_path: Path) -> None:
    """A kill at the start (and the CRITICAL health it causes) is alerted to a service that
    never answers: the daemon still processes every event and stops; the timeouts are
    reported in one line."""
    alerts = AlertConfig(
        urls=("genesistest://nowhere",), min_severity=Severity.WARNING, timeout_s=0.2
    )
    log = _Log()
    daemon = await _daemon(_config(tmp_path, events=2000, alerts=alerts), log)
    daemon.inbound.put_nowait(ControlRequest(KILL, "kill-1", "operator test"))
    try:
        assert await daemon.run() == 0
        still_hung = not HUNG.is_set()
    finally:
        HUNG.set()

    assert still_hung
    assert daemon.events == 2000
    alerted = {a["rule"]: a for a in log.named("alert")}
    assert alerted["kill_switch"]["message"] == "kill switch engaged by operator: operator test"
    assert alerted["health"]["message"] == "health CRITICAL: risk: kill switch: operator test"
    assert len(CALLED) == 2  # both sent, each left hanging (at most MAX_STUCK at once)
    assert [f["reason"] for f in log.named("alert_delivery_failed")] == ["timeout"]
    metrics = _scrape(daemon)
    assert metrics["genesis_kill_switch_activations_total"] == {(("source", "operator"),): 1.0}
    rejections = _by(metrics["genesis_risk_rejections_total"], "code")
    assert rejections == dict(daemon.kernel.risk.rejections)
    assert rejections["KILL_SWITCH"] > 0
    raised = metrics["genesis_alerts_total"]
    assert raised[(("rule", "kill_switch"), ("severity", "critical"))] == 1


CRASHES: list[str] = []


@notify(on="genesiscrash")  # a notification service that records what it is sent
def _recording_service(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    CRASHES.append(f"{title}: {body}")
    return True


async def test_a_daemon_that_fails_notifies_why_before_it_exits(tmp_path: Path) -> None:
    """A corrupt row in the recording stops the daemon; its daemon_failed line is notified
    as a critical error_log alert before serve() re-raises."""
    data = tmp_path / "bars.csv"
    data.write_text(  # the first real minute of the bundled bars, then a corrupt row
        "timestamp,open,high,low,close,volume\n"
        "2021-12-31 23:01:00,46319.0,46385.0,46319.0,46377.0,2300413.7295\n"
        "2021-12-31 23:02:00,nan,46411.0,46377.0,46411.0,1829623.1938\n"
    )
    alerts = AlertConfig(urls=("genesiscrash://ops",), min_severity=Severity.CRITICAL)
    bars = DataSpec(path=data, venue="binance", symbol="BTCUSDT")
    daemon = await _daemon(_config(tmp_path, data=(bars,), alerts=alerts), _Log())

    with pytest.raises(DataError):
        await serve(daemon)

    [crash] = CRASHES
    assert crash.startswith("Genesis CRITICAL: error_log: critical daemon_failed: error=")
    assert "bars.csv:3" in crash
