"""The ``run --live`` refusal matrix: live needs the flag and both keys; keys alone stay paper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from genesis.__main__ import main
from genesis.daemon import assemble, cli

ROOT = Path(__file__).resolve().parents[3]
# the busy Sniper of the reliability tests (tests/data/strategies)
BUSY_STRATEGIES = ROOT / "tests" / "data" / "strategies"
KEY, SECRET = "CANARYKEYcli0123456789", "CANARYSECRETcli0123456789"
ARGS = ["run", "--tier", "sniper", "--strategies", str(BUSY_STRATEGIES)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Environment without GENESIS_* settings; both daemon entry points recorded, not run;
    the logging configured by ``run`` (on the captured stdout) is undone afterwards."""
    import os

    for name in [n for n in os.environ if n.startswith("GENESIS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file from the repository
    monkeypatch.setenv("GENESIS_DATA_DIR", str(tmp_path))
    seen: dict[str, Any] = {}
    # cli binds run_paper at import; run_live is imported from assemble when --live is given
    monkeypatch.setattr(
        cli, "run_paper", lambda config, live=None: seen.setdefault("paper", (config, live)) and 0
    )
    monkeypatch.setattr(
        assemble,
        "run_live",
        lambda config, ep, live, ccxt=None, oanda=None: (
            seen.update(live=(config, ep, live), **({"oanda": oanda} if oanda else {})) or 0
        ),
    )
    yield seen
    structlog.reset_defaults()


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "GENESIS_BINANCE_API_KEY and GENESIS_BINANCE_API_SECRET"),
        ({"GENESIS_BINANCE_API_KEY": KEY}, "GENESIS_BINANCE_API_SECRET not set"),
        ({"GENESIS_BINANCE_API_SECRET": SECRET}, "GENESIS_BINANCE_API_KEY not set"),
        ({"GENESIS_BINANCE_API_KEY": " ", "GENESIS_BINANCE_API_SECRET": SECRET}, "_KEY not set"),
    ],
)
def test_live_without_both_keys_is_refused_in_one_line(
    calls: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    missing: str,
) -> None:
    """Exit 2, one stderr line naming the missing variables, never a value; nothing started."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main([*ARGS, "--live"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert missing in err
    assert "--live refused" in err
    assert KEY not in out + err
    assert SECRET not in out + err
    assert calls == {}


def test_keys_without_live_run_paper_and_are_never_handed_on(
    calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paper as today; one line says the keys are unused; the paper config holds no key."""
    monkeypatch.setenv("GENESIS_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("GENESIS_BINANCE_API_SECRET", SECRET)
    assert main(ARGS) == 0
    out, err = capsys.readouterr()
    assert list(calls) == ["paper"]
    assert out.count('"live_keys_unused"') == 1
    assert "live keys present; paper mode does not use them" in out
    assert KEY not in repr(calls["paper"])
    assert SECRET not in repr(calls["paper"])
    assert KEY not in out + err
    assert SECRET not in out + err


def test_live_env_flag_alone_is_refused(
    calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GENESIS_LIVE is not the explicit flag: refused rather than silently paper."""
    monkeypatch.setenv("GENESIS_LIVE", "true")
    assert main(ARGS) == 2
    assert "needs the explicit --live flag" in capsys.readouterr().err
    assert calls == {}


def test_live_with_keys_runs_live_on_the_configured_endpoints(
    calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue and its market data use GENESIS_BINANCE_*_URL, never the paper data hosts."""
    monkeypatch.setenv("GENESIS_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("GENESIS_BINANCE_API_SECRET", SECRET)
    monkeypatch.setenv("GENESIS_BINANCE_REST_URL", "http://127.0.0.1:9/r")
    assert main([*ARGS, "--live"]) == 0
    _config, endpoints, live = calls["live"]
    assert list(calls) == ["live"]
    assert (endpoints.rest_url, endpoints.ws_url, endpoints.ws_api_url) == (
        "http://127.0.0.1:9/r", "wss://stream.binance.com:9443",
        "wss://ws-api.binance.com:443/ws-api/v3",
    )  # fmt: skip
    assert endpoints.credentials.api_key == KEY
    assert SECRET not in repr(endpoints)
    assert KEY not in repr(endpoints)
    # the live market streams are handed to run_live beside the config (was config.live_market)
    assert live.rest_url == "http://127.0.0.1:9/r"
    assert live.ws_url == "wss://stream.binance.com:9443"


def test_live_refuses_a_recording(
    calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live trading never runs on a recording or falls back to one."""
    monkeypatch.setenv("GENESIS_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("GENESIS_BINANCE_API_SECRET", SECRET)
    assert main([*ARGS, "--live", "--market-data", "recording"]) == 2
    assert "drop --data/--market-data" in capsys.readouterr().err
    assert calls == {}


def test_live_on_oanda_takes_its_endpoints_from_settings(
    calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An oanda:GBP_USD strategy needs no Binance key; GENESIS_OANDA_* are handed on."""
    from genesis.daemon.oanda_live import OandaEndpoints

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "fx.yaml").write_text(
        'strategy: "momentum_breakout"\ntier: sniper\ninstruments: ["oanda:GBP_USD"]\n'
    )
    for name, value in {"GENESIS_OANDA_TOKEN": "canary-oanda-cli-token",
                        "GENESIS_OANDA_REST_URL": "http://127.0.0.1:1",
                        "GENESIS_OANDA_ACCOUNT_ID": "101-004-1-001"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert main(["run", "--tier", "sniper", "--strategies", str(tmp_path / "s"), "--live"]) == 0
    config, endpoints, _ = calls["live"]
    assert endpoints is None  # no Binance instrument: no Binance key asked for
    assert config.instrument_ids == ("oanda:GBP_USD",)
    assert calls["oanda"] == OandaEndpoints(
        rest_url="http://127.0.0.1:1", stream_url="https://stream-fxtrade.oanda.com",
        account_id="101-004-1-001", token="canary-oanda-cli-token",
    )  # fmt: skip
