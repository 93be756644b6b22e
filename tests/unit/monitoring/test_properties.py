"""Invariants: the limiter never loses an alert from its counts; buckets count what they say."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from genesis.monitoring.alerts import AlertConfig, Alerts, Severity
from genesis.monitoring.histogram import FastHistogram


class _Log:
    def __getattr__(self, level: str) -> Any:
        return lambda *args, **fields: None


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


_STEP = st.tuples(
    st.sampled_from(list(Severity)), st.booleans(), st.floats(0, 200), st.sampled_from(["a", "b"])
)


@given(st.lists(_STEP, max_size=60))
def test_every_alert_is_let_through_or_counted_in_a_later_one(steps: list[Any]) -> None:
    """fired = let through + suppressed counts they carried + held back since the last one."""
    clock = _Clock()
    alerts = Alerts(AlertConfig(interval_s=60.0), _Log(), clock=clock)
    through = []
    for severity, resolves, advance, rule in steps:
        clock.now += advance
        alert = alerts.fire(rule, severity, "m", resolves=resolves)
        if alert is not None:
            through.append(alert)

    pending = sum(limit.suppressed for limit in alerts._limits.values())
    assert len(through) + sum(a.suppressed for a in through) + pending == len(steps)


@given(st.lists(_STEP, max_size=60))
def test_a_problem_after_a_quiet_interval_always_goes_through(steps: list[Any]) -> None:
    """Whatever came before, a problem more than the interval after the last one is said."""
    clock = _Clock()
    alerts = Alerts(AlertConfig(interval_s=60.0), _Log(), clock=clock)
    for severity, resolves, advance, rule in steps:
        clock.now += advance
        alerts.fire(rule, severity, "m", resolves=resolves)
    clock.now += 60.001  # more than the interval (exactly 60 s can round either way)

    assert alerts.fire("a", Severity.WARNING, "again") is not None


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=200))
def test_fast_histogram_buckets_count_the_values_at_or_under_each_bound(
    values: list[float],
) -> None:
    """Cumulative bucket le=b holds exactly the values <= b; the last holds them all."""
    bounds = (-10.0, 0.0, 1.0, 100.0)
    histogram = FastHistogram("genesis_p_seconds", "p", "k", bounds, CollectorRegistry())
    child = histogram.labels("x")

    for value in values:
        child.observe(value)

    [family] = histogram.collect()
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    for bound in bounds:
        assert buckets[repr(bound)] == sum(1 for v in values if v <= bound)
    assert buckets["+Inf"] == len(values)
