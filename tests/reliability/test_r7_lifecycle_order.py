"""R7: out-of-order lifecycle messages end in the venue's state, through legal transitions only.

100 real order lives are played on the test exchange's engine (in-process): IOC fills (with
an expired remainder), resting orders partly filled then cancelled, resting orders filled
then cancelled too late (-2011), unfilled cancels and unfillable FOKs. Each life's messages
(the placement answer, every executionReport, the cancel answer or the -2011 and the query it
triggers) are delivered in 100 seeded random orders each: 10,000 interleavings. A report
whose ``z`` is ahead of the fills makes the venue query the order (``_refresh_order``); here
that query's answer is queued at a random later point. The messages go to the venue's
``OrderTracker``, replaying ``BinanceVenue._apply_order`` for REST objects (the venue itself
would need 10,000 loopback round trips); the events it emits are applied to the kernel's
``Order`` (the transition table of ``core/orders.py``), which raises on an illegal edge.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from genesis.core.enums import OrderStatus, Side, TimeInForce
from genesis.core.events import OrderEvent, OrderPendingCancel, OrderSubmitted
from genesis.core.orders import Order
from genesis.exchange.binance.parse import parse_execution_report
from genesis.exchange.binance.tracker import OrderTracker
from genesis.exchange.sandbox import SandboxServer
from genesis.exchange.sandbox.errors import ApiError
from genesis.exchange.sandbox.validate import parse_placement

from .conftest import SYMBOL, order

D = Decimal
LIVES, INTERLEAVINGS = 100, 100
KINDS = ("ioc", "partial_cancel", "filled_then_cancel", "cancel", "fok")
STATUS = {"FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
          "EXPIRED": OrderStatus.EXPIRED}  # fmt: skip
Msg = tuple[str, Any]


def live(server: SandboxServer, n: int) -> tuple[Any, list[Msg], dict[str, Any], list[Any]]:
    """One real order life: (command, its messages, the final query, its myTrades rows)."""
    engine, kind = server.engine, KINDS[n % len(KINDS)]
    server.set_book(SYMBOL, [(D("40000"), D("0.004"))], [(D("40001"), D("0.004"))])
    cid, qty = f"r7-{n}", "0.01" if n % 3 else "0.003"
    crossing = kind in ("ioc", "fok")
    price, tif = ("40001", "IOC" if kind == "ioc" else "FOK") if crossing else ("39990", "GTC")
    if kind == "fok":
        qty = "0.01"
    start = len(server.users.history)
    params = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": qty, "price": price,
              "timeInForce": tif}  # fmt: skip
    p = parse_placement(server.info, params)
    o = engine.place(p, cid, engine.check_placement(p, cid))
    msgs: list[Msg] = [("rest", o.full(engine.now_ms()))]
    if kind in ("partial_cancel", "filled_then_cancel"):
        server.trade(SYMBOL, D("39990"), D("0.002") if kind == "partial_cancel" else D("1"), True)
    if not crossing:
        msgs.append(("pending_cancel", None))
        try:
            msgs.append(("rest", engine.cancel(o, None)))
        except ApiError:  # -2011: the venue queries the order
            msgs.append(("rest", o.query()))
    msgs += [("report", r) for r in server.users.history[start:]]
    rows = [t for t in engine.my_trades if t["orderId"] == o.order_id]
    cmd = order(cid, price=price, qty=qty, tif=TimeInForce(tif))
    return cmd, msgs, o.query(), rows


def deliver(cmd: Any, msgs: list[Msg], final: dict[str, Any], rows: list[Any],
            rng: random.Random) -> tuple[Order, int]:  # fmt: skip
    """Deliver ``msgs`` in a random order; returns the kernel's order and the illegal refusals."""
    tracker = OrderTracker(lambda: 1, "BINANCE")
    tracker.track(cmd)
    mine = Order(client_order_id=cmd.client_order_id, strategy_id="s", instrument_id=SYMBOL,
                 side=Side.BUY, order_type=cmd.order_type, quantity=cmd.quantity, ts_init=0,
                 price=cmd.price, time_in_force=cmd.time_in_force)  # fmt: skip
    ids = {"client_order_id": cmd.client_order_id, "strategy_id": "s", "instrument_id": SYMBOL,
           "ts_event": 1, "ts_init": 1}  # fmt: skip
    mine.apply(OrderSubmitted(**ids))
    queue = list(msgs)
    rng.shuffle(queue)
    cancel_at = next(i for i, m in enumerate(queue) if m[0] == "pending_cancel") if any(
        m[0] == "pending_cancel" for m in queue) else None  # fmt: skip
    if cancel_at is not None:  # the cancel request precedes its own answer
        queue.pop(cancel_at)
        answer = max(i for i, m in enumerate(msgs) if m[0] == "rest")
        queue.insert(min(queue.index(msgs[answer]), rng.randrange(len(queue) + 1)),
                     ("pending_cancel", None))  # fmt: skip
    while queue:
        kind, body = queue.pop(0)
        out: list[OrderEvent] = []
        if kind == "pending_cancel":
            out = [OrderPendingCancel(**ids)] if mine.is_open else []
        elif kind == "report":
            rep = parse_execution_report(body)
            out = tracker.on_execution_report(rep)
            if rep.cum_qty > tracker.orders[cmd.client_order_id].filled:  # the venue queries
                queue.insert(rng.randrange(len(queue) + 1), ("rest", final))
        else:  # BinanceVenue._apply_order
            out = tracker.on_order_json(body, terminal=False)
            if tracker.missing_qty(body) > 0:
                for row in rows:
                    out += tracker.on_trade_row(row)
            out += tracker.on_order_terminal(body)
        for event in out:
            mine.apply(event)  # raises IllegalTransition on an illegal edge
    late = {**next(m[1] for m in msgs if m[0] == "report"), "x": "NEW", "X": "NEW", "z": "0"}
    before = tracker.absorbed  # an illegal NEW after the end: refused (nothing emitted), logged
    refused = tracker.on_execution_report(parse_execution_report(late)) == []
    return mine, int(refused and tracker.absorbed == before + 1)


async def test_ten_thousand_interleavings_end_in_the_venue_state(sandbox: SandboxServer) -> None:
    """10,000 seeded interleavings: 0 illegal transitions emitted, 0 divergences, late NEW refused."""
    rng = random.Random(7)
    divergences = refused = runs = 0
    finals: set[str] = set()
    for n in range(LIVES):
        cmd, msgs, final, rows = live(sandbox, n)
        venue_state = (STATUS.get(final["status"]), D(final["executedQty"]))
        finals.add(final["status"])
        for _ in range(INTERLEAVINGS):
            mine, late = deliver(cmd, msgs, final, rows, rng)
            divergences += (mine.status, mine.filled_qty) != venue_state
            refused += late
            runs += 1
    assert runs == 10_000
    assert divergences == 0
    assert refused == 10_000
    assert finals == set(STATUS)
