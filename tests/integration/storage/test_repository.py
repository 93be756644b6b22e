"""Repository behaviour, identical on SQLite and PostgreSQL (the ``target``/``repo`` fixtures)."""

from __future__ import annotations

import csv
import gzip
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.core.enums import OrderStatus, OrderType, Side
from genesis.errors import StorageError
from genesis.storage import (
    AuditRecord,
    BalanceRecord,
    ConfigVersionRecord,
    EmulatedStateRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    SqlRepository,
    StrategyStateRecord,
    WriteRecord,
    open_repository,
    redact_url,
)

TRADES = Path(__file__).resolve().parents[2] / "data" / "binance-btcusdt-trades-2021-01-08.csv.gz"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FEE_RATE = Decimal("0.001")


def order(coid: str = "O-1", status: OrderStatus = OrderStatus.NEW, ts: int = 1) -> OrderRecord:
    return OrderRecord(
        client_order_id=coid,
        strategy_id="S-1",
        venue="BINANCE",
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("0.00001"),
        price=Decimal("46319.0"),
        status=status,
        filled_qty=Decimal("0"),
        venue_order_id="",
        ts_init=ts,
        ts_last=ts,
    )


def fill(trade_id: str = "T-1", price: str = "46319.0", ts: int = 10) -> FillRecord:
    return FillRecord(
        venue="BINANCE",
        symbol="BTCUSDT",
        trade_id=trade_id,
        client_order_id="O-1",
        venue_order_id="V-1",
        side=Side.BUY,
        price=Decimal(price),
        quantity=Decimal("0.00001"),
        fee=Decimal("0.046319"),
        fee_currency="USDT",
        ts_ns=ts,
    )


def real_fills(n: int) -> list[FillRecord]:
    """The first ``n`` Binance BTCUSDT trades of 2021-01-08 as taker buys with a 0.1 % fee."""
    with gzip.open(TRADES, "rt", newline="") as fh:
        rows = [row for _, row in zip(range(n), csv.DictReader(fh), strict=False)]
    return [
        FillRecord(
            venue="BINANCE",
            symbol="BTCUSDT",
            trade_id=row["trade_id"],
            client_order_id="O-1",
            venue_order_id="V-1",
            side=Side.BUY,
            price=Decimal(row["price"]),
            quantity=Decimal(row["quantity"]),
            fee=Decimal(row["price"]) * Decimal(row["quantity"]) * FEE_RATE,
            fee_currency="USDT",
            ts_ns=(datetime.fromisoformat(row["timestamp"]) - EPOCH)
            // timedelta(microseconds=1)
            * 1000,
        )
        for row in rows
    ]


async def test_migrate_applies_each_version_once(unmigrated_repo: SqlRepository) -> None:
    """A fresh database gets migrations 1 to 3; a second migrate applies nothing."""
    first = await unmigrated_repo.migrate()
    second = await unmigrated_repo.migrate()

    assert (first, second) == ([1, 2, 3], [])


async def test_save_order_round_trips_decimals_exactly(repo: SqlRepository) -> None:
    """An open order reads back equal, with Decimal price and quantity unchanged."""
    saved = order()

    await repo.save_order(saved)
    loaded = await repo.load_open_orders()

    assert loaded == [saved]
    assert (str(loaded[0].price), str(loaded[0].quantity)) == ("46319.0", "0.00001")


async def test_save_order_upserts_and_filled_orders_are_not_open(repo: SqlRepository) -> None:
    """Saving the same id again replaces the row; FILLED and CANCELED orders are not loaded."""
    await repo.save_order(order("O-1", ts=1))
    await repo.save_order(order("O-2", ts=2))
    await repo.save_order(order("O-3", OrderStatus.ACCEPTED, ts=3))

    await repo.save_order(order("O-1", OrderStatus.FILLED, ts=1))
    await repo.save_order(order("O-2", OrderStatus.CANCELED, ts=2))
    loaded = await repo.load_open_orders()

    assert loaded == [order("O-3", OrderStatus.ACCEPTED, ts=3)]


