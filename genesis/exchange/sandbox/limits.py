"""Fixed-window rate limits: request weight per client IP, order counts per account.

Windows are fixed (the minute starts at :00, the 10 s window at a multiple of
10 s) on the wall clock, not the skewable exchange clock. Past the weight
limit the answer is 429 with ``Retry-After`` (seconds to the window's end);
any request from that IP before then earns a 418 ban of ``ban_seconds``.
Unfilled-order counts go down again when an order trades (§5.1).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genesis.exchange.sandbox.errors import ApiError

__all__ = ["ConnectionAttempts", "RateLimiter"]

_MINUTE, _TEN_S, _DAY = 60_000, 10_000, 86_400_000


@dataclass(slots=True)
class _Ip:
    window: int = -1
    used: int = 0
    retry_until: int = 0
    banned_until: int = 0


def _ceil_s(ms: int) -> int:
    return max(1, -(-ms // 1000))


class RateLimiter:
    def __init__(
        self,
        weight_limit: int,
        orders_10s: int,
        orders_1d: int,
        ban_seconds: int,
        wall_ms: Callable[[], int],
    ) -> None:
        self.weight_limit = weight_limit
        self.orders_10s = orders_10s
        self.orders_1d = orders_1d
        self.ban_seconds = ban_seconds
        self._wall = wall_ms
        self._ips: dict[str, _Ip] = {}
        self._orders = {"10s": [-1, 0], "1d": [-1, 0]}
        self.stats: Counter[str] = Counter()

    def _ip(self, ip: str, now: int) -> _Ip:
        st = self._ips.setdefault(ip, _Ip())
        window = now // _MINUTE
        if window != st.window:
            st.window, st.used = window, 0
        return st

    def used(self, ip: str) -> int:
        return self._ip(ip, self._wall()).used

    def charge(self, ip: str, weight: int) -> int:
        """Add ``weight``; returns the minute's total or raises 429 / 418."""
        now = self._wall()
        st = self._ip(ip, now)
        if st.banned_until > now or st.retry_until > now:
            if st.banned_until <= now:
                st.banned_until = now + self.ban_seconds * 1000
            self.stats["418"] += 1
            raise ApiError(
                -1003,
                f"Way too much request weight used; IP banned until {st.banned_until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                418,
                retry_after=_ceil_s(st.banned_until - now),
            )
        st.used += weight
        if st.used > self.weight_limit:
            st.retry_until = (st.window + 1) * _MINUTE
            self.stats["429"] += 1
            raise ApiError(
                -1003,
                f"Too much request weight used; current limit is {self.weight_limit} "
                "request weight per 1 MINUTE. Please use WebSocket Streams for live updates to "
                "avoid polling the API.",
                429,
                retry_after=_ceil_s(st.retry_until - now),
            )
        return st.used

    def _roll(self) -> tuple[list[int], list[int]]:
        now = self._wall()
        for key, size in (("10s", _TEN_S), ("1d", _DAY)):
            slot = self._orders[key]
            if slot[0] != now // size:
                slot[0], slot[1] = now // size, 0
        return self._orders["10s"], self._orders["1d"]

    def check_order(self, n: int = 1) -> None:
        """§8.3 step 10: raises 429 / -1015 when ``n`` more orders break a limit."""
        ten, day = self._roll()
        for slot, limit, size, label in (
            (ten, self.orders_10s, _TEN_S, "10 SECOND"),
            (day, self.orders_1d, _DAY, "1 DAY"),
        ):
            if slot[1] + n > limit:
                self.stats["-1015"] += 1
                retry = (slot[0] + 1) * size - self._wall()
                raise ApiError(
                    -1015,
                    f"Too many new orders; current limit is {limit} orders per {label}.",
                    429,
                    retry_after=_ceil_s(retry),
                )

    def count_order(self, n: int = 1) -> None:
        ten, day = self._roll()
        ten[1] += n
        day[1] += n

    def order_traded(self) -> None:
        ten, day = self._roll()
        ten[1], day[1] = max(0, ten[1] - 1), max(0, day[1] - 1)

    def order_counts(self) -> tuple[int, int]:
        ten, day = self._roll()
        return ten[1], day[1]

    def order_limits_body(self) -> list[dict[str, Any]]:
        ten, day = self.order_counts()
        return [
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": self.orders_10s,
                "count": ten,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY",
                "intervalNum": 1,
                "limit": self.orders_1d,
                "count": day,
            },
        ]


class ConnectionAttempts:
    """WebSocket connection attempts per IP in a sliding window (Binance: 300 per 5 min).

    Every attempt counts, refused ones too, because that is what the venue
    limits; past the limit the attempt is refused (and counted as a
    violation), so a reconnect storm shows up in ``violations``. ``peak`` is
    the most attempts any IP made within one window, for tests to compare
    with the limit. Driven by the sandbox's wall clock, so tests compress time.
    """

    def __init__(self, limit: int, window_s: float, wall_ms: Callable[[], int]) -> None:
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self._wall = wall_ms
        self._times: dict[str, deque[int]] = {}
        self.total = 0
        self.peak = 0
        self.violations = 0

    def attempt(self, ip: str) -> bool:
        """Count one attempt from ``ip``; False when it exceeds the limit (refuse it)."""
        now = self._wall()
        times = self._times.setdefault(ip, deque())
        while times and times[0] <= now - self.window_ms:
            times.popleft()
        times.append(now)
        self.total += 1
        self.peak = max(self.peak, len(times))
        if len(times) > self.limit:
            self.violations += 1
            return False
        return True
