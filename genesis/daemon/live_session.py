"""Opening a live session: the journal, the venue connection and the start-up snapshot.

Everything here happens before the daemon (and so any strategy) exists, in
this order: the live journal is opened and checked for paper state (R23);
the venue's ``exchangeInfo`` for the traded symbols gives the instruments
(the kernel trades on the venue's filters, not the bundled 2021 file); the
venue starts (clock sync, user stream over the WS API, whose subscription
is awaited so its backfill is covered by the snapshot); then the snapshot of
open orders, balances and own trades since the journal's last trade id is
taken for the start-up reconciliation (P5); its account read also says
whether the key may trade; last, each symbol's best bid and ask.

What a start costs, in request weight (sandbox, one symbol, depth stream on;
``tests/reliability/test_start_rate_limits.py``): exchangeInfo 20, time 3 x 1,
WS API subscribe 2, openOrders 6, myTrades 20, account 20, bookTicker 2,
and the market feed's depth snapshot 50: 123. It was 166: two more account
reads (the permission check, the subscription's backfill) and depth (5) for
the book top. Naming the symbols costs exchangeInfo the same 20 but spares
parsing the other ~1,700 symbols.

Rate limits: the REST client shares its weight and ban state with every
other client of the process on the same host (the market feed's), and waits
out a 429/418's Retry-After with one log line saying how long and why,
then continues: a start never exits for a rate limit (a crash loop of
restarts is what earned the ban). Any other failure refuses to start with
one line naming the endpoint and the reason: live trading never falls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import structlog

from genesis.core.instruments import InstrumentTable, instrument_from_binance
from genesis.daemon.bridge import Mailbox
from genesis.daemon.reconcile import LIVE, check_session_mode, last_trade_ids
from genesis.errors import ConfigError, GenesisError
from genesis.exchange.binance import (
    AuthError,
    BinanceRest,
    BinanceUserStream,
    BinanceVenue,
    Credentials,
    SharedLimits,
    UserStreamConfig,
    VenueConfig,
)
from genesis.exchange.live import VenueSnapshot
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.storage.repository import AuditRecord, FillRecord, SqlRepository

__all__ = ["AuthRelay", "LiveEndpoints", "LiveSession", "open_live_journal", "open_live_session"]

log = structlog.get_logger(__name__)

_UNREACHABLE = (GenesisError, OSError, TimeoutError)  # refused with the endpoint named


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveEndpoints:
    """Where live trading connects, and with which key (masked in every repr)."""

    rest_url: str
    ws_url: str
    ws_api_url: str
    credentials: Credentials = field(repr=False)
    timeout_s: float = 10.0
    user_stream: UserStreamConfig = field(default_factory=UserStreamConfig)
    venue: VenueConfig = field(default_factory=VenueConfig)


class AuthRelay:
    """The venue's ``on_auth_error``: forwards to the daemon once it exists (R4)."""

    def __init__(self) -> None:
        self.target: Any = None
        self.failures: list[AuthError] = []

    def __call__(self, exc: AuthError) -> None:
        self.failures.append(exc)
        if self.target is not None:
            self.target(exc)


@dataclass(slots=True, kw_only=True)
class LiveSession:
    """The open journal and venue connection, and what the venue held at start."""

    repo: SqlRepository
    rest: BinanceRest
    venue: BinanceVenue
    stream: BinanceUserStream
    mailbox: Mailbox
    relay: AuthRelay
    instruments: InstrumentTable
    snapshot: VenueSnapshot
    journaled_fills: list[FillRecord]
    audits: list[AuditRecord]
    marks: dict[str, Decimal | None] = field(default_factory=dict)  # best bid, if positive

    async def close(self) -> None:
        """Stop the venue's tasks and close its connections (working orders stay)."""
        await self.venue.close()
        await self.rest.close()


@dataclass(slots=True)
class _Opening:
    """What is open so far, for the cleanup of a refused start."""

    rest: BinanceRest
    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    venue: BinanceVenue | None = None
    streams: list[BinanceUserStream] = field(default_factory=list)


async def open_live_session(
    symbols: str | Sequence[str],
    endpoints: LiveEndpoints,
    database_url: str | None,
    data_dir: Path,
    *,
    shared: SharedLimits | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    journal: tuple[SqlRepository, list[AuditRecord], list[FillRecord]] | None = None,
    mailbox: Mailbox | None = None,
) -> LiveSession:
    """Open the live journal and the venue, and take the start-up snapshot.

    Args:
        symbols: the traded symbol, or several.
        shared: rate-limit state to share; None: the process's (the market feed's too).
        sleep, monotonic: how a Retry-After is waited out and timed (injected for tests).
        journal: the live journal already opened (``open_live_journal``), kept open on a
            refused start (its opener closes it); None: opened here.
        mailbox: where the venue delivers its order events (shared with other venues).

    Raises:
        ConfigError: the journal holds paper state, or the venue cannot be
            reached, refuses the key, does not list a symbol or does not let
            the key trade; nothing is left open.
    """
    wanted = [symbols] if isinstance(symbols, str) else list(symbols)
    owns_journal = journal is None
    repo, audits, fills = journal or await open_live_journal(database_url, data_dir)
    opening = _Opening(BinanceRest(
        endpoints.rest_url, endpoints.credentials, timeout_s=endpoints.timeout_s,
        shared=shared, sleep=sleep, monotonic=monotonic, wait_rate_limits=True),
        monotonic, sleep)  # fmt: skip
    try:
        return await _connect(opening, wanted, endpoints, (repo, audits, fills), mailbox)
    except BaseException as exc:  # a refused or cancelled start leaves nothing open
        await _abandon(opening, repo if owns_journal else None)
        if isinstance(exc, ConfigError) or not isinstance(exc, _UNREACHABLE):
            raise
        reason = f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"live venue {endpoints.rest_url} refused or unreachable: {reason}"
        ) from None


