"""The structured-logging chain: one JSON object a line, constant event names, no secrets.

``configure()`` builds the processor pipeline once (STYLE R21)::

    merge_contextvars → add_log_level → TimeStamper(ISO, UTC) → redact_secrets
    → decimals_as_str → dict_tracebacks → JSONRenderer

Call shape: ``log.info("order_submitted", client_order_id=..., price=...)``.
``redact_secrets`` replaces every configured secret value wherever it appears
(values, nested containers, exception text) and masks keys that name a secret
(``api_key``, ``secret``, ``password``, ``token``...), so a secret never reaches
an output even when it is interpolated into a message by mistake.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from decimal import Decimal
from typing import Any, TextIO

import structlog

__all__ = ["REDACTED", "configure", "decimals_as_str", "get_logger", "make_redactor"]

REDACTED = "***"
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|passwd|token|signature)", re.IGNORECASE)
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}

EventDict = MutableMapping[str, Any]


def make_redactor(secrets: Iterable[str]) -> structlog.types.Processor:
    """A processor masking ``secrets`` (strings of 4+ characters) and secret-named keys."""
    values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(REDACTED, value) if pattern is not None else value
        if isinstance(value, Mapping):
            return {k: REDACTED if _is_secret_key(k) else scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(scrub(v) for v in value)
        if isinstance(value, BaseException):
            return scrub(f"{type(value).__name__}: {value}")
        return value

    def redact_secrets(_logger: Any, _name: str, event: EventDict) -> EventDict:
        for key, value in list(event.items()):
            event[key] = REDACTED if _is_secret_key(key) else scrub(value)
        return event

    return redact_secrets


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


def decimals_as_str(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """Render Decimals as their exact strings (never as floats), also inside containers."""
    for key, value in event.items():
        event[key] = _decimals(value)
    return event


def _decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def configure(
    *, level: str = "info", stream: TextIO | None = None, secrets: Iterable[str] = ()
) -> None:
    """Configure structlog for JSON lines on ``stream`` (stdout by default).

    Args:
        level: minimum level name (debug, info, warning, error, critical).
        stream: where lines go.
        secrets: secret values (API keys, passwords) to mask in every output.

    Raises:
        ValueError: unknown level name.
    """
    if level.lower() not in _LEVELS:
        raise ValueError(f"log level must be one of {', '.join(_LEVELS)}, was {level!r}")
    redact = make_redactor(secrets)
    out = stream or sys.stdout
    reconfigure = getattr(out, "reconfigure", None)
    if callable(reconfigure):
        # one line, one write: a kill -9 (or a crash) must not take buffered lines with it,
        # and journald/tail see each line as it happens
        reconfigure(line_buffering=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            redact,  # after tracebacks are rendered, so their text is scrubbed too
            decimals_as_str,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level.lower()]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def _dumps(obj: Any, **kwargs: Any) -> str:
    kwargs.setdefault("default", str)
    return json.dumps(obj, separators=(",", ":"), **kwargs)


def get_logger(name: str = "genesis") -> Any:
    """A bound logger carrying ``component=name``."""
    return structlog.get_logger().bind(component=name)
