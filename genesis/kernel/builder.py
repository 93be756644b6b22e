"""The one place a ``Kernel`` is assembled (R4): backtest, paper, live and tests use it.

A ``SessionSpec`` describes the session: instruments, the starting balances
and prices, the tier and its limits, fees, accounting, and the strategies;
``build_kernel`` turns it into a kernel with its portfolio, risk engine and
OMS. Nothing here knows which mode it serves: the mode is in what the caller
plugs around the kernel (clock, driver, venue ports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from genesis.core.clock import SimClock
from genesis.core.enums import AccountingMethod
from genesis.core.events import OrderFilled
from genesis.core.instruments import Instrument
from genesis.data.book import BookSync
from genesis.execution.oms import OrderManager
from genesis.execution.tca import TcaRecord
from genesis.kernel.kernel import Kernel
from genesis.kernel.market import MarketView
from genesis.kernel.regimes import parse_regimes
from genesis.portfolio import ClosedLot, Portfolio
from genesis.risk.config import RiskConfig
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.base import Strategy

if TYPE_CHECKING:  # the strategy-file models (pydantic): a backtest from the command line has none
    from genesis.config.models import StrategyConfig

__all__ = ["SessionSpec", "StrategySpec", "build_kernel", "strategy_specs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategySpec:
    """One strategy instance: class, id, validated params and its instrument ids."""

    cls: type[Strategy[Any]]
    strategy_id: str
    params: Any
    instruments: tuple[str, ...]
    requires_stop_loss: bool = False
    regimes: tuple[str, ...] = ()  # ST-H4: the regimes it trades in (empty: all)


@dataclass(frozen=True, kw_only=True)
class SessionSpec:
    """Everything a kernel is built from.

    Attributes:
        instruments: instrument id -> Instrument (a callable raising on unknown ids,
            or a mapping).
        balances: starting balances by asset (the portfolio's view of the account).
        base_currency: what equity is valued in.
        marks: starting prices by instrument id (a live start values what it holds).
        daily_loss_limit: a fraction; None takes the tier's (none without a tier).
        dedup_window / forget_closed: memory knobs for long runs.
        venue_balances: each venue's account (venue -> asset -> amount) for a session on
            several venues: an order is then funded only by its venue's account.
        books: the market view's L2 book factory; a ``SharedBooks`` also handed to the
            simulated venues keeps one book per instrument (backtest, paper).
        risk: the risk config (``config/risk.yaml``): the tier's limits, breakers and
            the measures' sampling; None keeps the built-in defaults.
    """

    instruments: Callable[[str], Instrument] | Mapping[str, Instrument]
    balances: Mapping[str, Decimal]
    base_currency: str
    strategies: Sequence[StrategySpec] = ()
    tier: Tier | None = None
    fee_rate: Decimal = Decimal(0)
    daily_loss_limit: Decimal | None = None
    accounting: AccountingMethod = AccountingMethod.FIFO
    closed_lot_sink: Callable[[ClosedLot], None] | None = None
    fill_sink: Callable[[OrderFilled], None] | None = None  # every fill booked, in order
    tca_sink: Callable[[TcaRecord], None] | None = None  # each parent order's TCA
    dedup_window: int | None = None
    forget_closed: bool = False
    start_ns: int = 0
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    venue_balances: Mapping[str, Mapping[str, Decimal]] | None = None
    books: Callable[[str], BookSync] = BookSync
    risk: RiskConfig | None = None


def build_kernel(spec: SessionSpec, log: Any) -> Kernel:
    """Assemble portfolio, risk, OMS and strategies on a ``SimClock`` at ``spec.start_ns``.

    Raises:
        ConfigError: a strategy names an unknown instrument, or a balance is not finite.
        ValueError: two strategies share an id; a daily loss limit outside (0, 1).
    """
    lookup = spec.instruments
    if isinstance(lookup, Mapping):
        lookup = _lookup(lookup)
    portfolio = Portfolio(
        lookup,
        method=spec.accounting,
        balances=spec.balances,
        base_currency=spec.base_currency,
        closed_lot_sink=spec.closed_lot_sink,
        dedup_window=spec.dedup_window,
        venue_balances=spec.venue_balances,
    )
    # each currency is valued by a session instrument quoting it, whatever the id's format
    listed = spec.instruments if isinstance(spec.instruments, Mapping) else {}
    traded = (i for s in spec.strategies for i in s.instruments)
    portfolio.price_by(dict.fromkeys([*listed, *traded, *spec.marks]))
    for instrument_id, price in spec.marks.items():
        portfolio.mark(instrument_id, price)
    kernel = Kernel(
        clock=SimClock(spec.start_ns),
        instruments=lookup,
        portfolio=portfolio,
        risk=_risk_engine(spec),
        fee_rate=spec.fee_rate,
        log=log,
        market=MarketView(spec.books),
        oms=OrderManager(forget_closed=spec.forget_closed),
        fill_sink=spec.fill_sink,
        tca_sink=spec.tca_sink,
    )
    for s in spec.strategies:
        kernel.add_strategy(
            s.cls,
            s.strategy_id,
            s.params,
            s.instruments,
            requires_stop_loss=s.requires_stop_loss,
            regimes=parse_regimes(s.regimes),
        )
    return kernel


def strategy_specs(configs: Iterable[StrategyConfig]) -> list[StrategySpec]:
    """The registry's class and validated params for each configured instance.

    Raises:
        ConfigError: an unknown strategy name or invalid params (naming the config).
    """
    specs = []
    for config in configs:
        entry = registry.get(config.strategy)
        specs.append(
            StrategySpec(
                cls=entry.cls,
                strategy_id=config.id,
                params=registry.parse_params(entry, config.params, source=config.id),
                instruments=config.instruments,
                requires_stop_loss=config.requires_stop_loss,
                regimes=config.regimes,
            )
        )
    return specs


def _risk_engine(spec: SessionSpec) -> RiskEngine:
    config = spec.risk or RiskConfig()
    return RiskEngine(
        spec.tier,
        daily_loss_limit=spec.daily_loss_limit,
        limits=config.limits(spec.tier) if spec.tier is not None else None,
        measures=config.measure_settings(),
        currency=spec.base_currency,
        compliance=config.compliance_rules(),
    )


def _lookup(table: Mapping[str, Instrument]) -> Callable[[str], Instrument]:
    return table.__getitem__
