"""Emulated orders across a live restart: the journaled state, icebergs reassembled.

``genesis.daemon.emulated`` (pure) and ``LiveRecovery.begin`` on a real SQLite journal
with a stand-in venue (nothing contacted), as in ``test_live_restart.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis import resources
from genesis.config.models import StrategyConfig
from genesis.core.commands import SubmitOrder
from genesis.core.enums import LiquiditySide, OrderStatus, OrderType, Side
from genesis.core.events import OrderFilled
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import live_daemon
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.emulated import held_state, reassemble, slice_of, slices_by_parent
from genesis.daemon.live_session import AuthRelay
from genesis.daemon.records import (
    emulated_from,
    emulated_record,
    fill_record,
    intent_detail,
    intent_record,
)
from genesis.exchange.live import VenueBalance, VenueSnapshot
from genesis.execution.emulation import EmulatedState
from genesis.risk.limits import Tier
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.storage.repository import WriteRecord

D = Decimal
PARENT = "nkn-1633998512000-1"
STOP = "nkn-1633998512000-2"
money = st.decimals(min_value=D("0.00000001"), max_value=D("1e9"), places=8)


# --- the journaled state ---------------------------------------------------------------


@given(
    watermark=st.none() | money, trigger=st.none() | money, triggered=st.booleans(),
    slice_no=st.integers(0, 10_000), leaves=money,
)  # fmt: skip
def test_the_journaled_state_round_trips_exactly(
    watermark: Decimal | None, trigger: Decimal | None, triggered: bool, slice_no: int,
    leaves: Decimal,
) -> None:  # fmt: skip
    """Every EmulatedState comes back from its journal row equal, Decimals unchanged."""
    state = EmulatedState(
        client_order_id=STOP, watermark=watermark, trigger=trigger, triggered=triggered,
        slice_no=slice_no, slice_leaves=leaves,
    )  # fmt: skip
    back = emulated_from(emulated_record(state, 7))
    assert back == state
    assert str(back.slice_leaves) == str(leaves)


def test_a_release_is_what_the_journaled_intents_say() -> None:
    """Marked released but no release journaled: never sent, so held again (watching) with
    its watermark; a release journaled: released whatever the state row says."""
    intent = _intent(STOP, OrderType.TRAILING_STOP_MARKET, "40", emulated=True,
                     trailing_offset=D("0.02"))  # fmt: skip
    release = _intent(STOP, OrderType.MARKET, "40")
    ahead = EmulatedState(client_order_id=STOP, watermark=D("0.365"), trigger=D("0.345"),
                          triggered=True)  # fmt: skip
    behind = msgspec.structs.replace(ahead, triggered=False)
    held, released = held_state(intent, None, ahead), held_state(intent, release, behind)
    assert held == behind
    assert released == ahead
    assert held_state(release, None, ahead) is None


# --- icebergs reassembled ----------------------------------------------------------------


def _intent(
    cid: str, kind: OrderType, qty: str, price: str | None = None, **extra: Any
) -> SubmitOrder:
    return SubmitOrder(
        ts_init=1_633_998_512_000_000_000, strategy_id="nkn", instrument_id="NKNUSDT",
        client_order_id=cid, side=Side.BUY if kind is OrderType.LIMIT else Side.SELL,
        order_type=kind, quantity=D(qty), price=None if price is None else D(price),
        confidence=1.0, **extra,
    )  # fmt: skip


def _iceberg() -> SubmitOrder:
    return _intent(PARENT, OrderType.LIMIT, "120", "0.35", display_qty=D(30), emulated=True)


def _slice(n: int) -> SubmitOrder:
    return _intent(f"{PARENT}-s{n}", OrderType.LIMIT, "30", "0.35")


def _fill(cid: str, trade: int, qty: str) -> OrderFilled:
    return OrderFilled(
        ts_event=trade, ts_init=trade, client_order_id=cid, strategy_id="nkn",
        instrument_id="NKNUSDT", venue="BINANCE", trade_id=str(trade), side=Side.BUY,
        last_qty=D(qty), last_px=D("0.35"), fee=D(0), fee_currency="NKN",
        liquidity=LiquiditySide.MAKER, venue_order_id=str(100 + trade),
    )  # fmt: skip


def test_slice_ids_are_recognised_only_under_a_journaled_parent() -> None:
    known = {PARENT: 1, f"{PARENT}-s1": 1, f"{PARENT}-s2": 1, "other-s1": 1}
    assert slice_of(f"{PARENT}-s2", known) == (PARENT, 2)
    assert slice_of("other-s1", known) is None  # "other" is not journaled
    assert slice_of(PARENT, known) is None
    assert slice_of(f"{PARENT}-s0", known) is None
    assert slices_by_parent([f"{PARENT}-s2", PARENT, f"{PARENT}-s1"], known) == {PARENT: [1, 2]}


def test_a_working_slice_is_resumed_with_what_its_fills_leave() -> None:
    """Slice 1 filled, slice 2 filled 10 of 30: the parent has 40 (as its own fills, same
    trade ids), slice 2 works with 20 left; the stale journaled state (slice 1) loses."""
    fills = {f"{PARENT}-s1": [_fill(f"{PARENT}-s1", 1, "30")],
             f"{PARENT}-s2": [_fill(f"{PARENT}-s2", 2, "10")]}  # fmt: skip
    stale = EmulatedState(client_order_id=PARENT, slice_no=1, slice_leaves=D(30))
    iceberg = reassemble(_iceberg(), stale, [_slice(1), _slice(2)], fills)
    assert (iceberg.state.slice_no, iceberg.state.slice_leaves) == (2, D(20))
    assert [(f.client_order_id, f.trade_id, f.last_qty) for f in iceberg.fills] == [
        (PARENT, "1", D(30)), (PARENT, "2", D(10)),
    ]  # fmt: skip
    assert iceberg.working is not None
    assert (iceberg.working[0], [f.trade_id for f in iceberg.working[1]]) == (_slice(2), ["2"])
    assert [s.client_order_id for s, _ in iceberg.finished] == [f"{PARENT}-s1"]


def test_a_slice_filled_while_down_leaves_nothing_working() -> None:
    """The venue's backfill completes slice 2: no working slice (the next goes on resume)."""
    fills = {f"{PARENT}-s1": [_fill(f"{PARENT}-s1", 1, "30")],
             f"{PARENT}-s2": [_fill(f"{PARENT}-s2", 2, "10"), _fill(f"{PARENT}-s2", 3, "20")]}  # fmt: skip
    iceberg = reassemble(_iceberg(), None, [_slice(1), _slice(2)], fills)
    assert (iceberg.state.slice_no, iceberg.state.slice_leaves) == (2, D(0))
    assert iceberg.working is None
    assert sum(f.last_qty for f in iceberg.fills) == D(60)
    assert [s.client_order_id for s, _ in iceberg.finished] == [f"{PARENT}-s1", f"{PARENT}-s2"]


