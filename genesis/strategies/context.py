"""What a strategy may see and do: the ``StrategyContext`` handed over at construction."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, SupportsInt

from genesis.core.clock import Clock
from genesis.core.enums import Side
from genesis.core.instruments import Instrument
from genesis.core.orders import Order
from genesis.errors import InvalidOrder
from genesis.execution.factory import OrderFactory

if TYPE_CHECKING:
    from genesis.kernel.market import MarketView
    from genesis.kernel.parents import ParentDesk
    from genesis.portfolio.performance import StrategyPerformance

__all__ = ["PortfolioView", "StrategyContext"]


class PortfolioView(Protocol):
    """Read-only portfolio facade for one strategy."""

    def position_qty(self, instrument_id: str) -> Decimal: ...

    def balance(self, currency: str) -> Decimal: ...

    def equity(self) -> Decimal: ...


class StrategyContext:
    """Clock, read-only views, order factory and the verbs a strategy acts with.

    ``submit`` hands an order to the kernel, which runs risk checks and either
    queues a ``SubmitOrder`` command or marks the order DENIED (the strategy
    then sees the ``OrderDenied`` event in ``on_order``). ``buy``, ``sell`` and
    ``close`` are the short forms most strategies need: they build the order
    (market, or limit with ``price``), carry the signal's confidence and reason,
    and submit it.
    """

    __slots__ = (
        "_cancel",
        "_instruments",
        "_modify",
        "_open_orders",
        "_parents",
        "_performance",
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
        performance: Callable[[], StrategyPerformance] | None = None,
        parents: ParentDesk | None = None,
        modify: Callable[[Order, object, object, object], None] | None = None,
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
        self._modify = modify
        self._open_orders = open_orders
        self._performance = performance
        self._parents = parents

    def instrument(self, instrument_id: str) -> Instrument:
        return self._instruments(instrument_id)

    def submit(self, order: Order) -> None:
        """Send ``order`` through risk to the venue (asynchronously, as a command)."""
        self._submit(order)

    def cancel(self, order: Order) -> None:
        """Request cancellation of an open order."""
        self._cancel(order)

    def modify(
        self,
        order: object,
        *,
        price: object = None,
        quantity: object = None,
        trigger_price: object = None,
    ) -> None:
        """Request new terms for a working order of this strategy (EX-2).

        ``quantity`` is the order's new *total* quantity (what has filled included);
        values are rounded as the factory rounds them. The order goes PENDING_UPDATE;
        ``on_order`` then sees ``OrderUpdated`` or ``OrderModifyRejected`` (risk refuses a
        modify that grows exposure beyond what an entry may take, with the risk code).

        Raises:
            InvalidOrder: not an order of this strategy, not working, a market order or an
                OCO leg, a value that is not a positive number on the instrument's
                increments, or nothing to change.
            RuntimeError: the context was built without a modify path.
        """
        if not isinstance(order, Order) or order.strategy_id != self.strategy_id:
            raise InvalidOrder(
                f"{self.strategy_id}: modify takes one of this strategy's orders, was {order!r}"
            )
        if self._modify is None:
            raise RuntimeError(f"{self.strategy_id}: no modify path in this context")
        self._modify(order, price, quantity, trigger_price)

    def open_orders(self, instrument_id: str) -> list[Order]:
        """This strategy's open (or not yet sent) orders on ``instrument_id``."""
        return self._open_orders(self.strategy_id, instrument_id)

    def set_timer(self, name: str, at_ns: SupportsInt, interval_ns: SupportsInt = 0) -> None:
        """Call ``on_timer`` at ``at_ns`` (then every ``interval_ns`` if > 0); any integral
        number is taken (a float, a numpy integer), as the strategy's own code is Python."""
        self.clock.set_timer(f"{self.strategy_id}:{name}", int(at_ns), int(interval_ns))

    @property
    def performance(self) -> StrategyPerformance:
        """This strategy's own running figures: trades, win rate, payoff, P&L, drawdown.

        Raises:
            RuntimeError: the context was built without a performance book.
        """
        if self._performance is None:
            raise RuntimeError(f"{self.strategy_id}: no performance book in this context")
        return self._performance()

    def position(self, instrument_id: str) -> Decimal:
        """This strategy's signed position on ``instrument_id`` (0 when flat)."""
        return self.portfolio.position_qty(instrument_id)

    def buy(self, instrument_id: str, quantity: object, **kw: Any) -> Order | None:
        """Buy ``quantity`` at market, or at ``price=`` as a limit; see ``trade``."""
        return self.trade(instrument_id, Side.BUY, quantity, **kw)

    def sell(self, instrument_id: str, quantity: object, **kw: Any) -> Order | None:
        """Sell ``quantity`` at market, or at ``price=`` as a limit; see ``trade``."""
        return self.trade(instrument_id, Side.SELL, quantity, **kw)

    def trade(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        *,
        price: object = None,
        stop_loss: object = None,
        take_profit: object = None,
        confidence: float | None = None,
        reason: object = "",
        **kw: Any,
    ) -> Order | None:
        """Build and submit one order; the order, or None when it could not be built.

        An order the instrument cannot carry (the quantity rounds to zero at its
        step size, a price off the book) is not an error in a strategy: it is
        logged as ``order_not_built`` with the reason and None is returned.
        ``reason`` names the signal in the logs (``signal`` line).
        """
        try:
            if price is None:
                order = self.orders.market(
                    instrument_id, side, quantity,
                    stop_loss=stop_loss, take_profit=take_profit, confidence=confidence, **kw,
                )  # fmt: skip
            else:
                order = self.orders.limit(
                    instrument_id, side, quantity, price,
                    stop_loss=stop_loss, take_profit=take_profit, confidence=confidence, **kw,
                )  # fmt: skip
        except InvalidOrder as exc:
            self.log.info(
                "order_not_built",
                strategy_id=self.strategy_id,
                instrument=instrument_id,
                side=side.value,
                reason=str(reason) if reason else None,
                error=str(exc),
            )
            return None
        self.log.info(
            "signal",
            strategy_id=self.strategy_id,
            correlation_id=order.correlation_id,
            instrument=instrument_id,
            side=side.value,
            quantity=str(order.quantity),
            confidence=confidence,
            reason=str(reason) if reason else None,
        )
        self.submit(order)
        return order

    def close(
        self, instrument_id: str, *, confidence: float | None = None, reason: object = ""
    ) -> Order | None:
        """Cancel this strategy's working orders on ``instrument_id`` and close its position
        at market; None when already flat (the cancels still go)."""
        for order in self.open_orders(instrument_id):
            self.cancel(order)
        position = self.position(instrument_id)
        if position == 0:
            return None
        side = Side.SELL if position > 0 else Side.BUY
        return self.trade(
            instrument_id, side, abs(position), confidence=confidence, reason=reason or "close"
        )

    def start_parent(
        self,
        instrument_id: str,
        side: Side,
        quantity: object,
        *,
        algo: object,
        horizon_s: SupportsFloat,
    ) -> str:
        """Open a parent order for an execution algorithm (EX-3, ST-X6); its id.

        Send the children with ``correlation_id=`` that id: their fills, the market's
        prints and the arrival price make the parent's TCA when ``finish_parent``
        closes it (or the session ends). The quantity is rounded to the instrument.

        Raises:
            RuntimeError: the context has no parent desk.
            ValueError: a quantity or horizon that is not positive.
        """
        if self._parents is None:
            raise RuntimeError(f"{self.strategy_id}: no parent-order desk in this context")
        qty = self._instruments(instrument_id).quantity(quantity)
        now = self.clock.now_ns()
        algo, horizon_s = str(algo), float(horizon_s)
        pid = self._parents.start(
            self.strategy_id, instrument_id, side, qty, algo=algo, horizon_s=horizon_s, now_ns=now
        )
        self.log.info(
            "parent_started", strategy_id=self.strategy_id, parent_id=pid, algo=algo,
            instrument=instrument_id, side=side.value, quantity=str(qty), horizon_s=horizon_s,
        )  # fmt: skip
        return pid

    def finish_parent(self, parent_id: str, reason: object = "") -> None:
        """Close a parent order; ``reason`` says why it ended short ("" when complete)."""
        if self._parents is not None:
            self._parents.finish(parent_id, str(reason or ""), self.clock.now_ns())
