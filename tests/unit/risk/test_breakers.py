"""Circuit breakers (RK-3): each trips at its limit, pauses its scope's entries for the
cool-down in event time, lets exits through, clears with a notice, and survives a
live restart through the journal's audit rows."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from genesis.core.enums import Side
from genesis.core.events import BreakerCleared, BreakerTripped, Event
from genesis.daemon.reconcile import (
    BREAKER_CLEARED,
    BREAKER_TRIPPED,
    breaker_detail,
    journaled_breakers,
)
from genesis.risk.breakers import CircuitBreakers
from genesis.risk.checks import RiskInput
from genesis.risk.engine import RiskEngine
from genesis.risk.limits import BreakerLimits, Tier
from genesis.storage.repository import AuditRecord
from genesis.testing.builders import T0, order
from genesis.testing.instruments import instrument

D = Decimal
S = 1_000_000_000
LIMITS = BreakerLimits()


def _breakers() -> tuple[CircuitBreakers, list[Event]]:
    notices: list[Event] = []
    return CircuitBreakers(LIMITS, notices.append), notices


def test_loss_streak_trips_when_its_record_cannot_explain_it() -> None:
    """No record yet (the 50% prior): nine losses in a row are 1 in 512, allowed; the
    tenth makes it 1 in 1024, under the 0.001 odds, and pauses s1 (and only s1)."""
    breakers, notices = _breakers()
    for n in range(9):
        breakers.on_trade("s1", D("-1.5"), T0 + n * S)
    assert breakers.refusal("s1", T0 + 9 * S) is None

    breakers.on_trade("s1", D("-0.01"), T0 + 10 * S)

    refusal = breakers.refusal("s1", T0 + 11 * S)
    assert refusal is not None
    assert refusal[0] == "BREAKER_LOSS_STREAK"
    assert "10 losing round trips in a row: 9.77e-04 likely at its loss rate 50%" in refusal[1]
    assert breakers.refusal("s2", T0 + 11 * S) is None
    assert [type(n) for n in notices] == [BreakerTripped]
    assert notices[0].until_ns == T0 + 10 * S + 3600 * S  # type: ignore[attr-defined]


def test_a_strategy_that_usually_loses_needs_a_longer_streak() -> None:
    """20 losses in 30 trades: (20 + 10) / (30 + 20) = 60% loss rate, so 13 in a row
    (0.0013) pass and the 14th (0.00078) pauses it."""
    breakers, notices = _breakers()
    for pnl in ("-1", "-1", "2") * 10:
        breakers.on_trade("s1", D(pnl), T0)
    assert notices == []
    for _ in range(13):
        breakers.on_trade("s1", D(-1), T0)
    assert notices == []

    breakers.on_trade("s1", D(-1), T0)

    assert [n.code for n in notices] == ["BREAKER_LOSS_STREAK"]  # type: ignore[attr-defined]


def test_the_minimum_streak_applies_whatever_the_odds() -> None:
    """loss_streak 12 with generous odds: eleven losses never trip."""
    breakers = CircuitBreakers(dataclasses.replace(LIMITS, loss_streak=12, loss_streak_odds=1.0))
    for _ in range(11):
        breakers.on_trade("s1", D(-1), T0)

    assert breakers.status() == []


def test_pause_lasts_its_cool_down_in_event_time_then_clears() -> None:
    """Refused one ns before the end, passes at the end, with one BreakerCleared."""
    breakers, notices = _breakers()
    for _ in range(10):
        breakers.on_trade("s1", D(-1), T0)
    until = T0 + LIMITS.loss_streak_cooldown_s * S

    assert breakers.refusal("s1", until - 1) is not None
    assert breakers.refusal("s1", until) is None
    assert [type(n) for n in notices] == [BreakerTripped, BreakerCleared]
    assert breakers.status() == []


def test_drawdown_velocity_pauses_the_engine() -> None:
    """Equity 10,000 -> 9,700 (3%) within 15 minutes pauses every strategy."""
    breakers, notices = _breakers()
    times = [T0, T0 + 60 * S, T0 + 120 * S]

    breakers.on_sample(times[-1], times, [10_000.0, 9_900.0, 9_700.0])

    assert [n.code for n in notices] == ["BREAKER_DRAWDOWN_VELOCITY"]  # type: ignore[attr-defined]
    refusal = breakers.refusal("any", T0 + 121 * S)
    assert refusal is not None
    assert refusal[1].startswith("the engine is paused until")


def test_drawdown_just_under_the_limit_or_slower_than_the_window_passes() -> None:
    """2.99% within the window, or 3% spread over more than 900 s, trips nothing."""
    breakers, notices = _breakers()
    breakers.on_sample(T0 + 60 * S, [T0, T0 + 60 * S], [10_000.0, 9_701.0])
    slow = [T0, T0 + 901 * S]
    breakers.on_sample(slow[-1], slow, [10_000.0, 9_700.0])

    assert notices == []


def test_order_rate_refuses_the_order_over_the_limit() -> None:
    """100 orders in ten seconds pass; the 101st trips the breaker and is refused."""
    breakers, _ = _breakers()
    passed = [breakers.on_approved("s1", T0 + n) for n in range(100)]

    refusal = breakers.on_approved("s1", T0 + 100)

    assert passed == [None] * 100
    assert refusal is not None
    assert refusal[0] == "BREAKER_ORDER_RATE"


def test_order_rate_window_slides() -> None:
    """Orders ten a second never hold more than 100 in a 10 s window."""
    breakers, _ = _breakers()

    results = [breakers.on_approved("s1", T0 + n * S // 10) for n in range(1000)]

    assert results == [None] * 1000


def test_rejection_rate_counts_refusals_but_not_its_own_or_the_kill_switch() -> None:
    """20 refusals are tolerated, breaker and kill-switch refusals are not counted, the
    21st counted refusal pauses the strategy."""
    breakers, notices = _breakers()
    for n in range(20):
        breakers.on_rejected("s1", "INSUFFICIENT_CASH", T0 + n)
    for code in ("KILL_SWITCH", "BREAKER_ORDER_RATE"):
        breakers.on_rejected("s1", code, T0 + 50)
    assert notices == []

    breakers.on_rejected("s1", "-2010", T0 + 60)

    assert [n.code for n in notices] == ["BREAKER_REJECTION_RATE"]  # type: ignore[attr-defined]


def test_a_zero_limit_switches_a_breaker_off() -> None:
    """loss_streak 0: no number of losses pauses anything."""
    breakers = CircuitBreakers(dataclasses.replace(LIMITS, loss_streak=0))
    for _ in range(50):
        breakers.on_trade("s1", D(-1), T0)

    assert breakers.status() == []


RISK = RiskInput(
    instrument=instrument("BTCUSDT"),
    reference_price=D("46377.0"),
    equity=D(100_000),
    free_quote=D(100_000),
    free_base=D(1),
    position_qty=D("0.5"),
    fee_rate=D(0),
    tier=Tier.SNIPER,
    limits=None,
    requires_stop_loss=False,
    reduce_only=False,
)


def test_engine_refuses_entries_but_passes_exits_while_paused() -> None:
    """A paused strategy's buy (grows the long) is refused and counted; its sell passes."""
    engine = RiskEngine(Tier.SNIPER)
    assert engine.breakers is not None
    for _ in range(10):
        engine.breakers.on_trade("s1", D(-1), T0)
    risk = RISK.replace(limits=engine.limits)

    entry = engine.check(order(Side.BUY, "0.001"), lambda: risk, T0 + S)
    exit_ = engine.check(order(Side.SELL, "0.5"), lambda: risk, T0 + S)

    assert entry is not None
    assert entry.code == "BREAKER_LOSS_STREAK"
    assert exit_ is None
    assert engine.rejections["BREAKER_LOSS_STREAK"] == 1


