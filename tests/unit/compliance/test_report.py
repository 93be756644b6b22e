"""``genesis compliance-report`` and ``genesis audit verify`` on a real SQLite journal:
the rows the daemon writes for an order, its fill, a compliance denial, a kill switch
and a config change come out as exact CSV rows and an HTML page with the chain's
verdict; a tampered row turns both commands to exit 1.

Prices are the real first bundled BTCUSDT bar (2021-12-31 23:01 UTC, close 46377.0).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import build_parser
from genesis.compliance.cli import parse_bound, run
from genesis.core.events import OrderDenied
from genesis.daemon.records import event_record, fill_record, intent_detail, intent_record
from genesis.errors import ConfigError
from genesis.storage import SqlRepository, open_repository
from genesis.testing.builders import MINUTE_NS, T0, fill, order, submit

CLOSE = Decimal("46377.0")


async def _journal(data_dir: Path, tamper: bool = False) -> None:
    repo: SqlRepository = await open_repository(None, data_dir)
    try:
        intent = submit(client_order_id="s1-1")
        denied = OrderDenied(
            ts_event=T0 + MINUTE_NS, ts_init=T0 + MINUTE_NS, client_order_id="s1-2",
            strategy_id="s1", instrument_id="BTCUSDT", code="COMPLIANCE_ORDER_RATE",
            reason="entry s1-2: 1 orders in the last 3600 s; rule set desk allows 1",
        )  # fmt: skip
        filled = fill(last_px=CLOSE, trade_id="T1", client_order_id="s1-1", ts=T0 + 1)
        refused = order(client_order_id="s1-2", ts_init=T0 + MINUTE_NS)
        await repo.write_batch(
            [
                intent_record(intent, "BINANCE"), intent_detail(intent),
                event_record(filled), fill_record(filled),
                intent_record(submit(client_order_id="s1-2", ts_init=refused.ts_init), "BINANCE"),
                event_record(denied),
            ]
        )  # fmt: skip
        await repo.append_audit(T0 + 2, "daemon", "config_applied", '{"strategy_id": "s1"}')
        await repo.append_audit(T0 + 3, "api", "kill_switch_engaged", '{"reason": "manual"}')
        await repo.append_audit(T0 + 86_400 * 10**9, "api", "kill_switch_reset", "{}")
        if tamper:
            async with repo._transaction() as tx:
                await tx.run("UPDATE order_events SET detail_json = '{}' WHERE id = 2")
    finally:
        await repo.close()


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def _report(tmp_path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run(
        _args("compliance-report", "--from", "2021-12-31", "--to", "2021-12-31",
              "--out", str(tmp_path / "report"), "--data-dir", str(tmp_path)),
        out,
    )  # fmt: skip
    return code, out.getvalue()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_report_lists_the_period_decisions_in_time_order(tmp_path: Path) -> None:
    """Intent, fill, config change, kill switch, denial; the reset a day later is left out."""
    asyncio.run(_journal(tmp_path))

    code, said = _report(tmp_path)
    rows = _rows(tmp_path / "report" / "decisions.csv")

    assert code == 0
    assert said.startswith("5 decisions; audit chain intact\n")
    assert [(r["time_utc"], r["category"], r["kind"], r["source"], r["code"]) for r in rows] == [
        ("2021-12-31 23:01:00", "order", "SubmitOrder", "order_events#1", ""),
        ("2021-12-31 23:01:00.000000", "fill", "OrderFilled", "order_events#2", ""),
        ("2021-12-31 23:01:00.000000", "config", "config_applied", "audit_log#1", ""),
        ("2021-12-31 23:01:00.000000", "kill_switch", "kill_switch_engaged", "audit_log#2", ""),
        ("2021-12-31 23:02:00", "rejection", "OrderDenied", "order_events#3",
         "COMPLIANCE_ORDER_RATE"),
    ]  # fmt: skip
    assert rows[0]["detail"] == "BUY 0.01 MARKET confidence None decision price None"
    assert rows[1]["detail"] == "BUY 0.01 @ 46377.0 fee 0 USDT trade T1 on SIM"
    assert rows[4]["detail"] == (
        "risk: entry s1-2: 1 orders in the last 3600 s; rule set desk allows 1"
    )


def test_report_counts_rejections_by_code_and_prints_the_chain(tmp_path: Path) -> None:
    """rejections_by_code.csv has the one code; the HTML says intact and shows each section."""
    asyncio.run(_journal(tmp_path))

    _report(tmp_path)
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")

    assert _rows(tmp_path / "report" / "rejections_by_code.csv") == [
        {"code": "COMPLIANCE_ORDER_RATE", "count": "1"}
    ]
    assert [r["ok"] for r in _rows(tmp_path / "report" / "chain.csv")] == ["True", "True"]
    assert "Audit chain: <span class='ok'>intact</span>" in page
    for title in ("Orders (1)", "Rejections (1)", "Fills (1)", "Kill switch (1)",
                  "Configuration changes (1)"):  # fmt: skip
        assert f"<h2>{title}</h2>" in page
    assert "<script" not in page
    assert "http" not in page


def test_tampered_fill_breaks_the_report_and_audit_verify(tmp_path: Path) -> None:
    """The fill row (id 2) edited: the report says BROKEN and exits 1; so does verify."""
    asyncio.run(_journal(tmp_path, tamper=True))
    out = io.StringIO()

    code, said = _report(tmp_path)
    verify = run(_args("audit", "verify", "--data-dir", str(tmp_path)), out)

    assert (code, verify) == (1, 1)
    assert "audit chain BROKEN" in said
    assert out.getvalue().splitlines()[0] == (
        "order_events: BROKEN at id 2: row_hash does not match the row's content (edited)"
    )
    assert "class='broken'>BROKEN" in (tmp_path / "report" / "report.html").read_text("utf-8")


def test_audit_verify_passes_an_intact_journal(tmp_path: Path) -> None:
    """Three order events and three audit rows, intact: exit 0, one line per table."""
    asyncio.run(_journal(tmp_path))
    out = io.StringIO()

    code = run(_args("audit", "verify", "--data-dir", str(tmp_path)), out)

    lines = out.getvalue().splitlines()
    assert code == 0
    assert [line.split(", head")[0] for line in lines] == [
        "order_events: intact, 3 rows (0 before the chain)",
        "audit_log: intact, 3 rows (0 before the chain)",
    ]


def test_bounds_a_date_is_a_whole_utc_day() -> None:
    """--from a date is its midnight, --to the next one; a time is exact."""
    assert parse_bound("2021-12-31", end=False) == 1_640_908_800_000_000_000
    assert parse_bound("2021-12-31", end=True) == 1_640_995_200_000_000_000
    assert parse_bound("2021-12-31T23:01:00", end=True) == T0


def test_a_bad_bound_is_a_config_error_naming_the_flag() -> None:
    """Not a date: ConfigError naming --to and the expected forms."""
    with pytest.raises(ConfigError, match=r"^--to '31/12/2021': expected a date"):
        parse_bound("31/12/2021", end=True)
