"""Sandbox configuration and its clocks.

Two clocks: ``Clock.wall_ms`` is the injected (or real) clock that drives rate
limit windows and timers; ``Clock.now_ms`` is the *exchange's* clock, the
wall clock plus a skew the fault plan can set or step (R13). Timestamps in
answers and the recvWindow checks use the exchange's clock, so a skewed
exchange looks exactly like a client whose clock is off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

__all__ = ["LOOPBACK_HOSTS", "Clock", "SandboxConfig"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxConfig:
    """Everything a test or the CLI chooses; the defaults behave like Binance in 2021.

    Rate limits default to the exchangeInfo file's ``rateLimits`` (1,200 weight
    a minute, 50 orders per 10 s, 160,000 a day); the ``*_limit`` fields
    override them for tests. Intervals are seconds so tests can shrink them.
    """

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    capture: Path | None = None
    replay_speed: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int = 0
    seed: int = 0
    legacy_listen_key: bool = False
    clock: Callable[[], int] | None = None  # ms since the epoch
    exchange_info: Path | None = None  # None: the bundled 2021 exchangeInfo
    replay: bool = True  # False: no capture at all (books only from set_book)
    # symbol -> bar file served as historical klines (klines.py); None: the bundled ones
    klines: Mapping[str, Path] | None = None
    maker_bps: Decimal = Decimal(10)
    taker_bps: Decimal = Decimal(10)
    weight_limit: int | None = None
    order_limit_10s: int | None = None
    order_limit_1d: int | None = None
    ban_seconds: int = 120
    depth_interval_s: float = 0.1
    ping_interval_s: float = 20.0
    ws_max_messages_per_s: int = 5
    ws_connect_limit: int = 300  # connection attempts per IP per window (market + WS API)
    ws_connect_window_s: float = 300.0
    recv_window_check_delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"sandbox host {self.host!r} refused: the test exchange binds to loopback only "
                "(127.0.0.1, ::1 or localhost)"
            )
        if not self.api_key or not self.api_secret:
            raise ValueError("sandbox needs a non-empty api_key and api_secret")
        if self.replay_speed < 0:
            raise ValueError(f"replay_speed must be >= 0, was {self.replay_speed}")


class Clock:
    """The exchange clock: injected or real wall time plus a settable skew."""

    def __init__(self, source: Callable[[], int] | None = None) -> None:
        self._source = source or (lambda: time.time_ns() // 1_000_000)
        self.skew_ms = 0

    def wall_ms(self) -> int:
        return self._source()

    def now_ms(self) -> int:
        return self._source() + self.skew_ms
