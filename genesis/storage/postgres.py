"""PostgreSQL backend (asyncpg pool).

Runs the shared SQL of ``repository.py``, turning its ``?`` placeholders into
``$1..$n``. Each repository call acquires a pooled connection and runs in one
transaction. Money is NUMERIC; asyncpg sends and returns ``Decimal`` exactly.
The URL may carry server settings as query parameters (for example
``?search_path=genesis``), which asyncpg passes to the server. A password in
the URL never appears in an error message (``redact_url``).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from genesis.errors import StorageError
from genesis.storage.repository import Row, SqlRepository, multi_row

__all__ = ["PostgresRepository", "redact_url"]

# InternalClientError: asyncpg's state machine after the server dropped the connection
# mid-operation ("cannot switch to state ..."); not an InterfaceError subclass
_FOREIGN = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)
_SECRET_KEYS = frozenset({"password", "passfile", "sslpassword"})


def redact_url(url: str) -> str:
    """The URL with any password (in the authority or the query) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user_info, host = netloc.rsplit("@", 1)
        netloc = f"{user_info.split(':', 1)[0]}:***@{host}"
    query = [(k, "***" if k in _SECRET_KEYS else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def _scrub(text: str, url: str) -> str:
    secrets = [urlsplit(url).password or ""]
    secrets += [v for k, v in parse_qsl(urlsplit(url).query) if k in _SECRET_KEYS]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


_PERMANENT = (
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.DataError,
    asyncpg.SyntaxOrAccessError,
)


def _transient(exc: BaseException) -> bool:
    """Lost connections, shutdowns, disk full: retry; constraint or SQL errors: a bug."""
    return not isinstance(exc, _PERMANENT)


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str) -> str:
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def _count(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


def _head(sql: str) -> str:
    return " ".join(sql.split())[:60]


class _PgTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def run(self, sql: str, params: Sequence[object] = ()) -> int:
        try:
            status: str = await self._conn.execute(_numbered(sql), *params)
        except _FOREIGN as exc:
            raise StorageError(
                f"PostgreSQL statement failed ({_head(sql)}...): {exc}", transient=_transient(exc)
            ) from exc
        return _count(status)

    async def run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """``sql`` over ``rows`` as multi-row statements (prepared once each, cached).

        Not ``executemany``: the server runs that once per row; a multi-row
        statement is planned and executed once.
        """
        try:
            for statement, params in multi_row(sql, rows):
                await self._conn.execute(_numbered(statement), *params)
        except _FOREIGN as exc:
            raise StorageError(
                f"PostgreSQL statement failed ({_head(sql)}..., {len(rows)} rows): {exc}",
                transient=_transient(exc),
            ) from exc

    async def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        try:
            found = await self._conn.fetch(_numbered(sql), *params)
        except _FOREIGN as exc:
            raise StorageError(
                f"PostgreSQL query failed ({_head(sql)}...): {exc}", transient=_transient(exc)
            ) from exc
        return [tuple(r) for r in found]


class PostgresRepository(SqlRepository):
    """``Repository`` on PostgreSQL; create with ``await PostgresRepository.open(url)``."""

    backend = "postgres"
    # a transaction-scoped lock per chained table: concurrent writers link one at a time
    _chain_lock = "SELECT pg_advisory_xact_lock(?)"

    def __init__(self, pool: asyncpg.Pool, url: str, timeout_s: float = 10.0) -> None:
        self._pool = pool
        self._closed = False
        self.where = redact_url(url)
        self._timeout_s = timeout_s

    @classmethod
    async def open(
        cls, url: str, *, max_size: int = 4, timeout_s: float = 10.0
    ) -> PostgresRepository:
        """Create a connection pool for ``url`` (``postgresql://user@host:port/db``).

        Returns:
            An open repository; call ``migrate()`` before first use.

        Raises:
            StorageError: the server cannot be reached or refuses us; the message
                carries the URL with its password redacted.
        """
        try:
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=max_size, timeout=timeout_s, command_timeout=timeout_s
            )
        except (*_FOREIGN, ValueError) as exc:
            detail = _scrub(f"{type(exc).__name__}: {exc}", url)
            # chain the cause only when its text cannot leak the password
            cause = exc if _scrub(str(exc), url) == str(exc) else None
            message = f"cannot connect to PostgreSQL at {redact_url(url)}: {detail}"
            raise StorageError(message) from cause
        return cls(pool, url, timeout_s)

    async def close(self) -> None:
        """Close the pool; later calls raise ``StorageError``. Idempotent.

        A connection the server killed mid-operation can leave asyncpg unable to
        release it; the graceful close then waits forever, so it is bounded and
        the pool is terminated after ``timeout_s``.
        """
        if not self._closed:
            self._closed = True
            try:
                await asyncio.wait_for(self._pool.close(), self._timeout_s)
            except TimeoutError:
                self._pool.terminate()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_PgTx]:
        if self._closed:
            raise StorageError(f"PostgreSQL repository {self.where} is closed")
        try:
            async with self._pool.acquire(timeout=self._timeout_s) as conn, conn.transaction():
                yield _PgTx(conn)
        except _FOREIGN as exc:
            raise StorageError(
                f"PostgreSQL transaction failed at {self.where}: {exc}", transient=_transient(exc)
            ) from exc
