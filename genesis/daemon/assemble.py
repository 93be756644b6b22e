"""Paper or live: the one place the daemon's parts are chosen (no subclass, no mode flag).

| part      | paper                                    | live                            |
|-----------|------------------------------------------|---------------------------------|
| venues    | one simulated venue per venue             | the venue's client, bridged     |
| market    | recordings, or live streams (session log) | the venue's live streams        |
| recovery  | rebuild from the market events            | reconcile with the venue        |
| kernel    | starting cash per venue                   | the venue's balances and prices |

Everything else (kernel, driver, journal, control, config watcher, health)
is the same object in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from genesis.api.server import serve_api
from genesis.core.instruments import DEFAULT_VENUE, ids_on, split_instrument_id
from genesis.daemon.bridge import Mailbox
from genesis.daemon.daemon import Daemon, DaemonConfig, serve
from genesis.daemon.live_venues import BinanceLive, CcxtSpec, LiveVenue, open_ccxt_live
from genesis.daemon.market import LiveStreams, MarketSource, session_log_path
from genesis.daemon.recovery import LiveRecovery, PaperRecovery
from genesis.daemon.venues import LiveVenues, PaperVenues, paper_venue_name
from genesis.data.book import SharedBooks
from genesis.errors import ConfigError
from genesis.exchange.darkpool import DarkPoolVenue, simulated_venue
from genesis.exchange.fills import FeeModel
from genesis.exchange.simulated import SimulatedVenue
from genesis.execution.emulation import CAPABILITIES
from genesis.kernel.builder import SessionSpec, build_kernel, strategy_specs
from genesis.kernel.kernel import Kernel
from genesis.portfolio import ClosedLot
from genesis.storage.factory import open_repository
from genesis.storage.repository import AuditRecord, FillRecord, SqlRepository

__all__ = ["paper_daemon", "paper_parts", "run_live", "run_paper"]


def _log(log: Any | None) -> Any:
    return log or structlog.get_logger().bind(component="daemon")


def _paper_accounts(config: DaemonConfig) -> dict[str, dict[str, Decimal]]:
    """Each venue's starting account: the cash split evenly between the venues, and each
    venue's share evenly between the quote currencies its instruments trade against (the
    accounts add up to ``--cash``)."""
    quotes: dict[str, set[str]] = {}
    for instrument_id in config.instrument_ids:
        venue = split_instrument_id(instrument_id)[0]
        quotes.setdefault(venue, set()).add(config.instruments.get(instrument_id).quote)
    share = config.cash / len(quotes) if quotes else config.cash
    return {
        venue: dict.fromkeys(sorted(qs), share / len(qs)) for venue, qs in sorted(quotes.items())
    }


def paper_parts(
    config: DaemonConfig, log: Any, closed_lot_sink: Callable[[ClosedLot], None] | None = None
) -> tuple[Kernel, dict[str, SimulatedVenue | DarkPoolVenue]]:
    """A paper session's kernel and its simulated venues (one per venue, keyed by name):
    what the paper daemon trades with, and what a replay of its session log trades with
    (``genesis.backtesting.session``, which observes closed lots), so both are built by
    this one function."""
    accounts = _paper_accounts(config)
    books = SharedBooks()  # the simulated venues' L2 books are the kernel's: one copy
    sims = {  # a venue named dark is a simulated dark pool (exchange/darkpool.py)
        venue: simulated_venue(
            venue,
            instruments=config.instruments.get,
            balances=balances,
            fees=_paper_fees(config, venue),
            name=paper_venue_name(venue),
            books=books,
        )
        for venue, balances in accounts.items()
    }
    total: dict[str, Decimal] = {}
    for balances in accounts.values():
        for asset, amount in balances.items():
            total[asset] = total.get(asset, Decimal(0)) + amount
    base = (
        config.instruments.get(config.instrument_ids[0]).quote if config.instrument_ids else "USDT"
    )
    spec = replace(_spec(config, total, base), books=books, closed_lot_sink=closed_lot_sink)
    if len(accounts) > 1:  # each venue's account funds only its own orders
        spec = replace(spec, venue_balances=accounts)
    return build_kernel(spec, log), sims


def paper_daemon(
    config: DaemonConfig, repo: SqlRepository | None, live: LiveStreams | None, log: Any = None
) -> Daemon:
    """Paper trading: simulated venues, recordings or live streams, rebuild on restart."""
    log = _log(log)
    kernel, sims = paper_parts(config, log)
    market = MarketSource(
        recording=config.data,
        instrument_ids=config.instrument_ids,
        session_path=session_log_path(
            config.data_dir or Path("data"), config.instrument_ids, False
        ),
        log=log,
        live=live,
        speed=config.speed,
        max_events=config.max_events,
    )
    return Daemon(
        config=config,
        kernel=kernel,
        venues=PaperVenues(sims),
        market=market,
        repo=repo,
        recovery=PaperRecovery(),
        log=log,
        api=serve_api,
    )


def _paper_fees(config: DaemonConfig, venue: str) -> FeeModel:
    """``--venue-fee-bps VENUE=BPS`` where given, else ``--fee-bps`` (maker and taker)."""
    bps = config.venue_fee_bps.get(venue, config.fee_bps)
    return FeeModel(maker_bps=bps, taker_bps=bps)


def _spec(
    config: DaemonConfig,
    balances: dict[str, Decimal],
    base: str,
    start_ns: int = 0,
    marks: dict[str, Decimal] | None = None,
) -> SessionSpec:
    # risk reserves cash for the dearest venue's fee (live: the configured rate)
    worst = max((config.fee_bps, *config.venue_fee_bps.values()))
    fees = FeeModel(maker_bps=worst, taker_bps=worst)
    return SessionSpec(
        instruments=config.instruments.get,
        balances=balances,
        base_currency=base,
        strategies=strategy_specs(config.strategies),
        tier=config.tier,
        fee_rate=fees.worst_rate,
        daily_loss_limit=config.max_daily_loss_pct,
        risk=config.risk,
        dedup_window=100_000,
        start_ns=start_ns,
        marks=marks or {},
    )


async def _open_journal(config: DaemonConfig) -> SqlRepository | None:
    if config.data_dir is None and config.database_url is None:
        return None
    return await open_repository(config.database_url, config.data_dir or Path("data"))


def run_paper(
    config: DaemonConfig,
    live: LiveStreams | None = None,
    on_ready: Callable[[Daemon], None] | None = None,
) -> int:
    """Build and run the paper daemon in a fresh event loop; return its exit code."""

    async def main() -> int:
        repo = await _open_journal(config)
        try:
            daemon = paper_daemon(config, repo, live)
        except BaseException:
            if repo is not None:  # its connection thread would keep the process alive
                await repo.close()
            raise
        if on_ready is not None:
            on_ready(daemon)
        return await serve(daemon)

    return asyncio.run(main())


def live_daemon(
    config: DaemonConfig,
    venues: Sequence[LiveVenue],
    journal: tuple[SqlRepository, list[AuditRecord], list[FillRecord]],
    mailbox: Mailbox,
    relay: Any = None,
    log: Any = None,
    live: LiveStreams | None = None,
) -> Daemon:
    """Live trading: the venues' clients and streams, reconciliation on every start."""
    log = _log(log)
    repo, audits, fills = journal
    table = config.instruments.merged(i for v in venues for i in v.instruments)
    config = replace(config, instruments=table)
    found: dict[str, Decimal] = {}
    for v in venues:
        for b in v.snapshot.balances.values():
            found[b.asset] = found.get(b.asset, Decimal(0)) + b.free + b.locked
    assets = {a for i in config.instrument_ids for a in _assets(config, i)}
    quote = _equity_currency(config, venues)
    assets.add(quote)
    balances = {a: found.get(a, Decimal(0)) for a in sorted(assets)}
    marks = {i: p for v in venues for i, p in v.marks.items()}
    spec = _spec(config, balances, quote, time.time_ns(), marks)
    if len(venues) > 1:  # each venue's account funds only its own orders
        accounts = {
            v.key: {b.asset: b.free + b.locked for b in v.snapshot.balances.values()}
            for v in venues
        }
        spec = replace(spec, venue_balances=accounts)
    kernel = build_kernel(spec, log)
    for venue in venues:  # what each venue lacks (ccxt: stops, OCO) the kernel emulates
        kernel.emulator.set_capabilities(venue.key, CAPABILITIES[_kind(venue)])
    ids = config.instrument_ids
    market = MarketSource(
        recording=(),
        instrument_ids=ids,
        session_path=session_log_path(config.data_dir or Path("data"), ids, True),
        log=log,
        max_events=config.max_events,
        replay_session_log=False,
        live=live or LiveStreams(),
        feeds=lambda: [v.events(ids_on(v.key, ids)) for v in venues],
        feeds_described="; ".join(_feed_of(v) for v in venues),
    )
    ports = LiveVenues(venues, mailbox)
    return Daemon(
        config=config,
        kernel=kernel,
        venues=ports,
        market=market,
        repo=repo,
        recovery=LiveRecovery(ports, audits, fills, relay),
        log=log,
        api=serve_api,
    )