async def _abandon(opening: _Opening, repo: SqlRepository | None) -> None:
    with contextlib.suppress(Exception):
        if opening.venue is not None:
            await opening.venue.close()
        await opening.rest.close()
    if repo is not None:
        await repo.close()


async def open_live_journal(
    database_url: str | None, data_dir: Path
) -> tuple[SqlRepository, list[AuditRecord], list[FillRecord]]:
    """The live journal, checked for paper state (R23), with its audit log and fills.

    Raises:
        ConfigError: the journal holds a paper session.
    """
    repo = await open_repository(database_url, data_dir, LIVE_SQLITE_NAME)
    try:
        audits = await repo.audit_log(0)
        check_session_mode(audits, LIVE)
        fills = await repo.fills_since(0)
    except BaseException:
        await repo.close()
        raise
    return repo, audits, fills


async def _connect(
    opening: _Opening,
    symbols: list[str],
    endpoints: LiveEndpoints,
    journal: tuple[SqlRepository, list[AuditRecord], list[FillRecord]],
    mailbox: Mailbox | None = None,
) -> LiveSession:
    """Start the venue and take its snapshot, in the order of the module docstring."""
    (repo, audits, fills), rest = journal, opening.rest
    relay = AuthRelay()
    mailbox = mailbox if mailbox is not None else Mailbox()  # an empty one is falsy
    instruments, info = await _instruments(rest, symbols)

    def user_stream(v: BinanceVenue) -> BinanceUserStream:
        stream = BinanceUserStream(
            endpoints.ws_api_url, endpoints.credentials, rest.clock,
            on_event=v.on_user_event, on_resync=v.resync, has_open_orders=v.has_open_orders,
            on_auth_error=relay, config=endpoints.user_stream, limiter=rest.limiter,
            monotonic=opening.monotonic, sleep=opening.sleep,
        )  # fmt: skip
        opening.streams.append(stream)
        return stream

    venue = opening.venue = BinanceVenue(
        rest, exchange_info=info, user_stream_factory=user_stream, config=endpoints.venue,
        on_auth_error=relay,
    )  # fmt: skip
    await venue.start(mailbox, snapshot_follows=True)
    with contextlib.suppress(TimeoutError):  # not up yet: it backfills once subscribed
        async with asyncio.timeout(endpoints.user_stream.open_timeout_s):
            await opening.streams[0].subscribed_event.wait()
    snapshot = await venue.snapshot(symbols, last_trade_ids(fills, venue.name))
    if venue.can_trade is False:
        raise ConfigError("the API key is not allowed to trade (account canTrade is false)")
    tops = {symbol: await _book_top(rest, symbol) for symbol in symbols}
    return LiveSession(
        repo=repo, rest=rest, venue=venue, stream=opening.streams[0], mailbox=mailbox,
        relay=relay, instruments=instruments, snapshot=snapshot, journaled_fills=fills,
        audits=audits,
        marks={symbol: _mark(bid) for symbol, (bid, _ask) in tops.items()},
    )  # fmt: skip


async def _instruments(rest: BinanceRest, symbols: list[str]) -> tuple[InstrumentTable, Any]:
    """``exchangeInfo`` of the traded symbols only (the weight is the same, the parse tiny)."""
    info = await rest.exchange_info(symbols)
    found = []
    for raw in info.get("symbols", ()) if isinstance(info, dict) else ():
        with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
            found.append(instrument_from_binance(raw, "BINANCE"))
    table = InstrumentTable(found)
    for symbol in symbols:
        if symbol not in table:
            raise ConfigError(f"--symbol {symbol}: the live venue does not list it")
    return table, info


async def _book_top(rest: BinanceRest, symbol: str) -> tuple[Any, Any]:
    """Best bid and ask as strings (for valuing a base balance before the first tick)."""
    ticker = await rest.book_ticker(symbol)
    bid = ticker.get("bidPrice") if isinstance(ticker, dict) else None
    ask = ticker.get("askPrice") if isinstance(ticker, dict) else None
    return (bid if isinstance(bid, str) else None), (ask if isinstance(ask, str) else None)


def _mark(value: Any) -> Decimal | None:
    """A positive, finite price from a venue string, else None."""
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None
