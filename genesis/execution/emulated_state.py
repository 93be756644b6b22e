"""What the emulator holds of one order, as journaled (``emulated_orders``) and restored.

Its own module, not ``execution.emulation``: that module is compiled (``genesis.native``),
and mypyc drops a Struct's class keywords (``frozen``, ``kw_only``) when it compiles one.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from genesis.core.money import ZERO

__all__ = ["EmulatedState"]


class EmulatedState(msgspec.Struct, frozen=True, kw_only=True):
    """What the emulator holds of one order: journaled, restored after a restart."""

    client_order_id: str
    watermark: Decimal | None = None  # trailing stop: the best price since acceptance
    trigger: Decimal | None = None  # the level that triggers it now
    triggered: bool = False  # released to the venue (a triggered order is the venue's)
    slice_no: int = 0  # iceberg: the working slice's number (0: none yet)
    slice_leaves: Decimal = ZERO  # iceberg: what the working slice has left