def _feed_of(venue: LiveVenue) -> str:
    """What a venue's market data is, for ``market_data_selected`` (an operator's check)."""
    if isinstance(venue, BinanceLive):
        return f"{venue.name} {venue.ws_url} ({','.join(venue.kinds)})"
    return f"{venue.name} venue streams"


def _kind(venue: LiveVenue) -> str:
    """The venue's row of ``CAPABILITIES``: native Binance, native OANDA, or ccxt."""
    if isinstance(venue, BinanceLive):
        return "binance"
    return "oanda" if type(venue).__name__ == "OandaLive" else "ccxt"


def _equity_currency(config: DaemonConfig, venues: Sequence[LiveVenue]) -> str:
    """What equity is measured in: the account currency of the first instrument's venue when
    its account has one (OANDA: USD_JPY on a USD account is valued in USD), else that
    instrument's quote currency (a spot account: BTCUSDT in USDT)."""
    first = config.instrument_ids[0]
    venue = split_instrument_id(first)[0]
    for v in venues:
        if v.key == venue and v.snapshot.currency:
            return v.snapshot.currency
    return config.instruments.get(first).quote


def _assets(config: DaemonConfig, instrument_id: str) -> tuple[str, str]:
    inst = config.instruments.get(instrument_id)
    return inst.base, inst.quote


