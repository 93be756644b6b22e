"""Opening a live session: the journal, the venue connection and the start-up snapshot.

Everything here happens before the daemon (and so any strategy) exists, in
this order: the live journal is opened and checked for paper state (R23);
the venue's ``exchangeInfo`` gives the instruments (the kernel trades on the
venue's filters, not the bundled 2021 file); the venue starts (clock sync,
user stream over the WS API); the key must be allowed to trade; then the
snapshot of open orders, balances and own trades since the journal's last
trade id is taken for the start-up reconciliation (P5).

Any failure refuses to start with one line naming the endpoint and the
reason: live trading never falls back to anything.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from genesis.core.instruments import InstrumentTable, instrument_from_binance
from genesis.daemon.venues import Mailbox
from genesis.daemon.reconcile import LIVE, check_session_mode, last_trade_ids
from genesis.errors import ConfigError, GenesisError
from genesis.exchange.binance import (
    AuthError,
    BinanceRest,
    BinanceUserStream,
    BinanceVenue,
    Credentials,
    UserStreamConfig,
    VenueConfig,
)
from genesis.exchange.live import VenueSnapshot
from genesis.storage.factory import LIVE_SQLITE_NAME, open_repository
from genesis.storage.repository import AuditRecord, FillRecord, SqlRepository

__all__ = ["AuthRelay", "LiveEndpoints", "LiveSession", "open_live_session"]

log = structlog.get_logger(__name__)


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
    book_top: tuple[Any, Any] = (None, None)  # the venue's best bid and ask at start

    async def close(self) -> None:
        """Stop the venue's tasks and close its connections (working orders stay)."""
        await self.venue.close()
        await self.rest.close()


async def open_live_session(
    symbol: str, endpoints: LiveEndpoints, database_url: str | None, data_dir: Path
) -> LiveSession:
    """Open the live journal and the venue, and take the start-up snapshot.

    Raises:
        ConfigError: the journal holds paper state, or the venue cannot be
            reached, refuses the key, does not list ``symbol`` or does not let
            the key trade; nothing is left open.
    """
    repo = await open_repository(database_url, data_dir, LIVE_SQLITE_NAME)
    try:
        audits = await repo.audit_log(0)
        check_session_mode(audits, LIVE)
        fills = await repo.fills_since(0)
    except BaseException:
        await repo.close()
        raise
    rest = BinanceRest(endpoints.rest_url, endpoints.credentials, timeout_s=endpoints.timeout_s)
    relay, mailbox = AuthRelay(), Mailbox()
    venue: BinanceVenue | None = None
    try:
        instruments, info = await _instruments(rest, symbol)
        streams: list[BinanceUserStream] = []

        def user_stream(v: BinanceVenue) -> BinanceUserStream:
            stream = BinanceUserStream(
                endpoints.ws_api_url, endpoints.credentials, rest.clock,
                on_event=v.on_user_event, on_resync=v.resync, has_open_orders=v.has_open_orders,
                on_auth_error=relay, config=endpoints.user_stream,
            )  # fmt: skip
            streams.append(stream)
            return stream

        venue = BinanceVenue(
            rest, exchange_info=info, user_stream_factory=user_stream, config=endpoints.venue,
            on_auth_error=relay,
        )  # fmt: skip
        await venue.start(mailbox)
        await _check_can_trade(rest)
        snapshot = await venue.snapshot([symbol], last_trade_ids(fills, venue.name))
        top = await _book_top(rest, symbol)
    except (GenesisError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            if venue is not None:
                await venue.close()
            await rest.close()
        await repo.close()
        if isinstance(exc, ConfigError):
            raise
        reason = f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"live venue {endpoints.rest_url} refused or unreachable: {reason}"
        ) from None
    return LiveSession(
        repo=repo, rest=rest, venue=venue, stream=streams[0], mailbox=mailbox, relay=relay,
        instruments=instruments, snapshot=snapshot, journaled_fills=fills, audits=audits,
        book_top=top,
    )  # fmt: skip


async def _instruments(rest: BinanceRest, symbol: str) -> tuple[InstrumentTable, Any]:
    info = await rest.exchange_info()
    found = []
    for raw in info.get("symbols", ()) if isinstance(info, dict) else ():
        with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
            found.append(instrument_from_binance(raw, "BINANCE"))
    table = InstrumentTable(found)
    if symbol not in table:
        raise ConfigError(f"--symbol {symbol}: the live venue does not list it")
    return table, info


async def _check_can_trade(rest: BinanceRest) -> None:
    """The key must be allowed to trade spot (R23's permission check, where available)."""
    account = await rest.account()
    if isinstance(account, dict) and account.get("canTrade") is False:
        raise ConfigError("the API key is not allowed to trade (account canTrade is false)")


async def _book_top(rest: BinanceRest, symbol: str) -> tuple[Any, Any]:
    """Best bid and ask as strings (for valuing a base balance before the first tick)."""
    depth = await rest.depth(symbol, limit=5)
    bids = depth.get("bids") if isinstance(depth, dict) else None
    asks = depth.get("asks") if isinstance(depth, dict) else None
    bid = bids[0][0] if isinstance(bids, list) and bids else None
    ask = asks[0][0] if isinstance(asks, list) and asks else None
    return bid, ask
