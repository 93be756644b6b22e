"""The compliance rules reload from the risk config file (RK-6, CF-3): validated, applied
between two events, journaled with the section's hash; a bad edit changes nothing (an empty or cut-off file never lifts a rule set in force); tier
limits are reported as needing a restart; no check in the engine without an active set.

The watcher is driven on a stand-in daemon holding a real ``RiskEngine`` (what the
watcher touches: the engine, the log, the journal, the event count). BTCUSDT's 46377.0
is the close of the first bundled bar (``genesis.resources.BTCUSDT_1M_BARS``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from genesis.core.enums import Side
from genesis.daemon.risk_reload import (
    APPLIED,
    NEEDS_RESTART,
    REJECTED,
    RiskConfigWatcher,
    compliance_sha256,
    restart_fields,
)
from genesis.errors import RiskRejected
from genesis.portfolio import Portfolio
from genesis.risk.checks import RiskInput
from genesis.risk.config import parse_risk_config
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import Tier
from genesis.testing.builders import order
from genesis.testing.instruments import instrument, lookup

D = Decimal
CLOSE = D("46377.0")  # BTCUSDT, the first bundled bar's close
T0 = 1_640_995_200_000_000_000  # 2022-01-01 00:00 UTC, a Saturday
SEC = 1_000_000_000

BASE = """\
# the desk's risk file
tiers:
  sniper:
    max_position_pct: "0.02"
compliance:
  active: ""
  rule_sets:
    desk:
      restricted: [XRPUSDT]
      max_orders: 3
      order_window_s: 60