# --- LiveRecovery.begin ------------------------------------------------------------------


@pytest.fixture
async def closing() -> AsyncIterator[list[Daemon]]:
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        if daemon.journal is not None:
            await daemon.journal.close()


def _journaled(intent: SubmitOrder) -> list[WriteRecord]:
    return [intent_record(intent, "BINANCE"), intent_detail(intent)]


async def _begin(
    tmp_path: Path, closing: list[Daemon], records: list[WriteRecord],
    backfill: tuple[OrderFilled, ...] = (), nkn: str = "0",
) -> tuple[Daemon, list[SubmitOrder], list[tuple[str, dict[str, Any]]]]:  # fmt: skip
    """A live daemon on a journal holding ``records`` through ``LiveRecovery.begin``; the
    venue's backfill is ``backfill``; returns the daemon, what it asked the venue, its log."""
    repo = await open_repository(None, tmp_path, LIVE_SQLITE_NAME)
    await repo.write_batch(records)
    asked: list[SubmitOrder] = []
    balances = {
        "USDT": VenueBalance("USDT", D(5000), D(0)),
        "NKN": VenueBalance("NKN", D(nkn), D(0)),
    }
    table = load_exchange_info(resources.EXCHANGE_INFO)
    venue: Any = SimpleNamespace(
        key="binance", name="BINANCE", port=None, instruments=[table.get("NKNUSDT")], marks={},
        snapshot=VenueSnapshot(open_orders=(), balances=balances, fills=backfill),
        recover=lambda intent, ts_ms: asked.append(intent),
    )  # fmt: skip
    strategy = StrategyConfig(
        id="nkn", strategy="momentum_breakout", tier=Tier.SNIPER, instruments=("NKNUSDT",)
    )
    config = DaemonConfig(tier=Tier.SNIPER, strategies=(strategy,), instruments=table,
                          data_dir=tmp_path)  # fmt: skip
    lines: list[tuple[str, dict[str, Any]]] = []
    log = SimpleNamespace(**{
        level: (lambda event, **fields: lines.append((event, fields)))
        for level in ("debug", "info", "warning", "error", "critical")
    })  # fmt: skip
    journaled = await repo.fills_since(0)
    daemon = live_daemon(config, [venue], (repo, [], journaled), Mailbox(), AuthRelay(), log=log)
    closing.append(daemon)
    assert daemon.journal is not None
    daemon.journal.start()
    await daemon.recovery.begin(daemon)
    return daemon, asked, lines


