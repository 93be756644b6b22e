"""``twap`` (Strategist, SPEC ST-X1): a parent order in equal time slices, adaptively.

The horizon is cut into ``slices`` equal slices (``parent.py`` has the engine:
timers, children, the end, restart). Slice ``k`` of ``N`` does
``open / (N - k)`` of what is still open: on schedule that is ``quantity / N``
each, and after an under-fill the deficit is spread over the slices left
(catch-up). Adaptive:

* a slice is cut to what the book holds within ``max_slippage_bps`` of the
  touch (a thin book means a smaller child; the rest is carried forward);
* with ``passive_fraction`` > 0 the first part of the horizon is worked with
  post-only children at the near touch, cancelled at the next slice, and the
  rest aggressively (the last slice always is);
* the last slice takes everything still open, within the budget; what the
  book cannot give by the horizon is reported (``parent_incomplete``).
"""

from __future__ import annotations

from genesis.risk.limits import Tier
from genesis.strategies.registry import register
from genesis.strategies.strategist.parent import ExecutionParams, SlicedExecution

__all__ = ["Twap", "TwapParams"]


class TwapParams(ExecutionParams):
    """The parent order (side, quantity, horizon_s) and the slicing settings; see ``parent``."""


@register("twap", tiers=(Tier.STRATEGIST,), spec=("ST-X1", "EX-3"))
class Twap(SlicedExecution[TwapParams]):
    """Equal slices over the horizon; each does the open quantity over the slices left."""

    Params = TwapParams
    algo = "twap"

    def share(self, k: int) -> float:
        return 1.0 / (self.params.slices - k)
