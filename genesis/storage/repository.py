"""The repository contract, its record types, and the SQL shared by both backends.

Records are frozen dataclasses; money is ``Decimal`` and is read back exactly
(TEXT in SQLite, NUMERIC in PostgreSQL). Both backends run the same SQL: it is
written once here with ``?`` placeholders and only the low-level transaction
(``_Tx``) differs per backend. Migrations are the numbered files in
``migrations/``; ``{{money}}``-style placeholders in them are mapped through
``TYPE_MAP``, and each applied version is recorded in ``schema_migrations``.
"""

from __future__ import annotations

import abc
import functools
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any, Final, Literal, Protocol

import msgspec

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.storage.chain import CHAINED, ChainStatus, Verifier, link_rows

__all__ = [
    "CHAIN_OF",
    "MAX_PARAMS",
    "TYPE_MAP",
    "AuditRecord",
    "BalanceRecord",
    "ConfigVersionRecord",
    "EmulatedStateRecord",
    "FillRecord",
    "Migration",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "Repository",
    "SqlRepository",
    "StrategyStateRecord",
    "WriteRecord",
    "batch_groups",
    "chain_head_sql",
    "load_migrations",
    "multi_row",
]

Backend = Literal["sqlite", "postgres"]

TYPE_MAP: Final[dict[Backend, dict[str, str]]] = {
    "sqlite": {
        "{{money}}": "TEXT",
        "{{bytes}}": "BLOB",
        "{{id}}": "INTEGER PRIMARY KEY AUTOINCREMENT",
    },
    "postgres": {
        "{{money}}": "NUMERIC",
        "{{bytes}}": "BYTEA",
        "{{id}}": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    },
}

_MIGRATION_NAME: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


# The records the writer queues are Structs, not frozen dataclasses: several are made
# for every order, and a frozen dataclass sets each field through object.__setattr__.
class OrderRecord(msgspec.Struct, frozen=True, gc=False):
    """The persisted state of one order (upserted by ``client_order_id``)."""

    client_order_id: str
    strategy_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    status: OrderStatus
    filled_qty: Decimal
    venue_order_id: str
    ts_init: int  # ns since the Unix epoch
    ts_last: int  # ns


class OrderEventRecord(msgspec.Struct, frozen=True, gc=False):
    """One lifecycle event of a known order; ``detail_json`` is opaque JSON text."""

    client_order_id: str
    ts_ns: int
    kind: str
    detail_json: str


class FillRecord(msgspec.Struct, frozen=True, gc=False):
    """One execution; unique by ``(venue, symbol, trade_id)``."""

    venue: str
    symbol: str
    trade_id: str
    client_order_id: str
    venue_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    ts_ns: int


class PositionRecord(msgspec.Struct, frozen=True, gc=False):
    """Net position in one instrument at one venue; ``quantity`` is signed."""

    venue: str
    symbol: str
    quantity: Decimal
    avg_px: Decimal
    realized_pnl: Decimal
    ts_ns: int


class BalanceRecord(msgspec.Struct, frozen=True, gc=False):
    """Balance of one asset at one venue."""

    venue: str
    asset: str
    free: Decimal
    locked: Decimal
    ts_ns: int


class StrategyStateRecord(msgspec.Struct, frozen=True, gc=False):
    """One snapshot of a strategy's opaque state.

    ``latest_only``: a mark only the newest of which is ever read (the daemon's progress
    mark, queued after every event); the writer keeps the last of one transaction's
    marks for a strategy id and drops those it supersedes (``storage.writer``).
    """

    strategy_id: str
    ts_ns: int
    blob: bytes
    latest_only: bool = False


@dataclass(frozen=True, slots=True)
class ConfigVersionRecord:
    """One version of a named configuration, identified by the SHA-256 of its body."""

    name: str
    sha256: str
    body: str
    ts_ns: int


