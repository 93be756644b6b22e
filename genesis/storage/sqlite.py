"""SQLite backend (aiosqlite): one file, WAL journal, foreign keys on.

One connection in autocommit mode; each repository call is one explicit
``BEGIN IMMEDIATE ... COMMIT`` under an ``asyncio.Lock``, so concurrent tasks
never interleave statements of different transactions. ``synchronous=FULL``
makes a returned commit survive power loss, which the order-intent
durability point relies on. Money goes in as TEXT (``str(Decimal)``) and
comes back through ``Decimal(text)``, never through float.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from decimal import Decimal
from pathlib import Path

import aiosqlite

from genesis.errors import StorageError
from genesis.storage.chain import link_rows
from genesis.storage.repository import (
    CHAIN_OF,
    Row,
    SqlRepository,
    WriteRecord,
    batch_groups,
    chain_head_sql,
    multi_row,
)

__all__ = ["SqliteRepository"]

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)


def _param(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _head(sql: str) -> str:
    return " ".join(sql.split())[:60]


def _transient(exc: sqlite3.Error) -> bool:
    """Locked, busy, disk full, I/O errors: the environment, not the statement."""
    return isinstance(exc, sqlite3.OperationalError)


class _Abandoned(Exception):
    """The caller stopped waiting (cancelled, timed out) before COMMIT: roll back."""


# one step of a batch: a ready statement and its parameters (table None), or a chained
# table's statement with its rows still to be linked to the head (genesis.storage.chain)
_Step = tuple[str, list[object], str | None]


def _write_all(db: sqlite3.Connection, steps: list[_Step], abandoned: threading.Event) -> None:
    """On aiosqlite's thread: one whole transaction; rolled back on any error, and when
    the caller gave up before COMMIT (its retry must not find this batch committed)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql, params, table in steps:
            if table is None:
                db.execute(sql, params)
                continue
            head = db.execute(chain_head_sql(table)).fetchone()
            rows, _ = link_rows(None if head is None else head[0], table, params)  # type: ignore[arg-type]
            for statement, flat in multi_row(sql, rows, exact=True):
                db.execute(statement, flat)
        if abandoned.is_set():
            raise _Abandoned
        db.execute("COMMIT")
    except BaseException:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


class _SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, [_param(p) for p in params])
            count = cursor.rowcount
            await cursor.close()
        except sqlite3.Error as exc:
            raise StorageError(
                f"SQLite statement failed ({_head(sql)}...): {exc}", transient=_transient(exc)
            ) from exc
        return count

    async def control(self, sql: str) -> None:
        """A statement without parameters or result (BEGIN, COMMIT) in one thread hop."""
        try:
            await self._conn.execute_fetchall(sql)
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite {sql} failed: {exc}", transient=_transient(exc)) from exc

    async def run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """``sql`` over ``rows`` as multi-row statements, each in one thread hop.

        Not ``executemany``: that releases and retakes the GIL for every row, and
        while the trading loop is busy each retake can wait out Python's switch
        interval (5 ms); a multi-row statement is one ``sqlite3_step``.
        """
        for statement, params in multi_row(sql, rows):
            try:  # execute_fetchall: one call into aiosqlite's thread, cursor closed there
                await self._conn.execute_fetchall(statement, [_param(p) for p in params])
            except sqlite3.Error as exc:
                raise StorageError(
                    f"SQLite statement failed ({_head(sql)}..., {len(rows)} rows): {exc}",
                    transient=_transient(exc),
                ) from exc

    async def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        try:
            found = await self._conn.execute_fetchall(sql, [_param(p) for p in params])
        except sqlite3.Error as exc:
            raise StorageError(
                f"SQLite query failed ({_head(sql)}...): {exc}", transient=_transient(exc)
            ) from exc
        return [tuple(r) for r in found]


class SqliteRepository(SqlRepository):
    """``Repository`` on a SQLite file; create with ``await SqliteRepository.open(path)``."""

    backend = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._closed = False
        self.path = path

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int = 5000) -> SqliteRepository:
        """Open (creating if needed) the database file and set its pragmas.

        ``busy_timeout_ms`` is how long a write waits for another process's
        lock before failing with "database is locked" (a transient fault).

        Returns:
            An open repository; call ``migrate()`` before first use.

        Raises:
            StorageError: the file cannot be opened or is not a database.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
        try:
            for pragma in (*_PRAGMAS, f"PRAGMA busy_timeout={int(busy_timeout_ms)}"):
                await conn.execute(pragma)
        except sqlite3.Error as exc:
            await conn.close()
            raise StorageError(f"cannot open SQLite database {path}: {exc}") from exc
        return cls(conn, path)

    async def close(self) -> None:
        """Close the connection; later calls raise ``StorageError``. Idempotent."""
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._conn.close()

    async def write_batch(self, records: Sequence[WriteRecord]) -> None:
        """Write mixed records in one transaction (all or nothing), as if one by one in order.

        The whole transaction (BEGIN IMMEDIATE, one multi-row statement per table,
        COMMIT; ROLLBACK on any error) runs in one call into aiosqlite's thread:
        one thread hop per batch, not one per statement. Each hop costs a GIL
        hand-over, which on a busy machine waits for the OS to schedule the
        other thread (milliseconds). ``SqlRepository.write_batch`` says why the
        rows equal those of writing the records one by one. Chained rows are linked
        there too, after reading their table's head inside the transaction.

        Raises:
            StorageError: the transaction failed and was rolled back (transient
                for locked, busy, I/O errors; permanent for constraint errors).
        """
        statements: list[_Step] = []
        for sql, rows in batch_groups(records):
            table = CHAIN_OF.get(sql)
            if table is not None:  # text and integers only: linked on the thread, in the tx
                statements.append((sql, list(rows), table))
                continue
            for statement, params in multi_row(sql, rows, exact=True):
                statements.append(
                    (statement, [str(p) if type(p) is Decimal else p for p in params], None)
                )
        async with self._lock:
            if self._closed:
                raise StorageError(f"SQLite repository {self.path} is closed")
            abandoned = threading.Event()
            try:
                # aiosqlite's own primitive behind execute(): run a function on its thread
                await self._conn._execute(_write_all, self._conn._conn, statements, abandoned)  # type: ignore[no-untyped-call]
            except asyncio.CancelledError:
                abandoned.set()  # a COMMIT already under way still completes, as before
                raise
            except sqlite3.Error as exc:
                raise StorageError(
                    f"SQLite batch of {len(records)} records failed: {exc}",
                    transient=_transient(exc),
                ) from exc
            except ValueError as exc:  # aiosqlite: "Connection closed"
                raise StorageError(f"SQLite repository {self.path}: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            if self._closed:
                raise StorageError(f"SQLite repository {self.path} is closed")
            tx = _SqliteTx(self._conn)
            try:
                # inside the try: a task cancelled while BEGIN runs in aiosqlite's thread must
                # still roll it back, or the connection is left inside a transaction for good
                await tx.control("BEGIN IMMEDIATE")
                yield tx
                await tx.control("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error, asyncio.CancelledError):
                    # shielded: runs after the statement in flight, even under cancellation
                    await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise
