"""Persistence at the asyncio edge: one repository interface, SQLite and PostgreSQL.

``open_repository(url, data_dir)`` picks the backend; ``BatchingWriter`` keeps
writes off the trading loop, except ``record_order_intent`` (committed before
the order is sent).
"""

from __future__ import annotations

from genesis.storage.factory import open_repository, sqlite_path
from genesis.storage.postgres import PostgresRepository, redact_url
from genesis.storage.repository import (
    AuditRecord,
    BalanceRecord,
    ConfigVersionRecord,
    EmulatedStateRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    Repository,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
    load_migrations,
)
from genesis.storage.sqlite import SqliteRepository
from genesis.storage.writer import BatchingWriter, QueueStats

__all__ = [
    "AuditRecord",
    "BalanceRecord",
    "BatchingWriter",
    "ConfigVersionRecord",
    "EmulatedStateRecord",
    "FillRecord",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "PostgresRepository",
    "QueueStats",
    "Repository",
    "SqlRepository",
    "SqliteRepository",
    "StrategyStateRecord",
    "WriteRecord",
    "load_migrations",
    "open_repository",
    "redact_url",
    "sqlite_path",
]
