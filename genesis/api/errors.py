"""The one error every control-API refusal is: an HTTP status, a machine code and a sentence."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError"]


class ApiError(Exception):
    """A request refused; nothing changed. ``extra`` goes into the JSON body too."""

    def __init__(self, status: int, code: str, detail: str, /, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """``{"error": code, "detail": sentence, ...extra}``."""
        return {"error": self.code, "detail": self.detail, **self.extra}
