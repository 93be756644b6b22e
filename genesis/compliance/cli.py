"""``python -m genesis audit verify`` and ``python -m genesis compliance-report``.

* ``audit verify``: walk the journal's hash chain (``genesis.storage.chain``) and
  print one line per table; exit 0 when intact, 1 when a table is broken (the
  line names the first broken row).
* ``compliance-report --from DATE --to DATE --out DIR``: the decisions of the
  period as CSV and self-contained HTML (``genesis.compliance.report``), with the
  chain's verdict; exit 1 (the report still written) when the chain is broken.
  A date alone (``2026-01-31``) means that whole UTC day, so ``--to`` includes it;
  a time (``2026-01-31T12:00``) is exact and ``--to`` excludes it.

The journal is the daemon's: ``GENESIS_DATABASE_URL``, else the SQLite file in
``--data-dir`` (default ``GENESIS_DATA_DIR``). Opening it applies pending
migrations, as every command reading the journal does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from genesis.compliance.report import decisions, write_report
from genesis.errors import ConfigError
from genesis.settings import load_settings
from genesis.storage import open_repository
from genesis.storage.chain import ChainStatus

__all__ = ["add_parser", "parse_bound", "run"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_parser(sub: Any) -> None:
    """Register ``audit`` (verb ``verify``) and ``compliance-report``."""
    a = sub.add_parser("audit", help="verify the journal's tamper-evident audit chain")
    verbs = a.add_subparsers(dest="verb", required=True)
    v = verbs.add_parser("verify", help="walk the hash chain; exit 1 when broken")
    _journal_args(v)
    r = sub.add_parser("compliance-report", help="orders, rejections, fills, kill switch, config")
    r.add_argument("--from", dest="since", required=True, help="first day (UTC) or ISO time")
    r.add_argument("--to", dest="until", required=True, help="last day (included) or ISO time")
    r.add_argument("--out", type=Path, required=True, help="directory for the CSV and HTML files")
    _journal_args(r)


def _journal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=Path, default=None, help="data directory (default: GENESIS_DATA_DIR)"
    )


def parse_bound(text: str, *, end: bool) -> int:
    """ns since the epoch of ``text``: a date is its UTC midnight (the next one for an
    ``end``); an ISO time is taken as given (UTC unless it names an offset).

    Raises:
        ConfigError: neither a date nor an ISO time.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment += timedelta(days=1) if end else timedelta(0)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        kind = "--to" if end else "--from"
        raise ConfigError(
            f"{kind} {text!r}: expected a date (2026-01-31) or an ISO time (2026-01-31T12:00)"
        ) from None
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def run(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    """Run the command; return the exit code (bad arguments raise ConfigError)."""
    settings = load_settings(data_dir=args.data_dir)
    url = settings.database_url.get_secret_value() if settings.database_url else None
    if args.command == "audit":
        chain = asyncio.run(_verify(url, settings.data_dir))
        for status in chain:
            out.write(status.describe() + "\n")
        return 0 if all(s.ok for s in chain) else 1
    since, until = parse_bound(args.since, end=False), parse_bound(args.until, end=True)
    if until <= since:
        raise ConfigError(f"--to {args.until} is not after --from {args.since}")
    events, audits, chain = asyncio.run(_read(url, settings.data_dir, since, until))
    found = decisions(events, audits)
    files = write_report(args.out, since, until, found, chain)
    verdict = "intact" if all(s.ok for s in chain) else "BROKEN"
    out.write(
        f"{len(found)} decisions; audit chain {verdict}\n"
        f"wrote {files.decisions_csv}, {files.rejections_csv}, {files.chain_csv}, {files.html}\n"
    )
    return 0 if verdict == "intact" else 1


async def _verify(url: str | None, data_dir: Path) -> list[ChainStatus]:
    repo = await open_repository(url, data_dir)
    try:
        return await repo.verify_chain()
    finally:
        await repo.close()


async def _read(
    url: str | None, data_dir: Path, since: int, until: int
) -> tuple[list[Any], list[Any], list[ChainStatus]]:
    repo = await open_repository(url, data_dir)
    try:
        events = await repo.chained_between("order_events", since, until)
        audits = await repo.chained_between("audit_log", since, until)
        return events, audits, await repo.verify_chain()
    finally:
        await repo.close()