async def test_order_events_are_kept_in_append_order(repo: SqlRepository) -> None:
    """Events of one order come back in the order they were appended."""
    await repo.save_order(order())
    events = [
        OrderEventRecord("O-1", 20, "OrderSubmitted", "{}"),
        OrderEventRecord("O-1", 20, "OrderAccepted", '{"venue_order_id": "V-1"}'),
        OrderEventRecord("O-1", 19, "OrderFilled", '{"trade_id": "T-1"}'),
    ]

    for event in events:
        await repo.append_order_event(event)
    loaded = await repo.order_events("O-1")

    assert loaded == events


async def test_event_for_unknown_order_raises_chained_storage_error(repo: SqlRepository) -> None:
    """The foreign key refuses an event of an unsaved order, as a chained StorageError."""
    event = OrderEventRecord("O-404", 20, "OrderSubmitted", "{}")

    with pytest.raises(StorageError) as caught:
        await repo.append_order_event(event)

    assert caught.value.__cause__ is not None
    assert not isinstance(caught.value.__cause__, StorageError)


async def test_duplicate_fill_returns_false_and_changes_nothing(repo: SqlRepository) -> None:
    """A second fill with the same venue, symbol and trade id is refused; the first stays."""
    first = fill("T-1", "46319.0")
    duplicate = fill("T-1", "46320.5")

    stored = await repo.save_fill(first)
    stored_again = await repo.save_fill(duplicate)
    loaded = await repo.fills_since(0)

    assert (stored, stored_again) == (True, False)
    assert loaded == [first]
    assert (loaded[0].price, loaded[0].quantity, loaded[0].fee) == (
        Decimal("46319.0"),
        Decimal("0.00001"),
        Decimal("0.046319"),
    )


async def test_same_trade_id_on_another_symbol_is_a_new_fill(repo: SqlRepository) -> None:
    """Uniqueness is per (venue, symbol, trade id), not per trade id alone."""
    btc = fill("T-1")
    eth = FillRecord(
        "BINANCE", "ETHUSDT", "T-1", "O-1", "V-1", Side.BUY,
        Decimal("1225.46"), Decimal("0.5"), Decimal("0.61273"), "USDT", 11,
    )  # fmt: skip

    results = [await repo.save_fill(btc), await repo.save_fill(eth)]

    assert results == [True, True]
    assert await repo.fills_since(0) == [btc, eth]


async def test_fills_since_returns_real_trades_from_a_timestamp(repo: SqlRepository) -> None:
    """Real BTCUSDT trades read back exactly, filtered by ts_ns >= the bound and ordered by time."""
    fills = real_fills(5)
    for f in fills:
        await repo.save_fill(f)

    later = await repo.fills_since(fills[2].ts_ns)

    assert later == fills[2:]
    assert later[0].fee == fills[2].price * fills[2].quantity * FEE_RATE
    assert str(fills[0].price) == "39432.48"


async def test_balances_upsert_by_venue_and_asset(repo: SqlRepository) -> None:
    """Saving a balance again replaces it; values read back exactly, sorted by venue, asset."""
    await repo.save_balances(
        [
            BalanceRecord("BINANCE", "USDT", Decimal("1000.00000000"), Decimal("0.46319"), 1),
            BalanceRecord("BINANCE", "BTC", Decimal("0.00000000"), Decimal("0"), 1),
        ]
    )

    await repo.save_balances([BalanceRecord("BINANCE", "BTC", Decimal("0.00001"), Decimal("0"), 2)])
    loaded = await repo.load_balances()

    assert loaded == [
        BalanceRecord("BINANCE", "BTC", Decimal("0.00001"), Decimal("0"), 2),
        BalanceRecord("BINANCE", "USDT", Decimal("1000.00000000"), Decimal("0.46319"), 1),
    ]


async def test_positions_upsert_and_keep_signed_quantities(repo: SqlRepository) -> None:
    """A short position (negative quantity) and P&L read back exactly; a resave replaces it."""
    await repo.save_positions(
        [
            PositionRecord(
                "BINANCE", "BTCUSDT", Decimal("0.00001"), Decimal("46319.0"), Decimal("0"), 1
            )
        ]
    )

    short = PositionRecord(
        "BINANCE", "BTCUSDT", Decimal("-0.000263"), Decimal("39432.48"), Decimal("-0.046319"), 2
    )
    await repo.save_positions([short])
    loaded = await repo.load_positions()

    assert loaded == [short]