"""


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append((level, event, fields))

    def named(self, event: str) -> list[tuple[str, dict[str, Any]]]:
        return [(level, f) for level, e, f in self.lines if e == event]


class _Journal:
    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Any], int]] = []

    def audit(self, action: str, detail: dict[str, Any], ts_ns: int) -> None:
        self.rows.append((action, detail, ts_ns))


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def now_ns(self) -> int:
        return self.now


def _daemon(path: Path) -> Any:
    """The parts of a ``Daemon`` the watcher reads, around a Sniper risk engine."""
    risk_config = parse_risk_config(path.read_text(), str(path))
    risk = RiskEngine(Tier.SNIPER, limits=risk_config.limits(Tier.SNIPER),
                      compliance=risk_config.compliance_rules())  # fmt: skip
    clock = _Clock()
    book = Portfolio(lookup, balances={"USDT": D(10_000)})
    risk.attach_compliance(book, lookup, clock.now_ns)
    kernel = SimpleNamespace(risk=risk, clock=clock)
    config = SimpleNamespace(risk=risk_config)
    daemon = SimpleNamespace(kernel=kernel, config=config, log=_Log(), journal=_Journal(),
                             events=0, quiet=False, operator_lane=deque(), wake=lambda: True)  # fmt: skip
    daemon.risk_watcher = RiskConfigWatcher(daemon, path)
    return daemon


def _file(tmp_path: Path, text: str = BASE) -> Path:
    path = tmp_path / "risk.yaml"
    path.write_text(text)
    return path


def _buy(daemon: Any, symbol: str = "BTCUSDT", n: int = 1) -> RiskRejected | None:
    """The compliance check alone (as last in the engine) on a 0.001 market buy."""
    check = daemon.kernel.risk.compliance
    if check is None:
        return None
    risk = RiskInput(
        instrument=instrument(symbol), reference_price=CLOSE, equity=D(10_000),
        free_quote=D(10_000), free_base=D(0), position_qty=D(0), fee_rate=D(0), tier=None,
        limits=None, requires_stop_loss=False, reduce_only=False,
    )  # fmt: skip
    buy = order(Side.BUY, "0.001", instrument_id=symbol, client_order_id=f"s1-{n}")
    result: RiskRejected | None = check.check(buy, risk)
    return result


def _actions(daemon: Any) -> list[str]:
    return [action for action, _, _ in daemon.journal.rows]


def test_section_hash_ignores_comments_and_layout_but_not_values() -> None:
    """The hash is of the validated section: a comment or flow style is the same rules."""
    same = BASE.replace("restricted: [XRPUSDT]", "restricted:   # banned\n        - XRPUSDT")
    other = BASE.replace("max_orders: 3", "max_orders: 4")

    def sha(text: str) -> str:
        return compliance_sha256(parse_risk_config(text, "risk.yaml").compliance)

    assert sha(same) == sha(BASE)
    assert sha(other) != sha(BASE)
    assert len(sha(BASE)) == 64


def test_restart_fields_name_every_start_up_value_that_differs() -> None:
    """Tier limits, breakers and measures differ: each named; compliance is not listed."""
    edited = BASE.replace('max_position_pct: "0.02"', 'max_position_pct: "0.03"\n'
                          "    breakers: {loss_streak: 4}").replace(
        "compliance:", "measures: {sample_interval_s: 30}\ncompliance:").replace(
        'active: ""', "active: desk")  # fmt: skip

    fields = restart_fields(parse_risk_config(BASE, "a"), parse_risk_config(edited, "b"))

    assert fields == [
        "tiers.sniper.breakers.loss_streak",
        "tiers.sniper.max_position_pct",
        "measures.sample_interval_s",
    ]


async def test_activating_a_set_adds_its_check_and_journals_name_and_hash(
    tmp_path: Path,
) -> None:
    """``active: desk``: the check joins the list (before a check added later, as at start),
    XRPUSDT entries are refused; ``active: ""`` removes it again: the base list."""
    path = _file(tmp_path)
    daemon = _daemon(path)
    risk = daemon.kernel.risk
    base = risk._checks
    assert risk.compliance is None

    def cap(order: Any, risk_input: Any) -> None:  # the live allocation cap's place
        return None

    risk.add_check(cap)
    daemon.events = 42
    path.write_text(BASE.replace('active: ""', "active: desk"))
    await daemon.risk_watcher.reload()

    assert risk.compliance is not None
    assert risk._checks == (*base, risk.compliance.check, cap)
    refused = _buy(daemon, "XRPUSDT")
    assert refused is not None
    assert refused.code == "COMPLIANCE_RESTRICTED"
    assert _buy(daemon, "BTCUSDT") is None
    [(action, detail, ts)] = daemon.journal.rows
    section = parse_risk_config(path.read_text(), "x").compliance
    assert (action, ts) == (APPLIED, T0)
    assert detail["rule_set"] == "desk"
    assert detail["previous_rule_set"] == ""
    assert detail["sha256"] == compliance_sha256(section)
    assert detail["previous_sha256"] == compliance_sha256(parse_risk_config(BASE, "x").compliance)
    assert detail["event_index"] == 42
    assert detail["checked"] is True
    assert detail["compliance"]["rule_sets"]["desk"]["restricted"] == ["XRPUSDT"]
    [(level, line)] = daemon.log.named(APPLIED)
    assert level == "info"
    assert "compliance" not in line  # the log line is short; the audit row has the section

    path.write_text(BASE)
    await daemon.risk_watcher.reload()

    assert risk.compliance is None
    assert risk._checks == (*base, cap)
    assert daemon.journal.rows[-1][1]["checked"] is False
    assert _actions(daemon) == [APPLIED, APPLIED]


@pytest.mark.parametrize(
    ("edit", "line", "field", "reason"),
    [
        ("max_orders: 3", 10, "compliance.rule_sets.desk.max_orders",
         "Input should be greater than or equal to 0 (was -1)"),
        ('active: ""', 6, "compliance.active",
         "Value error, rule set 'dsk' is not defined (defined: desk) (was 'dsk')"),
        ("order_window_s: 60", 11, "compliance.rule_sets.desk.order_window_s",
         "Input should be a valid integer, unable to parse string as an integer (was 'soon')"),
    ],
)  # fmt: skip
async def test_an_invalid_edit_is_rejected_with_file_line_field_and_keeps_the_rules(
    tmp_path: Path, edit: str, line: int, field: str, reason: str
) -> None:
    """A bad value, an unknown active set, a bad type: one error line and one audit row
    (file, line, field, reason, the set kept); the set in force still refuses XRPUSDT."""
    path = _file(tmp_path, BASE.replace('active: ""', "active: desk"))
    daemon = _daemon(path)
    in_force = daemon.kernel.risk.compliance
    bad = {"max_orders: 3": "max_orders: -1", 'active: ""': "active: dsk",
           "order_window_s: 60": "order_window_s: soon"}[edit]  # fmt: skip
    path.write_text(path.read_text().replace(edit.replace('active: ""', "active: desk"), bad))

    await daemon.risk_watcher.reload()

    [(level, error)] = daemon.log.named(REJECTED)
    assert level == "error"
    assert (error["file"], error["line"], error["field"], error["reason"]) == (
        str(path), line, field, reason)  # fmt: skip
    assert error["kept_rule_set"] == "desk"
    assert daemon.kernel.risk.compliance is in_force
    assert in_force is not None
    assert in_force.rules.max_orders == 3
    refused = _buy(daemon, "XRPUSDT")
    assert refused is not None
    assert refused.code == "COMPLIANCE_RESTRICTED"
    assert _actions(daemon) == [REJECTED]


async def test_invalid_yaml_and_a_deleted_file_are_rejected_and_change_nothing(
    tmp_path: Path,
) -> None:
    """Broken YAML names its line; a deleted file is no licence to trade anything."""
    path = _file(tmp_path, BASE.replace('active: ""', "active: desk"))
    daemon = _daemon(path)
    path.write_text(BASE.replace("restricted: [XRPUSDT]", "restricted: [XRPUSDT"))
    await daemon.risk_watcher.reload()
    path.unlink()
    await daemon.risk_watcher.reload()

    (_, broken), (_, missing) = daemon.log.named(REJECTED)
    assert (broken["line"], broken["field"]) == (10, "invalid YAML")
    assert missing["reason"] == "cannot read the risk config: the file is missing"
    assert missing["kept_rule_set"] == "desk"
    assert daemon.risk_watcher.rule_set == "desk"
    refused = _buy(daemon, "XRPUSDT")
    assert refused is not None
    assert _actions(daemon) == [REJECTED, REJECTED]


async def test_a_tier_limit_edit_needs_a_restart_and_the_compliance_part_still_applies(
    tmp_path: Path,
) -> None:
    """One edit changes the Sniper's position cap and activates ``desk``: the cap is
    reported (warning + audit row) and stays 2%; the rule set is applied."""
    path = _file(tmp_path)
    daemon = _daemon(path)
    path.write_text(BASE.replace('"0.02"', '"0.05"').replace('active: ""', "active: desk"))

    await daemon.risk_watcher.reload()

    [(level, warning)] = daemon.log.named(NEEDS_RESTART)
    assert level == "warning"
    assert warning["fields"] == ["tiers.sniper.max_position_pct"]
    assert "restart" in warning["reason"]
    assert daemon.kernel.risk.limits.max_position_pct == D("0.02")
    assert daemon.risk_watcher.rule_set == "desk"
    assert _actions(daemon) == [NEEDS_RESTART, APPLIED]


async def test_the_same_bytes_are_judged_once_and_an_unchanged_section_applies_nothing(
    tmp_path: Path,
) -> None:
    """An editor's second event, or a comment edit: no row, no swap."""
    path = _file(tmp_path)
    daemon = _daemon(path)
    path.write_text(BASE.replace("# the desk's", "# our desk's"))
    await daemon.risk_watcher.reload()
    await daemon.risk_watcher.reload()
    assert daemon.journal.rows == []
    assert daemon.log.lines == []


