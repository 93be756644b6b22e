"""A paper daemon reloads its compliance rules from the risk config file while it trades
(RK-6, CF-3): an edit that restricts the traded instrument refuses every later entry with
``COMPLIANCE_RESTRICTED`` (its exits still go), a broken edit changes nothing, and a
restart after a crash, and a replay of the session log, rebuild the session with the
rules where they changed.

The busy Sniper (``tests/data/strategies``) trades the bundled BTCUSDT 1m bars of
January 2022 (``genesis.resources.BTCUSDT_1M_BARS``), as in ``test_paper_restart.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.backtesting.session import load_session, replay_session
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.risk_reload import APPLIED, REJECTED
from genesis.data.loaders import read_bars
from genesis.data.session_log import SessionLog
from genesis.data.sources import DataSpec
from genesis.risk.config import parse_risk_config
from genesis.risk.limits import Tier
from genesis.storage import open_repository

ROOT = Path(__file__).resolve().parents[2]
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"

OPEN = """\
compliance:
  active: ""
  rule_sets:
    desk:
      restricted: [BTC]   # no new BTC exposure
"""
RESTRICTED = OPEN.replace('active: ""', "active: desk")
BROKEN = RESTRICTED.replace("restricted: [BTC]", "restricted: BTC")  # a list expected


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event, fields))


def _config(path: Path, events: int) -> DaemonConfig:
    strategies = tuple(c for c in load_strategy_configs(BUSY_STRATEGIES) if c.enabled)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    return DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, data=(bars,), speed=0, max_events=events,
        instruments=load_exchange_info(resources.EXCHANGE_INFO), data_dir=path.parent,
        risk=parse_risk_config(path.read_text(), str(path)), risk_path=path,
    )  # fmt: skip


async def _started(config: DaemonConfig, log: _Log) -> Daemon:
    assert config.data_dir is not None
    daemon = paper_daemon(config, await open_repository(None, config.data_dir), None, log=log)
    assert daemon.journal is not None
    daemon.journal.start()
    await daemon.recovery.begin(daemon)
    daemon.driver.start()
    return daemon


async def _feed(daemon: Daemon, first: int, last: int, log: SessionLog) -> None:
    """Bars ``first`` to ``last``, each written to the session log first (as the feed)."""
    for n, bar in enumerate(read_bars(resources.BTCUSDT_1M_BARS, "BTCUSDT")):
        if n >= last:
            return
        if n >= first:
            log.append(bar)
            await daemon._market_event(bar)


async def _edit(daemon: Daemon, path: Path, text: str) -> None:
    """Write the file; run what the watch queued, as the trading loop does between events."""
    await asyncio.to_thread(path.write_text, text)
    for _ in range(200):
        if daemon.operator_lane:
            break
        await asyncio.sleep(0.05)
    assert daemon.operator_lane, "the watch did not see the edit"
    while daemon.operator_lane:
        await daemon.operator_lane.popleft()()


async def _intents(daemon: Daemon) -> list[dict[str, Any]]:
    assert daemon.journal is not None
    await daemon.journal.commit()
    rows = await daemon.journal.repo.order_events_of_kind("SubmitOrder")
    return [json.loads(r.detail_json) for r in rows]


def _denied(log: _Log) -> list[dict[str, Any]]:
    """The kernel's ``order_denied`` lines with the compliance code."""
    return [f for _, e, f in log.lines
            if e == "order_denied" and f["code"] == "COMPLIANCE_RESTRICTED"]  # fmt: skip


