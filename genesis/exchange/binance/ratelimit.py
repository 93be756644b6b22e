"""Request-weight and order-count accounting from response headers; Retry-After bans (P8).

Pure bookkeeping driven by a monotonic time the caller passes in. Binance
counts weight per IP in fixed one-minute windows (§5.1); the header
``X-MBX-USED-WEIGHT-1M`` is the truth, so the local figure is replaced by it
on every response and only estimated (header + reserved weight) in between.
Given the server clock, the local window is the server's minute (plus a
guard, so the local figure never drops to 0 before the venue's does); without
it, a window starts at the first request after the previous one ended.
After a 429 or 418 nothing may be sent until ``Retry-After`` has passed:
``check`` raises ``RateLimited``/``IpBanned`` before the request is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from genesis.errors import RateLimited
from genesis.exchange.binance.errors import IpBanned

__all__ = ["RateLimitStats", "RateLimiter", "depth_weight"]

_MINUTE_S: Final = 60.0
_MINUTE_MS: Final = 60_000


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
    """Counters of one ``RateLimiter``; ``used_weight`` is the venue's last header value."""

    used_weight: int
    weight_limit: int
    order_count_10s: int
    order_count_1d: int
    http_429: int
    http_418: int
    blocked_for_s: float


class RateLimiter:
    """Weight budget and ban state for one IP (shared by every REST client of a process).

    Args:
        weight_limit: REQUEST_WEIGHT per minute (read it from ``exchangeInfo``).
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
        self._used = 0
        self._window_start = 0.0
        self._minute = -1  # the server minute of ``_used`` when ``server_ms`` is given
        self._blocked_until = 0.0
        self._banned = False
        self._orders_10s = self._orders_1d = 0
        self._n429 = self._n418 = 0

    def check(self, now: float) -> None:
        """Raise when a Retry-After period is still running: the request must not be sent.

        Raises:
            IpBanned: after a 418, until the ban ends.
            RateLimited: after a 429, until Retry-After has passed.
        """
        wait = self._blocked_until - now
        if wait > 0:
            if self._banned:
                raise IpBanned(f"IP banned by the venue for another {wait:.1f} s", wait)
            raise RateLimited(f"rate limited by the venue for another {wait:.1f} s", wait)

    def delay_for(self, weight: int, now: float) -> float:
        """Seconds to wait before spending ``weight`` on deferrable work (0 = go now)."""
        self._roll(now)
        blocked = max(0.0, self._blocked_until - now)
        budget = self.weight_limit * (1.0 - self._headroom)
        if self._used + weight <= budget:
            return blocked
        if self._server_ms is not None:
            ends_ms = (self._minute + 1) * _MINUTE_MS + self._guard_ms
            return max(blocked, (ends_ms - self._server_ms()) / 1000)
        return max(blocked, self._window_start + _MINUTE_S - now)

    def reserve(self, weight: int, now: float) -> None:
        """Count ``weight`` as spent until the next response header corrects it."""
        self._roll(now)
        self._used += weight

    def on_response(self, status: int, headers: Mapping[str, str], now: float) -> None:
        """Update the counters from one response's status and headers."""
        self._roll(now)
        used = _int_header(headers, "X-MBX-USED-WEIGHT-1M")
        if used is not None:
            self._used = used
            if self._server_ms is not None:  # the header speaks for the server's minute now
                self._minute = max(self._minute, self._server_ms() // _MINUTE_MS)
        orders = _int_header(headers, "X-MBX-ORDER-COUNT-10S")
        if orders is not None:
            self._orders_10s = orders
        orders = _int_header(headers, "X-MBX-ORDER-COUNT-1D")
        if orders is not None:
            self._orders_1d = orders
        if status in (418, 429):
            retry = _int_header(headers, "Retry-After")
            wait = float(retry) if retry is not None else _MINUTE_S
            self._blocked_until = max(self._blocked_until, now + wait)
            self._banned = status == 418
            if status == 418:
                self._n418 += 1
            else:
                self._n429 += 1

    def statistics(self, now: float) -> RateLimitStats:
        """A frozen copy of the counters at ``now``."""
        self._roll(now)
        return RateLimitStats(
            used_weight=self._used,
            weight_limit=self.weight_limit,
            order_count_10s=self._orders_10s,
            order_count_1d=self._orders_1d,
            http_429=self._n429,
            http_418=self._n418,
            blocked_for_s=max(0.0, self._blocked_until - now),
        )

    def _roll(self, now: float) -> None:
        # Fixed one-minute windows; without the server's minute boundary we start a
        # window at the first request after the previous one ended (conservative).
        if self._server_ms is not None:
            minute = (self._server_ms() - self._guard_ms) // _MINUTE_MS
            if minute > self._minute:
                self._minute, self._used = minute, 0
            return
        if now - self._window_start >= _MINUTE_S:
            self._window_start = now
            self._used = 0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None
