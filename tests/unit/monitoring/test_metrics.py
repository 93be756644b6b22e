"""Metrics: latencies on the shell's clock, orders by status, slippage, rejections; names."""

from __future__ import annotations

import re
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from genesis.core.enums import OrderType, Side
from genesis.core.events import (
    KillSwitchChanged,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSubmitted,
    TradeTick,
)
from genesis.core.orders import Order
from genesis.kernel.support import event_ids
from genesis.monitoring.histogram import FastHistogram
from genesis.monitoring.metrics import MAX_TRACKED, Metrics, QueueDepth
from genesis.testing.builders import cancel, fill, real_bars, submit

BAR = real_bars(0, 1)[0]  # the first real BTCUSDT minute: open 46319.0
OPEN = BAR.open


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _limit(cid: str = "s1-1", decision: Decimal | None = OPEN) -> Order:
    order = Order(
        client_order_id=cid, strategy_id="s1", instrument_id="BTCUSDT", side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=Decimal("0.01"), ts_init=BAR.ts_init,
        price=OPEN, decision_price=decision,
    )  # fmt: skip
    order.apply(OrderSubmitted(**event_ids(order, BAR.ts_init)))
    return order


def _accepted(order: Order) -> OrderAccepted:
    event = OrderAccepted(**event_ids(order, BAR.ts_init), venue_order_id="1")
    order.apply(event)
    return event


def _filled(order: Order, px: Decimal, qty: str = "0.01", trade: str = "T1") -> OrderFilled:
    event = fill(Side.BUY, qty, px, client_order_id=order.client_order_id, trade_id=trade)
    order.apply(event)
    return event


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.render()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_submit_to_accept_and_first_fill_are_timed_on_the_shell_clock() -> None:
    """Sent at 100 s, accepted at 100.002 s, first fill at 100.5 s: 2 ms and 500 ms."""
    clock = _Clock()
    metrics = Metrics(process=False, clock=clock)
    order = _limit()
    metrics.on_command(submit(client_order_id="s1-1"), "binance")
    clock.now = 100.002
    metrics.on_order_event(_accepted(order), order, "binance")
    clock.now = 100.5
    metrics.on_order_event(_filled(order, OPEN, "0.004", "T1"), order, "binance")
    clock.now = 101.0
    metrics.on_order_event(_filled(order, OPEN, "0.006", "T2"), order, "binance")

    samples = _samples(metrics)

    venue = (("venue", "binance"),)
    assert samples[("genesis_order_submit_to_accept_seconds_count", venue)] == 1
    assert abs(samples[("genesis_order_submit_to_accept_seconds_sum", venue)] - 0.002) < 1e-9
    assert samples[("genesis_order_submit_to_first_fill_seconds_count", venue)] == 1
    assert abs(samples[("genesis_order_submit_to_first_fill_seconds_sum", venue)] - 0.5) < 1e-9


def test_cancel_to_canceled_is_timed_and_a_venue_cancel_is_not() -> None:
    """A requested cancel confirmed 30 ms later is one observation; an unrequested one none."""
    clock = _Clock()
    metrics = Metrics(process=False, clock=clock)
    mine, sibling = _limit("s1-1"), _limit("s1-2")
    metrics.on_command(cancel("s1-1"), "binance")
    clock.now = 100.03
    for order in (mine, sibling):
        event = OrderCanceled(**event_ids(order, BAR.ts_init))
        order.apply(event)
        metrics.on_order_event(event, order, "binance")

    samples = _samples(metrics)

    venue = (("venue", "binance"),)
    assert samples[("genesis_order_cancel_to_canceled_seconds_count", venue)] == 1
    assert abs(samples[("genesis_order_cancel_to_canceled_seconds_sum", venue)] - 0.03) < 1e-9
    assert samples[("genesis_orders_total", (("status", "canceled"), ("venue", "binance")))] == 2


def test_orders_count_by_the_status_each_event_left() -> None:
    """Submitted, accepted, partially filled, filled: one each, by venue."""
    metrics = Metrics(process=False)
    order = _limit()
    metrics.on_command(submit(client_order_id="s1-1"), "binance")
    metrics.on_order_event(_accepted(order), order, "binance")
    metrics.on_order_event(_filled(order, OPEN, "0.004", "T1"), order, "binance")
    metrics.on_order_event(_filled(order, OPEN, "0.006", "T2"), order, "binance")

    samples = _samples(metrics)

    counts = {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "genesis_orders_total"
    }
    assert counts == {"submitted": 1, "accepted": 1, "partially_filled": 1, "filled": 1}
    fills = ("genesis_fills_total", (("instrument", "BTCUSDT"), ("liquidity", "TAKER"),
                                     ("side", "BUY"), ("venue", "binance")))  # fmt: skip
    assert samples[fills] == 2