def _audit(action: str, detail: dict[str, object], ts: int) -> AuditRecord:
    return AuditRecord(ts, "daemon", action, json.dumps(detail, sort_keys=True))


def test_running_pauses_round_trip_through_the_journal() -> None:
    """Trip rows minus their clears are what a restart restores, with the same status."""
    breakers, notices = _breakers()
    for _ in range(10):
        breakers.on_trade("s1", D(-1), T0)
    breakers.on_sample(T0, [T0 - 60 * S, T0], [10_000.0, 9_000.0])
    breakers.refusal("s1", T0 + 1800 * S)  # the engine's pause ends: cleared
    rows = [
        _audit(BREAKER_TRIPPED if isinstance(n, BreakerTripped) else BREAKER_CLEARED,
               breaker_detail(n, 7), n.ts_event)  # type: ignore[arg-type]
        for n in notices
    ]  # fmt: skip
    restarted, _ = _breakers()
    for trip in journaled_breakers(rows):
        restarted.restore(trip, T0 + 1800 * S)

    assert restarted.status() == breakers.status()
    assert [s["code"] for s in restarted.status()] == ["BREAKER_LOSS_STREAK"]
    assert restarted.refusal("s1", T0 + 1801 * S) is not None


def test_a_restored_pause_that_ended_meanwhile_clears_with_a_notice() -> None:
    """Restored after its cool-down: cleared at once, and says so."""
    breakers, _ = _breakers()
    for _ in range(10):
        breakers.on_trade("s1", D(-1), T0)
    trip = next(iter(breakers.trips.values()))
    restarted, restored_notices = _breakers()

    restarted.restore(trip, trip.until_ns + 1)

    assert restarted.status() == []
    assert [type(n) for n in restored_notices] == [BreakerCleared]


def test_malformed_journal_rows_restore_nothing() -> None:
    """A row without its fields is skipped, never raised on."""
    rows = [_audit(BREAKER_TRIPPED, {"scope": "strategy"}, T0)]

    assert journaled_breakers(rows) == []