async def test_the_order_rate_window_survives_a_reload_and_restarts_after_no_rules(
    tmp_path: Path,
) -> None:
    """Two orders counted under ``max_orders: 3``; a reload to 2 refuses the third at once
    (the window kept). A reload to no rules and back starts from an empty window."""
    path = _file(tmp_path, BASE.replace('active: ""', "active: desk"))
    daemon = _daemon(path)
    clock = daemon.kernel.clock
    assert _buy(daemon, n=1) is None
    clock.now += 10 * SEC
    assert _buy(daemon, n=2) is None

    path.write_text(path.read_text().replace("max_orders: 3", "max_orders: 2"))
    await daemon.risk_watcher.reload()
    clock.now += 10 * SEC
    refused = _buy(daemon, n=3)

    assert refused is not None
    assert (refused.code, refused.message) == (
        "COMPLIANCE_ORDER_RATE",
        "entry s1-3: 2 orders in the last 60 s; rule set desk allows 2",
    )
    path.write_text(BASE)
    await daemon.risk_watcher.reload()
    path.write_text(
        BASE.replace('active: ""', "active: desk").replace("max_orders: 3", "max_orders: 2")
    )
    await daemon.risk_watcher.reload()
    assert _buy(daemon, n=4) is None


async def test_the_watch_queues_the_reload_on_the_operator_lane(tmp_path: Path) -> None:
    """The task watches the file and queues the re-read for the trading loop; a file
    beside it is ignored."""
    path = _file(tmp_path)
    daemon = _daemon(path)
    stopping = asyncio.Event()
    task = asyncio.create_task(daemon.risk_watcher.run(stopping))
    try:
        await asyncio.sleep(0.3)  # the watch is set up
        (tmp_path / "other.yaml").write_text("x: 1\n")
        await asyncio.sleep(0.6)
        assert not daemon.operator_lane
        path.write_text(BASE.replace('active: ""', "active: desk"))
        for _ in range(100):
            if daemon.operator_lane:
                break
            await asyncio.sleep(0.05)
        while daemon.operator_lane:  # what the trading loop runs between two events
            await daemon.operator_lane.popleft()()
    finally:
        stopping.set()
        await task
    assert daemon.risk_watcher.rule_set == "desk"
    assert _actions(daemon) == [APPLIED]


