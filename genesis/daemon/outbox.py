"""The live send path, pipelined: each round leaves once its intents are durable (P1),
while the trading loop goes on with the next event.

A paper session sends each round as soon as its own commit returns, in step with
the market events, because a rebuild replays the orders at the event they were
made (``recovery.PaperRecovery``). A live venue answers on its own clock, so
nothing is gained by holding the trading loop on the commit: the loop queues the
round here with its durability marker (``Journal.commit_later``) and carries on,
and every round queued meanwhile rides on the same transaction (group commit).

* Order is kept: rounds leave in the order they were made, each after its marker;
  a round without intents (cancels, amends) waits behind the rounds before it, so
  a cancel never overtakes the order it cancels.
* P1 holds as before: no order reaches a venue before its intent is committed; a
  kill -9 loses only rounds that were never sent (their intents are durable and the
  restart's reconciliation resolves them by client id, as for any crash after a
  commit).
* Bounded: at ``limit`` rounds in flight the trading loop waits for the sender (a
  slow disk slows decisions instead of piling up orders the venue has not seen).
* A stop while the journal cannot commit gives up after the grace, as the paper path
  does: the rounds not sent are logged (``orders_not_sent``), never sent unjournaled.
* A kill switch engaged while rounds wait refuses every new order at once; the orders
  already durable and waiting still leave (their intents say they were sent), each
  followed by the kill's cancel in the next round: a window of one commit latency.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from genesis.core.commands import Command
from genesis.daemon.crashpoints import crash_point

__all__ = ["Outbox"]

_Round = tuple[Sequence[Command], int, "asyncio.Future[None] | None"]


class Outbox:
    """Rounds waiting for their commit, sent in order by one task; see the module docstring.

    Args:
        dispatch: logs and sends one round (the daemon's ``_dispatch``).
        durable: waits for a marker; False when the daemon stops before it resolves.
        lost: told how many orders were given up, and why.
        limit: rounds in flight before ``put`` waits.
    """

    def __init__(
        self,
        dispatch: Callable[[Sequence[Command]], None],
        durable: Callable[[asyncio.Future[None]], Awaitable[bool]],
        lost: Callable[[int, str], None],
        limit: int = 5_000,
    ) -> None:
        self._dispatch = dispatch
        self._durable = durable
        self._lost = lost
        self.limit = limit
        self._rounds: deque[_Round] = deque()
        self._task: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self.peak = 0  # most rounds in flight at once (the status line and the benchmark)
        self._error: BaseException | None = None  # the journal failed: raised to the loop

    def __len__(self) -> int:
        return len(self._rounds)

    async def put(
        self, round_: Sequence[Command], intents: int, marker: asyncio.Future[None] | None
    ) -> None:
        """Queue a round; one with nothing to wait for and nothing ahead leaves at once.

        Raises:
            StorageError: the journal failed to commit an earlier round (fail closed).
        """
        self._raise()
        if marker is None and not self._rounds:
            self._dispatch(round_)
            return
        self._rounds.append((round_, intents, marker))
        self.peak = max(self.peak, len(self._rounds))
        self._empty.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send(), name="outbox")
        if len(self._rounds) >= self.limit:
            self._room.clear()
            await self._room.wait()

    async def drain(self) -> None:
        """Wait until every queued round has been sent (or given up at a stop).

        Raises:
            StorageError: the journal failed to commit a round (it was not sent).
        """
        await self._empty.wait()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def cancel(self) -> None:
        """The daemon is closing without a drain: stop the sender (nothing else is sent)."""
        if self._task is not None:
            self._task.cancel()

    async def _send(self) -> None:
        try:
            while self._rounds:
                round_, intents, marker = self._rounds[0]
                try:
                    durable = marker is None or await self._durable(marker)
                except Exception as exc:  # the commit failed: nothing more leaves
                    self._error, durable = exc, False
                if not durable:
                    why = "stopping while the journal cannot commit their intents"
                    if self._error is not None:
                        why = f"the journal failed to commit their intents: {self._error}"
                    self._lost(sum(n for _, n, _ in self._rounds), why)
                    self._rounds.clear()
                    break
                if intents:
                    crash_point("after_intent_commit")
                self._rounds.popleft()
                self._dispatch(round_)
                if len(self._rounds) <= self.limit // 2:
                    self._room.set()
        finally:
            self._room.set()
            if not self._rounds:
                self._empty.set()
