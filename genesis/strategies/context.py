"""What a strategy may see and do: the ``StrategyContext`` handed over at construction."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from genesis.core.clock import Clock
from genesis.core.instruments import Instrument
from genesis.core.orders import Order
from genesis.execution.factory import OrderFactory

if TYPE_CHECKING:
    from genesis.kernel.market import MarketView

__all__ = ["PortfolioView", "StrategyContext"]


class PortfolioView(Protocol):
    """Read-only portfolio facade for one strategy."""

    def position_qty(self, instrument_id: str) -> Decimal: ...

    def balance(self, currency: str) -> Decimal: ...

    def equity(self) -> Decimal: ...


class StrategyContext:
    """Clock, read-only views, order factory and the two verbs: submit and cancel.

    ``submit`` hands the order to the kernel, which runs risk checks and either
    queues a ``SubmitOrder`` command or marks the order DENIED (the strategy
    then sees the ``OrderDenied`` event in ``on_order``).
    """

    __slots__ = (
        "_cancel",
        "_instruments",
        "_open_orders",
        "_submit",
        "clock",
        "log",
        "market",
        "orders",
        "portfolio",
        "strategy_id",
    )

    def __init__(
        self,
        *,
        strategy_id: str,
        clock: Clock,
        instruments: Callable[[str], Instrument],
        portfolio: PortfolioView,
        market: MarketView,
        submit: Callable[[Order], None],
        cancel: Callable[[Order], None],
        open_orders: Callable[[str, str], list[Order]],
        log: Any,
    ) -> None:
        self.strategy_id = strategy_id
        self.clock = clock
        self.orders = OrderFactory(strategy_id, clock, instruments)
        self.portfolio = portfolio
        self.market = market
        self.log = log
        self._instruments = instruments
        self._submit = submit
        self._cancel = cancel
        self._open_orders = open_orders

    def instrument(self, instrument_id: str) -> Instrument:
        return self._instruments(instrument_id)

    def submit(self, order: Order) -> None:
        """Send ``order`` through risk to the venue (asynchronously, as a command)."""
        self._submit(order)

    def cancel(self, order: Order) -> None:
        """Request cancellation of an open order."""
        self._cancel(order)

    def open_orders(self, instrument_id: str) -> list[Order]:
        """This strategy's open (or not yet sent) orders on ``instrument_id``."""
        return self._open_orders(self.strategy_id, instrument_id)

    def set_timer(self, name: str, at_ns: int, interval_ns: int = 0) -> None:
        """Call ``on_timer`` at ``at_ns`` (then every ``interval_ns`` if > 0)."""
        self.clock.set_timer(f"{self.strategy_id}:{name}", at_ns, interval_ns)
