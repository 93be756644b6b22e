"""Prometheus metrics of one daemon (OP-2), on a registry of its own.

``Metrics`` owns a ``CollectorRegistry`` (never the global default, so two
daemons in one process, or a test beside a daemon, never share or clash) and
renders it for the REST API's ``/metrics``: ``render() -> (body, content type)``.

What is measured where, so the trading path stays cheap:

* **per event, from the daemon's existing callbacks** (a counter increment or
  one histogram observation; histograms are ``FastHistogram``, about 0.5 µs an
  observation against prometheus-client's 6 µs, built into buckets only when
  scraped): commands sent
  (``on_command``), order events (``on_order_event``: orders by status, fills,
  slippage against the decision price, the three order latencies), kernel
  notices (``on_notice``: kill switch activations), market events
  (``on_market_event``: feed latency, the instrument's last receive time);
* **per health tick** (``refresh``): gauges (open positions, P&L, equity,
  queue depths, staleness, health, kill switch state) and the counters the
  kernel already keeps as statistics (risk rejections by code, strategy
  errors), turned into increments since the previous tick.

Order latencies are measured on the shell's monotonic clock (``clock``,
``time.monotonic`` by default), not in event time: *submit sent → accepted*
(the venue's acknowledgement; a market order answered by its fills has none),
*submit sent → first fill*, and *cancel sent → canceled* (a cancel the venue
made by itself, an OCO sibling, has no request and is not measured). "Sent"
is when the daemon hands the command to the venue port, after its intent was
committed. At most ``MAX_TRACKED`` orders are timed at once; beyond that the
oldest are forgotten (an order the venue never answers must not leak memory).

Orders by status count the transitions the venue reported, by the status each
event put the order in (``submitted`` when the daemon sent it): a terminal
status is counted once per order, a partial fill once per fill. Orders the
pre-trade risk refused never reach a venue: they are
``genesis_risk_rejections_total{code}``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.events import (
    Event,
    KillSwitchChanged,
    MarketEvent,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    StrategyErrored,
)
from genesis.core.orders import Order
from genesis.monitoring.histogram import FastHistogram

__all__ = ["LATENCY_BUCKETS", "MAX_TRACKED", "SLIPPAGE_BUCKETS", "Metrics", "QueueDepth"]

# order and feed latencies, seconds: 100 µs .. 30 s
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
# slippage against the decision price, basis points (< 0: better than decided)
SLIPPAGE_BUCKETS = (-50.0, -20.0, -10.0, -5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
MAX_TRACKED = 10_000
_TERMINAL = (OrderCanceled, OrderExpired, OrderRejected)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One queue's depth and capacity at the tick (the daemon's inbound, the journal's)."""

    name: str
    depth: int
    capacity: int


@dataclass(slots=True)
class _Timing:
    """When an order's submit was sent (monotonic s), and what has been measured."""

    sent: float
    accepted: bool = False
    filled: bool = False


