"""Process settings: ``GENESIS_*`` environment variables, a ``.env`` file, then CLI overrides.

Built once at start-up and frozen. Keys and passwords are ``SecretStr``: their
repr and str are masked, and ``secret_values()`` hands the raw values to the
log redactor so they never appear in any output. Secrets left unset may come
from the OS keyring or an encrypted file (``genesis.secretstore``).
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from genesis.errors import ConfigError
from genesis.monitoring.urls import secrets_of, split_urls
from genesis.risk.limits import Tier
from genesis.secretstore import SECRET_FIELDS, ccxt_secret_names, stored_secrets

__all__ = ["API_TOKEN_MIN_BYTES", "Settings", "env_example", "env_settings", "load_settings"]

API_TOKEN_MIN_BYTES = 32  # a shorter (or default-looking) token refuses to start (R20)
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ENV_FILE = ".env"
# a ccxt venue's key variable (GENESIS_CCXT_OKX_API_KEY): read by ``Settings.ccxt_keys``
_CCXT_VAR = re.compile(r"^genesis_ccxt_.+_(api_key|api_secret|password)$", re.IGNORECASE)


class _DotEnv(DotEnvSettingsSource):
    """``.env`` without the ccxt venues' key variables: they are not settings (the
    venues are named at run time), and an unknown ``GENESIS_`` name would refuse the start."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in super()._load_env_vars().items() if not _CCXT_VAR.match(k)}


def _dotenv_ccxt() -> dict[str, str]:
    """The ccxt key variables of ``.env`` (upper-case names), when the file exists."""
    from dotenv import dotenv_values

    if not Path(_ENV_FILE).is_file():
        return {}
    values = dotenv_values(_ENV_FILE, encoding="utf-8")
    return {k.upper(): v for k, v in values.items() if v and _CCXT_VAR.match(k)}


def _ccxt_given() -> dict[str, str]:
    """Every ccxt key variable set in ``.env`` or the environment (which wins)."""
    env = {k.upper(): v for k, v in os.environ.items() if v.strip() and _CCXT_VAR.match(k)}
    return {**_dotenv_ccxt(), **env}


