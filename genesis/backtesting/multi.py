"""A backtest on several recordings at once: many symbols, many venues, one strategy.

``backtest --data F1 --data F2 ...`` replays every recording merged by the time
its events were seen (``genesis.data.sources.open_sources``), the way the paper
daemon does: the same kernel, driver and one simulated venue per venue, each
with its own account (``--cash`` split evenly between the venues, in each quote
currency its instruments trade against), the strategy subscribed to every
instrument the recordings bring. Outputs are the single-recording backtest's:
``trades.csv``, ``equity.csv`` (equity in the first instrument's quote currency
on a grid of ``--sample-ms``) and ``metrics.json``; reruns are byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from genesis.backtesting.metrics import Metrics, periods_per_year
from genesis.backtesting.runner import (
    BacktestConfig,
    RunOutputs,
    emulate_as,
    order_sink,
    run_outputs,
    write_performance,
)
from genesis.core.instruments import InstrumentTable, split_instrument_id
from genesis.data.book import SharedBooks
from genesis.data.sources import DataSpec, instruments_for, open_sources
from genesis.errors import DataError
from genesis.exchange.darkpool import DarkPoolVenue, simulated_venue
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.kernel.builder import SessionSpec, StrategySpec, build_kernel
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel

__all__ = ["MultiResult", "run_multi_backtest"]


@dataclass(slots=True)
class MultiResult:
    metrics: Metrics
    events: int
    instruments: tuple[str, ...]
    inferred: tuple[str, ...]
    fills: int
    venue_balances: dict[str, dict[str, Decimal]]


class _NullLog:
    def _noop(self, *args: object, **kwargs: object) -> None:
        return None

    debug = info = warning = error = critical = _noop


def _accounts(
    ids: Sequence[str], table: InstrumentTable, cash: Decimal
) -> dict[str, dict[str, Decimal]]:
    quotes: dict[str, set[str]] = {}
    for iid in ids:
        quotes.setdefault(split_instrument_id(iid)[0], set()).add(table.get(iid).quote)
    share = cash / len(quotes)  # each venue an equal share, split between its quote currencies
    return {
        venue: dict.fromkeys(sorted(qs), share / len(qs)) for venue, qs in sorted(quotes.items())
    }


def _fees(config: BacktestConfig, venue: str) -> FeeModel:
    """``--venue-fee-bps VENUE=BPS`` (maker and taker) where given, else ``--fee-bps``."""
    own = config.venue_fee_bps.get(venue)
    if own is not None:
        return FeeModel(maker_bps=own, taker_bps=own)
    maker = config.fee_bps if config.maker_fee_bps is None else config.maker_fee_bps
    return FeeModel(maker_bps=maker, taker_bps=config.fee_bps)


def _kernel(
    config: BacktestConfig,
    run: RunOutputs,
    ids: tuple[str, ...],
    table: InstrumentTable,
    accounts: dict[str, dict[str, Decimal]],
) -> tuple[Kernel, dict[str, SimulatedVenue | DarkPoolVenue]]:
    fees = {v: _fees(config, v) for v in accounts}
    books = SharedBooks()  # the venues' L2 books are the kernel's: one copy
    venues = {  # a venue named in DARK_VENUES (dark:BTCUSD) is a simulated dark pool
        v: simulated_venue(
            v,
            instruments=table.get,
            balances=b,
            fees=fees[v],
            name=f"SIM-{v.upper()}",
            books=books,
        )
        for v, b in accounts.items()
    }
    total: dict[str, Decimal] = {}
    for held in accounts.values():
        for asset, amount in held.items():
            total[asset] = total.get(asset, Decimal(0)) + amount
    strategy = StrategySpec(
        cls=run.spec.cls,
        strategy_id=config.strategy_id or config.strategy,
        params=run.params,
        instruments=ids,
        requires_stop_loss=config.requires_stop_loss,
        regimes=config.regimes,
    )
    spec = SessionSpec(
        instruments=table.get,
        balances=total,
        base_currency=table.get(ids[0]).quote,
        strategies=[strategy],
        tier=config.tier,
        risk=config.risk,
        fee_rate=max(f.worst_rate for f in fees.values()),
        accounting=config.accounting,
        closed_lot_sink=run.sink,
        fill_sink=run.fills.add,
        tca_sink=run.tca.add,
        forget_closed=True,
        venue_balances=accounts if len(accounts) > 1 else None,
        books=books,
    )
    kernel = build_kernel(spec, _NullLog())
    emulate_as(kernel, accounts, config.capabilities)
    return kernel, venues


def run_multi_backtest(
    config: BacktestConfig,
    specs: Sequence[DataSpec],
    table: InstrumentTable,
    out_dir: Path,
    sample_ns: int,
    progress: Callable[[int], None] | None = None,
) -> MultiResult:
    """Replay every recording of ``specs`` for ``config.strategy``; write the three outputs.

    Raises:
        ConfigError: unknown strategy, invalid parameters, a bad ``--data``.
        DataError: an unreadable recording, or none with any event.
    """
    found = instruments_for(specs, table)
    ids = found.instrument_ids
    accounts = _accounts(ids, found.table, config.cash)
    with run_outputs(replace(config, instrument=found.table.get(ids[0])), out_dir) as run:
        kernel, venues = _kernel(config, run, ids, found.table, accounts)
        driver = Driver(kernel, venues, record=False, on_command=order_sink(run))
        events = _replay(driver, run, open_sources(specs), sample_ns, progress)
    fees = kernel.portfolio.fees_by_currency().get(kernel.instruments(ids[0]).quote, Decimal(0))
    rejected = kernel.denied + sum(v.rejected for v in venues.values())
    metrics = run.metrics.finish(
        exposed_bars=0,
        fees=fees,
        rejected_orders=rejected,
        final_equity=kernel.portfolio.equity(),
        periods_per_year=periods_per_year(sample_ns),
    )
    (out_dir / "metrics.json").write_text(metrics.to_json(), encoding="utf-8")
    write_performance(out_dir, kernel)
    return MultiResult(
        metrics=metrics,
        events=events,
        instruments=ids,
        inferred=found.inferred,
        fills=driver.stats.fills,
        venue_balances={
            v.name: dict(sorted(v.account.balances().items())) for v in venues.values()
        },
    )


def _replay(
    driver: Driver,
    run: RunOutputs,
    events: object,
    sample_ns: int,
    progress: Callable[[int], None] | None,
) -> int:
    """Step every event; one equity row per grid point, the state before the event."""
    n, next_sample = 0, 0
    portfolio = driver.kernel.portfolio
    for event in events:  # type: ignore[attr-defined]
        ts = event.ts_init
        if n == 0:
            driver.clock.advance_to(ts)
            driver.start()
            next_sample = (ts // sample_ns + 1) * sample_ns
        while next_sample <= ts:
            _record(run, next_sample, portfolio.equity())
            next_sample += sample_ns
        driver.step(event)
        n += 1
        if progress is not None and n % 4_096 == 0:
            progress(n)
    if n == 0:
        raise DataError("the recordings hold no market event")
    driver.finish()
    _record(run, next_sample, portfolio.equity())
    return n


def _record(run: RunOutputs, ts: int, value: Decimal) -> None:
    run.equity.add(ts, format(value, "f"))
    run.metrics.add(ts, float(value))
