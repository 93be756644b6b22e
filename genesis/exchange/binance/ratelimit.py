"""Request-weight and order-count accounting from response headers; Retry-After bans (P8).

Pure bookkeeping driven by a monotonic time the caller passes in. Two kinds of
state, because Binance counts two things (§5.1):

* ``IpLimits``: request weight per IP in fixed one-minute windows, and the
  Retry-After of a 429 (weight, -1003) or a 418 ban. Every client talking to
  the same host from this process must share one (``shared.SharedLimits``):
  a 429 seen by the market-data client stops the trading client too.
* ``AccountLimits``: the unfilled-order counts of one account and the
  Retry-After of a 429 -1015 (too many orders). Shared by the clients using
  the same API key; it blocks order placements only (cancels and reads go on).

``RateLimiter`` is one client's view of the two. The header
``X-MBX-USED-WEIGHT-1M`` is the truth, so the local figure is replaced by it
on every response and only estimated (header + reserved weight) in between.
Given the server clock, the local window is the server's minute (plus a
guard, so the local figure never drops to 0 before the venue's does);
without it, a window starts at the first request after the previous one
ended. After a 429 or 418 nothing may be sent until ``Retry-After`` has
passed: ``check`` raises ``RateLimited``/``IpBanned`` before the request is
built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from genesis.errors import RateLimited
from genesis.exchange.binance.errors import IpBanned

__all__ = ["AccountLimits", "IpLimits", "RateLimitStats", "RateLimiter", "depth_weight"]

_MINUTE_S: Final = 60.0
_MINUTE_MS: Final = 60_000
TOO_MANY_ORDERS: Final = -1015


def depth_weight(limit: int) -> int:
    """Weight of ``GET /api/v3/depth`` at ``limit`` levels (§5.2, since 2023-10-19)."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitStats:
    """Counters of one client's view; ``used_weight`` is the venue's last header value."""

    used_weight: int
    weight_limit: int
    order_count_10s: int
    order_count_1d: int
    http_429: int
    http_418: int
    blocked_for_s: float
    orders_blocked_for_s: float = 0.0


