"""The process's garbage-collector policy: fewer, later cyclic collections.

Every order allocates a few dozen container objects (the order, its events, fills,
lots, ledger rows). With CPython's default thresholds (700, 10, 10) a collection runs
every few orders and each older-generation pass walks the whole growing session state,
which cost about 15% of a fill's time (benchmarks/orders.py, ``fill_market``). The
kernel makes almost no reference cycles, so the young generation is collected every
50,000 allocations instead, and the objects that live as long as the process (modules,
instruments, configuration: everything alive when the command starts) are moved out
of the collector's sight with ``gc.freeze()``. Reference counting frees everything
else as before; cycles are still collected, later.

``apply()`` is called once by ``python -m genesis`` before it runs any command, and by
the benchmarks that measure what a command does. ``GENESIS_GC=default`` keeps
CPython's own policy.
"""

from __future__ import annotations

import gc
import os

__all__ = ["THRESHOLDS", "apply"]

THRESHOLDS = (50_000, 20, 100)


def apply() -> bool:
    """Freeze what is alive now and raise the thresholds; False (nothing done) when
    ``GENESIS_GC=default``."""
    if os.environ.get("GENESIS_GC", "").strip().lower() == "default":
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
