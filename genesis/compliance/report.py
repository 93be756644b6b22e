"""The compliance report of a period, from the journal's chained rows (SPEC OP-6).

Every decision comes from the two hash-chained tables (``genesis.storage.chain``),
so everything the report shows is covered by the chain whose verdict it prints:

=================  ==========================================================
category           rows
=================  ==========================================================
``order``          ``order_events`` intents (``SubmitOrder``: the whole command,
                   with the signal's confidence and decision price)
``rejection``      ``OrderDenied`` (risk, with its code) and ``OrderRejected``
                   (the venue)
``fill``           ``OrderFilled`` (price, quantity, fee, trade id)
``order_update``   the other order events (accepted, cancelled, expired...)
``kill_switch``    audit rows of the kill switch (global and per venue) and its
                   requests
``config``         audit rows of config changes (applied, rejected, parameters)
``breaker``        circuit breaker trips and clears
``audit``          every other audit row (session start, operator actions...)
=================  ==========================================================

The period is ``[from, to)`` in event time (UTC dates: ``--to`` is exclusive).
Output: ``decisions.csv`` (one row per decision, in time order),
``rejections_by_code.csv``, ``chain.csv`` and ``report.html`` (self-contained:
inline CSS, no script, no network).
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from genesis.backtesting.output import format_ts
from genesis.storage.chain import ChainStatus

__all__ = ["Decision", "ReportFiles", "decisions", "write_report"]

_KILL: Final = frozenset(
    {
        "kill_requested", "reset_requested", "kill_switch_engaged", "kill_switch_reset",
        "kill_switch_reset_refused", "venue_kill_engaged", "venue_kill_reset",
    }
)  # fmt: skip
_BREAKER: Final = frozenset({"breaker_tripped", "breaker_cleared"})
_CONFIG: Final = frozenset({"api_strategy_enabled", "api_strategy_disabled"})
_COLUMNS: Final = (
    "time_utc", "ts_ns", "category", "kind", "source", "client_order_id", "strategy_id",
    "instrument", "code", "detail",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Decision:
    """One row of the report."""

    ts_ns: int
    category: str
    kind: str  # the order event's type or the audit action
    source: str  # "<table>#<id>": the chained row it comes from
    client_order_id: str
    strategy_id: str
    instrument: str
    code: str  # a rejection's code ("" otherwise)
    detail: str  # a short sentence of what the row says

    def row(self) -> tuple[object, ...]:
        return (
            format_ts(self.ts_ns), self.ts_ns, self.category, self.kind, self.source,
            self.client_order_id, self.strategy_id, self.instrument, self.code, self.detail,
        )  # fmt: skip


def decisions(events: Iterable[Sequence[Any]], audits: Iterable[Sequence[Any]]) -> list[Decision]:
    """The decisions of ``order_events`` rows ``(id, client_order_id, ts_ns, kind, detail)``
    and ``audit_log`` rows ``(id, ts_ns, actor, action, detail)``, by time then source."""
    found = [_event(row) for row in events] + [_audit(row) for row in audits]
    return sorted(found, key=lambda d: (d.ts_ns, d.source))


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}


def _event(row: Sequence[Any]) -> Decision:
    row_id, cid, ts_ns, kind, text = row
    d = _json(text)
    code, category = "", "order_update"
    if kind == "SubmitOrder":
        category = "order"
        detail = (
            f"{d.get('side')} {d.get('quantity')} {d.get('order_type')}"
            f"{' @ ' + str(d['price']) if d.get('price') else ''}"
            f" confidence {d.get('confidence')} decision price {d.get('decision_price')}"
        )
    elif kind in ("OrderDenied", "OrderRejected"):
        category, code = "rejection", str(d.get("code", ""))
        who = "risk" if kind == "OrderDenied" else "venue"
        detail = f"{who}: {d.get('reason', '')}"
    elif kind == "OrderFilled":
        category = "fill"
        detail = (
            f"{_enum(d.get('side'))} {d.get('last_qty')} @ {d.get('last_px')} fee {d.get('fee')}"
            f" {d.get('fee_currency')} trade {d.get('trade_id')} on {d.get('venue')}"
        )
    else:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(d.items()) if k not in _IDS)
    return Decision(
        int(ts_ns), category, str(kind), f"order_events#{row_id}", str(cid),
        str(d.get("strategy_id", "")), str(d.get("instrument_id", "")), code, detail,
    )  # fmt: skip


_IDS: Final = frozenset({"strategy_id", "instrument_id"})


def _enum(value: object) -> str:
    """``Side.BUY`` (how order events journal an enum) as ``BUY``."""
    return str(value).rpartition(".")[2]


def _audit(row: Sequence[Any]) -> Decision:
    row_id, ts_ns, actor, action, text = row
    d = _json(text)
    if action in _KILL:
        category = "kill_switch"
    elif action in _BREAKER:
        category = "breaker"
    elif action in _CONFIG or str(action).startswith("config_"):
        category = "config"
    else:
        category = "audit"
    detail = f"by {actor}: " + json.dumps(d, sort_keys=True, default=str)
    return Decision(
        int(ts_ns), category, str(action), f"audit_log#{row_id}",
        str(d.get("client_order_id", "")), str(d.get("strategy_id", "")),
        str(d.get("instrument", d.get("instrument_id", ""))), str(d.get("code", "")), detail,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """What ``write_report`` wrote."""

    decisions_csv: Path
    rejections_csv: Path
    chain_csv: Path
    html: Path


def write_report(
    out: Path, since_ns: int, until_ns: int, found: list[Decision], chain: list[ChainStatus]
) -> ReportFiles:
    """Write the CSV files and the HTML page into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        out / "decisions.csv", out / "rejections_by_code.csv", out / "chain.csv",
        out / "report.html",
    )  # fmt: skip
    _csv(files.decisions_csv, _COLUMNS, [d.row() for d in found])
    codes = _by_code(found)
    _csv(files.rejections_csv, ("code", "count"), codes)
    chain_cols = ("table", "ok", "rows", "legacy", "broken_id", "reason", "head")
    _csv(files.chain_csv, chain_cols, [tuple(s.as_fields().values()) for s in chain])
    files.html.write_text(_html(since_ns, until_ns, found, codes, chain), encoding="utf-8")
    return files


