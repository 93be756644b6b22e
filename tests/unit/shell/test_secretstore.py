"""Secrets from the OS keyring and the encrypted file (CF-1): precedence environment >
keyring > file; the values never reach the file in clear, a log line, an error or
the journal.

The keys are Binance's documented example key and secret (public API docs). The
keyring is an in-memory backend set programmatically: no OS keyring is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import structlog
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from genesis.__main__ import build_parser
from genesis.errors import ConfigError
from genesis.logs import configure, get_logger
from genesis.secrets_cli import run
from genesis.secretstore import SECRET_FIELDS, SecretFile
from genesis.settings import load_settings
from genesis.storage import open_repository

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PASSPHRASE = "correct horse battery staple"


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps passwords in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("GENESIS_") and name != "GENESIS_MARKET_DATA":
            monkeypatch.delenv(name)


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


def test_file_round_trips_and_holds_no_value_in_clear(tmp_path: Path) -> None:
    """Saved and loaded back equal; the bytes hold neither value; mode 0600."""
    path = tmp_path / "secrets.enc"
    SecretFile(path, PASSPHRASE).save({"binance_api_key": KEY, "binance_api_secret": SECRET})

    loaded = SecretFile(path, PASSPHRASE).load()
    raw = path.read_bytes()

    assert loaded == {"binance_api_key": KEY, "binance_api_secret": SECRET}
    assert KEY.encode() not in raw
    assert SECRET.encode() not in raw
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(raw)["kdf"] == {"n": 32768, "r": 8, "p": 1}


def test_wrong_passphrase_is_a_config_error_without_values(tmp_path: Path) -> None:
    """A wrong passphrase: ConfigError naming the file, no value in it."""
    path = tmp_path / "secrets.enc"
    SecretFile(path, PASSPHRASE).save({"binance_api_key": KEY})

    with pytest.raises(ConfigError) as raised:
        SecretFile(path, "wrong").load()

    assert str(raised.value) == (
        f"{path}: cannot decrypt the secrets file (wrong passphrase or damaged)"
    )


def test_settings_fill_unset_secrets_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key and secret from the file; the passphrase and both values go to the redactor."""
    _file(tmp_path, monkeypatch, binance_api_key=KEY, binance_api_secret=SECRET)

    settings = load_settings()

    assert settings.binance_api_key is not None
    assert settings.binance_api_key.get_secret_value() == KEY
    assert {KEY, SECRET, PASSPHRASE} <= set(settings.secret_values())


def test_precedence_environment_then_keyring_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ring: MemoryKeyring
) -> None:
    """The key in all three: the environment's wins; the secret in keyring and file: the
    keyring's; the database URL only in the file: the file's."""
    _file(
        tmp_path, monkeypatch, binance_api_key="file-key", binance_api_secret="file-secret",
        database_url="postgresql://genesis:file-pass@127.0.0.1:5432/test",
    )  # fmt: skip
    ring.set_password("genesis", "binance_api_key", "ring-key")
    ring.set_password("genesis", "binance_api_secret", SECRET)
    monkeypatch.setenv("GENESIS_SECRETS_KEYRING", "true")
    monkeypatch.setenv("GENESIS_BINANCE_API_KEY", KEY)

    settings = load_settings()

    assert settings.binance_api_key is not None
    assert settings.binance_api_secret is not None
    assert settings.database_url is not None
    assert settings.binance_api_key.get_secret_value() == KEY
    assert settings.binance_api_secret.get_secret_value() == SECRET
    assert settings.database_url.get_secret_value().endswith(":file-pass@127.0.0.1:5432/test")


def test_keyring_is_not_read_unless_asked(
    monkeypatch: pytest.MonkeyPatch, ring: MemoryKeyring
) -> None:
    """GENESIS_SECRETS_KEYRING unset: the keyring's key is ignored."""
    ring.set_password("genesis", "binance_api_key", KEY)

    assert load_settings().binance_api_key is None


