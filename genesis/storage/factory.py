"""Choose and open the storage backend from ``GENESIS_DATABASE_URL`` (or its absence)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from genesis.errors import StorageError
from genesis.storage.postgres import PostgresRepository, redact_url
from genesis.storage.repository import SqlRepository
from genesis.storage.sqlite import SqliteRepository

__all__ = ["DEFAULT_SQLITE_NAME", "LIVE_SQLITE_NAME", "open_repository", "sqlite_path"]

DEFAULT_SQLITE_NAME = "genesis.db"
LIVE_SQLITE_NAME = "genesis-live.db"  # live trading's journal: never the paper file (R23)


def sqlite_path(
    url: str | None, data_dir: Path, default_name: str = DEFAULT_SQLITE_NAME
) -> Path | None:
    """The SQLite file for ``url``, or None when ``url`` is not a SQLite URL.

    ``None`` means ``data_dir / default_name`` (``genesis.db``; live mode passes
    ``genesis-live.db``). ``sqlite:///relative.db`` is relative to ``data_dir``;
    ``sqlite:////abs/path.db`` is absolute.
    """
    if url is None:
        return data_dir / default_name
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        return None
    raw = unquote(parts.path)
    if raw in ("", "/"):
        return data_dir / default_name
    path = Path(raw[1:]) if raw.startswith("/") else Path(raw)
    return path if path.is_absolute() else data_dir / path


async def open_repository(
    url: str | None, data_dir: Path, default_name: str = DEFAULT_SQLITE_NAME
) -> SqlRepository:
    """Open the repository named by ``url`` and apply pending migrations.

    Args:
        url: None or ``sqlite:///...`` for SQLite, ``postgresql://...`` (or
            ``postgres://...``) for PostgreSQL.
        data_dir: where the default SQLite file lives.
        default_name: the default SQLite file's name (``LIVE_SQLITE_NAME`` in live mode).

    Returns:
        A migrated, open repository; the caller closes it.

    Raises:
        StorageError: unknown scheme, unreachable server or failed migration
            (messages never contain a password).
    """
    path = sqlite_path(url, data_dir, default_name)
    if path is not None:
        repo: SqlRepository = await SqliteRepository.open(path)
    elif url is not None and urlsplit(url).scheme in ("postgresql", "postgres"):
        repo = await PostgresRepository.open(url)
    else:
        raise StorageError(
            f"unsupported database URL {redact_url(url or '')}: "
            "expected sqlite:///<file> or postgresql://<user>@<host>/<db>"
        )
    try:
        await repo.migrate()
    except BaseException:
        await repo.close()
        raise
    return repo