async def test_strategy_state_loads_the_latest_snapshot(repo: SqlRepository) -> None:
    """The snapshot with the greatest ts_ns is returned, bytes exact; unknown ids give None."""
    await repo.save_strategy_state("S-1", 100, b"\x00old\xff")
    await repo.save_strategy_state("S-1", 200, b"\x00new\xff")
    await repo.save_strategy_state("S-2", 300, b"other")

    latest = await repo.load_strategy_state("S-1")
    missing = await repo.load_strategy_state("S-404")

    assert latest == StrategyStateRecord("S-1", 200, b"\x00new\xff")
    assert missing is None


async def test_config_versions_are_stored_once_per_hash(repo: SqlRepository) -> None:
    """The same (name, sha256) twice is refused; versions come back oldest first."""
    v1 = ConfigVersionRecord("live", "a" * 64, "risk:\n  max_notional: 500\n", 100)
    v2 = ConfigVersionRecord("live", "b" * 64, "risk:\n  max_notional: 750\n", 200)

    results = [
        await repo.save_config_version(v2.name, v2.sha256, v2.body, v2.ts_ns),
        await repo.save_config_version(v1.name, v1.sha256, v1.body, v1.ts_ns),
        await repo.save_config_version(v1.name, v1.sha256, "changed", 300),
    ]

    assert results == [True, True, False]
    assert await repo.config_versions("live") == [v1, v2]
    assert await repo.config_versions("paper") == []


async def test_audit_log_appends_and_filters_by_time(repo: SqlRepository) -> None:
    """Audit entries come back in append order from the given ns timestamp."""
    await repo.append_audit(100, "operator", "start", '{"mode": "paper"}')
    await repo.append_audit(200, "api", "emergency_stop", '{"reason": "manual"}')

    entries = await repo.audit_log(150)

    assert entries == [AuditRecord(200, "api", "emergency_stop", '{"reason": "manual"}')]
    assert len(await repo.audit_log()) == 2


async def test_write_batch_is_all_or_nothing(repo: SqlRepository) -> None:
    """A batch whose last record violates the schema leaves no earlier record behind."""
    batch: list[WriteRecord] = [
        order(),
        fill("T-1"),
        OrderEventRecord("O-404", 1, "OrderSubmitted", "{}"),
    ]

    with pytest.raises(StorageError):
        await repo.write_batch(batch)

    assert await repo.load_open_orders() == []
    assert await repo.fills_since(0) == []


async def test_write_batch_writes_mixed_records_in_order(repo: SqlRepository) -> None:
    """An order and its event in one batch succeed because records are written in order."""
    batch: list[WriteRecord] = [
        order(),
        OrderEventRecord("O-1", 2, "OrderSubmitted", "{}"),
        fill("T-1"),
        fill("T-1"),
        AuditRecord(3, "engine", "order_sent", '{"client_order_id": "O-1"}'),
    ]

    await repo.write_batch(batch)

    assert await repo.load_open_orders() == [order()]
    assert len(await repo.order_events("O-1")) == 1
    assert await repo.fills_since(0) == [fill("T-1")]


async def test_extreme_decimals_round_trip(repo: SqlRepository) -> None:
    """Tiny, huge and many-digit Decimal values read back equal."""
    values = [Decimal("0.00000001"), Decimal("123456789012345678.123456789012"), Decimal("-0.1")]
    records = [BalanceRecord("V", f"A{i}", v, v, i) for i, v in enumerate(values)]

    await repo.save_balances(records)
    loaded = await repo.load_balances()

    assert [b.free for b in loaded] == values


async def test_data_survives_reopening(db_url: str | None, tmp_path: Path) -> None:
    """An order saved and closed is found by a new repository on the same database."""
    first = await open_repository(db_url, tmp_path)
    await first.save_order(order())
    await first.close()

    second = await open_repository(db_url, tmp_path)
    try:
        loaded = await second.load_open_orders()
    finally:
        await second.close()

    assert loaded == [order()]


