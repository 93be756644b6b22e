"""``python -m genesis healthcheck``: the daemon's health for a container or a monitor.

Asks the running daemon's control API (``GET /health`` with the bearer token, on
``GENESIS_API_HOST``/``GENESIS_API_PORT``; a wildcard host is asked on loopback)
and exits 0 while it answers HEALTHY or DEGRADED, 1 when it answers CRITICAL,
cannot be reached in ``--timeout-s`` or refuses the token. Without a token the
API does not run: there is nothing to ask, and the check passes as long as it
can run at all (the container's process supervision covers the rest); it says so.
The token is sent, never printed.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from genesis.settings import load_settings

__all__ = ["add_parser", "run"]

_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (mapped away)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("healthcheck", help="exit 0 while the running daemon is healthy")
    parser.add_argument(
        "--timeout-s", type=float, default=3.0, help="how long to wait for the daemon's answer"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.api_token is None:
        print("healthcheck: GENESIS_API_TOKEN is not set, the API is off: nothing to ask")
        return 0
    host = _WILDCARD.get(settings.api_host, settings.api_host)
    url = (
        f"http://[{host}]:{settings.api_port}/health"
        if ":" in host
        else (f"http://{host}:{settings.api_port}/health")
    )
    request = urllib.request.Request(  # noqa: S310 (http on a configured host, by design)
        url, headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=args.timeout_s) as answer:  # noqa: S310
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        print(f"healthcheck: {url} answered {exc.code}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"healthcheck: {url} unreachable: {type(exc).__name__}")
        return 1
    status = str(body.get("status", "UNKNOWN"))
    print(f"healthcheck: {status} {'; '.join(map(str, body.get('reasons', [])))}".rstrip())
    return 0 if status in ("HEALTHY", "DEGRADED") else 1
