"""HMAC-SHA256 signing for REST (§3.2) and the WebSocket API (§3.4); pure, no I/O.

The two payloads differ and must not be confused: REST signs the query string
exactly as sent (parameters in send order, percent-encoded); the WS API signs
the params sorted by name, ``apiKey`` included, *not* percent-encoded.

``Credentials`` keeps the secret in a private slot and shows neither the key
nor the secret in its repr (P11). Signed query strings are built here and are
only ever handed to the transport: nothing logs them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote

__all__ = ["Credentials", "hmac_sha256_hex", "rest_query", "ws_payload"]

Param = tuple[str, str]


def hmac_sha256_hex(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of the UTF-8 ``payload`` keyed by the UTF-8 ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def rest_query(params: Sequence[Param]) -> str:
    """``key=value&...`` in the given order, non-ASCII and reserved characters percent-encoded."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def ws_payload(params: Mapping[str, str | int]) -> str:
    """The §3.4 payload: every param except ``signature``, sorted by name, raw (not encoded)."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


class Credentials:
    """An API key and its HMAC secret; neither appears in ``repr`` or ``str``."""

    __slots__ = ("__secret", "api_key")

    def __init__(self, api_key: str, api_secret: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("api key and secret must be non-empty")
        self.api_key = api_key
        self.__secret = api_secret

    def __repr__(self) -> str:
        return "Credentials(api_key=***, api_secret=***)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Credentials cannot be pickled")

    def sign(self, payload: str) -> str:
        """Hex HMAC-SHA256 signature of ``payload`` (never log the result)."""
        return hmac_sha256_hex(self.__secret, payload)

    def signed_query(self, params: Sequence[Param]) -> str:
        """The REST query string with ``signature`` appended as the last parameter."""
        query = rest_query(params)
        return f"{query}&signature={self.sign(query)}"

    def signed_ws_params(self, params: Mapping[str, str | int]) -> dict[str, str | int]:
        """WS API params with ``apiKey`` added and ``signature`` over the sorted payload."""
        full: dict[str, str | int] = {**params, "apiKey": self.api_key}
        full["signature"] = self.sign(ws_payload(full))
        return full

    def secrets(self) -> tuple[str, ...]:
        """Values to hand to the log redactor (``genesis.logs.configure(secrets=...)``)."""
        return (self.api_key, self.__secret)
