"""The fault plan: seedable, per-test fault hooks, each firing counted in ``stats``.

A *hook* is armed for a number of firings (``times``; -1 = until cleared),
each firing with ``probability`` drawn from the plan's own seeded RNG, so a
failing seed reproduces. Code at the hook point calls ``take(hook)``: it gets
the hook's params when the hook fires, else None. Continuous faults (skew,
silence, refused connects, scheduled socket closes, the delay between the two
recvWindow checks) are plain attributes; the code that applies them counts
each application with ``count``.

Hooks (params in brackets):

* order placement (POST order / orderList/oco), before the engine:
  ``order.error_before`` [status=503, code=-1000|-1007, msg], ``order.reset_before``;
  after the engine accepted it: ``order.drop_response``, ``order.delay_response``
  [seconds], ``order.truncate_response``, ``order.error_after`` [status, code],
  ``order.reset_after``;
* any REST request: ``rest.force`` [status 429|418|403|5xx, code -1003|-1015|..,
  msg, retry_after, path (only this path)];
* market streams: ``depth.drop``, ``depth.duplicate``, ``depth.swap`` (this
  depthUpdate goes out after the next one), ``stream.malformed`` [frame];
  REST depth: ``depth.stale_snapshot`` [back: flushes], ``depth.429``;
* user data: ``user.drop``, ``user.duplicate``, ``user.reorder``, ``user.replay``
  (executionReports), ``user.malformed`` [frame];
* connections: ``ws.refuse_connect``.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FUZZ_CORPUS", "HOOKS", "FaultPlan"]

HOOKS = frozenset(
    {
        "order.error_before",
        "order.reset_before",
        "order.drop_response",
        "order.delay_response",
        "order.truncate_response",
        "order.error_after",
        "order.reset_after",
        "rest.force",
        "depth.drop",
        "depth.duplicate",
        "depth.swap",
        "depth.stale_snapshot",
        "depth.429",
        "stream.malformed",
        "user.drop",
        "user.duplicate",
        "user.reorder",
        "user.replay",
        "user.malformed",
        "ws.refuse_connect",
    }
)

# Frames a robust client must reject without changing state (R18).
FUZZ_CORPUS: tuple[str, ...] = (
    "{",
    "",
    "null",
    "[]",
    '"just a string"',
    '{"stream":"nosuchstream@depth","data":{}}',
    '{"stream":"nknusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"NKNUSDT"}}',
    '{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":"x","u":2,"b":[],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[["NaN","1"]],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[["1e-8","1"]],"a":[]}',
    '{"e":"depthUpdate","E":1,"s":"NKNUSDT","U":1,"u":2,"b":[["0.1","-5"]],"a":[]}',
    '{"e":"trade","E":1,"s":"NKNUSDT","t":1,"p":"123456789012345678901234567890","q":"1",'
    '"T":1,"m":true,"M":true}',
    '{"e":"trade","E":1,"s":"１２３４５６","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}',
    '{"e":"executionReport","E":1,"s":"NKNUSDT","x":"BOGUS","X":"NEW","q":""}',
    '{"e":"executionReport","E":1,"s":"NKNUSDT","x":"TRADE","X":"FILLED","l":"-1"}',
    '{"subscriptionId":0,"event":{"e":"outboundAccountPosition","B":"nope"}}',
)


@dataclass(slots=True)
class _Armed:
    times: int
    probability: float
    params: dict[str, Any] = field(default_factory=dict)


class FaultPlan:
    """Armed hooks, continuous faults and the count of every injected fault.

    ``known_hooks`` is the set ``arm`` accepts; another sandbox (OANDA's) subclasses
    the plan with its own set.
    """

    known_hooks: frozenset[str] = HOOKS

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - fault injection, seeded on purpose
        self._armed: dict[str, list[_Armed]] = {}
        self.stats: Counter[str] = Counter()
        self.recv_window_delay_s = 0.0
        self.user_silenced = False
        self.refuse_connects = False
        self.close_sockets_every_s: float | None = None

    def arm(self, hook: str, times: int = 1, probability: float = 1.0, **params: Any) -> None:
        """Arm ``hook`` for ``times`` firings (-1: until ``clear``)."""
        if hook not in self.known_hooks:
            known = ", ".join(sorted(self.known_hooks))
            raise ValueError(f"unknown fault hook {hook!r}; known: {known}")
        if times == 0 or times < -1:
            raise ValueError(f"times must be >= 1 or -1, was {times}")
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], was {probability}")
        self._armed.setdefault(hook, []).append(_Armed(times, probability, dict(params)))

    def armed(self, hook: str) -> bool:
        return bool(self._armed.get(hook))

    def take(self, hook: str, path: str | None = None) -> dict[str, Any] | None:
        """Fire ``hook`` once if armed (and drawn); returns its params, else None."""
        queue = self._armed.get(hook)
        if not queue:
            return None
        for i, armed in enumerate(queue):
            wanted = armed.params.get("path")
            if wanted is not None and path is not None and wanted != path:
                continue
            if armed.probability < 1.0 and self._rng.random() >= armed.probability:
                return None
            if armed.times > 0:
                armed.times -= 1
                if armed.times == 0:
                    del queue[i]
            self.stats[hook] += 1
            return dict(armed.params)
        return None

    def count(self, name: str, n: int = 1) -> None:
        self.stats[name] += n

    def fuzz_frame(self, params: dict[str, Any]) -> str:
        frame = params.get("frame")
        if isinstance(frame, str):
            return frame
        return self._rng.choice(FUZZ_CORPUS)

    def clear(self) -> None:
        """Disarm every hook and stop continuous faults (stats are kept)."""
        self._armed.clear()
        self.recv_window_delay_s = 0.0
        self.user_silenced = False
        self.refuse_connects = False
        self.close_sockets_every_s = None
