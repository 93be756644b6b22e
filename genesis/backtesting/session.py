"""``backtest --data SESSION_LOG``: a paper session replayed, order for order and fill for fill.

Theory of operation
-------------------
Every paper session writes its session log (``$GENESIS_DATA_DIR/session-SYMBOLS.jsonl``,
``genesis.data.session_log``): each market event it consumed, in order, before the
strategies saw it, on live data and on recordings alike. Its journal
(``genesis.db`` beside it) holds what it was started with: the ``session_started``
row carries the strategy configs and the ``paper`` settings (tier, cash, fees,
daily-loss limit, risk limits, instruments; ``genesis.daemon.session_record``).

The replay builds the kernel and the simulated venues with the paper daemon's own
function (``daemon.assemble.paper_parts``), so nothing is configured twice, and
drives them the way the daemon does: the same ``Driver`` with deferred commands,
each event's rounds executed one command at a time until none is left (what the
daemon's ``send`` does once a round's intents are committed), the strategies
started before the first event at the session's start time, and at the end the
shutdown orders the journal records and the strategies' ``on_stop``.

The replay ends where the journal says the session got (its last checkpoint, or
the progress mark a kill -9 left): the feed writes an event to the log before the
trading loop takes it, so a session stopped by SIGTERM (or killed) can leave a
last event or two in the log that it never processed. A replay of the whole log
would trade on them; the session did not.

What an operator did during the session is re-applied at the event index the
journal gives it, as a paper restart does: parameter edits (``config_applied``),
compliance rule reloads (``compliance_rules_applied``), kill-switch engagements
and resets, and the shutdown orders. Orders placed
through the control API and one venue's kill switch (``--account``) are not
replayed: the replay says so, and its orders then differ from the session's
from that point.

Outputs: ``orders.csv`` (every order intent, in the order sent), ``fills.csv``
(every fill, in the order booked), ``trades.csv`` (closed lots), ``equity.csv``
(the portfolio's equity in the first instrument's quote currency on a grid of
event time, as the event backtest samples it), ``metrics.json`` and
``performance.json``, in the backtest's formats. ``genesis journal export`` writes the session's own
``orders.csv`` and ``fills.csv`` from its journal with the same writers: the
files of a replay and of its session are byte-identical.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.backtesting.events import DEFAULT_SAMPLE_NS
from genesis.backtesting.metrics import periods_per_year
from genesis.backtesting.output import EquityWriter, FillWriter, OrderWriter, TradeWriter
from genesis.backtesting.runner import _discard, _prepare, _TradeSink, write_performance
from genesis.backtesting.streaming import RunningMetrics
from genesis.config.models import StrategyConfig
from genesis.core.commands import Command, EngageKillSwitch, ResetKillSwitch, SubmitOrder
from genesis.core.events import OrderEvent, OrderFilled
from genesis.data.session_log import is_session_log, read_session_log
from genesis.errors import ConfigError
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.storage.repository import AuditRecord

__all__ = ["SessionReplay", "SessionResult", "is_session_log", "load_session", "replay_session"]

# the control API's orders, and one venue's kill switch (genesis kill --account)
_NOT_REPLAYED = (
    "api_order", "api_close_position", "api_cancel", "api_modify",
    "venue_kill_engaged", "venue_kill_reset",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SessionReplay:
    """A session to replay: its log, its configuration, the operator actions to re-apply."""

    log: Path
    journal: Path
    config: Any  # the session's DaemonConfig (genesis.daemon.daemon)
    events: int  # the events the journal proves the session processed (the replay's end)
    actions: tuple[tuple[int, AuditRecord], ...]  # (event index, action), in order
    not_replayed: tuple[str, ...]  # operator actions the replay cannot repeat


@dataclass(slots=True)
class SessionResult:
    events: int = 0
    orders: int = 0
    fills: int = 0
    trades: int = 0
    final_equity: str = ""
    balances: dict[str, str] = field(default_factory=dict)
    strategy_errors: list[str] = field(default_factory=list)


class _NullLog:
    def _noop(self, *args: object, **kwargs: object) -> None:
        return None

    debug = info = warning = error = critical = _noop


def load_session(log: Path, journal: Path | None = None) -> SessionReplay:
    """Read the session's configuration from its journal (default: ``genesis.db`` beside
    the log).

    Raises:
        ConfigError: no journal, a live or older journal, or settings that do not read back.
    """
    from genesis.daemon.recovery import replay_actions
    from genesis.daemon.session_record import paper_config

    db = journal or log.parent / "genesis.db"
    if not db.is_file():
        raise ConfigError(
            f"--data {log}: a session log is replayed with its session's journal, and {db}"
            " does not exist; pass --journal FILE (the genesis.db of the session)"
        )
    audits, done = asyncio.run(_journal(db))
    started = next((a for a in audits if a.action == "session_started"), None)
    if started is None:
        raise ConfigError(f"{db}: no session_started row; is this the session's journal?")
    detail = json.loads(started.detail_json)
    if detail.get("mode") != "paper":
        raise ConfigError(
            f"{db}: a {detail.get('mode')} session; only a paper session's fills are the"
            " simulated venue's to reproduce"
        )
    return SessionReplay(
        log=log,
        journal=db,
        config=paper_config(detail, str(db)),
        events=done,
        actions=tuple(replay_actions(audits)),
        not_replayed=tuple(a.action for a in audits if a.action in _NOT_REPLAYED),
    )


async def _journal(db: Path) -> tuple[list[AuditRecord], int]:
    """The audit log, and how many events the journal proves the session processed."""
    from genesis.daemon.journal import CHECKPOINT_ID, PROGRESS_ID
    from genesis.daemon.recovery import events_done
    from genesis.storage.sqlite import SqliteRepository

    repo = await SqliteRepository.open(db)
    try:
        audits = await repo.audit_log(0)
        checkpoint = await repo.load_strategy_state(CHECKPOINT_ID)
        progress = await repo.load_strategy_state(PROGRESS_ID)
    finally:
        await repo.close()
    return audits, events_done(checkpoint, progress, audits)


def replay_session(
    session: SessionReplay, out_dir: Path, sample_ns: int = DEFAULT_SAMPLE_NS
) -> SessionResult:
    """Replay ``session``; write orders.csv, fills.csv, trades.csv, equity.csv (one row per
    ``sample_ns`` of event time, as the event backtest's), metrics.json and performance.json.

    Raises:
        ConfigError: ``out_dir`` cannot be written.
        DataError: a line of the log is not an event (file:line); no output is left.
    """
    from genesis.daemon.assemble import paper_parts

    _prepare(out_dir)
    orders = OrderWriter(out_dir / "orders.csv")
    fills = FillWriter(out_dir / "fills.csv")
    trades = TradeWriter(out_dir / "trades.csv")
    equity = EquityWriter(out_dir / "equity.csv")
    writers = (orders, fills, trades, equity)
    metrics = RunningMetrics(session.config.cash)
    try:
        kernel, venues = paper_parts(
            session.config, _NullLog(), closed_lot_sink=_TradeSink(trades, metrics)
        )
        driver = Driver(
            kernel,
            venues,
            record=False,
            defer_commands=True,
            on_command=_intents(orders.add),
            on_order_event=_fills(fills.add),
        )
        replay = _Replay(driver, list(session.actions), session.config.strategies)
        replay.equity = _Grid(equity, metrics, kernel, sample_ns)
        events = replay.run(session.log, session.events)
        rejected = kernel.denied + sum(v.rejected for v in venues.values())
        config = session.config
        quote = config.instruments.get(config.instrument_ids[0]).quote  # what equity is in
        _write_metrics(out_dir, kernel, metrics, (rejected, quote), sample_ns)
    except BaseException:
        for writer in writers:
            writer.close()
        _discard(out_dir)
        raise
    for writer in writers:
        writer.close()
    return SessionResult(
        events=events,
        orders=orders.count,
        fills=fills.count,
        trades=trades.count,
        final_equity=format(kernel.portfolio.equity(), "f"),
        balances={a: str(v) for a, v in sorted(kernel.portfolio.balances().items()) if v != 0},
        strategy_errors=[f"{e.strategy_id}: {e.error_type}: {e.message}" for e in kernel.errors],
    )


def _write_metrics(
    out_dir: Path,
    kernel: Kernel,
    metrics: RunningMetrics,
    counted: tuple[int, str],
    sample_ns: int,
) -> None:
    """``metrics.json`` (fees in the equity's currency) and the performance files."""
    rejected, quote = counted
    portfolio = kernel.portfolio
    fees = portfolio.fees_by_currency().get(quote, Decimal(0))
    final = metrics.finish(
        exposed_bars=0,
        fees=fees,
        rejected_orders=rejected,
        final_equity=portfolio.equity(),
        periods_per_year=periods_per_year(sample_ns),
    )
    (out_dir / "metrics.json").write_text(final.to_json(), encoding="utf-8")
    write_performance(out_dir, kernel)


class _Grid:
    """Equity on a fixed grid of event time, the state before each event (as ``multi``)."""

    def __init__(
        self, out: EquityWriter, metrics: RunningMetrics, kernel: Kernel, sample_ns: int
    ) -> None:
        self.out, self.metrics, self.kernel, self.sample_ns = out, metrics, kernel, sample_ns
        self.next_ns: int | None = None

    def before(self, ts: int) -> None:
        if self.next_ns is None:
            self.next_ns = (ts // self.sample_ns + 1) * self.sample_ns
        while self.next_ns <= ts:
            self.record()

    def record(self) -> None:
        if self.next_ns is None:
            return  # no event: no grid
        value = self.kernel.portfolio.equity()
        self.out.add(self.next_ns, format(value, "f"))
        self.metrics.add(self.next_ns, float(value))
        self.next_ns += self.sample_ns


def _intents(add: Callable[[SubmitOrder], None]) -> Callable[[Command], None]:
    def on_command(command: Command) -> None:
        if type(command) is SubmitOrder:
            add(command)

    return on_command


def _fills(add: Callable[[OrderFilled], None]) -> Callable[[OrderEvent], None]:
    def on_order_event(event: OrderEvent) -> None:
        if type(event) is OrderFilled:
            add(event)

    return on_order_event


class _Replay:
    """The daemon's trading loop without the daemon: events, rounds, operator actions."""

    def __init__(
        self,
        driver: Driver,
        actions: list[tuple[int, AuditRecord]],
        strategies: tuple[StrategyConfig, ...],
    ) -> None:
        self.driver = driver
        self.kernel: Kernel = driver.kernel
        self.actions = actions
        self.versions = {c.id: c for c in strategies}  # as the daemon's: an edit applies once
        self.equity: _Grid | None = None

    def run(self, log: Path, limit: int) -> int:
        self._apply_until(-1)  # before the strategies started
        self.driver.start()
        self._rounds()
        count = 0
        for event in read_session_log(log):
            if count == limit:
                break  # logged as the session stopped, never processed (see above)
            self._apply_until(count)
            if self.equity is not None:
                self.equity.before(event.ts_init)
            self.driver.step(event)
            self._rounds()
            count += 1
        self._apply_until(count)  # what happened after the last event: the shutdown orders
        self.driver.finish()
        self._rounds()
        if self.equity is not None:
            self.equity.record()  # after on_stop, at the first grid point after the last event
        return count

    def _rounds(self) -> None:
        """Execute the kernel's commands one by one until none is left (the daemon's send)."""
        driver = self.driver
        while driver.has_commands():
            for command in driver.take_commands():
                driver.execute(command)

    def _apply_until(self, index: int) -> None:
        while self.actions and self.actions[0][0] <= index:
            self._apply(self.actions.pop(0)[1])
            self._rounds()

    def _apply(self, audit: AuditRecord) -> None:
        """One operator action, as ``PaperRecovery`` re-applies it."""
        detail: dict[str, Any] = json.loads(audit.detail_json)
        now = self.kernel.clock.now_ns()
        if audit.action == "config_applied":
            self._set_params(StrategyConfig.model_validate(detail["config"]))
        elif audit.action == "compliance_rules_applied":  # genesis.daemon.risk_reload
            from genesis.risk.config import ComplianceModel

            section = ComplianceModel.model_validate(detail["compliance"])
            self.kernel.risk.set_compliance(section.active_rules())
        elif audit.action == "kill_switch_engaged":
            self.driver.command(
                EngageKillSwitch(
                    ts_init=now,
                    reason=str(detail.get("reason", "")),
                    source=str(detail.get("source", "operator")),
                    request_id=str(detail.get("request_id", "")),
                    flatten=bool(detail.get("flatten")),
                )
            )
        elif audit.action == "kill_switch_reset":
            reason, request_id = str(detail.get("reason", "")), str(detail.get("request_id", ""))
            self.driver.command(ResetKillSwitch(ts_init=now, reason=reason, request_id=request_id))
        elif audit.action == "shutdown_orders":
            kernel = self.kernel
            flatten = detail.get("scope") == "flatten"
            self.driver.send(kernel.flatten() if flatten else kernel.cancel_entries())

    def _set_params(self, config: StrategyConfig) -> None:
        from genesis.strategies import registry

        if config.id in self.kernel.strategies and self.versions.get(config.id) != config:
            self.versions[config.id] = config
            spec = registry.get(config.strategy)
            params = registry.parse_params(spec, config.params, source=config.id)
            self.kernel.replace_params(config.id, params)
