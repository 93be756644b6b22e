"""``vwap`` (Strategist, SPEC ST-X2): a parent order scheduled along the intraday volume curve.

The curve (``analytics.volume_curve``) is estimated from history: by default
the bundled BTCUSDT month of 1-minute bars (31 complete UTC days of January
2022), the mean share of each day's volume per ``bucket_s`` bucket. When the
parent starts, each of its ``slices`` equal time slices gets the curve's
expected volume over the slice's own UTC times as its weight ``w_k``; slice
``k`` then does ``w_k / (w_k + ... + w_{N-1})`` of what is still open (the
last slice everything), so the parent follows the market's expected volume
and a shortfall is spread over the slices left in the same proportions
(catch-up). The slices are otherwise worked as in ``parent.py``: capped to the
book within ``max_slippage_bps``, optionally passive first.

On a horizon of minutes the schedule is the curve's local shape: on the
bundled streams (2024-08-08 23:54:13 UTC + 240 s) it spans the minutes
23:54-23:58, whose mean shares are 0.71, 0.78, 0.80, 0.55 and 0.55 of an
average minute, so the first slices are heavier than the last. Over hours it
follows the daily pattern (the US open, the Asian evening). The curve is of
the month given, not of the day traded: it is an expectation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from genesis.analytics.volume_curve import VolumeCurve, load_volume_curve
from genesis.resources import BTCUSDT_1M_BARS
from genesis.risk.limits import Tier
from genesis.strategies.registry import register
from genesis.strategies.strategist.parent import ExecutionParams, SlicedExecution

__all__ = ["Vwap", "VwapParams"]


class VwapParams(ExecutionParams):
    """The parent order, the slicing settings, and the history the curve comes from."""

    history: str = ""  # bars CSV with volume; "" = the bundled BTCUSDT 1-minute month
    bucket_s: int = Field(default=60, ge=60, le=86_400)  # the curve's resolution


@register("vwap", tiers=(Tier.STRATEGIST,), spec=("ST-X2", "EX-3"))
class Vwap(SlicedExecution[VwapParams]):
    """Slices weighted by the volume curve over their time of day; catch-up on the rest."""

    Params = VwapParams
    algo = "vwap"

    def on_start(self) -> None:
        super().on_start()
        path = Path(self.params.history) if self.params.history else BTCUSDT_1M_BARS
        self.curve: VolumeCurve = load_volume_curve(path, self.params.bucket_s)  # read once

    def plan(self) -> None:
        curve = self.curve
        n = self.params.slices
        self.weights = [
            curve.share_between(self.slice_ns(k), self.slice_ns(k + 1)) for k in range(n)
        ]
        self.ctx.log.info(
            "vwap_schedule", strategy_id=self.id, parent_id=self.parent_id,
            curve_days=curve.days, weights=[round(w / sum(self.weights), 6) for w in self.weights],
        )  # fmt: skip

    def share(self, k: int) -> float:
        rest = sum(self.weights[k:])
        return self.weights[k] / rest if rest > 0 else 1.0 / (self.params.slices - k)

    def plan_state(self) -> dict[str, Any]:
        return {"weights": getattr(self, "weights", [])}

    def load_plan(self, state: dict[str, Any]) -> None:
        self.weights = [float(w) for w in state.get("weights", [])]
