"""Named crash points for the kill -9 chaos tests (reliability plan R1).

``GENESIS_CRASH_AT=<hook>:<n>`` makes the process die with ``os._exit(137)``
(no cleanup, no flush: what SIGKILL leaves behind) the ``n``-th time it
passes ``hook``. Unset, every call is one dictionary lookup. The hooks are
the plan's targeted instants:

* ``after_intent_commit``: an order intent is durable, not yet sent;
* ``after_send``: the venue has the order, its events are not journaled;
* ``after_fill``: a fill reached the daemon, not yet queued for the journal;
* ``checkpoint``: halfway through queueing a checkpoint's records.
"""

from __future__ import annotations

import os
import sys

__all__ = ["HOOKS", "crash_point"]

HOOKS = ("after_intent_commit", "after_send", "after_fill", "checkpoint")


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    hook, _, count = spec.partition(":")
    if hook not in HOOKS or not count.isdigit() or int(count) < 1:
        raise SystemExit(f"GENESIS_CRASH_AT must be <hook>:<n> with hook in {HOOKS}, was {spec!r}")
    return hook, int(count)


_armed = _parse(os.environ.get("GENESIS_CRASH_AT"))
_seen: dict[str, int] = {}


def crash_point(hook: str) -> None:
    """Die here if this is the armed hook's n-th pass."""
    if _armed is None or _armed[0] != hook:
        return
    _seen[hook] = _seen.get(hook, 0) + 1
    if _seen[hook] == _armed[1]:
        sys.stderr.write(f"crash point {hook}:{_armed[1]} reached: exiting 137\n")
        sys.stderr.flush()
        os._exit(137)
