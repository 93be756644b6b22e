"""The breakers and the risk report inside a tiered kernel, on the real bundled BTCUSDT
bars, and a breaker's pause through a real (SQLite) journal and a restart."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from genesis.core.commands import CancelOrder
from genesis.core.enums import Side
from genesis.core.events import Bar, BreakerCleared, BreakerTripped
from genesis.daemon.journal import Journal
from genesis.daemon.reconcile import journaled_breakers
from genesis.risk.limits import Tier
from genesis.storage.factory import open_repository
from genesis.storage.repository import AuditRecord
from genesis.strategies.base import Strategy
from genesis.strategies.params import StrategyParams
from genesis.testing.builders import Harness, real_bars

D = Decimal
S = 1_000_000_000


class _Spammer(Strategy[StrategyParams]):
    """On its first bar sends 101 passive limit buys of 0.001 BTC at 40,000 (far below)."""

    def on_start(self) -> None:
        self.sent = False

    def on_bar(self, bar: Bar) -> None:
        if self.sent:
            return
        self.sent = True
        for _ in range(101):
            order = self.ctx.orders.limit(
                bar.instrument_id, Side.BUY, "0.001", "40000.00", confidence=0.9
            )
            self.ctx.submit(order)


class _Holder(Strategy[StrategyParams]):
    """Buys 0.02 BTC at market on its first bar and holds it."""

    def on_start(self) -> None:
        self.bought = False

    def on_bar(self, bar: Bar) -> None:
        if not self.bought:
            self.bought = True
            self.ctx.submit(
                self.ctx.orders.market(bar.instrument_id, Side.BUY, "0.02", confidence=0.9)
            )


def _spammed() -> Harness:
    harness = Harness.build(_Spammer, StrategyParams(), tier=Tier.STRATEGIST)
    harness.run(real_bars(0, 2))
    return harness


def test_order_rate_breaker_pauses_the_strategy_and_cancels_its_entries() -> None:
    """The 101st order in ten seconds is refused as BREAKER_ORDER_RATE, the 100 working
    entries are cancelled, and the trip is a kernel notice."""
    harness = _spammed()
    kernel = harness.kernel

    notices = kernel.take_notices()
    cancels = [c for c in harness.commands if isinstance(c, CancelOrder)]

    assert [type(n) for n in notices if isinstance(n, BreakerTripped)] == [BreakerTripped]
    assert kernel.risk.rejections["BREAKER_ORDER_RATE"] == 1
    assert len(cancels) == 100
    assert kernel.denied == 1
    status = kernel.risk.breakers.status() if kernel.risk.breakers else []
    assert [(s["scope"], s["strategy"], s["code"]) for s in status] == [
        ("strategy", "s1", "BREAKER_ORDER_RATE")
    ]


def test_the_pause_clears_on_the_first_event_after_its_cool_down() -> None:
    """600 s of event time later (ten more one-minute bars), a BreakerCleared comes out."""
    harness = _spammed()
    harness.kernel.take_notices()

    harness.run(real_bars(2, 10))

    cleared = [n for n in harness.kernel.take_notices() if isinstance(n, BreakerCleared)]
    assert [(n.code, n.strategy_id) for n in cleared] == [("BREAKER_ORDER_RATE", "s1")]
    assert harness.kernel.risk.breakers is not None
    assert harness.kernel.risk.breakers.status() == []


def test_a_pause_survives_a_restart_through_the_journal(tmp_path: Path) -> None:
    """Journaled as an audit row, read back, restored: the new kernel refuses s1's entries."""
    harness = _spammed()
    notices = harness.kernel.take_notices()

    async def round_trip() -> list[AuditRecord]:
        journal = Journal(await open_repository(None, tmp_path))
        journal.start()
        for notice in notices:
            journal.notice(notice, 2)
        await journal.close()
        repo = await open_repository(None, tmp_path)
        try:
            return await repo.audit_log()
        finally:
            await repo.close()

    trips = journaled_breakers(asyncio.run(round_trip()))
    restarted = Harness.build(_Spammer, StrategyParams(), tier=Tier.STRATEGIST)
    restarted.kernel.restore_breakers(trips)

    restarted.run(real_bars(0, 1))

    assert restarted.kernel.risk.rejections["BREAKER_ORDER_RATE"] == 101
    assert restarted.kernel.denied == 101
    breaker_notices = [
        n for n in restarted.kernel.take_notices() if isinstance(n, BreakerTripped | BreakerCleared)
    ]
    assert breaker_notices == []  # restored silently, not tripped again


def test_risk_report_is_json_with_exposure_and_a_bounded_score() -> None:
    """A 0.02 BTC position held over 60 real minutes: gross = 0.02 x the last close,
    VaR figures present once there are samples, score within [0, 100]."""
    harness = Harness.build(_Holder, StrategyParams(), tier=Tier.STRATEGIST)
    bars = real_bars(0, 60)
    harness.run(bars)

    report = harness.kernel.risk_report()

    assert json.loads(json.dumps(report)) == report
    assert D(report["exposure"]["gross"]) == D("0.02") * bars[-1].close
    assert report["exposure"]["by_asset"]["BTC"]["gross"] == report["exposure"]["gross"]
    assert report["samples"] == 60
    assert isinstance(report["var"]["historical"]["99"], float)
    assert report["beta"]["benchmark"] is not None
    assert 0.0 <= report["score"] <= 100.0


def test_research_kernel_reports_without_samples() -> None:
    """Without a tier nothing is sampled: the report still answers, VaR null."""
    harness = Harness.build(_Holder, StrategyParams())
    harness.run(real_bars(0, 5))

    report = harness.kernel.risk_report()

    assert report["samples"] == 0
    assert report["var"]["historical"]["95"] is None
    assert report["breakers"] == []


def test_a_what_if_moves_no_breaker_and_counts_nothing() -> None:
    """The API's dry run asked 150 times about an order risk refuses: no refusal counted,
    no rejection-rate pause (21 real refusals in 5 minutes would trip it)."""
    from genesis.testing.builders import make_kernel, order

    kernel = make_kernel(tier=Tier.SNIPER, balances={"USDT": D(1000)})
    kernel.handle(real_bars(0, 1)[0])
    kernel.take_notices()  # the day's baseline
    unconfident = order(Side.BUY, "0.0004", confidence=None)
    assert kernel.risk.breakers is not None

    verdicts = {kernel.refusal(unconfident) for _ in range(150)}

    assert [code for code, _ in verdicts] == ["CONFIDENCE_MISSING"]
    assert kernel.risk.breakers.status() == []
    assert sum(kernel.risk.rejections.values()) == 0
    assert kernel.take_notices() == []