def _by_code(found: list[Decision]) -> list[tuple[str, int]]:
    counts = Counter(d.code or d.kind for d in found if d.category == "rejection")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


_CSS: Final = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}.ok{color:#176317}.broken{color:#b00020;font-weight:bold}"
)
_SECTIONS: Final = (
    ("order", "Orders"),
    ("rejection", "Rejections"),
    ("fill", "Fills"),
    ("kill_switch", "Kill switch"),
    ("config", "Configuration changes"),
    ("breaker", "Circuit breakers"),
    ("order_update", "Other order events"),
    ("audit", "Other audit entries"),
)


def _html(
    since_ns: int,
    until_ns: int,
    found: list[Decision],
    codes: list[tuple[str, int]],
    chain: list[ChainStatus],
) -> str:
    esc = html.escape
    period = f"{esc(format_ts(since_ns))} to {esc(format_ts(until_ns))}"
    intact = all(s.ok for s in chain)
    verdict = "intact" if intact else "BROKEN"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Compliance report {period}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Compliance report</h1><p>Period (UTC, end exclusive): {period}."
        f" {len(found)} decisions.</p>",
        f"<h2>Audit chain: <span class='{'ok' if intact else 'broken'}'>{verdict}</span></h2>",
        "<ul>",
        *(f"<li class='{'ok' if s.ok else 'broken'}'>{esc(s.describe())}</li>" for s in chain),
        "</ul><p>Keep the heads above: rows cut off the end of a table are found by"
        " comparing them with a later report.</p>",
        "<h2>Rejections by code</h2>",
        _table(("code", "count"), codes),
    ]
    for category, title in _SECTIONS:
        rows = [d.row() for d in found if d.category == category]
        parts.append(f"<h2>{esc(title)} ({len(rows)})</h2>")
        if rows:
            parts.append(_table(_COLUMNS, rows))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