class Settings(BaseSettings):
    """Everything the process needs to start; see README for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="GENESIS_", env_file=_ENV_FILE, extra="forbid", frozen=True
    )
    # ccxt venues' keys found in the keyring or the secrets file (``load_settings``)
    _ccxt_stored: dict[str, SecretStr] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _DotEnv(settings_cls), file_secret_settings)

    tier: Tier | None = Field(
        default=None,
        description="capital tier whose strategies run and whose risk limits apply:"
        " sniper, hunter or strategist (the daemon's --tier)",
    )
    risk_config: Path | None = Field(
        default=None,
        description="risk limits YAML (config/risk.yaml's format): per-tier limits, circuit"
        " breakers, risk measures; empty: the built-in limits (--risk-config)",
    )
    data_dir: Path = Field(
        default=Path("data"), description="where the SQLite journal and the run state live"
    )
    database_url: SecretStr | None = Field(  # may carry a password: secret
        default=None,
        description="postgresql://user:pass@host/db for PostgreSQL (asyncpg); empty: SQLite"
        " in the data directory",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="debug, info, warning, error or critical"
    )
    live: bool = Field(
        default=False, description="trade with real money on the venue (needs both API keys)"
    )
    binance_api_key: SecretStr | None = Field(default=None, description="Binance API key (live)")
    binance_api_secret: SecretStr | None = Field(
        default=None, description="Binance API secret (live); never logged"
    )
    secrets_keyring: bool = Field(
        default=False,
        description="read API keys and other secrets not set here from the OS keyring"
        " (service genesis; `genesis secrets set NAME --keyring`)",
    )
    secrets_file: Path | None = Field(
        default=None,
        description="encrypted file of secrets not set here nor in the keyring"
        " (`genesis secrets set NAME`); empty: none",
    )
    secrets_passphrase: SecretStr | None = Field(  # opens the secrets file: secret
        default=None, description="passphrase of GENESIS_SECRETS_FILE; never logged"
    )
    strategies_dir: Path = Field(
        default=Path("config/strategies"), description="directory of strategy YAML files"
    )
    env: Literal["", "dev", "staging", "prod"] = Field(
        default="",
        description="environment overlay of the strategy configs: dev, staging or prod"
        " (<strategies dir>/../env/<env>/<id>.yaml merged over <id>.yaml); empty: none",
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="seconds a clean stop may take (0 < s <= 300)"
    )
    on_shutdown: Literal["cancel", "keep", "flatten"] = Field(
        default="cancel",
        description="at a clean stop: cancel the entry orders (positions keep their stop and"
        " target), keep every working order, or flatten every position at market",
    )
    status_interval_s: float = Field(
        default=60.0, ge=0, description="seconds between daemon_status lines; 0 = off"
    )
    market_data: Literal["live", "recording"] = Field(
        default="live",
        description="paper trading's market data: live public Binance streams (the bundled"
        " recording when unreachable at the start) or the recording itself",
    )
    market_rest_url: str = Field(
        default="https://data-api.binance.vision", description="public market data, REST"
    )
    market_ws_url: str = Field(
        default="wss://data-stream.binance.vision", description="public market data, WebSocket"
    )
    binance_rest_url: str = Field(
        default="https://api.binance.com", description="live trading: signed REST"
    )
    binance_ws_url: str = Field(
        default="wss://stream.binance.com:9443", description="live trading: market streams"
    )
    binance_ws_api_url: str = Field(
        default="wss://ws-api.binance.com:443/ws-api/v3",
        description="live trading: the WebSocket API (user data)",
    )
    oanda_rest_url: str = Field(
        default="https://api-fxtrade.oanda.com",
        description="live trading on OANDA v20 (instruments oanda:GBP_USD ...): the REST host"
        " (practice accounts: https://api-fxpractice.oanda.com)",
    )
    oanda_stream_url: str = Field(
        default="https://stream-fxtrade.oanda.com",
        description="OANDA v20: the streaming host (practice: https://stream-fxpractice.oanda.com)",
    )
    oanda_account_id: str = Field(
        default="", description="OANDA v20 account id (101-004-...); empty: the token's first"
    )
    oanda_token: SecretStr | None = Field(  # the bearer token: secret, never logged
        default=None, description="OANDA v20 personal access token (live); never logged"
    )
    ccxt_venues: dict[str, Any] = Field(
        default_factory=dict,
        description='other venues through ccxt, JSON: {"okx": {"exchange": "okx"}}; keys in'
        " GENESIS_CCXT_<VENUE>_API_KEY, _API_SECRET, _PASSWORD (environment or .env), or in"
        " the keyring or secrets file as ccxt_<venue>_api_key... (`genesis secrets set`)",
    )

    alert_urls: SecretStr | None = Field(  # the URLs carry tokens: secret
        default=None,
        description="alert notifications through apprise: URLs separated by commas or spaces"
        " (json://host/path, mailto://..., tgram://..., slack://...); they carry tokens and are"
        " never logged; empty: alerts go to the log only",
    )
    alert_min_severity: Literal["info", "warning", "critical"] = Field(
        default="warning",
        description="the least severe alert notified: info, warning or critical (every alert"
        " is logged)",
    )
    alert_interval_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="per alert rule: at most one alert in this many seconds (escalations and"
        " recoveries excepted); the next one says how many were suppressed (0 <= s <= 86400)",
    )
    alert_drawdown_pct: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="drawdown alert: equity below its peak by this fraction (0.05 = 5%) is a"
        " warning, by twice it critical (0 < x < 1)",
    )

    @field_validator("alert_urls")
    @classmethod
    def _apprise_urls(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        for n, url in enumerate(split_urls(value.get_secret_value()), 1):
            if "://" not in url:  # the text is a secret: say where, never what
                raise ValueError(f"entry {n} is not a URL (scheme://...)")
        return value

    api_host: str = Field(
        default="127.0.0.1",
        description="the control API and dashboard listen here (loopback by default; another"
        " address needs a token of at least 32 characters, like every start of the API)",
    )
    api_port: int = Field(
        default=8765, ge=0, le=65535, description="the control API's TCP port (0: any free port)"
    )
    api_token: SecretStr | None = Field(  # the bearer token: secret, never logged
        default=None,
        description="bearer token of the control API, at least 32 characters; empty: the API"
        " does not start (the daemon logs api_disabled once)",
    )

    @field_validator("api_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value().encode()) < API_TOKEN_MIN_BYTES:
            raise ValueError(f"must be at least {API_TOKEN_MIN_BYTES} bytes (R20)")
        return value

    @model_validator(mode="after")
    def _exposed_needs_token(self) -> Settings:
        if self.api_token is None and self.api_host not in _LOOPBACK:
            raise ValueError(
                f"GENESIS_API_HOST={self.api_host} listens beyond this machine but"
                " GENESIS_API_TOKEN is not set: refused (R20); set a token of at least"
                f" {API_TOKEN_MIN_BYTES} bytes or keep the API on 127.0.0.1"
            )
        return self

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
            s.get_secret_value()
            for s in (
                self.binance_api_key,
                self.binance_api_secret,
                self.api_token,
                self.secrets_passphrase,
                self.oanda_token,
            )
            if s
        ]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            if password:
                values.append(password)
        if self.alert_urls is not None:
            values += secrets_of(split_urls(self.alert_urls.get_secret_value()))
        values += list(_ccxt_given().values())
        values += [v.get_secret_value() for v in self._ccxt_stored.values()]
        return values

    def ccxt_keys(self, venue: str) -> dict[str, str]:
        """ccxt's ``apiKey``/``secret``/``password`` for ``venue`` (a ``GENESIS_CCXT_VENUES``
        key), each from the first that has it: the environment, ``.env``
        (``GENESIS_CCXT_<VENUE>_API_KEY``...), the keyring, the secrets file
        (``ccxt_<venue>_api_key``..., as ``load_settings`` found them)."""
        given = _ccxt_given()
        found: dict[str, str] = {}
        for field, name in ccxt_secret_names(venue).items():
            stored = self._ccxt_stored.get(name)
            value = given.get(f"GENESIS_{name.upper()}") or (
                stored.get_secret_value() if stored is not None else None
            )
            if value:
                found[field] = value
        return found


def load_settings(**overrides: Any) -> Settings:
    """Read the environment and ``.env``, apply ``overrides`` (from CLI flags), then fill
    the secrets still unset from the OS keyring and the encrypted file
    (``genesis.secretstore``: flags and environment first, keyring, then file).

    Raises:
        ConfigError: one line per invalid setting, naming the variable; secret
            values are never echoed. A keyring or secrets file that cannot be read.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = env_settings(**given)
    if not settings.secrets_keyring and settings.secrets_file is None:
        return settings
    missing = tuple(n for n in SECRET_FIELDS if getattr(settings, n) is None)
    set_here = _ccxt_given()
    ccxt = tuple(
        name
        for venue in sorted(settings.ccxt_venues)
        for name in ccxt_secret_names(venue).values()
        if f"GENESIS_{name.upper()}" not in set_here
    )
    phrase = settings.secrets_passphrase
    stored = stored_secrets(
        missing + ccxt,
        use_keyring=settings.secrets_keyring,
        file=settings.secrets_file,
        passphrase=phrase.get_secret_value() if phrase is not None else None,
    )
    fields = {n: v for n, v in stored.items() if n in SECRET_FIELDS}
    if fields:
        settings = env_settings(**given, **fields)
    settings._ccxt_stored = {n: SecretStr(v) for n, v in stored.items() if n not in fields}
    return settings


