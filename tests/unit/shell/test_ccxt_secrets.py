"""ccxt venue keys through the secret store (CF-1): ``GENESIS_CCXT_<VENUE>_API_KEY``... in
the environment or ``.env``, else ``ccxt_<venue>_api_key``... in the keyring or the
encrypted file, with the precedence of every other secret; never in a log line;
``genesis secrets set/list`` take the ccxt names.

The key and secret are Binance's documented example pair (public API docs), as in
``test_secretstore.py``; the keyring is an in-memory backend (no OS keyring touched).
"""

from __future__ import annotations

import argparse
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import structlog
from keyring.backend import KeyringBackend

from genesis.__main__ import build_parser
from genesis.daemon.live_venues import CcxtSpec, _exchange, ccxt_secrets
from genesis.errors import ConfigError
from genesis.logs import configure, get_logger
from genesis.secrets_cli import run
from genesis.secretstore import SECRET_FIELDS, SecretFile, ccxt_secret_names, is_secret_name
from genesis.settings import load_settings

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PASSWORD = "okx-passphrase-9f2c"
PASSPHRASE = "correct horse battery staple"
VENUES = json.dumps({"okx": {"exchange": "okx"}, "okx-eu": {"exchange": "okx"}})


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("GENESIS_") and name != "GENESIS_MARKET_DATA":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GENESIS_CCXT_VENUES", VENUES)


@pytest.fixture
def ring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def _file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: str) -> Path:
    path = tmp_path / "secrets.enc"
    SecretFile(path, PASSPHRASE).save(values)
    monkeypatch.setenv("GENESIS_SECRETS_FILE", str(path))
    monkeypatch.setenv("GENESIS_SECRETS_PASSPHRASE", PASSPHRASE)
    return path


def test_the_names_are_the_variables_without_genesis_in_lower_case() -> None:
    """``okx-eu``'s dash is an underscore, as in its variables."""
    assert ccxt_secret_names("okx-eu") == {
        "apiKey": "ccxt_okx_eu_api_key",
        "secret": "ccxt_okx_eu_api_secret",
        "password": "ccxt_okx_eu_password",
    }
    assert is_secret_name("ccxt_okx_eu_password")
    assert is_secret_name("binance_api_key")
    assert not is_secret_name("ccxt_okx_token")
    assert not is_secret_name("ccxt__api_key")


def test_a_venues_keys_come_from_the_encrypted_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All three from the file; each value goes to the log redactor; none in a dump."""
    _file(tmp_path, monkeypatch, ccxt_okx_api_key=KEY, ccxt_okx_api_secret=SECRET,
          ccxt_okx_password=PASSWORD)  # fmt: skip

    settings = load_settings()

    assert ccxt_secrets("okx", settings) == {"apiKey": KEY, "secret": SECRET, "password": PASSWORD}
    assert ccxt_secrets("okx-eu", settings) == {}
    assert {KEY, SECRET, PASSWORD} <= set(settings.secret_values())
    dumped = repr(settings) + settings.model_dump_json()
    assert all(v not in dumped for v in (KEY, SECRET, PASSWORD))


def test_precedence_environment_then_dotenv_then_keyring_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ring: MemoryKeyring
) -> None:
    """The key everywhere: the environment's; the secret in .env, keyring and file: .env's;
    the password in keyring and file: the keyring's. A ccxt key in .env is no longer an
    unknown setting that refuses the start."""
    _file(tmp_path, monkeypatch, ccxt_okx_api_key="file-key", ccxt_okx_api_secret="file-secret",
          ccxt_okx_password="file-password")  # fmt: skip
    ring.set_password("genesis", "ccxt_okx_api_key", "ring-key")
    ring.set_password("genesis", "ccxt_okx_api_secret", "ring-secret")
    ring.set_password("genesis", "ccxt_okx_password", PASSWORD)
    (tmp_path / ".env").write_text(
        f"GENESIS_CCXT_OKX_API_KEY=dotenv-key\nGENESIS_CCXT_OKX_API_SECRET={SECRET}\n"
    )
    monkeypatch.setenv("GENESIS_SECRETS_KEYRING", "true")
    monkeypatch.setenv("GENESIS_CCXT_OKX_API_KEY", KEY)

    settings = load_settings()

    assert ccxt_secrets("okx", settings) == {"apiKey": KEY, "secret": SECRET, "password": PASSWORD}
    assert {KEY, SECRET, PASSWORD} <= set(settings.secret_values())


def test_without_a_store_the_environment_and_dotenv_still_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No keyring, no file: ``ccxt_secrets`` reads the settings itself (the default)."""
    (tmp_path / ".env").write_text(f"GENESIS_CCXT_OKX_EU_API_SECRET={SECRET}\n")
    monkeypatch.setenv("GENESIS_CCXT_OKX_EU_API_KEY", KEY)

    assert ccxt_secrets("okx-eu") == {"apiKey": KEY, "secret": SECRET}
    assert {KEY, SECRET} <= set(load_settings().secret_values())


