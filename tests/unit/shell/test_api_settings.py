"""GENESIS_API_*: loopback by default, a long token or no API, never an exposed API without one."""

from __future__ import annotations

import pytest

from genesis.errors import ConfigError
from genesis.settings import Settings, load_settings

TOKEN = "canary-" + "t" * 40


def test_defaults_are_loopback_8765_and_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GENESIS_API_*: 127.0.0.1:8765 and no token (the API does not start)."""
    for name in ("GENESIS_API_HOST", "GENESIS_API_PORT", "GENESIS_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.api_host, settings.api_port, settings.api_token) == ("127.0.0.1", 8765, None)


def test_short_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token under 32 bytes stops the start; the message names the variable, not the value."""
    monkeypatch.setenv("GENESIS_API_TOKEN", "short-canary-token")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "GENESIS_API_TOKEN" in str(refused.value)
    assert "32 bytes" in str(refused.value)
    assert "short-canary-token" not in str(refused.value)


def test_exposed_host_without_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """0.0.0.0 without a token: refused, naming both variables, echoing no secret."""
    monkeypatch.delenv("GENESIS_API_TOKEN", raising=False)
    monkeypatch.setenv("GENESIS_API_HOST", "0.0.0.0")
    monkeypatch.setenv("GENESIS_BINANCE_API_SECRET", "canary-venue-secret")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "GENESIS_API_HOST=0.0.0.0" in message
    assert "GENESIS_API_TOKEN" in message
    assert "canary-venue-secret" not in message


def test_token_is_a_secret_for_the_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is masked in repr and handed to the log redactor."""
    monkeypatch.setenv("GENESIS_API_TOKEN", TOKEN)
    settings = load_settings()
    assert TOKEN not in repr(settings)
    assert TOKEN in settings.secret_values()