def emulated(coid: str, watermark: str | None, trigger: str | None, ts: int) -> EmulatedStateRecord:
    return EmulatedStateRecord(
        client_order_id=coid,
        watermark=None if watermark is None else Decimal(watermark),
        trigger=None if trigger is None else Decimal(trigger),
        triggered=False,
        slice_no=0,
        slice_leaves=Decimal("0"),
        ts_ns=ts,
    )


async def test_emulated_state_latest_wins_and_reads_back_exactly(repo: SqlRepository) -> None:
    """A trailing stop ratcheting 63990.00 -> 64000.00 in one batch, then released alone: the
    last state reads back exactly (scale kept); an iceberg's row and a NULL watermark too."""
    released = EmulatedStateRecord(
        client_order_id="T-1", watermark=Decimal("64000.00"), trigger=Decimal("63680.00"),
        triggered=True, slice_no=0, slice_leaves=Decimal("0"), ts_ns=3,
    )  # fmt: skip
    iceberg = EmulatedStateRecord(
        client_order_id="I-1", watermark=None, trigger=None, triggered=False, slice_no=2,
        slice_leaves=Decimal("0.00060000"), ts_ns=2,
    )  # fmt: skip
    await repo.write_batch(
        [emulated("T-1", "63990.00", "63670.05", 1), iceberg,
         emulated("T-1", "64000.00", "63680.00", 2)]
    )  # fmt: skip
    await repo.save_emulated(released)

    loaded = await repo.load_emulated()

    assert loaded == [iceberg, released]
    assert [str(r.slice_leaves) for r in loaded] == ["0.00060000", "0"]
    assert str(loaded[1].watermark) == "64000.00"


async def test_closed_repository_raises_storage_error(repo: SqlRepository) -> None:
    """Any call after close raises StorageError, not a driver exception."""
    await repo.close()

    with pytest.raises(StorageError, match="closed"):
        await repo.load_balances()


# --- backend choice and secrets (not parametrized) ----------------------------


async def test_default_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    """With no URL the database is data_dir/genesis.db in WAL mode."""
    repo = await open_repository(None, tmp_path)
    await repo.close()

    with sqlite3.connect(tmp_path / "genesis.db") as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        versions = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    conn.close()

    assert mode == "wal"
    assert versions == [(1, "initial"), (2, "emulated_orders"), (3, "audit_chain")]


async def test_sqlite_url_is_relative_to_data_dir(tmp_path: Path) -> None:
    """sqlite:///state/x.db opens data_dir/state/x.db."""
    repo = await open_repository("sqlite:///state/x.db", tmp_path)
    await repo.close()

    assert (tmp_path / "state" / "x.db").is_file()


async def test_unsupported_url_is_refused_without_its_password(tmp_path: Path) -> None:
    """An unknown scheme raises StorageError whose message hides the password."""
    with pytest.raises(StorageError) as caught:
        await open_repository("mysql://genesis:hunter2@db.example/genesis", tmp_path)

    assert "hunter2" not in str(caught.value)
    assert "mysql://genesis:***@db.example/genesis" in str(caught.value)


async def test_unreachable_postgres_error_hides_the_password(tmp_path: Path) -> None:
    """A refused connection raises StorageError naming the redacted URL, never the password."""
    url = "postgresql://postgres:hunter2@127.0.0.1:1/test"

    with pytest.raises(StorageError) as caught:
        await open_repository(url, tmp_path)

    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert all("hunter2" not in repr(e) for e in chain)
    assert "postgresql://postgres:***@127.0.0.1:1/test" in str(caught.value)


def test_redact_url_hides_passwords_in_authority_and_query() -> None:
    """Passwords are replaced by *** wherever the URL carries them; the rest is kept."""
    redacted = [
        redact_url("postgresql://u:p%40ss@h:5432/db?search_path=x"),
        redact_url("postgresql://u@h/db?password=s3cret&sslmode=require"),
        redact_url("postgresql://u@h/db"),
    ]

    assert redacted == [
        "postgresql://u:***@h:5432/db?search_path=x",
        "postgresql://u@h/db?password=***&sslmode=require",
        "postgresql://u@h/db",
    ]