def test_a_file_without_passphrase_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GENESIS_SECRETS_FILE without GENESIS_SECRETS_PASSPHRASE: a ConfigError saying so."""
    _file(tmp_path, monkeypatch, binance_api_key=KEY)
    monkeypatch.delenv("GENESIS_SECRETS_PASSPHRASE")

    with pytest.raises(ConfigError, match="GENESIS_SECRETS_PASSPHRASE is not"):
        load_settings()


def test_an_invalid_stored_value_is_reported_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database URL with a bad scheme from the file: the error names the setting only."""
    bad = f"mysql://genesis:{SECRET}@db/prod"
    _file(tmp_path, monkeypatch, database_url=bad)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert SECRET not in str(raised.value)
    assert "GENESIS_DATABASE_URL" in str(raised.value)


def test_stored_secrets_never_reach_a_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Configured as the daemon does, lines carrying the values (and the settings) are
    redacted: neither value nor the passphrase appears in the captured output."""
    _file(tmp_path, monkeypatch, binance_api_key=KEY, binance_api_secret=SECRET)
    settings = load_settings()
    stream = io.StringIO()
    configure(level="debug", stream=stream, secrets=settings.secret_values())
    try:
        log = get_logger()
        log.info("settings_loaded", settings=repr(settings), dump=settings.model_dump_json())
        log.info("signed", query=f"apiKey={KEY}&signature={SECRET}", note=PASSPHRASE)
        try:
            raise RuntimeError(f"venue refused key {KEY}")
        except RuntimeError:
            log.exception("request_failed")
    finally:
        structlog.reset_defaults()

    text = stream.getvalue()
    assert text.count("\n") == 3
    for value in (KEY, SECRET, PASSPHRASE):
        assert value not in text


def test_stored_secrets_never_reach_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings dumped into an audit row (as a careless caller might) keep only masks:
    the SQLite file holds neither value nor the passphrase."""
    _file(tmp_path, monkeypatch, binance_api_key=KEY, binance_api_secret=SECRET)
    settings = load_settings()

    async def write() -> None:
        repo = await open_repository(None, tmp_path / "data")
        try:
            await repo.append_audit(1, "daemon", "settings", settings.model_dump_json())
        finally:
            await repo.close()

    asyncio.run(write())

    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    for value in (KEY, SECRET, PASSPHRASE):
        assert value.encode() not in raw


def _cli(*argv: str, stdin: str = "") -> str:
    out = io.StringIO()
    args: argparse.Namespace = build_parser().parse_args(["secrets", *argv])
    run(args, out, io.StringIO(stdin))
    return out.getvalue()


def test_cli_set_list_delete_on_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """set reads the value from stdin; list shows names and places, never a value."""
    path = tmp_path / "s.enc"
    monkeypatch.setenv("GENESIS_SECRETS_FILE", str(path))
    monkeypatch.setenv("GENESIS_SECRETS_PASSPHRASE", PASSPHRASE)

    said = _cli("set", "binance_api_key", stdin=KEY + "\n")
    listed = _cli("list")
    _cli("delete", "binance_api_key")

    assert said == f"set binance_api_key in {path}\n"
    assert listed.splitlines() == [
        f"{name}  {'file' if name == 'binance_api_key' else '-'}" for name in SECRET_FIELDS
    ]
    assert KEY not in listed
    assert SecretFile(path, PASSPHRASE).load() == {}


def test_cli_set_in_the_keyring(monkeypatch: pytest.MonkeyPatch, ring: MemoryKeyring) -> None:
    """--keyring stores under service genesis; deleting what is not there is an error."""
    said = _cli("set", "binance_api_secret", "--keyring", stdin=SECRET)

    assert said == "set binance_api_secret in the OS keyring (service genesis)\n"
    assert ring.store == {("genesis", "binance_api_secret"): SECRET}
    with pytest.raises(ConfigError, match="^the OS keyring holds no api_token$"):
        _cli("delete", "api_token", "--keyring")
