"""Promotion evidence, proposals and capital steps on the reference strategy's real record."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from genesis.paper.criteria import PromotionCriteria
from genesis.paper.promotion import (
    APPROVED,
    HELD,
    NS_PER_DAY,
    PROPOSED,
    REJECTED,
    STEP,
    Status,
    decide,
    evaluate,
    fold,
    regression,
    schedule,
)
from genesis.portfolio.performance import TradeRecord
from genesis.storage.repository import AuditRecord

SID = "sma-btc"
DAY0 = 18992  # 2021-12-31, the UTC day of the first trade's entry


def criteria(**changes: object) -> PromotionCriteria:
    base: dict[str, object] = {
        "min_trades": 300, "min_days": 7, "min_sharpe": -14, "max_drawdown": 0.14,
        "capital": "100000", "target": "20000", "step_days": 5,
    }  # fmt: skip
    return PromotionCriteria.model_validate({**base, **changes})


def end_of(day: int) -> int:
    """The last nanosecond of the ``day``-th UTC day of the record (1 = the first)."""
    return (DAY0 + day) * NS_PER_DAY - 1


def test_evidence_after_one_week_pins_every_figure(trades: list[TradeRecord]) -> None:
    """Seven days in: 175 trades, -5,249 realised, daily Sharpe -22.277, drawdown 5.249 %."""
    evaluation = evaluate(trades, criteria(), end_of(7))

    assert evaluation.evidence.fields() == {
        "trades": 175, "days": 7, "sharpe": -22.277171, "max_drawdown": 0.05249,
        "realized_pnl": "-5249.000000", "mean_trade_pnl": "-29.994286",
        "as_of_ns": end_of(7),
    }  # fmt: skip
    assert evaluation.failures == (
        "trades 175 < min_trades 300",
        "daily sharpe -22.2772 < min_sharpe -14.0",
    )


def test_whole_month_passes_a_lenient_sharpe_but_fails_the_drawdown(
    trades: list[TradeRecord],
) -> None:
    """All 962 trades: Sharpe -8.163 passes -14, the 13.449 % drawdown fails 10 %."""
    evaluation = evaluate(trades, criteria(max_drawdown=0.10), end_of(33))

    assert (evaluation.evidence.trades, evaluation.evidence.days) == (962, 33)
    assert evaluation.evidence.realized_pnl == Decimal("-11351.000000")
    assert evaluation.failures == ("max drawdown 0.1345 > max_drawdown 0.1",)


def test_one_day_has_no_sharpe(trades: list[TradeRecord]) -> None:
    """A single day of record leaves the Sharpe undefined: a failure, not a pass."""
    evaluation = evaluate(trades, criteria(min_trades=1, min_days=1), end_of(1))

    assert evaluation.evidence.sharpe is None
    assert evaluation.failures == ("daily sharpe undefined (fewer than 2 days or no dispersion)",)


def test_schedule_grants_fractions_of_the_target_every_step_days() -> None:
    """10/25/50/100 % of 20,000, due at 12, 17, 22 and 27 days of record."""
    steps = schedule(criteria(), 12)

    assert [(s.index, s.amount, s.due_days) for s in steps] == [
        (1, Decimal("2000.00"), 12), (2, Decimal("5000.00"), 17),
        (3, Decimal("10000.00"), 22), (4, Decimal("20000"), 27),
    ]  # fmt: skip


def _replay(trades: list[TradeRecord], c: PromotionCriteria) -> list[tuple[int, str, object]]:
    """Evaluate at the end of each day, write what ``decide`` says, approve proposals."""
    rows: list[AuditRecord] = []
    seen: list[tuple[int, str, object]] = []
    for day in range(1, 34):
        now = end_of(day)
        for d in decide(SID, fold(rows).values(), evaluate(trades, c, now), c):
            rows.append(AuditRecord(now, "paper", d.action, json.dumps(d.detail)))
            seen.append((day, d.action, d.detail.get("step")))
            if d.action == PROPOSED:
                approval = {"promotion_id": d.detail["promotion_id"], "step": 1, "reason": "ok"}
                rows.append(AuditRecord(now, "operator", APPROVED, json.dumps(approval)))
    return seen


def test_month_of_record_proposes_holds_and_steps_on_each_recheck(
    trades: list[TradeRecord],
) -> None:
    """Proposed day 12; step 2 held day 17, granted day 19; step 3 held 22, granted 24;
    step 4 day 27: every step re-checks the criteria on the record it is due at."""
    assert _replay(trades, criteria()) == [
        (12, PROPOSED, None), (17, HELD, 2), (19, STEP, 2), (22, HELD, 3), (24, STEP, 3),
        (27, STEP, 4),
    ]  # fmt: skip


def test_fold_reads_the_state_rows_leave() -> None:
    """Proposed, approved, then rejected: REJECTED with nothing granted, history kept."""
    c = criteria()
    proposal = {"promotion_id": "p1", "strategy_id": SID, "evidence": {"trades": 300},
                "criteria": {}, "steps": [s.fields() for s in schedule(c, 12)]}  # fmt: skip
    rows = [
        AuditRecord(1, "paper", PROPOSED, json.dumps(proposal)),
        AuditRecord(2, "api", APPROVED, json.dumps({"promotion_id": "p1", "step": 1})),
    ]
    approved = fold(rows)["p1"]
    assert (approved.status, approved.step, approved.as_json()["allocation"]) == (
        Status.APPROVED, 1, "2000.00")  # fmt: skip

    rows.append(AuditRecord(3, "api", REJECTED, json.dumps({"promotion_id": "p1", "reason": "x"})))
    rejected = fold(rows)["p1"]
    assert (rejected.status, rejected.step, len(rejected.history)) == (Status.REJECTED, 0, 3)


def test_rejected_strategy_is_proposed_again_only_after_min_trades_more(
    trades: list[TradeRecord],
) -> None:
    """Rejected at 330 trades, proposed again at 709 (>= 630), never a third time in the
    month (962 < 709 + 300)."""
    c = criteria()
    rows: list[AuditRecord] = []
    proposed_at = []
    for day in range(12, 34):
        for d in decide(SID, fold(rows).values(), evaluate(trades, c, end_of(day)), c):
            rows.append(AuditRecord(end_of(day), "paper", d.action, json.dumps(d.detail)))
            proposed_at.append((day, d.detail["evidence"]["trades"]))
            reject = {"promotion_id": d.detail["promotion_id"], "reason": "not yet"}
            rows.append(AuditRecord(end_of(day), "operator", REJECTED, json.dumps(reject)))

    assert proposed_at == [(12, 330), (24, 709)]


def test_regression_below_the_backtest_interval_is_named(trades: list[TradeRecord]) -> None:
    """A mean of -11.80 per trade against an expected [-5, 20] is a regression."""
    c = criteria(expected_trade_pnl=("-5", "20"))

    why = regression(evaluate(trades, c, end_of(33)), c)

    assert why == ("mean net P&L per trade -11.799376 over 962 paper trades is below the"
                   " backtest's interval [-5, 20]")  # fmt: skip


def test_mean_inside_the_backtest_interval_is_no_regression(trades: list[TradeRecord]) -> None:
    """-11.80 per trade within [-12, 1]: nothing to say."""
    c = criteria(expected_trade_pnl=("-12", "1"))

    assert regression(evaluate(trades, c, end_of(33)), c) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": ["0.5", "0.25", "1"]}, "steps must increase"),
        ({"steps": ["0.1", "0.5"]}, "the last 1"),
        ({"max_drawdown": 0}, "greater than 0"),
        ({"expected_trade_pnl": ["5", "1"]}, "low <= high"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_criteria_are_refused_with_the_reason(changes: dict[str, object], message: str) -> None:
    """Each malformed section is a validation error naming what is wrong."""
    with pytest.raises(ValidationError, match=message):
        criteria(**changes)
