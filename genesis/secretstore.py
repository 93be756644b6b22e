"""API keys and other secrets from the OS keyring or an encrypted file (SPEC CF-1).

Where each secret setting (``SECRET_FIELDS``) comes from, first found wins:

1. a command line flag, the environment (``GENESIS_BINANCE_API_KEY``...) or ``.env``;
2. the OS keyring, when ``GENESIS_SECRETS_KEYRING=true`` (service ``genesis``,
   user name the setting's name: ``binance_api_key``);
3. the encrypted file ``GENESIS_SECRETS_FILE``, opened with
   ``GENESIS_SECRETS_PASSPHRASE``.

The file is JSON: the scrypt parameters and salt, and a Fernet token (AES-128-CBC
with HMAC-SHA256, from ``cryptography``) of the JSON object ``{name: value}``; the
key is scrypt(passphrase, salt, n=2**15, r=8, p=1). It is written atomically with
mode 0600. ``python -m genesis secrets`` manages both (``genesis.secrets_cli``).

Values found here become ``SecretStr`` settings like any other: masked in reprs and
dumps, handed to the log redactor (``Settings.secret_values``), never written to
the journal. Errors name the file, the setting or the keyring, never a value.

A ccxt venue's keys (``GENESIS_CCXT_VENUES``) follow the same precedence under the
names ``ccxt_<venue>_api_key``, ``ccxt_<venue>_api_secret`` and
``ccxt_<venue>_password`` (the variable's name without ``GENESIS_``, lower case; a
``-`` in the venue is ``_``): ``GENESIS_CCXT_OKX_API_KEY`` in the environment or
``.env``, else ``ccxt_okx_api_key`` in the keyring, else in the file
(``Settings.ccxt_keys``).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from genesis.errors import ConfigError

__all__ = [
    "CCXT_KEYS",
    "KEYRING_SERVICE",
    "SECRET_FIELDS",
    "SecretFile",
    "ccxt_secret_names",
    "is_secret_name",
    "keyring_values",
    "stored_secrets",
]

SECRET_FIELDS: Final = (
    "binance_api_key", "binance_api_secret", "api_token", "database_url", "alert_urls",
    "oanda_token",
)  # fmt: skip
# ccxt's credential field -> the suffix of its secret's name (and of its variable)
CCXT_KEYS: Final = (("apiKey", "api_key"), ("secret", "api_secret"), ("password", "password"))
_CCXT_NAME: Final = re.compile(r"^ccxt_[a-z0-9_]+_(api_key|api_secret|password)$")
KEYRING_SERVICE: Final = "genesis"
_FORMAT: Final = "genesis-secrets"
_SCRYPT: Final = {"n": 2**15, "r": 8, "p": 1}


class SecretFile:
    """An encrypted file of named secrets (see the module docstring for the format)."""

    def __init__(self, path: Path, passphrase: str) -> None:
        if not passphrase:
            raise ConfigError(f"{path}: an empty passphrase cannot protect the secrets file")
        self.path = path
        self._passphrase = passphrase

    def load(self) -> dict[str, str]:
        """Every stored secret by name; {} when the file does not exist.

        Raises:
            ConfigError: unreadable, not a secrets file, or the passphrase is wrong.
        """
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: cannot read the secrets file: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ConfigError(f"{self.path}: not a genesis secrets file")
        try:
            fernet = self._fernet(base64.b64decode(doc["salt"]), doc["kdf"])
            values = json.loads(fernet.decrypt(doc["token"].encode()))
        except (InvalidToken, KeyError, TypeError, ValueError):
            raise ConfigError(
                f"{self.path}: cannot decrypt the secrets file (wrong passphrase or damaged)"
            ) from None
        return {str(k): str(v) for k, v in values.items()}

    def save(self, values: dict[str, str]) -> None:
        """Encrypt ``values`` under a fresh salt; replace the file atomically (mode 0600)."""
        salt = os.urandom(16)
        token = self._fernet(salt, _SCRYPT).encrypt(json.dumps(values, sort_keys=True).encode())
        doc = {
            "format": _FORMAT, "version": 1, "kdf": dict(_SCRYPT),
            "salt": base64.b64encode(salt).decode(), "token": token.decode(),
        }  # fmt: skip
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle)
        os.replace(tmp, self.path)

    def _fernet(self, salt: bytes, kdf: dict[str, int]) -> Fernet:
        key = Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
            self._passphrase.encode()
        )
        return Fernet(base64.urlsafe_b64encode(key))


def ccxt_secret_names(venue: str) -> dict[str, str]:
    """ccxt's credential field -> the secret's name, for ``venue`` (``okx``:
    ``{"apiKey": "ccxt_okx_api_key", ...}``)."""
    stem = venue.lower().replace("-", "_")
    return {field: f"ccxt_{stem}_{suffix}" for field, suffix in CCXT_KEYS}


def is_secret_name(name: str) -> bool:
    """A name ``genesis secrets`` stores: a secret setting or a ccxt venue's key."""
    return name in SECRET_FIELDS or _CCXT_NAME.match(name) is not None


def keyring_values(names: tuple[str, ...]) -> dict[str, str]:
    """The secrets among ``names`` the OS keyring holds (service ``genesis``).

    Raises:
        ConfigError: no usable keyring backend, or it refused the lookup.
    """
    import keyring  # lazily: only sessions that ask for the keyring load it
    from keyring.errors import KeyringError

    found: dict[str, str] = {}
    for name in names:
        try:
            value = keyring.get_password(KEYRING_SERVICE, name)
        except KeyringError as exc:
            raise ConfigError(
                f"GENESIS_SECRETS_KEYRING: the OS keyring cannot be read ({type(exc).__name__})"
            ) from None
        if value:
            found[name] = value
    return found


def stored_secrets(
    missing: tuple[str, ...],
    *,
    use_keyring: bool,
    file: Path | None,
    passphrase: str | None,
) -> dict[str, str]:
    """Values for the ``missing`` secret settings: the keyring's first, then the file's.

    Raises:
        ConfigError: a file without a passphrase, or what ``keyring_values`` and
            ``SecretFile.load`` raise.
    """
    found = keyring_values(missing) if use_keyring and missing else {}
    left = tuple(n for n in missing if n not in found)
    if file is not None and left:
        if not passphrase:
            raise ConfigError("GENESIS_SECRETS_FILE is set but GENESIS_SECRETS_PASSPHRASE is not")
        in_file = SecretFile(file, passphrase).load()
        found.update({n: in_file[n] for n in left if in_file.get(n)})
    return found