async def test_without_a_file_nothing_is_watched(tmp_path: Path) -> None:
    """No ``GENESIS_RISK_CONFIG``: the task returns at once; the rules stay the built-ins."""
    daemon = _daemon(_file(tmp_path))
    watcher = RiskConfigWatcher(daemon, None)
    await watcher.run(asyncio.Event())
    await watcher.reload()
    assert watcher.rule_set == ""
    assert daemon.journal.rows == []


@pytest.mark.parametrize(
    "text",
    ["", "# being edited\n", BASE.split("compliance:")[0], "compliance:\n  rule_sets: {}\n"],
    ids=["empty", "comment-only", "cut-off", "no-active"],
)
async def test_a_file_without_compliance_active_never_lifts_the_rules_in_force(
    tmp_path: Path, text: str
) -> None:
    """A truncating save (``> risk.yaml``), a file mid-edit or cut off parses as the
    defaults, which have no rules: refused while a set is in force, the set kept; lifting
    every rule takes an explicit ``active: ""``."""
    path = _file(tmp_path, BASE.replace('active: ""', "active: desk"))
    daemon = _daemon(path)
    in_force = daemon.kernel.risk.compliance
    path.write_text(text)

    await daemon.risk_watcher.reload()

    [(level, error)] = daemon.log.named(REJECTED)
    assert (level, error["field"], error["kept_rule_set"]) == ("error", "compliance", "desk")
    assert "compliance.active" in error["reason"]
    assert daemon.kernel.risk.compliance is in_force
    refused = _buy(daemon, "XRPUSDT")
    assert refused is not None
    assert refused.code == "COMPLIANCE_RESTRICTED"

    path.write_text(BASE)  # active: "" said outright: lifted
    await daemon.risk_watcher.reload()
    assert daemon.kernel.risk.compliance is None
    assert _actions(daemon) == [REJECTED, APPLIED]
