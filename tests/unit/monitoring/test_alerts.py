"""Alerts: rules speak on a change, the limiter holds repeats back and counts them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genesis.core.events import BreakerCleared, BreakerTripped, KillSwitchChanged, StrategyErrored
from genesis.daemon.health import Health, HealthSnapshot, Level
from genesis.monitoring.alerts import AlertConfig, Alerts, Severity


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for _, e, fields in self.lines if e == event]


class _Notifier:
    def send(self, title: str, body: str, severity: str) -> None:
        return None


def _alerts(clock: _Clock | None = None, **config: Any) -> tuple[Alerts, _Log]:
    log = _Log()
    alerts = Alerts(
        AlertConfig(interval_s=60.0, **config), log, notifier=_Notifier(), clock=clock or _Clock(),
        wall=lambda: 1_765_000_000.0,
    )  # fmt: skip
    return alerts, log


def test_repeats_within_the_interval_are_held_back_and_counted() -> None:
    """Four warnings in a minute: one let through; the next after it says 3 were held back."""
    clock = _Clock()
    alerts, log = _alerts(clock)
    for _ in range(4):
        alerts.fire("feed_stale", Severity.WARNING, "feed stale")
    clock.now += 61

    later = alerts.fire("feed_stale", Severity.WARNING, "feed stale")

    assert later is not None
    assert later.suppressed == 3
    assert later.body == "feed stale (3 similar alerts suppressed)"
    assert [f["suppressed"] for f in log.named("alert")] == [0, 3]
    assert alerts.delivery.pending() == 2


def test_an_escalation_is_never_held_back() -> None:
    """A critical after a warning in the same minute goes through; another critical does not."""
    alerts, _ = _alerts()

    first = alerts.fire("health", Severity.WARNING, "DEGRADED")
    worse = alerts.fire("health", Severity.CRITICAL, "CRITICAL")
    again = alerts.fire("health", Severity.CRITICAL, "CRITICAL")

    assert (first is not None, worse is not None, again is None) == (True, True, True)


def test_a_flapping_rule_ends_on_the_true_state_then_goes_quiet() -> None:
    """stale, back: both said; stale, back again in the minute: held back (still 'back')."""
    alerts, _ = _alerts()
    said = []
    for resolves in (False, True, False, True):
        severity = Severity.INFO if resolves else Severity.WARNING
        said.append(alerts.fire("feed_stale", severity, "x", resolves=resolves) is not None)

    assert said == [True, True, False, False]


def test_limits_are_per_rule_and_subject() -> None:
    """Two strategies failing in the same minute are two alerts."""
    alerts, _ = _alerts()

    a = alerts.fire("strategy_error", Severity.CRITICAL, "a", subject="s1")
    b = alerts.fire("strategy_error", Severity.CRITICAL, "b", subject="s2")

    assert a is not None
    assert b is not None


def test_only_alerts_at_the_minimum_severity_are_notified_and_their_recovery_too() -> None:
    """min warning: an info is logged only; a warning and the info resolving it are notified."""
    alerts, log = _alerts(min_severity=Severity.WARNING)

    alerts.fire("note", Severity.INFO, "fyi")
    alerts.fire("journal", Severity.WARNING, "down")
    alerts.fire("journal", Severity.INFO, "up", resolves=True)

    assert len(log.named("alert")) == 3
    assert [a.body for a in list(alerts.delivery._queue)] == ["down", "up"]


def test_health_rule_speaks_on_level_changes_only() -> None:
    """HEALTHY, DEGRADED twice, CRITICAL, HEALTHY: three alerts with the right severities."""
    alerts, _ = _alerts()
    degraded = HealthSnapshot(Level.DEGRADED, ("feed: no market data for 6 s",))

    for snap in (
        HealthSnapshot(Level.HEALTHY, ()),
        degraded,
        degraded,
        HealthSnapshot(Level.CRITICAL, ("journal: journal unavailable: disk full",)),
        HealthSnapshot(Level.HEALTHY, ()),
    ):
        alerts.health(snap)

    recent = alerts.recent(10)
    assert [(a["severity"], a["resolves"]) for a in recent] == [
        ("info", True), ("critical", False), ("warning", False),
    ]  # fmt: skip
    assert recent[2]["message"] == "health DEGRADED: feed: no market data for 6 s"


def test_feed_stale_and_back() -> None:
    """The feed component DEGRADED: a warning with its reason; HEALTHY again: resolved."""
    alerts, _ = _alerts()

    alerts.feed(Health("feed", Level.DEGRADED, "no market data for 6 s"))
    alerts.feed(Health("feed", Level.HEALTHY))

    assert [a["message"] for a in alerts.recent(2)] == [
        "market data flowing again", "feed stale: no market data for 6 s",
    ]  # fmt: skip


def test_drawdown_warns_escalates_and_resolves_with_hysteresis() -> None:
    """Threshold 5%: peak 1000, 945 warns (5.5%), 890 is critical (11%), 960 still held
    (4% > 2.5%), 980 resolves (2%)."""
    alerts, _ = _alerts(drawdown_pct=Decimal("0.05"))

    for equity in ("1000", "945", "890", "960", "980"):
        alerts.equity(Decimal(equity))

    recent = alerts.recent(10)
    assert [a["severity"] for a in recent] == ["info", "critical", "warning"]
    assert recent[1]["fields"]["drawdown"] == 0.11
    assert recent[2]["message"] == ("drawdown 5.50% from peak equity 1000 (equity 945), past 5.00%")


def test_kill_switch_engaged_is_critical_and_its_reset_resolves_it() -> None:
    """Engaged by the operator: critical with source and reason; reset: info resolving it."""
    alerts, _ = _alerts()
    common = {"ts_event": 1, "ts_init": 1, "source": "operator"}

    alerts.kill_switch(KillSwitchChanged(engaged=True, reason="stop now", **common))
    alerts.kill_switch(KillSwitchChanged(engaged=False, reason="checked", **common))

    reset, engaged = alerts.recent(2)
    assert engaged["message"] == "kill switch engaged by operator: stop now"
    assert engaged["severity"] == "critical"
    assert (reset["severity"], reset["resolves"]) == ("info", True)


def test_a_breaker_pausing_the_engine_is_critical_a_strategy_pause_a_warning() -> None:
    """RK-3 trips alert with code and reason (the engine's critical); a clear resolves."""
    alerts, _ = _alerts()
    common = {"ts_event": 1, "ts_init": 1, "reason": "equity fell 3.2% in 15 min"}

    alerts.breaker(BreakerTripped(scope="engine", strategy_id="", code="BREAKER_DRAWDOWN_VELOCITY",
                                  until_ns=2, **common))  # fmt: skip
    alerts.breaker(BreakerTripped(scope="strategy", strategy_id="mm", code="BREAKER_ORDER_RATE",
                                  until_ns=2, **common))  # fmt: skip
    alerts.breaker(BreakerCleared(scope="strategy", strategy_id="mm", code="BREAKER_ORDER_RATE",
                                  **common))  # fmt: skip

    cleared, strategy, engine = alerts.recent(3)
    assert engine["severity"] == "critical"
    assert engine["message"] == (
        "circuit breaker BREAKER_DRAWDOWN_VELOCITY paused engine: equity fell 3.2% in 15 min"
    )
    assert (strategy["severity"], strategy["subject"]) == ("warning", "mm")
    assert (cleared["severity"], cleared["resolves"]) == ("info", True)


def test_a_strategy_error_names_the_strategy_hook_and_error() -> None:
    """StrategyErrored: critical, subject the strategy, the hook and the exception in the text."""
    alerts, _ = _alerts()
    fault = StrategyErrored(
        ts_event=1, ts_init=1, strategy_id="s1", hook="on_bar", error_type="ZeroDivisionError",
        message="division by zero",
    )  # fmt: skip

    alerts.strategy_error(fault)

    [alert] = alerts.recent(1)
    assert alert["subject"] == "s1"
    assert alert["message"].startswith("strategy s1 raised ZeroDivisionError in on_bar")


def test_error_log_lines_become_alerts_unless_a_rule_covers_them() -> None:
    """feed_failed (error) is a warning alert; kill_switch_engaged has its own rule."""
    alerts, raw = _alerts()
    log = alerts.watching(raw)

    log.error("feed_failed", feed="feed", attempt=2)
    log.critical("kill_switch_engaged", reason="x")
    log.info("order_submitted")

    [alert] = alerts.recent(5)
    assert (alert["rule"], alert["subject"]) == ("error_log", "feed_failed")
    assert alert["message"] == "error feed_failed: feed=feed, attempt=2"
    assert [e for _, e, _ in raw.lines if e != "alert"] == [
        "feed_failed", "kill_switch_engaged", "order_submitted",
    ]  # fmt: skip


def test_recent_is_newest_first_bounded_and_json_ready() -> None:
    """recent(2) of three: the last two, newest first, with ISO time and severity names."""
    alerts, _ = _alerts(recent_size=2)
    for n in range(3):
        alerts.fire(f"r{n}", Severity.WARNING, f"m{n}")

    recent = alerts.recent(5)

    assert [a["rule"] for a in recent] == ["r2", "r1"]
    assert recent[0]["at"] == "2025-12-06T05:46:40+00:00"
    assert alerts.recent(0) == []


def test_messages_are_scrubbed_of_the_process_secrets() -> None:
    """A secret inside an exception text never leaves in an alert."""
    alerts, log = _alerts(secrets=("sk-live-123456789",))

    alerts.fire(
        "error_log",
        Severity.WARNING,
        "auth failed for key sk-live-123456789",
        key2="sk-live-123456789",
    )

    [alert] = alerts.recent(1)
    assert "sk-live-123456789" not in str(alert)
    assert "sk-live-123456789" not in str(log.lines)
