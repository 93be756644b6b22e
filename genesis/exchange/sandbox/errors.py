"""The Binance error answer: ``{"code", "msg"}`` with its HTTP status, raised by every layer."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "bad_decimal", "mandatory", "unknown_order"]


class ApiError(Exception):
    """A request that Binance would refuse; ``body`` is the exact JSON answer."""

    def __init__(self, code: int, msg: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.extra = extra  # e.g. retry_after (seconds) for 429/418

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if "data" in self.extra:  # cancelReplace failures say what each half did
            body["data"] = self.extra["data"]
        return body


def mandatory(name: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_decimal(name: str) -> ApiError:
    return ApiError(
        -1100,
        f"Illegal characters found in parameter '{name}'; "
        "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    )


def unknown_order() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")