async def open_live_venues(
    config: DaemonConfig,
    endpoints: Any,
    live: LiveStreams,
    ccxt_venues: Mapping[str, Any],
    journal: tuple[SqlRepository, list[AuditRecord], list[FillRecord]],
    mailbox: Mailbox,
    oanda: Any = None,
) -> tuple[list[LiveVenue], Any]:
    """Connect every venue the strategies trade: Binance and OANDA (``oanda``: its
    ``OandaEndpoints``) natively, the others through ccxt (``GENESIS_CCXT_VENUES``); return
    them and the native Binance venue's auth relay (or None).

    Raises:
        ConfigError: a venue with no configuration, or one that refuses or cannot be reached;
            every venue opened so far is closed again.
    """
    from genesis.daemon.live_session import open_live_session

    opened: list[LiveVenue] = []
    relay = None
    try:
        for key in sorted({split_instrument_id(i)[0] for i in config.instrument_ids}):
            ids = ids_on(key, config.instrument_ids)
            if key == DEFAULT_VENUE:
                symbols = [split_instrument_id(i)[1] for i in ids]
                session = await open_live_session(
                    symbols,
                    endpoints,
                    config.database_url,
                    config.data_dir or Path("data"),
                    journal=journal,
                    mailbox=mailbox,
                )
                relay = session.relay
                opened.append(BinanceLive(session, live.ws_url, live.kinds))
            elif key == "oanda":
                from genesis.daemon.oanda_live import open_oanda_live

                if oanda is None:
                    raise ConfigError(
                        "live trading on oanda: set GENESIS_OANDA_TOKEN (and"
                        " GENESIS_OANDA_REST_URL / _STREAM_URL / _ACCOUNT_ID for a practice"
                        " account)"
                    )
                opened.append(await open_oanda_live(oanda, ids, journal[2], mailbox))
            elif key in ccxt_venues:
                spec = CcxtSpec.parse(key, ccxt_venues[key])
                opened.append(await open_ccxt_live(key, spec, ids, journal[2], mailbox))
            else:
                raise ConfigError(
                    f"live trading on {key}: no GENESIS_CCXT_VENUES entry for it (binance trades"
                    ' natively; others through ccxt, e.g. {"%s": {"exchange": "%s"}})' % (key, key)
                )
    except BaseException:
        for venue in opened:
            with contextlib.suppress(Exception):
                await venue.close()
        raise
    return opened, relay


def run_live(
    config: DaemonConfig,
    endpoints: Any,
    live: LiveStreams,
    ccxt_venues: Mapping[str, Any] = {},
    oanda: Any = None,
) -> int:
    """Open the journal and every venue, reconcile, trade until stopped; return the exit code."""
    from genesis.daemon.live_session import open_live_journal

    async def main() -> int:
        journal = await open_live_journal(config.database_url, config.data_dir or Path("data"))
        mailbox = Mailbox()
        try:
            venues, relay = await open_live_venues(
                config, endpoints, live, ccxt_venues, journal, mailbox, oanda
            )
        except BaseException:
            await journal[0].close()
            raise
        return await serve(live_daemon(config, venues, journal, mailbox, relay, live=live))

    return asyncio.run(main())
