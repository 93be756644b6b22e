"""Notification URLs: how ``GENESIS_ALERT_URLS`` is split, and which parts are secret.

Kept apart from ``alerts`` (and free of apprise) so that the settings can hand the
tokens to the log redactor cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

__all__ = ["secrets_of", "split_urls"]


def split_urls(value: str) -> tuple[str, ...]:
    """``GENESIS_ALERT_URLS``: URLs separated by commas, spaces or new lines."""
    return tuple(u for u in value.replace(",", " ").split() if u)


def secrets_of(urls: Iterable[str]) -> list[str]:
    """The parts of notification URLs that may be tokens, for the log redactor: each whole
    URL, and every host, user, password, path segment and query value of 8+ characters
    that is not a dotted host name or address (services put tokens in any of them:
    ``tgram://<bot token>/<chat>``, ``discord://<id>/<token>``, ``json://host/<token>``)."""
    found: list[str] = []
    for url in urls:
        found.append(url)
        parts = urlsplit(url)
        pieces = [parts.hostname or "", parts.username or "", parts.password or ""]
        pieces += parts.path.split("/")
        pieces += [v for _, v in parse_qsl(parts.query)]
        found += [p for p in pieces if len(p) >= 8 and not _dotted(p)]
    return found


def _dotted(piece: str) -> bool:
    return "." in piece and all(c.isalnum() or c in ".-" for c in piece)
