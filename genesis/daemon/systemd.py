"""systemd notification (``Type=notify``): readiness, watchdog pings, status, stopping.

Speaks the sd_notify datagram protocol directly (no dependency): when
``NOTIFY_SOCKET`` is set, ``notify("READY=1")`` and friends are sent to it;
otherwise every call is a no-op, so the daemon runs the same outside systemd.
``watchdog_interval_s()`` is half of ``WATCHDOG_USEC``, as systemd recommends.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]


class Notifier:
    """Sends sd_notify messages to ``NOTIFY_SOCKET`` when systemd supervises us."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self._address = address
        usec = env.get("WATCHDOG_USEC", "")
        self._watchdog_s = int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def watchdog_interval_s(self) -> float | None:
        """How often to send ``WATCHDOG=1``, or None when no watchdog is configured."""
        return self._watchdog_s

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True when sent, False when not under systemd.

        A failure to send is swallowed (False): supervision must never crash the daemon.
        """
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(lines).encode(), self._address)
        except OSError:
            return False
        return True
