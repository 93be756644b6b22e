"""R14: requests delayed 4.9 s vs 5.1 s with recvWindow 5,000 are classified right (P2, P9).

The delay is made of an in-transit part (the signed ``timestamp`` is older than
the exchange clock on receipt) and a part between the exchange's two §3.3
checks; both are jumps of the exchange's injected clock, never real sleeps
(the check-2 delay hook sleeps 1 ms). Figure: 100 of 100 classifications
correct: an expired request raises ``TimestampRejected`` (definitively not
executed, and the exchange's ledger has no such order), an accepted one is
returned and tracked (the ledger has it once).
"""

from __future__ import annotations

import random

from genesis.exchange.binance.clock import ServerClock
from genesis.exchange.binance.errors import TimestampRejected
from genesis.exchange.sandbox import SandboxServer
from tests.reliability.streams_fixtures import D, make_rest, running


class BoundaryClock:
    """The exchange clock: fixed, plus ``jump_ms`` once the check-2 delay of a request began."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000
        self.jump_ms = 0
        self.server: SandboxServer | None = None
        self.delays_seen = 0

    def __call__(self) -> int:
        delayed = self.server is not None and (
            self.server.faults.stats["recv_window.delay"] > self.delays_seen
        )
        return self.ms + (self.jump_ms if delayed else 0)


async def test_hundred_boundary_requests_are_classified_right() -> None:
    """50 at 4.9 s and 50 at 5.1 s, split randomly between transit and the check gap."""
    rng = random.Random(14)
    clock = BoundaryClock()
    transit = [0]
    async with running(clock=clock) as server:
        clock.server = server
        server.set_book("BTCUSDT", [(D("40000"), D("1"))], [(D("40001"), D("1"))])
        server.faults.recv_window_delay_s = 0.001
        rest = make_rest(server, clock=ServerClock(lambda: (clock.ms - transit[0]) * 1_000_000))
        cases = [4_900] * 50 + [5_100] * 50
        rng.shuffle(cases)
        outcomes: list[tuple[int, str, bool]] = []
        for i, total in enumerate(cases):
            split = rng.choice([0, total, rng.randint(1, total - 1)])
            transit[0], clock.jump_ms = split, total - split
            clock.delays_seen = server.faults.stats["recv_window.delay"]
            cid = f"rw-{i}"
            params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                      ("timeInForce", "GTC"), ("quantity", "0.001"), ("price", "39000"),
                      ("newClientOrderId", cid)]  # fmt: skip
            try:
                answer = await rest.place_order(params, rest.clock.now_ms())
                verdict = "accepted" if answer["status"] == "NEW" else "other"
            except TimestampRejected:
                verdict = "expired"
            outcomes.append((total, verdict, cid in server.ledger()["orders"]))
            clock.ms += 10_000  # the next case starts on a fresh clock reading
        await rest.close()
        check2 = server.faults.stats["recv_window.delay"]
    correct = sum(
        (total <= 5_000 and verdict == "accepted" and placed)
        or (total > 5_000 and verdict == "expired" and not placed)
        for total, verdict, placed in outcomes
    )
    assert correct == 100
    assert sum(v == "expired" for _, v, _ in outcomes) == 50
    assert check2 > 50  # the check-2 delay ran for every request that passed check 1
