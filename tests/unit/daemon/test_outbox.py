"""The live send pipeline: order kept, nothing sent before its commit, bounded, fail closed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

import pytest

from genesis.core.commands import CancelOrder, Command, SubmitOrder
from genesis.core.enums import OrderType, Side
from genesis.daemon.outbox import Outbox
from genesis.errors import StorageError


def _submit(n: int) -> SubmitOrder:
    return SubmitOrder(
        ts_init=n, strategy_id="s", instrument_id="BTCUSDT", client_order_id=f"o-{n}",
        side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.001"),
        price=Decimal(30000),
    )  # fmt: skip


def _cancel(n: int) -> CancelOrder:
    return CancelOrder(
        ts_init=n, strategy_id="s", instrument_id="BTCUSDT", client_order_id=f"o-{n}"
    )


class _Harness:
    def __init__(self, limit: int = 5_000, stopped: bool = False) -> None:
        self.sent: list[str] = []
        self.lost: list[tuple[int, str]] = []
        self.stopped = stopped
        self.outbox = Outbox(self._dispatch, self._durable, self._lost, limit=limit)

    def _dispatch(self, round_: Sequence[Command]) -> None:
        self.sent += [f"{type(c).__name__}:{c.client_order_id}" for c in round_]

    async def _durable(self, marker: asyncio.Future[None]) -> bool:
        if self.stopped:
            return marker.done()
        await marker
        return True

    def _lost(self, count: int, why: str) -> None:
        self.lost.append((count, why))


async def test_rounds_leave_in_order_each_after_its_commit() -> None:
    h = _Harness()
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    await h.outbox.put([_submit(1)], 1, first)
    await h.outbox.put([_submit(2)], 1, second)
    await h.outbox.put([_cancel(1)], 0, None)  # behind the rounds before it
    await asyncio.sleep(0)
    assert h.sent == []  # nothing committed yet: nothing sent
    second.set_result(None)  # a later marker alone does not release the first round
    await asyncio.sleep(0)
    assert h.sent == []
    first.set_result(None)
    await h.outbox.drain()
    assert h.sent == ["SubmitOrder:o-1", "SubmitOrder:o-2", "CancelOrder:o-1"]
    assert h.outbox.peak == 3


async def test_a_round_with_nothing_to_wait_for_leaves_at_once() -> None:
    h = _Harness()
    await h.outbox.put([_cancel(7)], 0, None)
    assert h.sent == ["CancelOrder:o-7"]
    assert len(h.outbox) == 0


async def test_the_loop_waits_at_the_limit_until_half_is_sent() -> None:
    h = _Harness(limit=4)
    loop = asyncio.get_running_loop()
    markers = [loop.create_future() for _ in range(4)]
    for n in range(3):
        await h.outbox.put([_submit(n)], 1, markers[n])
    blocked = asyncio.ensure_future(h.outbox.put([_submit(3)], 1, markers[3]))
    await asyncio.sleep(0.01)
    assert not blocked.done()  # four in flight: the trading loop waits
    markers[0].set_result(None)
    markers[1].set_result(None)
    await asyncio.sleep(0.01)
    assert blocked.done()  # two sent: room again
    for marker in markers[2:]:
        marker.set_result(None)
    await h.outbox.drain()
    assert h.sent == [f"SubmitOrder:o-{n}" for n in range(4)]


async def test_a_failed_commit_sends_nothing_more_and_raises_in_the_loop() -> None:
    h = _Harness()
    loop = asyncio.get_running_loop()
    bad, later = loop.create_future(), loop.create_future()
    await h.outbox.put([_submit(1)], 1, bad)
    await h.outbox.put([_submit(2), _submit(3)], 2, later)
    bad.set_exception(StorageError("disk I/O error"))
    later.set_result(None)
    with pytest.raises(StorageError, match="disk I/O error"):
        await h.outbox.drain()
    assert h.sent == []
    assert h.lost == [(3, "the journal failed to commit their intents: disk I/O error")]


async def test_a_stop_while_the_journal_cannot_commit_gives_the_rounds_up() -> None:
    h = _Harness(stopped=True)
    marker = asyncio.get_running_loop().create_future()
    await h.outbox.put([_submit(1)], 1, marker)
    await h.outbox.drain()
    assert h.sent == []
    assert h.lost == [(1, "stopping while the journal cannot commit their intents")]
