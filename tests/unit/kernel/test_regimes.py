"""Strategy switching by regime (ST-H4): gated strategies enter only in their regimes.

Data: the bundled BTCUSDT 1-minute month; the reference sma_cross (1 BTC, no fees)
gated to the trending regime, with an independent RegimeDetector over the same bars
as the oracle.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from genesis.analytics.regime import Regime, RegimeDetector
from genesis.config.models import StrategyConfig
from genesis.core.enums import Side
from genesis.core.events import RegimeSwitched
from genesis.kernel.regimes import parse_regimes
from genesis.strategies.reference import SmaCross, SmaCrossParams
from genesis.testing.builders import Harness, make_kernel, make_venue, real_bars
from genesis.testing.instruments import BTCUSDT

D = Decimal
MONTH = real_bars()


def _gated(regimes: frozenset[Regime]) -> tuple[Harness, list[RegimeSwitched]]:
    cash = {"USDT": D(1_000_000)}
    kernel = make_kernel(balances=cash, start_ns=0)
    kernel.add_strategy(SmaCross, "s1", SmaCrossParams(quantity=D(1)), (BTCUSDT,), regimes=regimes)
    harness, switches = Harness(kernel, make_venue(balances=cash)), []
    for bar in MONTH:
        harness.step(bar)
        switches += [n for n in kernel.take_notices() if isinstance(n, RegimeSwitched)]
    return harness, switches


@pytest.fixture(scope="module")
def trending() -> tuple[Harness, list[RegimeSwitched]]:
    return _gated(frozenset({Regime.TRENDING}))


def test_every_entry_was_decided_in_a_trending_bar(
    trending: tuple[Harness, list[RegimeSwitched]],
) -> None:
    """Each buy was created on a bar an independent detector calls TRENDING: 197 of them."""
    harness, _ = trending
    detector, regime_at = RegimeDetector(), {}
    for bar in MONTH:
        regime_at[bar.ts_event] = detector.update(float(bar.high), float(bar.low), float(bar.close))
    entries = [o for o in harness.kernel.oms if o.side is Side.BUY and o.filled_qty > 0]

    assert len(entries) == 197
    assert {regime_at[o.ts_init] for o in entries} == {Regime.TRENDING}


def test_exits_are_never_refused_and_the_month_ends_flat(
    trending: tuple[Harness, list[RegimeSwitched]],
) -> None:
    """Crosses outside the regime are refused as REGIME_OFF entries; no sell ever is."""
    harness, _ = trending
    kernel = harness.kernel
    refused_sells = [o for o in kernel.oms if o.side is Side.SELL and o.filled_qty == 0]

    assert kernel.risk.rejections["REGIME_OFF"] == kernel.denied > 0
    assert refused_sells == []
    assert kernel.portfolio.position_qty(BTCUSDT, "s1") == 0


def test_switches_alternate_and_start_after_the_warm_up(
    trending: tuple[Harness, list[RegimeSwitched]],
) -> None:
    """On, off, on, ...: each switch flips the last, the first is on, all carry a regime."""
    _, switches = trending

    assert switches[0].active
    assert all(a.active != b.active for a, b in itertools.pairwise(switches))
    assert {s.regime for s in switches if s.active} == {"trending"}
    assert switches[0].ts_event >= MONTH[100].ts_event  # the detector's warm-up


def test_an_ungated_strategy_is_unchanged() -> None:
    """No regimes: the 945 round trips of the reference run, and no switch notice."""
    harness, switches = _gated(frozenset())

    assert harness.kernel.performance.of("s1").trades == 945
    assert switches == []


def test_regime_names_are_checked() -> None:
    assert parse_regimes(["Ranging", "trending"]) == {Regime.RANGING, Regime.TRENDING}
    with pytest.raises(ValueError, match="unknown regime 'sideways'"):
        parse_regimes(["sideways"])


def test_a_config_with_an_unknown_regime_is_refused() -> None:
    with pytest.raises(ValidationError, match="regimes are trending, ranging, volatile"):
        StrategyConfig(id="x", strategy="sma_cross", tier="hunter", instruments=("BTCUSDT",),
                       regimes=("sideways",))  # fmt: skip


def test_an_empty_regimes_keeps_the_config_hash() -> None:
    """A config written before regimes existed keeps its version id."""
    plain = StrategyConfig(id="x", strategy="sma_cross", tier="hunter", instruments=("BTCUSDT",))
    gated = plain.model_copy(update={"regimes": ("ranging",)})

    # the fields it used to hash (before regimes, and promotion, existed)
    before = plain.model_dump(mode="json", exclude={"regimes", "promotion"})
    legacy = hashlib.sha256(json.dumps(before, sort_keys=True, separators=(",", ":")).encode())

    assert plain.version_id() == legacy.hexdigest()
    assert plain.version_id() != gated.version_id()
