"""Alert settings: URLs are secrets (never echoed, tokens redacted), the rest validated."""

from __future__ import annotations

from decimal import Decimal

import pytest

from genesis.daemon.cli import alert_config
from genesis.errors import ConfigError
from genesis.monitoring.alerts import Severity
from genesis.settings import load_settings


def test_alert_settings_build_the_alert_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two URLs split on a comma, the severity, interval and drawdown carried over."""
    monkeypatch.setenv(
        "GENESIS_ALERT_URLS",
        "json://127.0.0.1:8080/hooks/abcdef123456, mailto://me:pw123456@example.com",
    )
    monkeypatch.setenv("GENESIS_ALERT_MIN_SEVERITY", "critical")
    monkeypatch.setenv("GENESIS_ALERT_INTERVAL_S", "30")
    monkeypatch.setenv("GENESIS_ALERT_DRAWDOWN_PCT", "0.1")

    config = alert_config(load_settings())

    assert len(config.urls) == 2
    assert config.min_severity is Severity.CRITICAL
    assert config.interval_s == 30.0
    assert config.drawdown_pct == Decimal("0.1")


def test_url_tokens_go_to_the_redactor_and_hosts_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole URL, the path token and the password are secret; 127.0.0.1 is not."""
    url = "json://127.0.0.1:8080/hooks/abcdef123456"
    monkeypatch.setenv("GENESIS_ALERT_URLS", f"{url} mailto://me:pw123456@example.com")

    secrets = load_settings().secret_values()

    assert url in secrets
    assert "abcdef123456" in secrets
    assert "pw123456" in secrets
    assert "127.0.0.1" not in secrets


def test_a_bad_url_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a URL: the error names the variable and the entry, never the text."""
    monkeypatch.setenv("GENESIS_ALERT_URLS", "json://ok/hook tok3n-not-a-url")

    with pytest.raises(ConfigError, match="GENESIS_ALERT_URLS: .*entry 2 is not a URL") as info:
        load_settings()

    assert "tok3n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("GENESIS_ALERT_MIN_SEVERITY", "loud"), ("GENESIS_ALERT_DRAWDOWN_PCT", "1.5"),
     ("GENESIS_ALERT_INTERVAL_S", "-1")],
)  # fmt: skip
def test_out_of_range_alert_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Each bad value names its variable."""
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        load_settings()
