"""The paper daemon's journal on both backends: intents committed before sending, ledgers agree."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from genesis import resources
from genesis.config.loader import load_strategy_configs
from genesis.core.commands import Command, SubmitOrder
from genesis.core.enums import Side
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.venues import PaperVenues
from genesis.data.sources import DataSpec
from genesis.exchange.simulated import SimulatedVenue
from genesis.risk.limits import Tier
from genesis.storage import open_repository
from genesis.testing.taps import tap_venue

ROOT = Path(__file__).resolve().parents[3]
# the busy Sniper of the reliability tests (tests/data/strategies)
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"


class _Log:
    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    debug = info = warning = error = critical = _noop


def _config(db_url: str | None, tmp_path: Path) -> DaemonConfig:
    strategies = tuple(c for c in load_strategy_configs(BUSY_STRATEGIES) if c.enabled)
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    return DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=(bars,), speed=0, max_events=3000, data_dir=tmp_path, database_url=db_url,
    )  # fmt: skip


async def _daemon(config: DaemonConfig) -> Daemon:
    """The paper daemon as ``run_paper`` assembles it, on the journal of ``config``."""
    assert config.data_dir is not None
    repo = await open_repository(config.database_url, config.data_dir)
    return paper_daemon(config, repo, None, log=_Log())


def _sim(daemon: Daemon) -> SimulatedVenue:
    """The simulated venue of the session (BTCUSDT trades on binance, journaled as PAPER)."""
    assert isinstance(daemon.venues, PaperVenues)
    return daemon.venues.sims["binance"]


async def test_every_order_is_committed_before_the_venue_sees_it(tmp_path: Path) -> None:
    """At each venue send, the order's row is already committed in the SQLite file (read by another connection)."""
    daemon = await _daemon(_config(None, tmp_path))
    checked: list[str] = []
    missing: list[str] = []

    def checked_send(command: Command, now_ns: int) -> None:
        if isinstance(command, SubmitOrder):
            with sqlite3.connect(tmp_path / "genesis.db") as db:
                row = db.execute(
                    "SELECT 1 FROM orders WHERE client_order_id = ?", (command.client_order_id,)
                ).fetchone()
            (checked if row else missing).append(command.client_order_id)

    tap_venue(daemon.driver, "binance", checked_send)
    assert await daemon.run() == 0
    assert len(checked) > 40
    assert missing == []


async def test_journal_equals_the_venues_record(db_url: str | None, tmp_path: Path) -> None:
    """After a run, the fills in the database rebuild the paper account exactly; no order twice."""
    daemon = await _daemon(_config(db_url, tmp_path))
    venue = _sim(daemon)
    assert await daemon.run() == 0
    repo = await open_repository(db_url, tmp_path)
    try:
        fills = await repo.fills_since(0)
        open_orders = await repo.load_open_orders()
    finally:
        await repo.close()
    usdt, btc = Decimal(1000), Decimal(0)
    for fill in fills:
        sign = 1 if fill.side is Side.BUY else -1
        btc += sign * fill.quantity
        usdt -= sign * fill.quantity * fill.price + fill.fee
    assert len(fills) == daemon.driver.stats.fills
    assert len({(f.venue, f.trade_id) for f in fills}) == len(fills)
    assert {"USDT": usdt, "BTC": btc} == {**{"BTC": Decimal(0)}, **venue.account.balances()}
    assert [o.client_order_id for o in open_orders] == venue.open_order_ids()
