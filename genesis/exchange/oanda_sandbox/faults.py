"""The OANDA sandbox's fault hooks: the Binance sandbox's ``FaultPlan`` with v20's hooks.

Hooks (params in brackets), each firing counted in ``stats``:

* order placement (POST orders, trade and position closes), before the engine:
  ``order.error_before`` [status=503, errorCode, errorMessage]; after the engine
  acted: ``order.drop_response`` (the connection is closed, no answer),
  ``order.delay_response`` [seconds], ``order.error_after`` [status=503];
* any REST request: ``rest.force`` [status, errorMessage, retry_after, path];
* streams (pricing and transactions): ``stream.disconnect`` (closed after the
  next line), ``stream.malformed`` [frame] (one bad line), ``stream.refuse_connect``
  (503 on connect); continuous ``streams_silenced`` (no prices, no heartbeats).
"""

from __future__ import annotations

from genesis.exchange.sandbox.faults import FaultPlan

__all__ = ["HOOKS", "OandaFaultPlan"]

HOOKS = frozenset(
    {
        "order.error_before",
        "order.drop_response",
        "order.delay_response",
        "order.error_after",
        "rest.force",
        "stream.disconnect",
        "stream.malformed",
        "stream.refuse_connect",
    }
)


class OandaFaultPlan(FaultPlan):
    """Seeded fault hooks for the OANDA sandbox (see the module docstring)."""

    known_hooks = HOOKS

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.streams_silenced = False

    def clear(self) -> None:
        super().clear()
        self.streams_silenced = False
