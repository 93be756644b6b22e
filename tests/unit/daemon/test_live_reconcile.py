"""Start-up reconciliation (P5), paper/live isolation (R23) and the venue mailbox."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.core.enums import LiquiditySide, OrderType, Side
from genesis.core.events import OrderAccepted, OrderFilled
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import run_paper
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import DaemonConfig
from genesis.daemon.live_session import LiveEndpoints, open_live_session
from genesis.daemon.reconcile import (
    check_session_mode,
    last_trade_ids,
    reconcile,
    session_mode,
)
from genesis.data.sources import DataSpec
from genesis.errors import ConfigError
from genesis.exchange.binance import Credentials
from genesis.exchange.live import VenueBalance, VenueOrder, VenueSnapshot
from genesis.risk.limits import Tier
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository, sqlite_path
from genesis.storage.repository import AuditRecord, FillRecord

D = Decimal


def _started(mode: str | None) -> AuditRecord:
    detail = {"configs": {}} if mode is None else {"mode": mode, "configs": {}}
    return AuditRecord(1, "daemon", "session_started", json.dumps(detail))


def _fill(trade_id: str, cid: str = "s-1") -> OrderFilled:
    return OrderFilled(
        venue="BINANCE", trade_id=trade_id, side=Side.BUY, last_qty=D("40"), last_px=D("0.3524"),
        fee=D("0.014096"), fee_currency="USDT", liquidity=LiquiditySide.TAKER,
        venue_order_id="7", client_order_id=cid, strategy_id="", instrument_id="NKNUSDT",
        ts_event=5, ts_init=6,
    )  # fmt: skip


def _order(cid: str) -> VenueOrder:
    return VenueOrder(
        instrument_id="NKNUSDT", client_order_id=cid, venue_order_id="9", side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=D("60"), filled_qty=D(0), price=D("0.2"),
        status="NEW",
    )  # fmt: skip


def _snapshot(*orders: VenueOrder) -> VenueSnapshot:
    balances = {"USDT": VenueBalance("USDT", D("985.5"), D("12.0024"))}
    return VenueSnapshot(open_orders=orders, balances=balances, fills=(_fill("1"), _fill("2")))


def test_session_mode_of_old_journals_is_paper() -> None:
    """A session_started without a mode predates live trading: it was paper."""
    assert session_mode([]) is None
    assert session_mode([_started(None)]) == "paper"
    assert session_mode([_started("live")]) == "live"


@pytest.mark.parametrize(("held", "wanted"), [(None, "live"), ("paper", "live"), ("live", "paper")])
def test_a_journal_never_mixes_paper_and_live(held: str | None, wanted: str) -> None:
    """R23: live refuses a paper journal (including one without a mode) and vice versa."""
    mode_held = "paper" if held is None else held
    with pytest.raises(ConfigError, match=f"holds a {mode_held} session; {wanted} trading refuses"):
        check_session_mode([_started(held)], wanted)


def test_same_mode_and_new_journals_are_accepted() -> None:
    check_session_mode([], "live")
    check_session_mode([_started("live")], "live")
    check_session_mode([_started(None)], "paper")


def test_live_journal_has_its_own_default_file(tmp_path: Path) -> None:
    assert sqlite_path(None, tmp_path, LIVE_SQLITE_NAME) == tmp_path / "genesis-live.db"
    assert sqlite_path(None, tmp_path) == tmp_path / "genesis.db"
    assert sqlite_path("sqlite:///x.db", tmp_path, LIVE_SQLITE_NAME) == tmp_path / "x.db"


async def test_live_refuses_a_database_holding_a_paper_session(tmp_path: Path) -> None:
    """Checked before any connection: the venue URL is never contacted (port 9 is closed)."""
    url = "sqlite:///shared.db"
    repo = await open_repository(url, tmp_path)
    await repo.write_batch([_started(None)])
    await repo.close()
    endpoints = LiveEndpoints(
        rest_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", ws_api_url="ws://127.0.0.1:9",
        credentials=Credentials("k", "s"),
    )  # fmt: skip
    with pytest.raises(ConfigError, match="holds a paper session; live trading refuses"):
        await open_live_session("NKNUSDT", endpoints, url, tmp_path)


def test_paper_refuses_a_database_holding_a_live_session(tmp_path: Path) -> None:
    """The paper daemon checks the same rule on its journal before it trades."""
    import asyncio

    async def seed() -> None:
        repo = await open_repository(None, tmp_path)
        await repo.write_batch([_started("live")])
        await repo.close()

    asyncio.run(seed())
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=(), instruments=load_exchange_info(resources.EXCHANGE_INFO),
        data=(DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT"),),
        data_dir=tmp_path, speed=0, max_events=5,
    )  # fmt: skip
    with pytest.raises(ConfigError, match="holds a live session; paper trading refuses"):
        run_paper(config)


def test_reconcile_backfills_only_what_the_journal_lacks() -> None:
    """Trade 1 is journaled, trade 2 is not: one fill backfilled, balances journaled as held."""
    journaled = [FillRecord("BINANCE", "NKNUSDT", "1", "s-1", "7", Side.BUY, D("0.3524"), D("40"),
                            D("0.014096"), "USDT", 5)]  # fmt: skip
    found = reconcile(_snapshot(), journaled, set(), "BINANCE", 99)
    assert [(f.trade_id, f.price, f.quantity, f.fee) for f in found.fills] == [
        ("2", D("0.3524"), D("40"), D("0.014096"))
    ]
    assert [(b.asset, b.free, b.locked, b.ts_ns) for b in found.balances] == [
        ("USDT", D("985.5"), D("12.0024"), 99)
    ]
    assert found.start_balances == {"USDT": D("997.5024")}
    assert found.halt_reason is None


def test_unknown_open_orders_halt_and_are_named() -> None:
    """P5: an open order this process does not know halts it; the reason names the order."""
    found = reconcile(_snapshot(_order("flip-1-2"), _order("mine")), [], {"mine"}, "BINANCE", 1)
    assert [o.client_order_id for o in found.unknown_orders] == ["flip-1-2"]
    assert found.halt_reason == (
        "venue holds 1 open order(s) this process does not know:"
        " flip-1-2 (NKNUSDT BUY 60 @ 0.2 NEW); cancel them (genesis kill) and reset"
    )


def test_last_trade_ids_per_symbol_of_one_venue() -> None:
    def rec(venue: str, symbol: str, trade: str) -> FillRecord:
        return FillRecord(venue, symbol, trade, "c", "v", Side.BUY, D(1), D(1), D(0), "USDT", 1)

    fills = [rec("BINANCE", "NKNUSDT", "19862791"), rec("BINANCE", "NKNUSDT", "4"),
             rec("PAPER", "LRCBTC", "90"), rec("BINANCE", "LRCBTC", "p-3")]  # fmt: skip
    assert last_trade_ids(fills, "BINANCE") == {"NKNUSDT": 19862791}


def _accepted(cid: str) -> OrderAccepted:
    return OrderAccepted(
        venue_order_id="1", client_order_id=cid, strategy_id="s", instrument_id="NKNUSDT",
        ts_event=1, ts_init=1,
    )  # fmt: skip


def test_mailbox_keeps_order_and_wakes_the_loop_once_per_batch() -> None:
    """Events arrive in order; one wake token per batch; a refused wake (full queue) never
    loses an event and the next event tries again."""
    wakes: list[bool] = []
    answers = iter([False, True, True])

    def wake() -> bool:
        wakes.append(True)
        return next(answers)

    box = Mailbox()
    box(_accepted("a"))  # before attach: buffered, nobody to wake
    box.attach(wake)  # queue full: refused
    box(_accepted("b"))  # tries again: accepted
    box(_accepted("c"))  # already woken: no second token
    assert (len(wakes), len(box)) == (2, 3)
    assert [e.client_order_id for e in box.drain()] == ["a", "b", "c"]
    box(_accepted("d"))  # drained: the next event wakes again
    assert (len(wakes), box.received, box.peak) == (3, 4, 3)
