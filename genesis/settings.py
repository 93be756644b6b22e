"""Process settings: ``GENESIS_*`` environment variables, a ``.env`` file, then CLI overrides.

Built once at start-up and frozen. Keys and passwords are ``SecretStr``: their
repr and str are masked, and ``secret_values()`` hands the raw values to the
log redactor so they never appear in any output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from genesis.errors import ConfigError
from genesis.risk.limits import Tier

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Everything the process needs to start; see README for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="GENESIS_", env_file=".env", extra="forbid", frozen=True
    )

    tier: Tier | None = None
    data_dir: Path = Path("data")
    database_url: SecretStr | None = None  # may carry a password: secret
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    live: bool = False
    binance_api_key: SecretStr | None = None
    binance_api_secret: SecretStr | None = None
    strategies_dir: Path = Path("config/strategies")
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # at a clean stop: "cancel" the entry orders (an open position keeps its stop and target
    # working), "keep" every working order, or "flatten" (close every position at market)
    on_shutdown: Literal["cancel", "keep", "flatten"] = "cancel"
    status_interval_s: float = Field(default=60.0, ge=0)  # the daemon_status line; 0 = off
    # paper trading's market data: live public Binance streams (falls back to the bundled
    # recording when unreachable at the start of a session) or the recording itself
    market_data: Literal["live", "recording"] = "live"
    market_rest_url: str = "https://data-api.binance.vision"
    market_ws_url: str = "wss://data-stream.binance.vision"
    # live trading (``run --live`` with both keys): signed REST, market streams, WS API user data
    binance_rest_url: str = "https://api.binance.com"
    binance_ws_url: str = "wss://stream.binance.com:9443"
    binance_ws_api_url: str = "wss://ws-api.binance.com:443/ws-api/v3"
    # live trading on other venues through ccxt: {"okx": {"exchange": "okx"}, ...} (JSON);
    # keys in GENESIS_CCXT_<VENUE>_API_KEY / _API_SECRET / _PASSWORD (genesis.daemon.live_venues)
    ccxt_venues: dict[str, Any] = Field(default_factory=dict)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"scheme must be sqlite, postgresql or postgres, was {scheme!r}")
        return value

    def secret_values(self) -> list[str]:
        """Raw secret strings (API keys, the database password) for the log redactor."""
        values = [
            s.get_secret_value() for s in (self.binance_api_key, self.binance_api_secret) if s
        ]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                values.append(password)
        values += [
            value
            for name, value in os.environ.items()
            if name.startswith("GENESIS_CCXT_")
            and name.endswith(("_API_KEY", "_API_SECRET", "_PASSWORD"))
            and value.strip()
        ]
        return values


def load_settings(**overrides: Any) -> Settings:
    """Read the environment and ``.env``, apply ``overrides`` (from CLI flags).

    Raises:
        ConfigError: one line per invalid setting, naming the variable; secret
            values are never echoed.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _describe(err: Any) -> str:
    field = ".".join(str(p) for p in err.get("loc", ())) or "(settings)"
    name = f"GENESIS_{field.upper()}"
    if err.get("type") == "extra_forbidden":
        return f"{name}: unknown setting"
    shown = (
        ""
        if "secret" in field or "url" in field or "key" in field
        else f" (was {err.get('input')!r})"
    )
    return f"{name}: {err.get('msg', 'invalid')}{shown}"
