"""Process settings from the environment: typed, frozen, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from genesis.errors import ConfigError
from genesis.risk.limits import Tier
from genesis.settings import load_settings

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "TIER",
        "DATA_DIR",
        "DATABASE_URL",
        "LOG_LEVEL",
        "BINANCE_API_KEY",
        "BINANCE_API_SECRET",
    ):
        monkeypatch.delenv(f"GENESIS_{name}", raising=False)


def test_environment_is_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """GENESIS_* variables become typed, frozen settings."""
    monkeypatch.setenv("GENESIS_TIER", "sniper")
    monkeypatch.setenv("GENESIS_DATA_DIR", "/var/lib/genesis")
    settings = load_settings()
    assert settings.tier is Tier.SNIPER
    assert settings.data_dir == Path("/var/lib/genesis")
    with pytest.raises(Exception, match="frozen"):
        settings.live = True  # type: ignore[misc]


def test_cli_overrides_win_and_none_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag given on the command line overrides the environment; an absent flag does not."""
    monkeypatch.setenv("GENESIS_TIER", "hunter")
    assert load_settings(tier="strategist").tier is Tier.STRATEGIST
    assert load_settings(tier=None).tier is Tier.HUNTER


def test_secrets_are_masked_and_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and the database password never show in repr; secret_values() feeds the redactor."""
    monkeypatch.setenv("GENESIS_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("GENESIS_DATABASE_URL", "postgresql://genesis:s3cr3t-pw@127.0.0.1:5432/test")
    settings = load_settings()
    assert KEY not in repr(settings)
    assert "s3cr3t-pw" not in repr(settings)
    assert settings.secret_values() == [KEY, "s3cr3t-pw"]


def test_invalid_settings_name_the_variable_without_echoing_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad tier and a bad database URL give one clear line; the URL's password is not echoed."""
    monkeypatch.setenv("GENESIS_TIER", "sniperr")
    monkeypatch.setenv("GENESIS_DATABASE_URL", "mysql://u:hunter22@h/db")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "GENESIS_TIER" in message
    assert "'sniperr'" in message
    assert "GENESIS_DATABASE_URL" in message
    assert "hunter22" not in message
