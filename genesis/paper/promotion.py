"""Promotion from paper to live (SPEC PT-2): evidence, proposals, capital steps.

Theory of operation
-------------------
A strategy whose config has a ``promotion:`` section (``PromotionCriteria``) is
judged on its paper record: the completed round trips of the kernel's
``PerformanceBook`` (net of fees, realised only: an open position counts when
it closes). ``evaluate`` turns them into ``Evidence`` at an event time ``now_ns``:

* trades: round trips closed at or before ``now_ns``;
* days: UTC calendar days from the first trade's opening day to ``now_ns``'s day;
* daily wealth: ``capital`` + cumulative realised P&L at the end of each of those
  days (a day without a trade keeps the previous day's wealth: return 0);
* sharpe: mean / sample std of the daily returns (the first against ``capital``)
  times sqrt(365), the backtest's ``daily_sharpe`` formula; undefined (a failure)
  with fewer than two days or no dispersion;
* max_drawdown: largest fall of daily wealth from its running peak (``capital``
  included), as a fraction >= 0.

Every promotion is a sequence of audit rows (the journal is its only state, so a
restart or the CLI in another process sees the same thing; ``fold`` rebuilds it):

    promotion_proposed --(operator)--> promotion_approved (step 1 granted)
          |                                  |  each step_days more paper days:
          +--(operator)--> promotion_rejected |  criteria pass -> promotion_step (k+1)
                                             |  criteria fail -> promotion_held (once
                                             |  per step; the allocation stays; a later
                                             |  pass grants the step)
                                             +--> last step granted: COMPLETED

``decide`` is the pure rule for one strategy: which rows its evidence calls for
now. A proposal is made only when no promotion of the strategy is open (proposed,
approved or held); after a rejection, only once the strategy has completed another
``min_trades`` trades beyond the rejected proposal's; a completed promotion is never
proposed again. Approval and rejection are the operator's alone (``ledger``); a
rejection of an approved promotion revokes its live allocation.
"""

from __future__ import annotations

import enum
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Protocol

from genesis.core.money import ZERO
from genesis.paper.criteria import PromotionCriteria
from genesis.portfolio.performance import TradeRecord

__all__ = [
    "APPROVED",
    "HELD",
    "PROPOSED",
    "REGRESSION",
    "REJECTED",
    "STEP",
    "Decision",
    "Evaluation",
    "Evidence",
    "Promotion",
    "Status",
    "Step",
    "decide",
    "evaluate",
    "fold",
    "regression",
    "schedule",
]

PROPOSED, APPROVED, REJECTED = "promotion_proposed", "promotion_approved", "promotion_rejected"
STEP, HELD, REGRESSION = "promotion_step", "promotion_held", "strategy_regression"
ACTIONS: Final = frozenset({PROPOSED, APPROVED, REJECTED, STEP, HELD})
NS_PER_DAY: Final = 86_400 * 1_000_000_000
DAYS_PER_YEAR: Final = 365.0


