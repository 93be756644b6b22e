"""``python -m genesis journal export``: a session's orders and fills, in the backtest's formats.

The journal keeps every order intent's whole command (an ``order_events`` row of
kind ``SubmitOrder``) and every fill as an ``OrderFilled`` row, both in the order
the session made them. The export turns them back into the commands and events
they were and writes them with the backtest's own writers: ``orders.csv`` and
``fills.csv`` (``genesis.backtesting.output``). A paper session and its replay
(``backtest --data SESSION_LOG``) then compare byte for byte, with ``cmp``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis.backtesting.output import FillWriter, OrderWriter
from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderFilled
from genesis.daemon.records import INTENT, intent_from
from genesis.errors import ConfigError, DataError
from genesis.settings import load_settings
from genesis.storage import open_repository
from genesis.storage.factory import DEFAULT_SQLITE_NAME, LIVE_SQLITE_NAME, sqlite_path
from genesis.storage.repository import OrderEventRecord, SqlRepository

__all__ = ["add_parser", "fill_from", "journal_rows", "run", "write_export"]

_FILLED = "OrderFilled"
_Rows = tuple[list[OrderEventRecord], list[OrderEventRecord]]


def add_parser(sub: Any) -> None:
    """Register ``journal export``."""
    p = sub.add_parser("journal", help="read a session's journal")
    verbs = p.add_subparsers(dest="journal_command", required=True)
    e = verbs.add_parser(
        "export",
        help="the session's orders.csv and fills.csv, in the backtest's formats",
        formatter_class=p.formatter_class,
    )
    e.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="a SQLite journal file (default: the settings' database: GENESIS_DATABASE_URL,"
        " else genesis.db in GENESIS_DATA_DIR)",
    )
    e.add_argument(
        "--live", action="store_true", help="the live journal (genesis-live.db) by default"
    )
    e.add_argument("--out", type=Path, default=Path("journal-export"), help="output directory")


def run(args: argparse.Namespace) -> int:
    """Write the two files; print one line saying how many rows each has."""
    if args.journal is not None:
        if not args.journal.is_file():
            raise ConfigError(f"--journal {args.journal}: no such file")
        url: str | None = f"sqlite:///{args.journal.resolve()}"
        data_dir = args.journal.parent
    else:
        settings = load_settings()
        url = settings.database_url.get_secret_value() if settings.database_url else None
        data_dir = settings.data_dir
    name = LIVE_SQLITE_NAME if args.live else DEFAULT_SQLITE_NAME
    path = sqlite_path(url, data_dir, name)
    if path is not None and not path.is_file():  # opening would create an empty journal
        raise ConfigError(f"no journal at {path}; pass --journal FILE or set GENESIS_DATA_DIR")
    intents, filled = asyncio.run(_read(url, data_dir, name))
    orders, fills = write_export(intents, filled, args.out)
    print(json.dumps({"orders": orders, "fills": fills, "out": str(args.out)}))
    return 0


async def _read(url: str | None, data_dir: Path, name: str) -> _Rows:
    repo = await open_repository(url, data_dir, name)
    try:
        return await journal_rows(repo)
    finally:
        await repo.close()


async def journal_rows(repo: SqlRepository) -> _Rows:
    """The session's intent rows and fill rows, each in the order the session made them."""
    return await repo.order_events_of_kind(INTENT), await repo.order_events_of_kind(_FILLED)


def write_export(
    intents: Sequence[OrderEventRecord], filled: Sequence[OrderEventRecord], out_dir: Path
) -> tuple[int, int]:
    """Write ``orders.csv`` and ``fills.csv`` from the journal's rows; return their rows.

    Raises:
        ConfigError: ``out_dir`` cannot be written.
        DataError: a journaled intent or fill does not read back (names the order).
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        orders, fills = OrderWriter(out_dir / "orders.csv"), FillWriter(out_dir / "fills.csv")
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot write there ({exc.strerror or exc})") from None
    try:
        for record in intents:
            orders.add(_intent(record))
        for record in filled:
            fills.add(fill_from(record))
    finally:
        orders.close()
        fills.close()
    return orders.count, fills.count


def _intent(record: OrderEventRecord) -> SubmitOrder:
    try:
        return intent_from(record)
    except ValueError as exc:  # msgspec's errors are ValueErrors
        raise DataError(f"order {record.client_order_id}: intent unreadable ({exc})") from None


def fill_from(record: OrderEventRecord) -> OrderFilled:
    """The fill an ``OrderFilled`` journal row holds (``records.event_record``: every field
    but the ids and times as text; the row's time is the fill's).

    Raises:
        DataError: the row is not a readable fill (names the order).
    """
    try:
        detail = json.loads(record.detail_json)
        return OrderFilled(
            ts_event=record.ts_ns,
            ts_init=record.ts_ns,
            client_order_id=record.client_order_id,
            strategy_id=detail["strategy_id"],
            instrument_id=detail["instrument_id"],
            venue=detail["venue"],
            trade_id=detail["trade_id"],
            side=Side[_member(detail["side"])],
            last_qty=Decimal(detail["last_qty"]),
            last_px=Decimal(detail["last_px"]),
            fee=Decimal(detail["fee"]),
            fee_currency=detail["fee_currency"],
            liquidity=LiquiditySide[_member(detail["liquidity"])],
            venue_order_id=detail.get("venue_order_id", ""),
        )
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise DataError(
            f"order {record.client_order_id}: fill row unreadable ({type(exc).__name__}: {exc})"
        ) from None


def _member(text: str) -> str:
    """``Side.BUY`` (how the row writes an enum) or ``BUY`` -> ``BUY``."""
    return text.rsplit(".", 1)[-1]
