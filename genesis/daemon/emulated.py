"""Emulated orders across a live restart: their journaled state, icebergs reassembled.

The kernel holds the orders no venue carries (``genesis.execution.emulation``)
and the journal keeps what it holds of each: one ``emulated_orders`` row per
order, the latest state wins (``genesis.daemon.journal``). A live restart
(``genesis.daemon.recovery.LiveRecovery``) adopts each open one with it:

* **Triggers.** A trailing stop keeps its watermark and trigger, a stop or an
  if-touched order the trigger it had (an operator may have moved it).
  Whether it was released is what the journal's intents say: the release is
  journaled as an intent of its own, under the same client id, before it is
  sent. A state marked released without that intent was never sent; the
  order is held again and triggers again at its price.
* **Icebergs** are rebuilt from what the venue did, not from what the daemon
  last wrote. The slices are the journaled intents ``<parent>-s<n>``, their
  fills the journal's plus the venue's backfill (a slice the venue filled
  while the daemon was down has its fills only there). Every slice's fills
  are the parent's (same trade ids, booked once). The last slice sent is the
  working one, with what its fills leave of it: something left, it is
  resumed at the venue (asked by client id; its events are the parent's
  again); nothing left, the next slice goes out once the start-up has
  restored the kill switch and breakers (``Kernel.resume_emulated``). The
  journaled ``slice_no`` / ``slice_leaves`` only say what the daemon knew
  when it last wrote; where they differ, the venue's fills win.

Pure functions over journal rows and fills: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import msgspec

from genesis.core.commands import SubmitOrder
from genesis.core.events import OrderFilled
from genesis.core.money import ZERO
from genesis.execution.emulation import EmulatedState

__all__ = ["Iceberg", "held_state", "reassemble", "slice_of", "slices_by_parent"]

_SLICE: Final = re.compile(r"^(?P<parent>.+)-s(?P<n>[1-9][0-9]*)$")


def slice_of(client_order_id: str, known: Mapping[str, object]) -> tuple[str, int] | None:
    """``(parent id, n)`` when ``client_order_id`` is slice ``n`` of a ``known`` order.

    Factory ids end in a number (``<strategy>-<ts>-<seq>``), so only the emulator's
    ``<parent>-s<n>`` matches, and only with its parent journaled.
    """
    match = _SLICE.match(client_order_id)
    if match is None or match["parent"] not in known:
        return None
    return match["parent"], int(match["n"])


def slices_by_parent(ids: Sequence[str], known: Mapping[str, object]) -> dict[str, list[int]]:
    """The journaled slice numbers of each parent, ascending."""
    found: dict[str, list[int]] = {}
    for cid in ids:
        parsed = slice_of(cid, known)
        if parsed is not None:
            found.setdefault(parsed[0], []).append(parsed[1])
    return {parent: sorted(numbers) for parent, numbers in found.items()}


def held_state(
    intent: SubmitOrder, release: SubmitOrder | None, journaled: EmulatedState | None
) -> EmulatedState | None:
    """What the kernel holds again of an emulated order that triggers (None: the venue's).

    The journaled state as it was last written; released exactly when the release's
    intent was journaled (see the module docstring). Without a journaled state (a
    journal from before they were kept) the order's own trigger applies and a
    trailing watermark starts again from the first price after the restart.
    """
    if not intent.emulated:
        return None
    base = journaled or EmulatedState(client_order_id=intent.client_order_id)
    return msgspec.structs.replace(base, triggered=release is not None)


@dataclass(frozen=True, slots=True)
class Iceberg:
    """An iceberg as the venue left it: what ``Kernel.adopt`` takes, and its slices."""

    state: EmulatedState  # slice_no: the last slice sent; slice_leaves: what it has left
    fills: tuple[OrderFilled, ...]  # every slice's fills, as the parent's
    working: tuple[SubmitOrder, tuple[OrderFilled, ...]] | None  # at the venue, to resume
    finished: tuple[tuple[SubmitOrder, tuple[OrderFilled, ...]], ...]  # slices done


def reassemble(
    intent: SubmitOrder,
    journaled: EmulatedState | None,
    slices: Sequence[SubmitOrder],
    fills: Mapping[str, Sequence[OrderFilled]],
) -> Iceberg:
    """The iceberg ``intent`` from its journaled ``slices`` (ascending) and the ``fills``
    known by client order id (journaled and backfilled); see the module docstring."""
    parent = intent.client_order_id
    own: list[OrderFilled] = []
    done: list[tuple[SubmitOrder, tuple[OrderFilled, ...]]] = []
    for piece in (intent, *slices):
        mine = tuple(fills.get(piece.client_order_id, ()))
        own += [msgspec.structs.replace(f, client_order_id=parent) for f in mine]
        if piece is not intent:
            done.append((piece, mine))
    working, number, leaves = None, 0, ZERO
    if done:
        last, last_fills = done[-1]
        number = int(last.client_order_id.rsplit("-s", 1)[1])
        leaves = max(last.quantity - sum((f.last_qty for f in last_fills), ZERO), ZERO)
        if leaves > 0:
            working = done.pop()
    base = journaled or EmulatedState(client_order_id=parent)
    state = msgspec.structs.replace(base, triggered=False, slice_no=number, slice_leaves=leaves)
    ordered = tuple(sorted(own, key=lambda f: f.ts_event))  # stable: ties keep their order
    return Iceberg(state, ordered, working, tuple(done))
