"""Each tier out of the box: ``python -m genesis --tier X`` paper-trades its own strategies
on the bundled recordings when the venue cannot be reached.

"Within a minute" at the default replay speed (100 recorded events a second) is the
first 6,000 events; the test replays exactly those at full speed (no timing in tests)
and checks that every strategy the tier's shipped configs expect to trade did, with
its confidence on the order line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_MINUTE_OF_EVENTS = 6_000  # the default --speed 100 events/s for 60 s


def _daemon(tier: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENESIS_DATA_DIR": str(tmp_path), "GENESIS_MARKET_DATA": "recording"}
    env.pop("GENESIS_TIER", None)
    return subprocess.run(
        [sys.executable, "-m", "genesis", "--tier", tier, "--speed", "0",
         "--max-bars", str(ONE_MINUTE_OF_EVENTS), "--strategies", str(ROOT / "config" / "strategies"),
         *extra],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False,
    )  # fmt: skip


def _run_tier(tier: str, tmp_path: Path, *extra: str) -> list[dict[str, object]]:
    ran = _daemon(tier, tmp_path, *extra)
    assert ran.returncode == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]


def _traders(events: list[dict[str, object]]) -> set[object]:
    return {e["strategy_id"] for e in events if e["event"] == "order_filled"}


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("sniper", {"sniper-breakout-btc"}),
        ("strategist", {"strategist-mm-btc", "strategist-twap-btc"}),
        (
            "hunter",
            {"hunter-mean-reversion-ethbtc", "hunter-pairs-dashltc", "hunter-portfolio-altbtc"},
        ),
    ],
)
def test_tier_paper_trades_within_its_first_minute(
    tier: str, expected: set[str], tmp_path: Path
) -> None:
    events = _run_tier(tier, tmp_path)
    started = events[0]

    assert (started["event"], started["tier"], started["mode"]) == ("daemon_started", tier, "paper")
    assert _traders(events) >= expected
    entries = [
        e
        for e in events
        if e["event"] == "order_submitted" and e["side"] == "BUY" and not e["reduce_only"]
    ]  # fmt: skip (every strategy of these tiers is long only: a buy opens)
    assert entries
    assert all(float(e["confidence"]) >= 0.6 for e in entries)  # type: ignore[arg-type]


def test_paper_fills_pay_the_fee_given(tmp_path: Path) -> None:
    """``--fee-bps 2.5``: every paper fill of the Strategist minute (the market maker's maker
    fills and TWAP's taker slices) pays 2.5 bps of its notional, not the default 10."""
    fills = [e for e in _run_tier("strategist", tmp_path, "--fee-bps", "2.5") if e["event"] == "order_filled"]  # fmt: skip
    rates = {
        Decimal(str(f["fee"])) * 10_000 / (Decimal(str(f["quantity"])) * Decimal(str(f["price"])))
        for f in fills
    }

    assert {f["strategy_id"] for f in fills} == {"strategist-mm-btc", "strategist-twap-btc"}
    assert rates == {Decimal("2.5")}


def test_a_fee_for_a_venue_no_strategy_trades_is_refused(tmp_path: Path) -> None:
    """``--venue-fee-bps kraken=5`` on the Sniper tier (Binance and Bybit): one line naming
    the venue and the ones the tier trades, before anything starts."""
    ran = _daemon("sniper", tmp_path, "--venue-fee-bps", "kraken=5")

    assert ran.returncode != 0
    assert "--venue-fee-bps names kraken" in ran.stderr
    assert "its venues: binance, bybit" in ran.stderr