class EmulatedStateRecord(msgspec.Struct, frozen=True, gc=False):
    """What the kernel holds of one emulated order (upserted by ``client_order_id``: the
    latest state wins). ``trigger`` is NULL where the order's own trigger applies."""

    client_order_id: str
    watermark: Decimal | None  # a trailing stop's best price since acceptance
    trigger: Decimal | None
    triggered: bool  # released to its venue
    slice_no: int  # an iceberg's working slice (0: none)
    slice_leaves: Decimal  # what that slice has left
    ts_ns: int


class AuditRecord(msgspec.Struct, frozen=True, gc=False):
    """One audit-log entry; ``detail_json`` is opaque JSON text."""

    ts_ns: int
    actor: str
    action: str
    detail_json: str


WriteRecord = (
    OrderRecord
    | OrderEventRecord
    | FillRecord
    | PositionRecord
    | BalanceRecord
    | StrategyStateRecord
    | ConfigVersionRecord
    | AuditRecord
    | EmulatedStateRecord
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file, with its statements mapped for one backend."""

    version: int
    name: str
    statements: tuple[str, ...]


class Repository(Protocol):
    """Async persistence port. Every failure is raised as ``StorageError``."""

    async def migrate(self) -> list[int]: ...
    async def save_order(self, order: OrderRecord) -> None: ...
    async def load_open_orders(self) -> list[OrderRecord]: ...
    async def load_orders(self) -> list[OrderRecord]: ...
    async def append_order_event(self, event: OrderEventRecord) -> None: ...
    async def order_events(self, client_order_id: str) -> list[OrderEventRecord]: ...
    async def order_events_of_kind(self, kind: str) -> list[OrderEventRecord]: ...
    async def save_fill(self, fill: FillRecord) -> bool: ...
    async def fills_since(self, ts_ns: int) -> list[FillRecord]: ...
    async def save_balances(self, balances: Sequence[BalanceRecord]) -> None: ...
    async def load_balances(self) -> list[BalanceRecord]: ...
    async def save_positions(self, positions: Sequence[PositionRecord]) -> None: ...
    async def load_positions(self) -> list[PositionRecord]: ...
    async def save_strategy_state(self, strategy_id: str, ts_ns: int, blob: bytes) -> None: ...
    async def load_strategy_state(self, strategy_id: str) -> StrategyStateRecord | None: ...
    async def save_config_version(self, name: str, sha256: str, body: str, ts_ns: int) -> bool: ...
    async def config_versions(self, name: str) -> list[ConfigVersionRecord]: ...
    async def append_audit(self, ts_ns: int, actor: str, action: str, detail_json: str) -> None: ...
    async def audit_log(self, since_ts_ns: int = 0) -> list[AuditRecord]: ...
    async def save_emulated(self, state: EmulatedStateRecord) -> None: ...
    async def load_emulated(self) -> list[EmulatedStateRecord]: ...
    async def write_batch(self, records: Sequence[WriteRecord]) -> None: ...
    async def close(self) -> None: ...


def load_migrations(backend: Backend) -> list[Migration]:
    """Read the packaged ``migrations/NNNN_name.sql`` files in version order.

    Returns:
        One ``Migration`` per file, placeholders mapped through ``TYPE_MAP[backend]``.
    """
    folder = resources.files("genesis.storage").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        text = entry.read_text(encoding="utf-8")
        for token, sql_type in TYPE_MAP[backend].items():
            text = text.replace(token, sql_type)
        found.append(Migration(int(match.group(1)), match.group(2), _statements(text)))
    return sorted(found, key=lambda m: m.version)


def _statements(script: str) -> tuple[str, ...]:
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return tuple(part.strip() for part in code.split(";") if part.strip())


# --- the SQL shared by both backends -----------------------------------------

Row = Sequence[Any]


class _Tx(Protocol):
    """One open transaction; SQL uses ``?`` placeholders."""

    async def run(self, sql: str, params: Sequence[object] = ()) -> int: ...
    async def run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """``sql`` for every row, in order (``multi_row`` statements)."""

    async def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


# NEW counts: a persisted intent may have reached the venue just before a crash,
# so recovery must reconcile it (ENG-4). Only terminal orders are left out.
_OPEN_STATUSES: Final = tuple(s.value for s in OrderStatus if not s.is_terminal)
_ORDER_COLS: Final = (
    "client_order_id, strategy_id, venue, symbol, side, order_type, quantity, price, "
    "status, filled_qty, venue_order_id, ts_init, ts_last"
)
_FILL_COLS: Final = (
    "venue, symbol, trade_id, client_order_id, venue_order_id, side, price, quantity, "
    "fee, fee_currency, ts_ns"
)
_SAVE_ORDER: Final = (
    f"INSERT INTO orders ({_ORDER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - constant column list
    "ON CONFLICT (client_order_id) DO UPDATE SET strategy_id = excluded.strategy_id, "
    "venue = excluded.venue, symbol = excluded.symbol, side = excluded.side, "
    "order_type = excluded.order_type, quantity = excluded.quantity, price = excluded.price, "
    "status = excluded.status, filled_qty = excluded.filled_qty, "
    "venue_order_id = excluded.venue_order_id, ts_init = excluded.ts_init, "
    "ts_last = excluded.ts_last"
)
_SAVE_FILL: Final = (
    f"INSERT INTO fills ({_FILL_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - constant column list
    "ON CONFLICT (venue, symbol, trade_id) DO NOTHING"
)
_SAVE_BALANCE: Final = (
    "INSERT INTO balances (venue, asset, free, locked, ts_ns) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (venue, asset) DO UPDATE SET free = excluded.free, "
    "locked = excluded.locked, ts_ns = excluded.ts_ns"
)
_SAVE_POSITION: Final = (
    "INSERT INTO positions (venue, symbol, quantity, avg_px, realized_pnl, ts_ns) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (venue, symbol) DO UPDATE SET "
    "quantity = excluded.quantity, avg_px = excluded.avg_px, "
    "realized_pnl = excluded.realized_pnl, ts_ns = excluded.ts_ns"
)
_SAVE_CONFIG: Final = (
    "INSERT INTO config_versions (name, sha256, body, ts_ns) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name, sha256) DO NOTHING"
)
_EMULATED_COLS: Final = (
    "client_order_id, watermark, trigger_price, triggered, slice_no, slice_leaves, ts_ns"
)
_SAVE_EMULATED: Final = (
    f"INSERT INTO emulated_orders ({_EMULATED_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - constant column list
    "ON CONFLICT (client_order_id) DO UPDATE SET watermark = excluded.watermark, "
    "trigger_price = excluded.trigger_price, triggered = excluded.triggered, "
    "slice_no = excluded.slice_no, slice_leaves = excluded.slice_leaves, "
    "ts_ns = excluded.ts_ns"
)
_OPEN_ORDERS: Final = (
    f"SELECT {_ORDER_COLS} FROM orders "  # noqa: S608 - constant column list and markers
    f"WHERE status IN ({', '.join('?' for _ in _OPEN_STATUSES)}) "
    "ORDER BY ts_init, client_order_id"
)
_ALL_ORDERS: Final = (
    f"SELECT {_ORDER_COLS} FROM orders "  # noqa: S608 - constant column list
    "ORDER BY ts_init, client_order_id"
)
_FILLS_SINCE: Final = (
    f"SELECT {_FILL_COLS} FROM fills "  # noqa: S608 - constant column list
    "WHERE ts_ns >= ? ORDER BY ts_ns, venue, trade_id"
)
_APPEND_EVENT: Final = (
    "INSERT INTO order_events (client_order_id, ts_ns, kind, detail_json, prev_hash, row_hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_APPEND_STATE: Final = "INSERT INTO strategy_state (strategy_id, ts_ns, blob) VALUES (?, ?, ?)"
_APPEND_AUDIT: Final = (
    "INSERT INTO audit_log (ts_ns, actor, action, detail_json, prev_hash, row_hash) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# the statements whose rows are hash-chained (genesis.storage.chain): rows are given
# without their two hashes, which ``link`` appends inside the writing transaction
CHAIN_OF: Final[dict[str, str]] = {_APPEND_EVENT: "order_events", _APPEND_AUDIT: "audit_log"}
_CHAIN_PAGE: Final = 10_000


_CHAIN_LOCK_KEYS: Final = {"order_events": 0x6765_6E01, "audit_log": 0x6765_6E02}


@functools.lru_cache(maxsize=4)
def chain_head_sql(table: str) -> str:
    """The last ``row_hash`` of a chained table (NULL before the chain, none when empty)."""
    if table not in CHAINED:
        raise ValueError(f"{table} is not a chained table")
    return f"SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1"  # noqa: S608 - checked name


def _order_row(o: OrderRecord) -> tuple[object, ...]:
    return (
        o.client_order_id, o.strategy_id, o.venue, o.symbol, o.side.value,
        o.order_type.value, o.quantity, o.price, o.status.value, o.filled_qty,
        o.venue_order_id, o.ts_init, o.ts_last,
    )  # fmt: skip


def _order_from(r: Row) -> OrderRecord:
    return OrderRecord(
        r[0], r[1], r[2], r[3], Side(r[4]), OrderType(r[5]), Decimal(r[6]),
        None if r[7] is None else Decimal(r[7]), OrderStatus(r[8]), Decimal(r[9]),
        r[10], int(r[11]), int(r[12]),
    )  # fmt: skip


def _emulated_row(e: EmulatedStateRecord) -> tuple[object, ...]:
    # a flag as 0/1: one INTEGER column on both backends, one shared statement
    return (
        e.client_order_id, e.watermark, e.trigger, int(e.triggered), e.slice_no,
        e.slice_leaves, e.ts_ns,
    )  # fmt: skip


def _emulated_from(r: Row) -> EmulatedStateRecord:
    return EmulatedStateRecord(
        r[0], None if r[1] is None else Decimal(r[1]), None if r[2] is None else Decimal(r[2]),
        bool(r[3]), int(r[4]), Decimal(r[5]), int(r[6]),
    )  # fmt: skip


def _fill_row(f: FillRecord) -> tuple[object, ...]:
    return (
        f.venue, f.symbol, f.trade_id, f.client_order_id, f.venue_order_id, f.side.value,
        f.price, f.quantity, f.fee, f.fee_currency, f.ts_ns,
    )  # fmt: skip


def _fill_from(r: Row) -> FillRecord:
    return FillRecord(
        r[0], r[1], r[2], r[3], r[4], Side(r[5]), Decimal(r[6]), Decimal(r[7]),
        Decimal(r[8]), r[9], int(r[10]),
    )  # fmt: skip


class SqlRepository(abc.ABC):
    """``Repository`` on top of one backend's transactions; see the backends' modules.

    Subclasses provide ``_transaction()`` (serialised per connection) and
    ``close()``; every public method runs in one transaction of its own.
    """

    backend: Backend

    @abc.abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[_Tx]:
        """One transaction on the backend's connection (serialised)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection(s)."""

    async def migrate(self) -> list[int]:
        """Apply every migration not yet recorded in ``schema_migrations``.

        Returns:
            The versions applied by this call, ascending (empty when up to date).

        Raises:
            StorageError: a statement failed; that migration is rolled back.
        """
        create = (
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        async with self._transaction() as tx:
            await tx.run(create)
            done = {int(r[0]) for r in await tx.rows("SELECT version FROM schema_migrations")}
        applied: list[int] = []
        for migration in load_migrations(self.backend):
            if migration.version in done:
                continue
            async with self._transaction() as tx:
                for statement in migration.statements:
                    await tx.run(statement)
                await tx.run(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
            applied.append(migration.version)
        return applied

    async def save_order(self, order: OrderRecord) -> None:
        """Insert or replace the order with this ``client_order_id``."""
        async with self._transaction() as tx:
            await tx.run(_SAVE_ORDER, _order_row(order))

    async def load_open_orders(self) -> list[OrderRecord]:
        """Orders not in a terminal status (NEW included), by ``ts_init`` then id."""
        async with self._transaction() as tx:
            return [_order_from(r) for r in await tx.rows(_OPEN_ORDERS, _OPEN_STATUSES)]

    async def load_orders(self) -> list[OrderRecord]:
        """Every journaled order, whatever its status, by ``ts_init`` then id."""
        async with self._transaction() as tx:
            return [_order_from(r) for r in await tx.rows(_ALL_ORDERS, ())]

    async def append_order_event(self, event: OrderEventRecord) -> None:
        """Append one event; the order must have been saved (foreign key)."""
        async with self._transaction() as tx:
            await self._append_event(tx, event)

    async def order_events(self, client_order_id: str) -> list[OrderEventRecord]:
        """Events of one order in the order they were appended."""
        sql = (
            "SELECT client_order_id, ts_ns, kind, detail_json FROM order_events "
            "WHERE client_order_id = ? ORDER BY id"
        )
        async with self._transaction() as tx:
            rows = await tx.rows(sql, (client_order_id,))
        return [OrderEventRecord(r[0], int(r[1]), r[2], r[3]) for r in rows]

    async def order_events_of_kind(self, kind: str) -> list[OrderEventRecord]:
        """Every order's events of one kind (``SubmitOrder``: the intents; ``OrderFilled``),
        in the order they were appended (the session's own order)."""
        sql = (
            "SELECT client_order_id, ts_ns, kind, detail_json FROM order_events "
            "WHERE kind = ? ORDER BY id"
        )
        async with self._transaction() as tx:
            rows = await tx.rows(sql, (kind,))
        return [OrderEventRecord(r[0], int(r[1]), r[2], r[3]) for r in rows]

    async def save_fill(self, fill: FillRecord) -> bool:
        """Store a fill once.

        Returns:
            True when stored; False when ``(venue, symbol, trade_id)`` already
            existed, in which case nothing changes.
        """
        async with self._transaction() as tx:
            return await tx.run(_SAVE_FILL, _fill_row(fill)) == 1

    async def fills_since(self, ts_ns: int) -> list[FillRecord]:
        """Fills with ``ts_ns >=`` the given ns timestamp, by time then trade id."""
        async with self._transaction() as tx:
            return [_fill_from(r) for r in await tx.rows(_FILLS_SINCE, (ts_ns,))]

    async def save_balances(self, balances: Sequence[BalanceRecord]) -> None:
        """Upsert balances by ``(venue, asset)``, all in one transaction."""
        async with self._transaction() as tx:
            for balance in balances:
                await self._save_balance(tx, balance)

    async def load_balances(self) -> list[BalanceRecord]:
        """All balances, by venue then asset."""
        sql = "SELECT venue, asset, free, locked, ts_ns FROM balances ORDER BY venue, asset"
        async with self._transaction() as tx:
            rows = await tx.rows(sql)
        return [BalanceRecord(r[0], r[1], Decimal(r[2]), Decimal(r[3]), int(r[4])) for r in rows]

    async def save_positions(self, positions: Sequence[PositionRecord]) -> None:
        """Upsert positions by ``(venue, symbol)``, all in one transaction."""
        async with self._transaction() as tx:
            for position in positions:
                await self._save_position(tx, position)

    async def load_positions(self) -> list[PositionRecord]:
        """All positions, by venue then symbol."""
        sql = (
            "SELECT venue, symbol, quantity, avg_px, realized_pnl, ts_ns FROM positions "
            "ORDER BY venue, symbol"
        )
        async with self._transaction() as tx:
            rows = await tx.rows(sql)
        return [
            PositionRecord(r[0], r[1], Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), int(r[5]))
            for r in rows
        ]

    async def save_strategy_state(self, strategy_id: str, ts_ns: int, blob: bytes) -> None:
        """Append a state snapshot; older snapshots are kept."""
        async with self._transaction() as tx:
            await self._append_state(tx, StrategyStateRecord(strategy_id, ts_ns, blob))

    async def load_strategy_state(self, strategy_id: str) -> StrategyStateRecord | None:
        """The latest snapshot (greatest ``ts_ns``, then last written), or None."""
        sql = (
            "SELECT strategy_id, ts_ns, blob FROM strategy_state WHERE strategy_id = ? "
            "ORDER BY ts_ns DESC, id DESC LIMIT 1"
        )
        async with self._transaction() as tx:
            rows = await tx.rows(sql, (strategy_id,))
        return StrategyStateRecord(rows[0][0], int(rows[0][1]), bytes(rows[0][2])) if rows else None

    async def save_config_version(self, name: str, sha256: str, body: str, ts_ns: int) -> bool:
        """Store a config version once.

        Returns:
            True when stored; False when ``(name, sha256)`` already existed (unchanged).
        """
        async with self._transaction() as tx:
            return await tx.run(_SAVE_CONFIG, (name, sha256, body, ts_ns)) == 1

    async def config_versions(self, name: str) -> list[ConfigVersionRecord]:
        """Versions of one config, oldest first."""
        sql = (
            "SELECT name, sha256, body, ts_ns FROM config_versions WHERE name = ? "
            "ORDER BY ts_ns, sha256"
        )
        async with self._transaction() as tx:
            rows = await tx.rows(sql, (name,))
        return [ConfigVersionRecord(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def append_audit(self, ts_ns: int, actor: str, action: str, detail_json: str) -> None:
        """Append one audit entry."""
        async with self._transaction() as tx:
            await self._append_audit(tx, AuditRecord(ts_ns, actor, action, detail_json))

    async def audit_log(self, since_ts_ns: int = 0) -> list[AuditRecord]:
        """Audit entries with ``ts_ns >= since_ts_ns`` in the order they were appended."""
        sql = "SELECT ts_ns, actor, action, detail_json FROM audit_log WHERE ts_ns >= ? ORDER BY id"
        async with self._transaction() as tx:
            rows = await tx.rows(sql, (since_ts_ns,))
        return [AuditRecord(int(r[0]), r[1], r[2], r[3]) for r in rows]

    async def chained_between(self, table: str, since_ns: int, until_ns: int) -> list[Row]:
        """Rows ``(id, *content)`` of a chained table (``chain.CHAINED``) with ``since_ns <=
        ts_ns < until_ns``, by id: what the compliance report reads.

        Raises:
            ValueError: ``table`` is not chained.
        """
        if table not in CHAINED:
            raise ValueError(f"{table} is not a chained table")
        sql = (
            f"SELECT id, {', '.join(CHAINED[table])} FROM {table} "  # noqa: S608 - checked name
            "WHERE ts_ns >= ? AND ts_ns < ? ORDER BY id"
        )
        async with self._transaction() as tx:
            return await tx.rows(sql, (since_ns, until_ns))

    async def save_emulated(self, state: EmulatedStateRecord) -> None:
        """Insert or replace the emulated state of ``state.client_order_id``."""
        async with self._transaction() as tx:
            await tx.run(_SAVE_EMULATED, _emulated_row(state))

    async def load_emulated(self) -> list[EmulatedStateRecord]:
        """Every order's latest emulated state, by client order id."""
        sql = (
            f"SELECT {_EMULATED_COLS} FROM emulated_orders "  # noqa: S608 - constant column list
            "ORDER BY client_order_id"
        )
        async with self._transaction() as tx:
            return [_emulated_from(r) for r in await tx.rows(sql)]

    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        """Write mixed records in one transaction (all or nothing), as if one by one in order.

        A duplicate fill or config version is skipped, as in ``save_fill``. The
        records are grouped per table and each group goes in a few multi-row
        statements (``multi_row``: round trips per table, not per record); see
        ``batch_groups`` for why the committed rows are exactly those of writing
        the records one by one. Chained rows (``CHAIN_OF``) are linked to the head
        read in the same transaction, so their hashes are those of one by one too.
        """
        groups = batch_groups(records)
        async with self._transaction() as tx:
            for sql, rows in groups:
                table = CHAIN_OF.get(sql)
                linked = rows if table is None else await self._link(tx, table, rows)
                await tx.run_many(sql, linked)

    async def _append_event(self, tx: _Tx, r: OrderEventRecord) -> None:
        (row,) = await self._link(tx, "order_events", [_event_row(r)])
        await tx.run(_APPEND_EVENT, row)

    async def _save_position(self, tx: _Tx, r: PositionRecord) -> None:
        params = (r.venue, r.symbol, r.quantity, r.avg_px, r.realized_pnl, r.ts_ns)
        await tx.run(_SAVE_POSITION, params)

    async def _save_balance(self, tx: _Tx, r: BalanceRecord) -> None:
        await tx.run(_SAVE_BALANCE, (r.venue, r.asset, r.free, r.locked, r.ts_ns))

    async def _append_state(self, tx: _Tx, r: StrategyStateRecord) -> None:
        await tx.run(_APPEND_STATE, (r.strategy_id, r.ts_ns, r.blob))

    async def _append_audit(self, tx: _Tx, r: AuditRecord) -> None:
        (row,) = await self._link(tx, "audit_log", [_audit_row(r)])
        await tx.run(_APPEND_AUDIT, row)

    # --- the hash chain (genesis.storage.chain) ----------------------------------------

    # run before reading a chain's head: serialises writers that the transaction alone
    # does not (PostgreSQL); SQLite's BEGIN IMMEDIATE already does
    _chain_lock: str | None = None

    async def _link(
        self, tx: _Tx, table: str, rows: Sequence[Sequence[object]]
    ) -> list[tuple[object, ...]]:
        """``rows`` of a chained table with their hashes, from the head read in ``tx``."""
        if self._chain_lock is not None:
            await tx.rows(self._chain_lock, (_CHAIN_LOCK_KEYS[table],))
        found = await tx.rows(chain_head_sql(table))
        linked, _ = link_rows(found[0][0] if found else None, table, rows)
        return linked

    async def verify_chain(self) -> list[ChainStatus]:
        """Walk every chained table (in pages of ``_CHAIN_PAGE`` rows, by id).

        Returns:
            One ``ChainStatus`` per table (``order_events``, ``audit_log``).
        """
        found = []
        for table, columns in CHAINED.items():
            verifier = Verifier(table)
            sql = (
                f"SELECT id, {', '.join(columns)}, prev_hash, row_hash FROM {table} "  # noqa: S608 - constant names
                f"WHERE id > ? ORDER BY id LIMIT {_CHAIN_PAGE}"
            )
            last = 0
            while True:
                async with self._transaction() as tx:
                    page = await tx.rows(sql, (last,))
                verifier.feed(page)
                if len(page) < _CHAIN_PAGE:
                    break
                last = int(page[-1][0])
            found.append(verifier.status())
        return found


# --- batches: one executemany per table ---------------------------------------
#
# A batch is one transaction, so nobody sees its rows before the commit: only the
# committed rows count, and they are the same as when the records are written one
# by one in submission order, because
# - the order of rows *within* a table is kept (appends get their ids in that
#   order; the last upsert of a key wins, so only the last one is written: every
#   upsert sets every column, from the record alone);
# - no table's statements read another table, except the foreign key of
#   ``order_events`` on ``orders``, and orders are written first. (A batch whose
#   event names an order that only a *later* record of the same batch creates is
#   accepted, where one by one it would have failed; the journal never does that.)


def _event_row(r: OrderEventRecord) -> tuple[object, ...]:
    return (r.client_order_id, r.ts_ns, r.kind, r.detail_json)


def _position_row(r: PositionRecord) -> tuple[object, ...]:
    return (r.venue, r.symbol, r.quantity, r.avg_px, r.realized_pnl, r.ts_ns)


def _balance_row(r: BalanceRecord) -> tuple[object, ...]:
    return (r.venue, r.asset, r.free, r.locked, r.ts_ns)


def _state_row(r: StrategyStateRecord) -> tuple[object, ...]:
    return (r.strategy_id, r.ts_ns, r.blob)


def _config_row(r: ConfigVersionRecord) -> tuple[object, ...]:
    return (r.name, r.sha256, r.body, r.ts_ns)


def _audit_row(r: AuditRecord) -> tuple[object, ...]:
    return (r.ts_ns, r.actor, r.action, r.detail_json)


# record type -> (statement, parameter row, upsert key length: 0 for an append), parents
# first: the tables are written in this order
_BATCH: Final[dict[type, tuple[str, Callable[[Any], tuple[object, ...]], int]]] = {
    OrderRecord: (_SAVE_ORDER, _order_row, 1),
    OrderEventRecord: (_APPEND_EVENT, _event_row, 0),
    FillRecord: (_SAVE_FILL, _fill_row, 0),  # DO NOTHING on a duplicate: the first one stays
    PositionRecord: (_SAVE_POSITION, _position_row, 2),
    BalanceRecord: (_SAVE_BALANCE, _balance_row, 2),
    StrategyStateRecord: (_APPEND_STATE, _state_row, 0),
    ConfigVersionRecord: (_SAVE_CONFIG, _config_row, 0),  # DO NOTHING, like fills
    AuditRecord: (_APPEND_AUDIT, _audit_row, 0),
    EmulatedStateRecord: (_SAVE_EMULATED, _emulated_row, 1),  # latest wins
}


MAX_PARAMS: Final = 32_000  # per statement: below SQLite's default 32,766 and PostgreSQL's 65,535


def multi_row(
    sql: str, rows: Sequence[Sequence[object]], *, exact: bool = False
) -> list[tuple[str, list[object]]]:
    """``sql`` (one ``INSERT ... VALUES (?, ...)``) over ``rows`` as multi-row statements.

    Each statement carries at most ``MAX_PARAMS`` parameters, rows in order. By
    default each carries a power-of-two number of rows, so a table has a dozen
    distinct statements at most and a prepared-statement cache keeps them
    (PostgreSQL); ``exact`` puts as many rows as fit in each (fewest statements:
    SQLite, where compiling one is cheap).

    Returns:
        (statement, flat parameters) pairs, to run in order.
    """
    out: list[tuple[str, list[object]]] = []
    cap = max(1, MAX_PARAMS // len(rows[0])) if rows else 1
    if not exact:
        cap = 1 << (cap.bit_length() - 1)
    start = 0
    while start < len(rows):
        left = len(rows) - start
        n = min(cap, left if exact else 1 << (left.bit_length() - 1))
        chunk = rows[start : start + n]
        out.append((_repeat_values(sql, n), [p for row in chunk for p in row]))
        start += n
    return out


@functools.lru_cache(maxsize=256)
def _repeat_values(sql: str, n: int) -> str:
    begin = sql.index("VALUES (") + len("VALUES ")
    end = sql.index(")", begin) + 1
    return sql[:begin] + ", ".join([sql[begin:end]] * n) + sql[end:]


def batch_groups(records: Sequence[WriteRecord]) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Per table, parents first: its statement and parameter rows in submission order,
    upserts reduced to the last one per key.

    Raises:
        TypeError: a record of no known type (a bug: nothing is written).
    """
    appends: dict[type, list[tuple[object, ...]]] = {}
    upserts: dict[type, dict[tuple[object, ...], tuple[object, ...]]] = {}
    for record in records:
        kind = type(record)
        try:
            _, to_row, key = _BATCH[kind]
        except KeyError:
            raise TypeError(f"write_batch: {kind.__name__} is not a WriteRecord") from None
        row = to_row(record)
        if key:
            upserts.setdefault(kind, {})[row[:key]] = row
        else:
            appends.setdefault(kind, []).append(row)
    groups: list[tuple[str, list[tuple[object, ...]]]] = []
    for kind, (sql, _, key) in _BATCH.items():
        rows = list(upserts[kind].values()) if key and kind in upserts else appends.get(kind)
        if rows:
            groups.append((sql, rows))
    return groups
