"""Rate-limit and clock state shared by every Binance REST client of a process (P8).

Binance counts request weight per IP and bans the IP (418, 2 min up to 3 days)
when requests keep coming after a 429. A process opens several REST clients
to one host (the trading session's, the market feed's, a reachability
probe): if each kept its own limiter, a 429 drawn by one would not stop the
others, and the next request from any of them earns the ban. So:

* **IP state per host.** ``SharedLimits.host(base_url)`` returns one
  ``HostState`` per origin (scheme, host, port): its ``IpLimits`` (weight
  window, Retry-After, ban) and its ``ServerClock`` (the offset measured by
  one client serves all, so a second client needs no ``/api/v3/time`` calls).
  Different host names get different state: we cannot know that two names
  reach the same limiter, and Binance does not say that its data-only hosts
  share the ``api`` hosts' budget.
* **Order state per account.** ``SharedLimits.account(api_key)`` returns one
  ``AccountLimits`` per API key, keyed by a SHA-256 digest: the key itself is
  never stored here.
* **Lifetime.** Entries are held weakly: state lives while a client (or an
  owner keeping the ``HostState``) uses it, and vanishes with the last one,
  so a new sandbox on a recycled loopback port starts clean. The trading
  client lives for the whole session, so the market feed's clients, restarted
  by their supervisor, always find the state it keeps alive.
* **Default registry.** ``process_limits()`` is the registry of every
  ``BinanceRest`` built without ``shared=`` (or an explicit ``clock`` or
  ``limiter``). Tests that need virtual time build their own ``SharedLimits``
  with an injected wall clock and pass it to each client.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from yarl import URL

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.ratelimit import AccountLimits, IpLimits, RateLimiter

__all__ = ["HostState", "SharedLimits", "key_digest", "origin_of", "process_limits"]


@dataclass(eq=False, slots=True, weakref_slot=True)
class HostState:
    """The clock and the IP's weight and ban state of one host."""

    origin: str
    clock: ServerClock
    ip: IpLimits


def origin_of(base_url: str) -> str:
    """``scheme://host:port`` of a base URL, lower case, with the default port made explicit."""
    url = URL(base_url)
    return f"{url.scheme.lower()}://{(url.host or '').lower()}:{url.port}"


def key_digest(api_key: str) -> str:
    """A stable, non-reversible name for an API key (the first 16 hex digits of SHA-256)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class SharedLimits:
    """Per-host and per-account rate-limit state for the Binance clients of a process.

    Args:
        wall_ns: the wall clock of the shared ``ServerClock`` (injected for tests).
        weight_limit: REQUEST_WEIGHT per minute until ``exchangeInfo`` says otherwise.
        headroom: see ``IpLimits``.
        guard_s: see ``IpLimits``.
    """

    def __init__(
        self,
        *,
        wall_ns: Callable[[], int] = time.time_ns,
        weight_limit: int = 6000,
        headroom: float = 0.2,
        guard_s: float = 1.0,
    ) -> None:
        self._wall_ns = wall_ns
        self._ip_config = (weight_limit, headroom, guard_s)
        self._hosts: weakref.WeakValueDictionary[str, HostState] = weakref.WeakValueDictionary()
        self._accounts: weakref.WeakValueDictionary[str, AccountLimits] = (
            weakref.WeakValueDictionary()
        )

    def __repr__(self) -> str:
        return f"SharedLimits(hosts={sorted(self._hosts.keys())}, accounts={len(self._accounts)})"

    def host(self, base_url: str) -> HostState:
        """The state of ``base_url``'s host, created on first use."""
        origin = origin_of(base_url)
        state = self._hosts.get(origin)
        if state is None:
            clock = ServerClock(self._wall_ns)
            weight, headroom, guard_s = self._ip_config
            ip = IpLimits(weight, headroom, server_ms=clock.now_ms, guard_s=guard_s)
            state = self._hosts[origin] = HostState(origin, clock, ip)
        return state

    def account(self, api_key: str) -> AccountLimits:
        """The order state of the account behind ``api_key``, created on first use."""
        digest = key_digest(api_key)
        account = self._accounts.get(digest)
        if account is None:
            account = self._accounts[digest] = AccountLimits()
        return account

    def limiter(self, base_url: str, api_key: str | None) -> tuple[HostState, RateLimiter]:
        """A client's view: the host's shared state and a limiter over it and the account's.

        A client without a key gets a private ``AccountLimits`` (it places no orders).
        """
        host = self.host(base_url)
        account = self.account(api_key) if api_key else AccountLimits()
        return host, RateLimiter(ip=host.ip, account=account)


_PROCESS: Final = SharedLimits()


def process_limits() -> SharedLimits:
    """The registry shared by every client of this process that is not given its own."""
    return _PROCESS
