"""``python -m genesis secrets set|list|delete``: the encrypted file and the OS keyring.

``set NAME [--keyring]`` reads the value from standard input (never from the command
line, which other users can see in ``ps``); ``list`` prints each secret setting's
name and where it is kept (env, keyring, file), never a value; ``delete NAME
[--keyring]`` removes one. The file is ``GENESIS_SECRETS_FILE``, opened with
``GENESIS_SECRETS_PASSPHRASE`` (asked for when unset). See ``genesis.secretstore``.

NAME is a secret setting (``binance_api_key``...) or a ccxt venue's key:
``ccxt_<venue>_api_key``, ``ccxt_<venue>_api_secret``, ``ccxt_<venue>_password``
(``GENESIS_CCXT_OKX_API_KEY`` is ``ccxt_okx_api_key``). ``list`` adds the ccxt
names of the venues in ``GENESIS_CCXT_VENUES`` and those the file holds.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import IO, Any

from genesis.errors import ConfigError
from genesis.secretstore import (
    KEYRING_SERVICE,
    SECRET_FIELDS,
    SecretFile,
    ccxt_secret_names,
    is_secret_name,
    keyring_values,
)
from genesis.settings import env_settings

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``secrets`` and its three verbs."""
    p = sub.add_parser("secrets", help="keep API keys in the encrypted file or the OS keyring")
    verbs = p.add_subparsers(dest="verb", required=True)
    for verb, text in (("set", "store one secret (value from stdin)"), ("delete", "remove one")):
        v = verbs.add_parser(verb, help=text)
        v.add_argument(
            "name", type=_name,
            help=f"the setting it fills: {', '.join(SECRET_FIELDS)}, or a ccxt venue's"
            " ccxt_<venue>_api_key, ccxt_<venue>_api_secret, ccxt_<venue>_password",
        )  # fmt: skip
        v.add_argument(
            "--keyring", action="store_true", help="the OS keyring instead of the file (default)"
        )
    verbs.add_parser("list", help="names stored and where, never values")


def _name(text: str) -> str:
    if not is_secret_name(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a secret's name: one of {', '.join(SECRET_FIELDS)}, or"
            " ccxt_<venue>_api_key, ccxt_<venue>_api_secret, ccxt_<venue>_password"
        )
    return text


def run(args: argparse.Namespace, out: IO[str] = sys.stdout, stdin: IO[str] = sys.stdin) -> int:
    """Execute one verb; return 0 (errors raise ConfigError, without any value)."""
    settings = env_settings()
    file = settings.secrets_file
    passphrase = (
        settings.secrets_passphrase.get_secret_value() if settings.secrets_passphrase else ""
    )
    if args.verb == "list":
        ccxt = tuple(n for v in sorted(settings.ccxt_venues) for n in ccxt_secret_names(v).values())
        _list(file, passphrase, settings.secrets_keyring, ccxt, out)
    elif args.keyring:
        _keyring_change(args.verb, args.name, stdin, out)
    else:
        if file is None:
            raise ConfigError(
                "set GENESIS_SECRETS_FILE to the encrypted file's path (or --keyring)"
            )
        store = SecretFile(file, passphrase or getpass.getpass("secrets file passphrase: "))
        values = store.load()
        if args.verb == "set":
            values[args.name] = _read_value(args.name, stdin)
        elif values.pop(args.name, None) is None:
            raise ConfigError(f"{file}: holds no {args.name}")
        store.save(values)
        out.write(f"{args.verb} {args.name} in {file}\n")
    return 0


def _read_value(name: str, stdin: IO[str]) -> str:
    value = (getpass.getpass(f"{name}: ") if stdin.isatty() else stdin.readline()).strip()
    if not value:
        raise ConfigError(f"{name}: an empty value is not stored")
    return value


def _keyring_change(verb: str, name: str, stdin: IO[str], out: IO[str]) -> None:
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        if verb == "set":
            keyring.set_password(KEYRING_SERVICE, name, _read_value(name, stdin))
        else:
            keyring.delete_password(KEYRING_SERVICE, name)
    except PasswordDeleteError:
        raise ConfigError(f"the OS keyring holds no {name}") from None
    except KeyringError as exc:
        raise ConfigError(f"the OS keyring refused ({type(exc).__name__})") from None
    out.write(f"{verb} {name} in the OS keyring (service {KEYRING_SERVICE})\n")


def _list(
    file: Path | None, passphrase: str, use_keyring: bool, ccxt: tuple[str, ...], out: IO[str]
) -> None:
    in_file = SecretFile(file, passphrase).load() if file is not None and passphrase else {}
    stored_ccxt = sorted(n for n in in_file if n not in SECRET_FIELDS and is_secret_name(n))
    names = (*SECRET_FIELDS, *dict.fromkeys((*ccxt, *stored_ccxt)))
    in_ring = keyring_values(names) if use_keyring else {}
    in_env = {n for n in names if os.environ.get(f"GENESIS_{n.upper()}")}
    for name in names:
        held = (("env", in_env), ("keyring", in_ring), ("file", in_file))
        where = [w for w, names in held if name in names]
        out.write(f"{name}  {', '.join(where) or '-'}\n")