class AuditRow(Protocol):
    """What ``fold`` reads of a journal audit row (``storage.repository.AuditRecord``)."""

    @property
    def ts_ns(self) -> int: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def detail_json(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Evidence:
    """The figures a decision rests on; see the module docstring for each."""

    trades: int
    days: int
    sharpe: float | None
    max_drawdown: float
    realized_pnl: Decimal
    mean_trade_pnl: Decimal | None
    as_of_ns: int

    def fields(self) -> dict[str, Any]:
        """JSON-ready: money as decimal strings, ratios rounded to 6 places."""
        return {
            "trades": self.trades,
            "days": self.days,
            "sharpe": None if self.sharpe is None else round(self.sharpe, 6),
            "max_drawdown": round(self.max_drawdown, 6),
            "realized_pnl": str(self.realized_pnl),
            "mean_trade_pnl": None if self.mean_trade_pnl is None else str(self.mean_trade_pnl),
            "as_of_ns": self.as_of_ns,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Evidence and every criterion it fails (a sentence each); passed when none."""

    evidence: Evidence
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class Step:
    """Step ``index`` (1-based) grants ``fraction`` of the target: ``amount``, due once the
    paper record spans ``due_days`` days."""

    index: int
    fraction: Decimal
    amount: Decimal
    due_days: int

    def fields(self) -> dict[str, Any]:
        return {"step": self.index, "fraction": str(self.fraction), "amount": str(self.amount),
                "due_days": self.due_days}  # fmt: skip


class Status(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"  # live at ``step``, more steps to come
    HELD = "held"  # approved, but the next step's re-check failed
    COMPLETED = "completed"  # every step granted
    REJECTED = "rejected"


OPEN: Final = frozenset({Status.PROPOSED, Status.APPROVED, Status.HELD})


@dataclass(slots=True)
class Promotion:
    """One proposal and what became of it, as ``fold`` reads it from the journal."""

    promotion_id: str
    strategy_id: str
    proposed_ns: int
    evidence: dict[str, Any]
    criteria: dict[str, Any]
    steps: tuple[Step, ...]
    status: Status = Status.PROPOSED
    step: int = 0  # the last granted step (0: nothing live)
    held_step: int = 0  # the step whose re-check failed (while HELD)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def granted(self) -> Step | None:
        return self.steps[self.step - 1] if self.step else None

    def as_json(self) -> dict[str, Any]:
        granted = self.granted
        return {
            "promotion_id": self.promotion_id,
            "strategy_id": self.strategy_id,
            "status": self.status.value,
            "proposed_ns": self.proposed_ns,
            "step": self.step,
            "of_steps": len(self.steps),
            "allocation": None if granted is None else str(granted.amount),
            "evidence": self.evidence,
            "criteria": self.criteria,
            "steps": [s.fields() for s in self.steps],
            "history": self.history,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """An audit row to write: its action and detail."""

    action: str
    detail: dict[str, Any]


# --- evidence ------------------------------------------------------------------------


def evaluate(trades: Sequence[TradeRecord], criteria: PromotionCriteria, now_ns: int) -> Evaluation:
    """The evidence of ``trades`` (one strategy's, in closing order) at ``now_ns``, and
    which criteria it fails."""
    done = [t for t in trades if t.closed_ns <= now_ns]
    realized = sum((t.net_pnl for t in done), ZERO)
    returns, drawdown, days = _daily(done, criteria.capital, now_ns)
    sharpe = _sharpe(returns)
    evidence = Evidence(
        trades=len(done),
        days=days,
        sharpe=sharpe,
        max_drawdown=drawdown,
        realized_pnl=realized,
        mean_trade_pnl=_mean(done, realized),
        as_of_ns=now_ns,
    )
    return Evaluation(evidence, _failures(evidence, criteria))


def _mean(trades: Sequence[TradeRecord], total: Decimal) -> Decimal | None:
    """Mean net P&L per trade, rounded half-even to the finest increment of the P&Ls."""
    if not trades:
        return None
    exponent = min(int(t.net_pnl.as_tuple().exponent) for t in trades)
    return (total / len(trades)).quantize(Decimal(1).scaleb(exponent))


def _daily(
    trades: Sequence[TradeRecord], capital: Decimal, now_ns: int
) -> tuple[list[float], float, int]:
    """Daily returns, max drawdown (fraction) and the number of days."""
    if not trades:
        return [], 0.0, 0
    first = min(t.opened_ns for t in trades) // NS_PER_DAY
    last = now_ns // NS_PER_DAY
    pnl_by_day: dict[int, Decimal] = {}
    for t in trades:
        day = t.closed_ns // NS_PER_DAY
        pnl_by_day[day] = pnl_by_day.get(day, ZERO) + t.net_pnl
    wealth, peak, drawdown, returns = capital, capital, 0.0, []
    for day in range(first, last + 1):
        before = wealth
        wealth += pnl_by_day.get(day, ZERO)
        returns.append(float(wealth / before - 1) if before > 0 else -1.0)
        peak = max(peak, wealth)
        drawdown = max(drawdown, float(1 - wealth / peak))
    return returns, drawdown, last - first + 1


def _sharpe(returns: list[float]) -> float | None:
    if len(returns) < 2 or max(returns) == min(returns):
        return None
    return statistics.fmean(returns) / statistics.stdev(returns) * math.sqrt(DAYS_PER_YEAR)


def _failures(e: Evidence, c: PromotionCriteria) -> tuple[str, ...]:
    out = []
    if e.trades < c.min_trades:
        out.append(f"trades {e.trades} < min_trades {c.min_trades}")
    if e.days < c.min_days:
        out.append(f"days {e.days} < min_days {c.min_days}")
    if e.sharpe is None:
        out.append("daily sharpe undefined (fewer than 2 days or no dispersion)")
    elif e.sharpe < c.min_sharpe:
        out.append(f"daily sharpe {e.sharpe:.4f} < min_sharpe {c.min_sharpe}")
    if e.max_drawdown > c.max_drawdown:
        out.append(f"max drawdown {e.max_drawdown:.4f} > max_drawdown {c.max_drawdown}")
    return tuple(out)


def regression(evaluation: Evaluation, criteria: PromotionCriteria) -> str | None:
    """Why the paper record regressed against the backtest's expectation, or None.

    Judged only once ``min_trades`` trades are in: the mean net P&L per trade below the
    low end of ``expected_trade_pnl`` (the backtest's bootstrap interval).
    """
    band, e = criteria.expected_trade_pnl, evaluation.evidence
    if band is None or e.mean_trade_pnl is None or e.trades < criteria.min_trades:
        return None
    if e.mean_trade_pnl >= band[0]:
        return None
    return (f"mean net P&L per trade {e.mean_trade_pnl:.6f} over {e.trades} paper trades is"
            f" below the backtest's interval [{band[0]}, {band[1]}]")  # fmt: skip


def schedule(criteria: PromotionCriteria, proposal_days: int) -> tuple[Step, ...]:
    """The capital steps of a proposal made with ``proposal_days`` days of record."""
    return tuple(
        Step(i + 1, f, criteria.target * f, proposal_days + i * criteria.step_days)
        for i, f in enumerate(criteria.steps)
    )


# --- the journal's view ------------------------------------------------------------


def fold(rows: Iterable[AuditRow]) -> dict[str, Promotion]:
    """Every promotion the audit rows record, by id, in the state its rows leave it."""
    out: dict[str, Promotion] = {}
    for row in rows:
        if row.action not in ACTIONS:
            continue
        try:
            detail = json.loads(row.detail_json)
        except ValueError:
            continue
        if row.action == PROPOSED:
            out[detail["promotion_id"]] = _proposed(detail, row.ts_ns)
            continue
        promotion = out.get(str(detail.get("promotion_id")))
        if promotion is not None:
            _apply(promotion, row, detail)
    return out


def _proposed(detail: dict[str, Any], ts_ns: int) -> Promotion:
    steps = tuple(
        Step(int(s["step"]), Decimal(s["fraction"]), Decimal(s["amount"]), int(s["due_days"]))
        for s in detail["steps"]
    )
    history = [{"action": PROPOSED, "ts_ns": ts_ns}]
    return Promotion(detail["promotion_id"], detail["strategy_id"], ts_ns, detail["evidence"],
                     detail["criteria"], steps, history=history)  # fmt: skip


def _apply(p: Promotion, row: AuditRow, detail: dict[str, Any]) -> None:
    entry = {"action": row.action, "ts_ns": row.ts_ns, "actor": row.actor}
    if "reason" in detail:
        entry["reason"] = detail["reason"]
    if row.action == REJECTED:
        p.status, p.step = Status.REJECTED, 0
    elif row.action in (APPROVED, STEP):
        p.step = int(detail["step"])
        p.status = Status.COMPLETED if p.step == len(p.steps) else Status.APPROVED
        entry["step"] = p.step
    elif row.action == HELD:
        p.status, p.held_step = Status.HELD, int(detail["step"])
        entry.update(step=p.held_step, failures=detail.get("failures", []))
    p.history.append(entry)


def decide(
    strategy_id: str,
    promotions: Iterable[Promotion],
    evaluation: Evaluation,
    criteria: PromotionCriteria,
) -> list[Decision]:
    """The rows ``strategy_id``'s evaluation calls for now (see the module docstring)."""
    mine = sorted(
        (p for p in promotions if p.strategy_id == strategy_id), key=lambda p: p.proposed_ns
    )
    e = evaluation.evidence
    current = next((p for p in mine if p.status in OPEN), None)
    if current is None:
        return _maybe_propose(strategy_id, mine, evaluation, criteria)
    if current.status == Status.PROPOSED or current.step >= len(current.steps):
        return []
    nxt = current.steps[current.step]
    if e.days < nxt.due_days:
        return []
    base = {"promotion_id": current.promotion_id, "strategy_id": strategy_id, **nxt.fields(),
            "evidence": e.fields()}  # fmt: skip
    if evaluation.passed:
        return [Decision(STEP, base)]
    if current.status == Status.HELD and current.held_step == nxt.index:
        return []  # already held at this step: said once
    return [Decision(HELD, {**base, "failures": list(evaluation.failures)})]


def _maybe_propose(
    strategy_id: str, mine: list[Promotion], evaluation: Evaluation, criteria: PromotionCriteria
) -> list[Decision]:
    e = evaluation.evidence
    if not evaluation.passed or any(p.status == Status.COMPLETED for p in mine):
        return []
    if mine and e.trades < int(mine[-1].evidence["trades"]) + criteria.min_trades:
        return []  # rejected: wait for another min_trades trades of record
    detail = {
        "promotion_id": f"{strategy_id}-{e.as_of_ns}",
        "strategy_id": strategy_id,
        "evidence": e.fields(),
        "criteria": criteria.model_dump(mode="json"),
        "steps": [s.fields() for s in schedule(criteria, e.days)],
    }
    return [Decision(PROPOSED, detail)]