def test_slippage_is_in_basis_points_against_the_decision_price() -> None:
    """A buy decided at 46319.0 filled at 46342.1595 (+5 bps): in bucket le=5, not le=2 (signed
    buckets: no _sum/_count, as the library does; the average is a per-strategy gauge)."""
    metrics = Metrics(process=False)
    order = _limit()
    px = OPEN * Decimal("1.0005")

    metrics.on_order_event(_filled(order, px), order, "binance")

    samples = _samples(metrics)
    assert (
        samples[("genesis_fill_slippage_bps_bucket", (("le", "+Inf"), ("venue", "binance")))] == 1
    )
    assert samples[("genesis_fill_slippage_bps_bucket", (("le", "2.0"), ("venue", "binance")))] == 0
    assert samples[("genesis_fill_slippage_bps_bucket", (("le", "5.0"), ("venue", "binance")))] == 1


def test_a_fill_without_a_decision_price_has_no_slippage() -> None:
    """No decision price (an order restored from the venue): the fill counts, no slippage."""
    metrics = Metrics(process=False)
    order = _limit(decision=None)

    metrics.on_order_event(_filled(order, OPEN), order, "binance")

    samples = _samples(metrics)
    assert (
        "genesis_fill_slippage_bps_bucket",
        (("le", "+Inf"), ("venue", "binance")),
    ) not in samples
    assert sum(v for (name, _), v in samples.items() if name == "genesis_fills_total") == 1


def test_unanswered_orders_are_forgotten_past_the_tracking_limit() -> None:
    """Submits the venue never answers do not grow memory without bound."""
    metrics = Metrics(process=False)

    for n in range(MAX_TRACKED + 5):
        metrics.on_command(submit(client_order_id=f"s1-{n}"), "binance")

    assert len(metrics._submits) == MAX_TRACKED
    assert "s1-0" not in metrics._submits
    assert f"s1-{MAX_TRACKED + 4}" in metrics._submits


def test_rejections_follow_the_kernels_counts_after_the_baseline() -> None:
    """Rebuilt counts are the baseline; later counts add only their increase."""
    metrics = Metrics(process=False)
    metrics.baseline({"INSUFFICIENT_CASH": 3}, errors=0)

    metrics.refresh_rejections({"INSUFFICIENT_CASH": 5, "KILL_SWITCH": 2})
    metrics.refresh_rejections({"INSUFFICIENT_CASH": 5, "KILL_SWITCH": 4})

    samples = _samples(metrics)
    assert samples[("genesis_risk_rejections_total", (("code", "INSUFFICIENT_CASH"),))] == 2
    assert samples[("genesis_risk_rejections_total", (("code", "KILL_SWITCH"),))] == 4


def test_kill_switch_activations_count_by_source_and_state_follows() -> None:
    """Engaged by the operator, reset, engaged by the daily loss: 1 + 1, state 1."""
    metrics = Metrics(process=False)
    common = {"ts_event": 1, "ts_init": 1, "reason": "r"}

    metrics.on_notice(KillSwitchChanged(engaged=True, source="operator", **common))
    metrics.on_notice(KillSwitchChanged(engaged=False, source="operator", **common))
    metrics.on_notice(KillSwitchChanged(engaged=True, source="daily_loss", **common))

    samples = _samples(metrics)
    assert samples[("genesis_kill_switch_activations_total", (("source", "operator"),))] == 1
    assert samples[("genesis_kill_switch_activations_total", (("source", "daily_loss"),))] == 1
    assert samples[("genesis_kill_switch_engaged", ())] == 1


def test_feed_latency_and_staleness_per_instrument() -> None:
    """Received 40 ms after its event time; 3 s later the tick says 3 s stale."""
    clock = _Clock()
    metrics = Metrics(process=False, clock=clock)
    trade = TradeTick(
        ts_event=BAR.ts_event, ts_init=BAR.ts_event + 40_000_000, instrument_id="BTCUSDT",
        price=OPEN, size=Decimal("0.01"), aggressor_side=Side.BUY, trade_id="1",
    )  # fmt: skip
    metrics.on_market_event(trade)
    clock.now = 103.0

    metrics.refresh_feed([QueueDepth("inbound", 7, 10_000)], health_level=1)

    samples = _samples(metrics)
    instrument = (("instrument", "BTCUSDT"),)
    assert abs(samples[("genesis_feed_latency_seconds_sum", instrument)] - 0.04) < 1e-9
    assert samples[("genesis_feed_staleness_seconds", instrument)] == 3.0
    assert samples[("genesis_queue_depth", (("queue", "inbound"),))] == 7
    assert samples[("genesis_health_level", ())] == 1