class Metrics:
    """The daemon's collectors; see the module docstring for what feeds each."""

    def __init__(
        self, *, process: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``process`` adds the process collector (RSS bytes, CPU seconds, open fds) to this
        registry; ``clock`` is the shell's monotonic clock in seconds (injected for tests)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        if process:
            ProcessCollector(namespace="genesis", registry=self.registry)
        self._orders_collectors()
        self._account_collectors()
        self._feed_collectors()
        self._risk_collectors()
        self._submits: OrderedDict[str, _Timing] = OrderedDict()
        self._cancels: OrderedDict[str, float] = OrderedDict()
        self._last_seen: dict[str, float] = {}  # instrument -> monotonic receive time
        self._rejections: dict[str, int] = {}  # the kernel's counts at the last refresh
        self._errors_seen = 0

    # --- collectors -----------------------------------------------------------------

    def _orders_collectors(self) -> None:
        r = self.registry
        self.submit_to_accept = FastHistogram(
            "genesis_order_submit_to_accept_seconds",
            "Submit sent to the venue's acknowledgement, shell monotonic clock",
            "venue", LATENCY_BUCKETS, r,
        )  # fmt: skip
        self.submit_to_fill = FastHistogram(
            "genesis_order_submit_to_first_fill_seconds",
            "Submit sent to the order's first fill, shell monotonic clock",
            "venue", LATENCY_BUCKETS, r,
        )  # fmt: skip
        self.cancel_to_canceled = FastHistogram(
            "genesis_order_cancel_to_canceled_seconds",
            "Cancel sent to the venue's confirmation, shell monotonic clock",
            "venue", LATENCY_BUCKETS, r,
        )  # fmt: skip
        self.orders = Counter(
            "genesis_orders",
            "Order transitions reported by the venue, by the status they put the order in",
            ["venue", "status"], registry=r,
        )  # fmt: skip
        self.fills = Counter(
            "genesis_fills", "Fills booked", ["venue", "instrument", "side", "liquidity"],
            registry=r,
        )  # fmt: skip
        self.slippage = FastHistogram(
            "genesis_fill_slippage_bps",
            "Fill price against the order's decision price, basis points; > 0 is worse"
            " (signed buckets: no _sum, see genesis_strategy_avg_slippage_bps)",
            "venue", SLIPPAGE_BUCKETS, r,
        )  # fmt: skip
        self.risk_rejections = Counter(
            "genesis_risk_rejections", "Orders refused by pre-trade risk, by code", ["code"],
            registry=r,
        )  # fmt: skip
        self.strategy_errors = Counter(
            "genesis_strategy_errors", "Strategy hooks that raised (the strategy is disabled)",
            ["strategy"], registry=r,
        )  # fmt: skip

    def _account_collectors(self) -> None:
        r = self.registry
        self.open_positions = Gauge(
            "genesis_open_positions", "Positions not flat, per strategy and instrument",
            registry=r,
        )  # fmt: skip
        self.realized_pnl = Gauge(
            "genesis_realized_pnl", "Realised P&L (gross), in the account's base currency",
            ["strategy", "currency"], registry=r,
        )  # fmt: skip
        self.unrealized_pnl = Gauge(
            "genesis_unrealized_pnl", "Unrealised P&L at the mark, in the base currency",
            ["strategy", "currency"], registry=r,
        )  # fmt: skip
        self.avg_slippage = Gauge(
            "genesis_strategy_avg_slippage_bps",
            "A strategy's average fill slippage against its decision prices, basis points",
            ["strategy"], registry=r,
        )  # fmt: skip
        self.equity = Gauge(
            "genesis_equity", "Account equity valued in the base currency", ["currency"],
            registry=r,
        )  # fmt: skip
        self.kill_switch_activations = Counter(
            "genesis_kill_switch_activations", "Kill switch engagements, by source",
            ["source"], registry=r,
        )  # fmt: skip
        self.kill_switch_engaged = Gauge(
            "genesis_kill_switch_engaged", "1 while the kill switch blocks new exposure",
            registry=r,
        )  # fmt: skip
        self.health = Gauge(
            "genesis_health_level", "Overall health: 0 HEALTHY, 1 DEGRADED, 2 CRITICAL",
            registry=r,
        )  # fmt: skip
        self.alerts = Counter(
            "genesis_alerts", "Alerts raised (before rate limiting)", ["rule", "severity"],
            registry=r,
        )  # fmt: skip

    def _risk_collectors(self) -> None:
        r = self.registry
        self.risk_score = Gauge(
            "genesis_risk_score", "The RK-4 risk score, 0 (calm) to 100 (halted or at limits)",
            registry=r,
        )  # fmt: skip
        self.value_at_risk = Gauge(
            "genesis_value_at_risk_ratio",
            "Value at risk of one sample interval's equity return, as a fraction of equity",
            ["method", "confidence"], registry=r,
        )  # fmt: skip
        self.expected_shortfall = Gauge(
            "genesis_conditional_value_at_risk_ratio",
            "CVaR (expected shortfall beyond the VaR), as a fraction of equity",
            ["method", "confidence"], registry=r,
        )  # fmt: skip
        self.exposure_gross = Gauge(
            "genesis_exposure_gross_ratio", "Gross position exposure over equity (leverage)",
            registry=r,
        )  # fmt: skip
        self.margin_used = Gauge(
            "genesis_margin_used_ratio", "What working orders lock, over equity", registry=r
        )
        self.drawdown = Gauge(
            "genesis_drawdown_ratio", "Equity below its running peak, as a fraction of the peak",
            registry=r,
        )  # fmt: skip
        self.breakers_active = Gauge(
            "genesis_circuit_breakers_active", "Circuit-breaker pauses running, by scope",
            ["scope"], registry=r,
        )  # fmt: skip

    def refresh_risk(self, report: Mapping[str, Any]) -> None:
        """The RK-4 gauges from ``Kernel.risk_report()`` (a figure not known yet is not set)."""
        self.risk_score.set(float(report["score"]))
        for name, gauge in (("var", self.value_at_risk), ("cvar", self.expected_shortfall)):
            for method, levels in report[name].items():
                for level, value in levels.items():
                    if value is not None:
                        gauge.labels(method, f"0.{level}").set(value)
        for gauge, value in (
            (self.exposure_gross, report["exposure"]["leverage"]),
            (self.margin_used, report["margin"]["used_pct"]),
            (self.drawdown, report["drawdown"]["current_pct"]),
        ):
            if value is not None:
                gauge.set(value)
        scopes = [b["scope"] for b in report["breakers"]]
        for scope in ("engine", "strategy"):
            self.breakers_active.labels(scope).set(scopes.count(scope))

    def _feed_collectors(self) -> None:
        r = self.registry
        self.feed_latency = FastHistogram(
            "genesis_feed_latency_seconds", "Market event receive time minus its event time",
            "instrument", LATENCY_BUCKETS, r,
        )  # fmt: skip
        self.feed_staleness = Gauge(
            "genesis_feed_staleness_seconds", "Seconds since the instrument's last market event",
            ["instrument"], registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "genesis_queue_depth", "Items waiting in a queue", ["queue"], registry=r
        )
        self.queue_capacity = Gauge(
            "genesis_queue_capacity", "A queue's size limit", ["queue"], registry=r
        )

    # --- exposition -----------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every collector, and its content type (for ``/metrics``)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # --- per event (the daemon's callbacks) -------------------------------------------

    def on_command(self, command: Command, venue: str) -> None:
        """A command handed to a venue port: a submit or cancel starts its latency clock."""
        if isinstance(command, SubmitOrder):
            _remember(self._submits, command.client_order_id, _Timing(self._clock()))
            self.orders.labels(venue, "submitted").inc()
        elif isinstance(command, CancelOrder):
            _remember(self._cancels, command.client_order_id, self._clock())

    def on_order_event(self, event: OrderEvent, order: Order | None, venue: str) -> None:
        """An order event the kernel applied; ``order`` is its order after the event."""
        status = _status(event, order)
        if status is not None:
            self.orders.labels(venue, status).inc()
        cid = event.client_order_id
        timing = self._submits.get(cid)
        if isinstance(event, OrderFilled):
            self._on_fill(event, order, venue, timing)
        elif isinstance(event, OrderAccepted) and timing is not None and not timing.accepted:
            timing.accepted = True
            self.submit_to_accept.labels(venue).observe(self._clock() - timing.sent)
        elif isinstance(event, OrderCanceled):
            sent = self._cancels.pop(cid, None)
            if sent is not None:
                self.cancel_to_canceled.labels(venue).observe(self._clock() - sent)
        if isinstance(event, _TERMINAL) or (order is not None and order.status.is_terminal):
            self._submits.pop(cid, None)
            self._cancels.pop(cid, None)

    def _on_fill(
        self, fill: OrderFilled, order: Order | None, venue: str, timing: _Timing | None
    ) -> None:
        self.fills.labels(venue, fill.instrument_id, fill.side.value, fill.liquidity.value).inc()
        if timing is not None and not timing.filled:
            timing.filled = True
            self.submit_to_fill.labels(venue).observe(self._clock() - timing.sent)
        bps = slippage_bps(fill, order)
        if bps is not None:
            self.slippage.labels(venue).observe(bps)

    def on_notice(self, notice: Event) -> None:
        """A kernel notice: a kill switch engagement counts by its source."""
        if isinstance(notice, KillSwitchChanged):
            self.kill_switch_engaged.set(1 if notice.engaged else 0)
            if notice.engaged:
                self.kill_switch_activations.labels(notice.source or "unknown").inc()

    def on_market_event(self, event: MarketEvent) -> None:
        """A market event taken by the trading loop: its feed latency, and when it came."""
        instrument = event.instrument_id
        self.feed_latency.labels(instrument).observe(max(event.ts_init - event.ts_event, 0) / 1e9)
        self._last_seen[instrument] = self._clock()

    def on_alert(self, rule: str, severity: str) -> None:
        self.alerts.labels(rule, severity).inc()

    # --- per health tick --------------------------------------------------------------

    def refresh_feed(self, queues: Iterable[QueueDepth], health_level: int) -> None:
        """Queue depths, each instrument's staleness and the health level, now."""
        now = self._clock()
        for queue in queues:
            self.queue_depth.labels(queue.name).set(queue.depth)
            self.queue_capacity.labels(queue.name).set(queue.capacity)
        for instrument, seen in self._last_seen.items():
            self.feed_staleness.labels(instrument).set(max(now - seen, 0.0))
        self.health.set(health_level)

    def refresh_account(
        self,
        *,
        currency: str,
        equity: Decimal | None,
        pnl: Mapping[str, tuple[Decimal, Decimal]],
        slippage: Mapping[str, float | None],
        open_positions: int,
        kill_switch: bool,
    ) -> None:
        """Equity, P&L per strategy (realised, unrealised), each strategy's average slippage
        (None: no fill with a decision price yet) and open positions (floats: analytics)."""
        if equity is not None:
            self.equity.labels(currency).set(float(equity))
        for strategy, (realized, unrealized) in pnl.items():
            self.realized_pnl.labels(strategy, currency).set(float(realized))
            self.unrealized_pnl.labels(strategy, currency).set(float(unrealized))
        for strategy, bps in slippage.items():
            if bps is not None:
                self.avg_slippage.labels(strategy).set(bps)
        self.open_positions.set(open_positions)
        self.kill_switch_engaged.set(1 if kill_switch else 0)

    def refresh_rejections(self, counts: Mapping[str, int]) -> None:
        """Bring the rejections counter up to the kernel's running counts by code."""
        for code, count in sorted(counts.items()):
            delta = count - self._rejections.get(code, 0)
            if delta > 0:
                self.risk_rejections.labels(code).inc(delta)
            self._rejections[code] = count

    def baseline(self, counts: Mapping[str, int], errors: int) -> None:
        """What a recovery rebuild already counted: not this process's doing."""
        self._rejections = dict(counts)
        self._errors_seen = errors

    def new_errors(self, errors: list[StrategyErrored]) -> list[StrategyErrored]:
        """The kernel's strategy faults since the last call, counted; returns them."""
        fresh = errors[self._errors_seen :]
        self._errors_seen = len(errors)
        for fault in fresh:
            self.strategy_errors.labels(fault.strategy_id).inc()
        return fresh


def slippage_bps(fill: OrderFilled, order: Order | None) -> float | None:
    """How much worse than the decision price the fill was, in basis points (< 0: better);
    None without a decision price."""
    decision = None if order is None else order.decision_price
    if not decision:
        return None
    return float((fill.last_px - decision) * fill.side.sign / decision) * 10_000


def _status(event: OrderEvent, order: Order | None) -> str | None:
    if order is not None:
        return str(order.status.value).lower()
    if isinstance(event, OrderFilled):
        return "filled"  # an order forgotten after it finished: its last fill finished it
    return None


def _remember(table: OrderedDict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    if len(table) > MAX_TRACKED:
        table.popitem(last=False)
