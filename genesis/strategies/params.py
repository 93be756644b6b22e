"""Base model for strategy parameters: typed, frozen, unknown keys rejected."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict

__all__ = ["StrategyParams"]


class StrategyParams(BaseModel):
    """Subclass with typed fields (use ``Field(gt=..., le=...)`` for ranges).

    Instances are immutable; an unknown key is a validation error, so a typo in
    a YAML file or on the command line never passes silently.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    def version_id(self) -> str:
        """SHA-256 of the canonical JSON of these parameters."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