def test_render_is_prometheus_text_with_its_content_type() -> None:
    """The body parses; the content type is Prometheus text; the process RSS is there."""
    metrics = Metrics()

    body, content_type = metrics.render()

    assert content_type.startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert "genesis_process_resident_memory_bytes" in names
    assert _samples(metrics)[("genesis_process_resident_memory_bytes", ())] > 1_000_000


_UNIT = re.compile(r"_(seconds|bytes|bps|total|ratio)$")


def test_metric_names_follow_the_prometheus_conventions() -> None:
    """genesis_ prefix, snake case, counters end in _total, histograms name their unit."""
    metrics = Metrics()
    body, _ = metrics.render()

    families = list(text_string_to_metric_families(body.decode()))

    assert len(families) >= 20
    for family in families:
        assert re.fullmatch(r"genesis_[a-z][a-z0-9_]*", family.name), family.name
        assert "__" not in family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_bps")), family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name


def test_two_daemons_never_share_a_registry() -> None:
    """Each Metrics has its own registry: one's counts do not show in the other's."""
    first, second = Metrics(process=False), Metrics(process=False)

    first.on_command(submit(client_order_id="s1-1"), "binance")

    assert ("genesis_orders_total", (("status", "submitted"), ("venue", "binance"))) in _samples(
        first
    )
    assert (
        "genesis_orders_total",
        (("status", "submitted"), ("venue", "binance")),
    ) not in _samples(second)


def test_fast_histogram_buckets_are_cumulative_and_inclusive() -> None:
    """Observations 1, 2, 2, 7 with bounds 1, 2, 5: le=1 1, le=2 3, le=5 3, +Inf 4, sum 12."""
    registry = CollectorRegistry()
    histogram = FastHistogram("genesis_test_seconds", "test", "venue", (1.0, 2.0, 5.0), registry)
    child = histogram.labels("binance")

    for value in (1.0, 2.0, 2.0, 7.0):
        child.observe(value)

    [family] = text_string_to_metric_families(generate_latest(registry).decode())
    values = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert values[("genesis_test_seconds_bucket", "1.0")] == 1
    assert values[("genesis_test_seconds_bucket", "2.0")] == 3
    assert values[("genesis_test_seconds_bucket", "5.0")] == 3
    assert values[("genesis_test_seconds_bucket", "+Inf")] == 4
    assert values[("genesis_test_seconds_count", None)] == 4
    assert values[("genesis_test_seconds_sum", None)] == 12.0


def test_risk_gauges_follow_the_kernels_risk_report() -> None:
    """RK-4 as metrics: score, VaR/CVaR by method and level, leverage and breakers."""
    from genesis.risk.measures import Holding, risk_report
    from genesis.risk.sampler import EventSampler

    sampler = EventSampler(interval_s=60)
    equity = Decimal(10_000)
    for i, bar in enumerate(real_bars(0, 120)):  # equity holding 0.1 BTC plus cash, per minute
        sampler.take(bar.ts_event, 5_000 + Decimal("0.1") * bar.close, {"BTCUSDT": bar.close})
        equity = 5_000 + Decimal("0.1") * bar.close
        assert i < 120
    report = risk_report(
        now_ns=0, equity=equity, currency="USDT",
        holdings=[Holding("BTCUSDT", "BTC", Decimal("0.1"), real_bars(119, 120)[0].close)],
        locked=Decimal(0), sampler=sampler, benchmark=None, limits=None,
        breakers=[{"scope": "strategy", "code": "BREAKER_LOSS_STREAK", "reason": "r"}],
        kill_switch=None,
    )  # fmt: skip
    metrics = Metrics(clock=_Clock(), process=False)

    metrics.refresh_risk(report)

    samples = _samples(metrics)
    assert samples[("genesis_risk_score", ())] == report["score"]
    var99 = report["var"]["historical"]["99"]
    assert var99 is not None
    key = ("genesis_value_at_risk_ratio", (("confidence", "0.99"), ("method", "historical")))
    assert samples[key] == var99
    assert samples[("genesis_exposure_gross_ratio", ())] == report["exposure"]["leverage"]
    assert samples[("genesis_circuit_breakers_active", (("scope", "strategy"),))] == 1
    assert samples[("genesis_circuit_breakers_active", (("scope", "engine"),))] == 0