async def test_an_edit_restricting_the_instrument_refuses_later_entries(tmp_path: Path) -> None:
    path = tmp_path / "risk.yaml"
    path.write_text(OPEN)
    config = _config(path, events=3000)
    log = _Log()
    first = await _started(config, log)
    session = SessionLog(tmp_path / "session-BTCUSDT.jsonl")
    stopping = asyncio.Event()
    watch = asyncio.create_task(first.risk_watcher.run(stopping))
    try:
        await _feed(first, 0, 600, session)
        before = await _intents(first)
        assert any(i["side"] == "BUY" for i in before)  # it trades BTC before the edit
        assert first.kernel.risk.compliance is None  # no active set: no check at all

        await asyncio.sleep(0.3)  # the watch is set up
        await _edit(first, path, RESTRICTED)
        assert first.risk_watcher.rule_set == "desk"
        await _feed(first, 600, 1800, session)
        after = (await _intents(first))[len(before) :]
        denied = _denied(log)

        # every later entry is refused with the compliance code and its sentence
        assert len(denied) >= 5
        assert denied[0]["reason"] == (
            f"entry {denied[0]['client_order_id']} on BTCUSDT: BTC is on the restricted list"
            " of rule set desk"
        )
        assert first.kernel.risk.rejections["COMPLIANCE_RESTRICTED"] == len(denied)
        # nothing new is bought; what it still sends are exits of what it held (sells)
        assert all(i["side"] == "SELL" for i in after)

        await _edit(first, path, BROKEN)
        assert first.risk_watcher.rule_set == "desk"  # the rules in force stay
        await _feed(first, 1800, 2400, session)
        later = _denied(log)
        assert len(later) > len(denied)
        assert all(i["side"] == "SELL" for i in (await _intents(first))[len(before) :])
    finally:
        stopping.set()
        await watch
        await first._close()  # a crash: no clean stop (what was queued is committed)
        session.close()
    errors = [f for level, e, f in log.lines if e == REJECTED and level == "error"]
    assert len(errors) == 1
    assert (errors[0]["file"], errors[0]["line"], errors[0]["field"]) == (
        str(path), 5, "compliance.rule_sets.desk.restricted")  # fmt: skip
    assert errors[0]["kept_rule_set"] == "desk"
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        audits = db.execute(
            "SELECT action, detail_json, row_hash FROM audit_log WHERE action IN (?, ?)"
            " ORDER BY id",
            (APPLIED, REJECTED),
        ).fetchall()
    assert [a for a, _, _ in audits] == [APPLIED, REJECTED]
    applied = json.loads(audits[0][1])
    assert (applied["rule_set"], applied["event_index"]) == ("desk", 600)
    assert len(audits[0][2]) == 64  # hash-chained
    # every refusal is a decision in the hash-chained order events, with its code (RK-6)
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        verdicts = db.execute(
            "SELECT o.client_order_id, e.detail_json, e.row_hash, o.status FROM order_events e"
            " JOIN orders o USING (client_order_id) WHERE e.kind = 'OrderDenied'"
        ).fetchall()
    assert {c for c, _, _, _ in verdicts} == {f["client_order_id"] for f in _denied(log)}
    assert {json.loads(d)["code"] for _, d, _, _ in verdicts} == {"COMPLIANCE_RESTRICTED"}
    assert all(len(h) == 64 and status == "DENIED" for _, _, h, status in verdicts)

    # backtest --data SESSION_LOG: the replay re-applies the rules at event 600 and makes
    # the session's fills, no more, no fewer
    with sqlite3.connect(tmp_path / "genesis.db") as db:
        journaled = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    replay = await asyncio.to_thread(load_session, session.path)  # it runs its own loop
    replayed = replay_session(replay, tmp_path / "replay")
    assert journaled > 0
    assert replayed.fills == journaled

    # the restart rebuilds 0..600 without rules and the rest with desk: the fills agree
    path.write_text(RESTRICTED)
    second = await _started(dataclasses.replace(config, risk=parse_risk_config(RESTRICTED, "x")),
                            _Log())  # fmt: skip
    try:
        assert second.halted is None
        assert second.events > 600  # rebuilt past the reload
        assert second.risk_watcher.rule_set == "desk"
        assert second.kernel.risk.compliance is not None
        rebuilt = second.kernel.risk.rejections["COMPLIANCE_RESTRICTED"]
        assert 0 < rebuilt <= len(later)
    finally:
        await second._close()
