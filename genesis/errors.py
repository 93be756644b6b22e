"""The one exception tree of Genesis, named by what the caller must do.

::

    GenesisError
    ├── ConfigError             fix the configuration or the command line; nothing ran
    ├── DataError               fix the input data (file, line and reason are in the message)
    ├── InvalidOrder            a local validation failure: the order never left the process
    ├── IllegalTransition       an order event that the state machine refuses; order unchanged
    ├── RiskRejected            the risk engine refused an order (machine code + sentence)
    ├── StrategyError           user strategy code raised; that strategy is disabled
    ├── VenueError
    │   ├── VenueUnavailable    retry later
    │   ├── RateLimited         back off for ``retry_after_s``
    │   ├── OrderRejectedByVenue  final: the venue said no (``code``)
    │   └── OrderStatusUnknown  never retry: reconcile by client order id
    └── StorageError            persistence failed
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "GenesisError",
    "IllegalTransition",
    "InvalidOrder",
    "OrderRejectedByVenue",
    "OrderStatusUnknown",
    "RateLimited",
    "RiskRejected",
    "StorageError",
    "StrategyError",
    "VenueError",
    "VenueUnavailable",
]


class GenesisError(Exception):
    """Base of every error Genesis raises on purpose."""


class ConfigError(GenesisError):
    """Configuration or command-line input is invalid."""


class DataError(GenesisError):
    """Input market data is invalid; the message names file, line and reason."""


class InvalidOrder(GenesisError):
    """An order failed local validation (instrument filters, quantities, prices)."""


class IllegalTransition(GenesisError):
    """An order event is not legal in the order's current state.

    The order is left exactly as it was before the event was offered.
    """

    def __init__(self, client_order_id: str, status: str, event: str, reason: str = "") -> None:
        self.client_order_id = client_order_id
        self.status = status
        self.event = event
        detail = f": {reason}" if reason else ""
        super().__init__(f"order {client_order_id}: {event} is illegal in state {status}{detail}")


class RiskRejected(GenesisError):
    """The risk engine refused an order: ``code`` for machines, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class StrategyError(GenesisError):
    """A strategy hook raised; the kernel disables that strategy only."""


class VenueError(GenesisError):
    """A venue (exchange) call failed."""


class VenueUnavailable(VenueError):
    """The venue cannot be reached or is overloaded; retry later."""


class RateLimited(VenueError):
    """The venue asked us to back off."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class OrderRejectedByVenue(VenueError):
    """The venue refused an order; final."""

    def __init__(self, message: str, code: int | str) -> None:
        self.code = code
        super().__init__(message)


class OrderStatusUnknown(VenueError):
    """The outcome of an order request is unknown; reconcile, never resend."""


class StorageError(GenesisError):
    """Persistence failed.

    ``transient`` marks a fault of the environment that may clear by itself
    (database locked, disk full, I/O error, connection lost): the write can
    be retried as is. Anything else (a constraint violation, bad SQL) is a
    bug and retrying cannot help.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)