def env_settings(**overrides: Any) -> Settings:
    """The settings from flags, environment and ``.env`` alone (no keyring, no file).

    Raises:
        ConfigError: as ``load_settings``.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None


def _describe(err: Any) -> str:
    if not err.get("loc"):  # a rule across settings: its message names them; the input
        # is every setting given, secrets included: never shown
        return str(err.get("msg", "invalid")).removeprefix("Value error, ")
    field = ".".join(str(p) for p in err.get("loc", ()))
    name = f"GENESIS_{field.upper()}"
    if err.get("type") == "extra_forbidden":
        return f"{name}: unknown setting"
    shown = (
        ""
        if any(word in field for word in ("secret", "url", "key", "token"))
        else f" (was {err.get('input')!r})"
    )
    return f"{name}: {err.get('msg', 'invalid')}{shown}"


def env_example() -> str:
    """A ``.env.example`` from the settings model: every variable, what it does, and its
    default, commented out (a copy changes nothing until a line is uncommented)."""
    lines = [
        "# Genesis process settings (genesis/settings.py), generated by",
        "# `python -m genesis config env`. Copy to .env and uncomment what you change;",
        "# the environment wins over .env, and command line flags over both.",
    ]
    for name, field in Settings.model_fields.items():
        lines += ["", f"# {field.description}", f"# GENESIS_{name.upper()}={_shown(field)}"]
    return "\n".join(lines) + "\n"


def _shown(field: Any) -> str:
    if field.annotation in (SecretStr, SecretStr | None) or field.default is None:
        return ""
    if field.default_factory is not None:
        return json.dumps(field.default_factory())
    value = field.default
    if isinstance(value, bool):
        return str(value).lower()
    return str(value.value if isinstance(value, enum.Enum) else value)
