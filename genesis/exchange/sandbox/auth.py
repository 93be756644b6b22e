"""Signatures (§3.2 REST, §3.4 WS API) and the two recvWindow checks of §3.3.

Secrets and signatures never enter an exception message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from genesis.exchange.sandbox.errors import ApiError, mandatory

__all__ = ["check_key", "check_time", "rest_payload", "sign", "verify", "ws_payload"]

_MAX_WINDOW = Decimal(60_000)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, payload: str, signature: str) -> bool:
    """Binance compares HMAC signatures case-insensitively."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def _strip(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=`` pair, and the signature."""
    parts = raw.split("&") if raw else []
    kept = [p for p in parts if not p.startswith("signature=")]
    sigs = [p.split("=", 1)[1] for p in parts if p.startswith("signature=")]
    return "&".join(kept), (sigs[-1] if sigs else None)


def rest_payload(query: str, body: str) -> tuple[str, str | None]:
    """The signed payload: query string then body, exactly as sent, minus the signature."""
    q, sig_q = _strip(query)
    b, sig_b = _strip(body)
    return q + b, sig_q if sig_q is not None else sig_b


def ws_payload(params: Mapping[str, Any]) -> str:
    """§3.4: every param but ``signature``, sorted by name, ``k=v`` joined by ``&``."""
    items = sorted((k, v) for k, v in params.items() if k != "signature")
    return "&".join(f"{k}={_text(v)}" for k, v in items)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_key(header: str | None, api_key: str) -> None:
    """-2014 for a missing or malformed key, -2015 for any key but the configured one."""
    if (
        not header
        or len(header) > 256
        or not header.isascii()
        or not header.isprintable()
        or any(c.isspace() for c in header)
    ):
        raise ApiError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(header.encode(), api_key.encode()):
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def check_time(params: Mapping[str, Any], now_ms: int, *, on_receipt: bool) -> None:
    """§3.3: check 1 (``on_receipt``) also refuses timestamps 1 s or more ahead."""
    raw = params.get("timestamp")
    if raw is None or raw == "":
        raise mandatory("timestamp")
    try:
        ts = Decimal(str(raw))
        window = Decimal(str(params.get("recvWindow", "5000")))
    except InvalidOperation:
        raise mandatory("timestamp") from None
    if not ts.is_finite() or not window.is_finite():
        raise mandatory("timestamp")
    if ts > 10**14:  # microseconds
        ts /= 1000
    if window > _MAX_WINDOW or window < 0:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    if on_receipt and ts >= now_ms + 1000:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
