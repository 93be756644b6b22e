"""The API as one of the daemon's tasks: listen until the daemon stops.

No token configured: the API does not start, and the daemon says so once
(``api_disabled``). A port that cannot be bound is reported (``api_failed``,
health DEGRADED) and the daemon trades on without its API: an operator still
has ``genesis kill`` through the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from genesis.daemon.health import Health, Level

if TYPE_CHECKING:
    from genesis.daemon.daemon import Daemon

__all__ = ["serve_api"]


async def serve_api(daemon: Daemon) -> None:
    """Serve the control API and dashboard until ``daemon.stopping``."""
    from genesis.api.app import build_app
    from genesis.daemon.operator import Operator

    config, log = daemon.config, daemon.log
    if config.api_token is None:
        log.info("api_disabled", reason="GENESIS_API_TOKEN is not set")
        return
    token = config.api_token.get_secret_value().encode()
    runner = web.AppRunner(build_app(Operator(daemon), token, log), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.api_host, config.api_port)
        try:
            await site.start()
        except OSError as exc:
            where = f"{config.api_host}:{config.api_port}"
            log.error("api_failed", address=where, error=str(exc))
            daemon.health.report(Health("api", Level.DEGRADED, f"cannot listen on {where}"))
            return
        port = _port(runner, config.api_port)
        log.info("api_listening", host=config.api_host, port=port, docs="/openapi.json",
                 dashboard=f"http://{config.api_host}:{port}/dashboard/")  # fmt: skip
        await daemon.stopping.wait()
    finally:
        await runner.cleanup()


def _port(runner: web.AppRunner, configured: int) -> int:
    """The bound port (``configured`` 0 picks a free one)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured
