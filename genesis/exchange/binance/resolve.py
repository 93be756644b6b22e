"""When is an order with an unknown outcome proven absent? (§3.3, §6.10; P2, P3) Pure.

A request carrying ``timestamp = t`` and ``recvWindow = w`` is refused by the
venue once server time passes ``t + w`` (checked on receipt *and* just before
the matching engine). So a query by client id that was *sent* after
``t + w + margin`` (server time) and answers -2013 proves the order never
existed; any earlier -2013 only means "not visible yet". ``margin`` covers
the uncertainty of our server clock estimate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["AbsenceCheck", "Verdict"]


class Verdict(enum.Enum):
    KEEP_QUERYING = "KEEP_QUERYING"
    ABSENT = "ABSENT"  # proven never placed: the intent may be sent again


@dataclass(frozen=True, slots=True)
class AbsenceCheck:
    """The absence rule for one request.

    Attributes:
        timestamp_ms: the signed ``timestamp`` of the ambiguous request.
        recv_window_ms: its ``recvWindow``.
        margin_ms: extra server-time margin (clock uncertainty plus safety).
    """

    timestamp_ms: int
    recv_window_ms: int
    margin_ms: float

    @property
    def deadline_ms(self) -> float:
        """Server time after which the request can no longer reach the engine."""
        return self.timestamp_ms + self.recv_window_ms + self.margin_ms

    def on_not_found(self, query_sent_server_ms: float) -> Verdict:
        """Verdict for a -2013 answer to a query sent at ``query_sent_server_ms``."""
        if query_sent_server_ms > self.deadline_ms:
            return Verdict.ABSENT
        return Verdict.KEEP_QUERYING