def test_missing_keys_name_every_place_and_no_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the key stored: the venue refuses to open, naming variables and store names."""
    _file(tmp_path, monkeypatch, ccxt_okx_api_key=KEY)

    with pytest.raises(ConfigError) as raised:
        _exchange("okx", CcxtSpec(exchange="okx"))

    assert str(raised.value) == (
        "venue okx: live trading needs GENESIS_CCXT_OKX_API_KEY and GENESIS_CCXT_OKX_API_SECRET"
        " (environment or .env), or ccxt_okx_api_key and ccxt_okx_api_secret in the keyring or"
        " the secrets file (`genesis secrets set NAME`)"
    )
    assert KEY not in str(raised.value)


def test_stored_ccxt_keys_never_reach_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured as the daemon does: a line carrying the stored values is redacted."""
    _file(tmp_path, monkeypatch, ccxt_okx_api_key=KEY, ccxt_okx_api_secret=SECRET)
    settings = load_settings()
    stream = io.StringIO()
    configure(level="debug", stream=stream, secrets=settings.secret_values())
    try:
        keys = ccxt_secrets("okx", settings)
        get_logger().info("ccxt_opened", config=str(keys), query=f"apiKey={KEY}&sig={SECRET}")
    finally:
        structlog.reset_defaults()

    text = stream.getvalue()
    assert text.count("\n") == 1
    assert KEY not in text
    assert SECRET not in text


def _cli(*argv: str, stdin: str = "") -> str:
    out = io.StringIO()
    args: argparse.Namespace = build_parser().parse_args(["secrets", *argv])
    run(args, out, io.StringIO(stdin))
    return out.getvalue()


def test_cli_sets_and_lists_ccxt_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``set ccxt_okx_api_key`` stores it; ``list`` adds the configured venues' names and
    those the file holds (a venue no longer configured too), never a value."""
    path = _file(tmp_path, monkeypatch, ccxt_kraken_api_key="old-kraken-key")
    monkeypatch.setenv("GENESIS_CCXT_OKX_EU_PASSWORD", PASSWORD)

    said = _cli("set", "ccxt_okx_api_key", stdin=KEY + "\n")
    listed = _cli("list").splitlines()

    assert said == f"set ccxt_okx_api_key in {path}\n"
    assert listed == [
        *(f"{name}  -" for name in SECRET_FIELDS),
        "ccxt_okx_api_key  file",
        "ccxt_okx_api_secret  -",
        "ccxt_okx_password  -",
        "ccxt_okx_eu_api_key  -",
        "ccxt_okx_eu_api_secret  -",
        "ccxt_okx_eu_password  env",
        "ccxt_kraken_api_key  file",
    ]
    assert SecretFile(path, PASSPHRASE).load()["ccxt_okx_api_key"] == KEY
    assert load_settings().ccxt_keys("okx") == {"apiKey": KEY}


def test_cli_refuses_a_name_that_is_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo is a usage error naming the accepted forms, before anything is read."""
    with pytest.raises(SystemExit) as raised:
        _cli("set", "ccxt_okx_token", stdin=KEY)

    assert raised.value.code == 2
    assert "'ccxt_okx_token' is not a secret's name" in capsys.readouterr().err
