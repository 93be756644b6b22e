"""Storage fixtures: every ``repo`` test runs on SQLite (a tmp file) and on PostgreSQL.

The PostgreSQL parameter uses the local server at 127.0.0.1:5432 (database
``test``, user ``postgres``), creates a schema of its own for the test and
drops it afterwards. It is skipped, with the connection error as the reason,
only when no connection can be made.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from genesis.storage import PostgresRepository, SqliteRepository, SqlRepository, open_repository
from genesis.storage.factory import sqlite_path

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
_SCHEMA_NUMBERS = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """A fresh, empty database on each backend, as the URL for ``open_repository``.

    SQLite is None (the default file in ``tmp_path``); PostgreSQL is the local
    server with a ``search_path`` schema of the test's own.
    """
    if request.param == "sqlite":
        yield None
        return
    try:
        admin = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    schema = f"genesis_test_{os.getpid()}_{next(_SCHEMA_NUMBERS)}"
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?search_path={schema}"
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def repo(db_url: str | None, tmp_path: Path) -> AsyncIterator[SqlRepository]:
    """A migrated repository on ``db_url``, closed after the test."""
    repository = await open_repository(db_url, tmp_path)
    try:
        yield repository
    finally:
        await repository.close()


@pytest.fixture
async def unmigrated_repo(db_url: str | None, tmp_path: Path) -> AsyncIterator[SqlRepository]:
    """The same database as ``repo`` opened directly, before any migration."""
    path = sqlite_path(db_url, tmp_path)
    repository: SqlRepository = (
        await SqliteRepository.open(path)
        if path is not None
        else await PostgresRepository.open(str(db_url))
    )
    try:
        yield repository
    finally:
        await repository.close()