async def test_a_trailing_stop_comes_back_with_its_journaled_watermark_and_trigger(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Journaled at watermark 0.3650 / trigger 0.3450 (ratcheted from 0.3600 / 0.3400): held
    again with exactly those, watching, nothing asked of the venue, and logged."""
    intent = _intent(STOP, OrderType.TRAILING_STOP_MARKET, "40", emulated=True,
                     trailing_offset=D("0.0200"))  # fmt: skip
    states = [EmulatedState(client_order_id=STOP, watermark=D(w), trigger=D(t))
              for w, t in (("0.3600", "0.3400"), ("0.3650", "0.3450"))]  # fmt: skip
    records = [*_journaled(intent), *(emulated_record(s, n) for n, s in enumerate(states))]
    daemon, asked, lines = await _begin(tmp_path, closing, records)
    held = daemon.kernel.emulator.state(STOP)
    assert held is not None
    assert (held.watermark, held.trigger, held.triggered) == (D("0.3650"), D("0.3450"), False)
    assert daemon.kernel.emulator.watching == 1
    assert asked == []
    [restored] = [f for e, f in lines if e == "emulated_order_restored"]
    assert (restored["watermark"], restored["trigger"], restored["status"]) == (
        "0.365",
        "0.345",
        "ACCEPTED",
    )


async def test_an_iceberg_comes_back_with_its_working_slice_asked_at_the_venue(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Slice 1 filled (journaled), slice 2 filled 10 (journaled) and 5 more (backfill): the
    parent holds 45 with slice 2 working on 15, asked at the venue by its own intent; slice
    1's row ends FILLED; nothing new is sent."""
    records: list[WriteRecord] = [*_journaled(_iceberg())]
    for n in (1, 2):
        records += _journaled(_slice(n))
    records += [
        fill_record(_fill(f"{PARENT}-s1", 1, "30")),
        fill_record(_fill(f"{PARENT}-s2", 2, "10")),
    ]
    records.append(emulated_record(EmulatedState(client_order_id=PARENT, slice_no=2,
                                                 slice_leaves=D(20)), 5))  # fmt: skip
    backfill = (_fill(f"{PARENT}-s2", 3, "5"),)
    daemon, asked, _ = await _begin(tmp_path, closing, records, backfill, nkn="45")
    parent = daemon.kernel.oms.get(PARENT)
    assert parent is not None
    assert (parent.status, parent.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D(45))
    state = daemon.kernel.emulator.state(PARENT)
    assert state is not None
    assert (state.slice_no, state.slice_leaves) == (2, D(15))
    assert asked == [_slice(2)]
    assert daemon.kernel.emulator.children == {f"{PARENT}-s2": PARENT}
    assert not daemon.driver.has_commands()
    assert daemon.journal is not None
    await daemon.journal.commit()
    rows = {o.client_order_id: o for o in await daemon.journal.repo.load_orders()}
    assert (rows[f"{PARENT}-s1"].status, rows[f"{PARENT}-s1"].filled_qty) == (
        OrderStatus.FILLED, D(30),
    )  # fmt: skip


async def test_an_iceberg_whose_slice_filled_while_down_sends_the_next(
    tmp_path: Path, closing: list[Daemon]
) -> None:
    """Slice 2's last 20 came only in the venue's backfill: slice 2 is finished, nothing is
    asked, and slice 3 (30 @ 0.35) is the one command the start-up leaves to send."""
    records: list[WriteRecord] = [*_journaled(_iceberg())]
    for n in (1, 2):
        records += _journaled(_slice(n))
    records += [
        fill_record(_fill(f"{PARENT}-s1", 1, "30")),
        fill_record(_fill(f"{PARENT}-s2", 2, "10")),
    ]
    backfill = (_fill(f"{PARENT}-s2", 3, "20"),)
    daemon, asked, _ = await _begin(tmp_path, closing, records, backfill, nkn="60")
    commands = daemon.driver.take_commands()
    parent = daemon.kernel.oms.get(PARENT)
    assert parent is not None
    assert parent.filled_qty == D(60)
    assert asked == []
    assert [(c.client_order_id, c.quantity, c.price) for c in commands
            if isinstance(c, SubmitOrder)] == [(f"{PARENT}-s3", D(30), D("0.35"))]  # fmt: skip
    assert daemon.kernel.emulator.children == {f"{PARENT}-s3": PARENT}