class IpLimits:
    """Weight budget and ban state for one IP (shared by every REST client of a process).

    Args:
        weight_limit: REQUEST_WEIGHT per minute (``BinanceRest.exchange_info`` reads it).
        headroom: fraction of the limit kept free for orders and cancels; staggered
            work (book snapshots) waits rather than spend it.
        server_ms: the venue's clock (epoch ms), to align windows with its minutes.
        guard_s: how long after the server's minute turns the local window follows
            (covers the clock offset's uncertainty).
    """

    def __init__(
        self,
        weight_limit: int = 6000,
        headroom: float = 0.2,
        *,
        server_ms: Callable[[], int] | None = None,
        guard_s: float = 1.0,
    ) -> None:
        self.weight_limit = weight_limit
        self._headroom = headroom
        self._server_ms = server_ms
        self._guard_ms = int(guard_s * 1000)
        self.used = 0
        self._window_start = 0.0
        self._minute = -1  # the server minute of ``used`` when ``server_ms`` is given
        self._blocked_until = 0.0
        self._banned = False
        self.http_429 = self.http_418 = 0

    def check(self, now: float) -> None:
        """Raise while a Retry-After period runs: no request may be sent on this IP.

        Raises:
            IpBanned: after a 418, until the ban ends.
            RateLimited: after a 429, until Retry-After has passed.
        """
        wait = self._blocked_until - now
        if wait > 0:
            if self._banned:
                raise IpBanned(f"IP banned by the venue for another {wait:.1f} s", wait)
            raise RateLimited(f"rate limited by the venue for another {wait:.1f} s", wait)

    def blocked_for(self, now: float) -> float:
        """Seconds until requests may be sent again (0 = now)."""
        return max(0.0, self._blocked_until - now)

    def block(self, status: int, wait_s: float, now: float) -> None:
        """Record a 429 (``status`` 429) or a ban (418): nothing is sent for ``wait_s``."""
        ban_running = self._banned and self._blocked_until > now
        self._blocked_until = max(self._blocked_until, now + wait_s)
        self._banned = ban_running or status == 418  # a 429 during a ban leaves it a ban
        if status == 418:
            self.http_418 += 1
        else:
            self.http_429 += 1

    def delay_for(self, weight: int, now: float) -> float:
        """Seconds to wait before spending ``weight`` on deferrable work (0 = go now)."""
        self._roll(now)
        blocked = self.blocked_for(now)
        budget = self.weight_limit * (1.0 - self._headroom)
        if self.used + weight <= budget:
            return blocked
        if self._server_ms is not None:
            ends_ms = (self._minute + 1) * _MINUTE_MS + self._guard_ms
            return max(blocked, (ends_ms - self._server_ms()) / 1000)
        return max(blocked, self._window_start + _MINUTE_S - now)

    def reserve(self, weight: int, now: float) -> None:
        """Count ``weight`` as spent until the next response header corrects it."""
        self._roll(now)
        self.used += weight

    def on_used_weight(self, used: int, now: float) -> None:
        """Adopt the venue's ``X-MBX-USED-WEIGHT-1M`` for the current minute."""
        self._roll(now)
        self.used = used
        if self._server_ms is not None:  # the header speaks for the server's minute now
            self._minute = max(self._minute, self._server_ms() // _MINUTE_MS)

    def roll(self, now: float) -> None:
        """Start a new window if the current one is over."""
        self._roll(now)

    def _roll(self, now: float) -> None:
        # Fixed one-minute windows; without the server's minute boundary we start a
        # window at the first request after the previous one ended (conservative).
        if self._server_ms is not None:
            minute = (self._server_ms() - self._guard_ms) // _MINUTE_MS
            if minute > self._minute:
                self._minute, self.used = minute, 0
            return
        if now - self._window_start >= _MINUTE_S:
            self._window_start = now
            self.used = 0


class AccountLimits:
    """Unfilled-order counts and the order-rate block of one account (shared by its key)."""

    def __init__(self) -> None:
        self.orders_10s = self.orders_1d = 0
        self._blocked_until = 0.0
        self.http_429 = 0

    def check_order(self, now: float) -> None:
        """Raise while a 429 -1015 Retry-After runs: no order may be placed.

        Raises:
            RateLimited: the account's order rate was exceeded; ``retry_after_s`` says how long.
        """
        wait = self._blocked_until - now
        if wait > 0:
            raise RateLimited(f"order rate limited by the venue for another {wait:.1f} s", wait)

    def blocked_for(self, now: float) -> float:
        return max(0.0, self._blocked_until - now)

    def block(self, wait_s: float, now: float) -> None:
        """Record a 429 -1015: no order is placed for ``wait_s``."""
        self._blocked_until = max(self._blocked_until, now + wait_s)
        self.http_429 += 1

    def on_headers(self, headers: Mapping[str, str]) -> None:
        """Adopt ``X-MBX-ORDER-COUNT-10S``/``-1D`` when the answer carries them."""
        orders = _int_header(headers, "X-MBX-ORDER-COUNT-10S")
        if orders is not None:
            self.orders_10s = orders
        orders = _int_header(headers, "X-MBX-ORDER-COUNT-1D")
        if orders is not None:
            self.orders_1d = orders


class RateLimiter:
    """One client's view: the IP's weight and ban state plus its account's order state.

    Without ``ip``/``account`` the state is private to this limiter (the other
    arguments configure the private ``IpLimits``); ``shared.SharedLimits`` hands
    out views over state shared per host and per API key.
    """

    def __init__(
        self,
        weight_limit: int = 6000,
        headroom: float = 0.2,
        *,
        server_ms: Callable[[], int] | None = None,
        guard_s: float = 1.0,
        ip: IpLimits | None = None,
        account: AccountLimits | None = None,
    ) -> None:
        self.ip = ip if ip is not None else IpLimits(
            weight_limit, headroom, server_ms=server_ms, guard_s=guard_s)  # fmt: skip
        self.account = account if account is not None else AccountLimits()

    @property
    def weight_limit(self) -> int:
        return self.ip.weight_limit

    def check(self, now: float, *, placing: bool = False) -> None:
        """Raise when the request must not be sent now (see ``IpLimits.check``).

        Args:
            placing: the request places an order: the account's order block applies too.
        """
        self.ip.check(now)
        if placing:
            self.account.check_order(now)

    def delay_for(self, weight: int, now: float) -> float:
        """Seconds to wait before spending ``weight`` on deferrable work (0 = go now)."""
        return self.ip.delay_for(weight, now)

    def reserve(self, weight: int, now: float) -> None:
        """Count ``weight`` as spent until the next response header corrects it."""
        self.ip.reserve(weight, now)

    def on_response(
        self, status: int, headers: Mapping[str, str], now: float, *, code: int | None = None
    ) -> None:
        """Update the counters from one response's status, headers and error code.

        A 429 with code -1015 (too many orders) blocks the account's placements;
        any other 429, and every 418, blocks the IP.
        """
        used = _int_header(headers, "X-MBX-USED-WEIGHT-1M")
        if used is not None:
            self.ip.on_used_weight(used, now)
        else:
            self.ip.roll(now)
        self.account.on_headers(headers)
        if status in (418, 429):
            retry = _int_header(headers, "Retry-After")
            wait = float(retry) if retry is not None else _MINUTE_S
            if status == 429 and code == TOO_MANY_ORDERS:
                self.account.block(wait, now)
            else:
                self.ip.block(status, wait, now)

    def statistics(self, now: float) -> RateLimitStats:
        """A frozen copy of the counters at ``now``."""
        self.ip.roll(now)
        return RateLimitStats(
            used_weight=self.ip.used,
            weight_limit=self.ip.weight_limit,
            order_count_10s=self.account.orders_10s,
            order_count_1d=self.account.orders_1d,
            http_429=self.ip.http_429 + self.account.http_429,
            http_418=self.ip.http_418,
            blocked_for_s=self.ip.blocked_for(now),
            orders_blocked_for_s=self.account.blocked_for(now),
        )


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
