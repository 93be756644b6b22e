"""shortfall (ST-X3): slices on the Almgren-Chriss trajectory, on the real BTCUSDT streams.

Data: the bundled Binance spot BTCUSDT recording of 2024-08-08 23:54:13-23:59:59 UTC
(depth diffs, bookTicker, trades, a REST snapshot). The parent starts at the first quote
(23:54:14.087891, arrival mid 61,837.635). Defaults: lambda 1e-4 per USDT, eta 10 bps per
BTC/s, sigma estimated from the mid on a 1 s grid (1 bp/sqrt(s) until 30 returns are seen).
The slicing engine itself is tested in test_twap.py.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genesis.core.enums import Side
from genesis.core.events import BookDelta, BookSnapshot, MarketEvent
from genesis.data.book import BookSync
from genesis.execution.tca import TcaRecord
from genesis.kernel.driver import Driver
from genesis.kernel.kernel import Kernel
from genesis.risk.limits import Tier
from genesis.strategies import registry
from genesis.strategies.strategist.shortfall import (
    Shortfall,
    ShortfallParams,
    ac_holdings,
    ac_kappa,
    remaining_share,
)
from genesis.testing.builders import RecordingLog
from genesis.testing.streams import backtest_rows, events, interval_vwap, run_execution, start_ns

D = Decimal
NS = 1_000_000_000
SID = "is"
STEP = D("0.00001")
ARRIVAL = 61837.635


def run(params: ShortfallParams, data: tuple[MarketEvent, ...] | None = None, *,
        base: str = "0", finish: bool = True) -> tuple[Kernel, Driver, list[TcaRecord], RecordingLog]:  # fmt: skip
    return run_execution(Shortfall, SID, params, data, base=base, finish=finish)


def params(**kw: Any) -> ShortfallParams:
    return ShortfallParams(side=kw.pop("side", "BUY"), quantity=D(2), horizon_s=240, **kw)


def sizes(kernel: Kernel) -> list[Decimal]:
    return [o.quantity for o in kernel.oms if o.strategy_id == SID]


def test_golden_buy_two_btc_over_four_minutes(tmp_path: Path) -> None:
    """2 BTC in 8 slices along the trajectory, front-loaded (0.44195 first, 0.16361 last):
    average 61,802.6804 against the arrival mid 61,837.635 (-5.65 bps) and the interval
    VWAP 61,773.0793 (+4.79 bps, recomputed from the trades): in a falling market buying
    early cost more than the TWAP (+2.11) and the VWAP (+2.87) schedules."""
    rows, tca = backtest_rows(
        tmp_path / "out", "shortfall", "side=BUY", "quantity=2", "horizon_s=240"
    )
    fills = [(r["time"], r["quantity"], r["price"]) for r in rows]

    assert fills == [
        ("2024-08-08 23:54:14.206652", "0.44195", "61837.64000000"),
        ("2024-08-08 23:54:44.088085", "0.35524", "61855.37000000"),
        ("2024-08-08 23:55:14.133245", "0.27669", "61837.89000000"),
        ("2024-08-08 23:55:44.114193", "0.22035", "61809.65000000"),
        ("2024-08-08 23:56:14.092705", "0.19658", "61762.01000000"),
        ("2024-08-08 23:56:44.099190", "0.17770", "61741.33000000"),
        ("2024-08-08 23:57:14.088950", "0.16788", "61726.14000000"),
        ("2024-08-08 23:57:44.136735", "0.16361", "61718.95000000"),
    ]
    assert (tca["filled"], tca["children"], tca["reason"]) == ("2", "8", "")
    assert (tca["arrival_price"], tca["average_price"]) == ("61837.635", "61802.68042895")
    assert (tca["slippage_arrival_bps"], tca["slippage_vwap_bps"]) == ("-5.6526", "4.7919")
    end = next(e.ts_init for e in events() if e.ts_init >= start_ns() + 210 * NS)
    vwap = interval_vwap(start_ns(), end)
    assert round(vwap, 10) == D(tca["interval_vwap"])


def closed_form_trades(kappa: float, slices: int = 8, horizon_s: float = 240) -> list[float]:
    """``x_k - x_k+1`` with ``x_k = sinh(kappa (T - t_k)) / sinh(kappa T)``, written out."""
    x = [math.sinh(kappa * (horizon_s - k * horizon_s / slices)) / math.sinh(kappa * horizon_s)
         for k in range(slices + 1)]  # fmt: skip
    return [x[k] - x[k + 1] for k in range(slices)]


def test_with_sigma_fixed_the_slices_follow_the_trajectory() -> None:
    """sigma fixed at 1 bp/sqrt(s): kappa from cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / 2 eta
    (sigma, eta in USDT at the arrival mid) is 0.0078456/s, and child k is 2 BTC x
    (x_k - x_k+1) to two steps: 22.1% of the parent in the first slice, 7.4% in the last."""
    kernel, _, _, _ = run(params(volatility_bps=1.0))
    tau, sigma, eta = 30.0, 1e-4 * ARRIVAL, 10 * 1e-4 * ARRIVAL
    kappa = math.acosh(1 + tau**2 * 1e-4 * sigma**2 / eta / 2) / tau
    expected = [D(2) * D(repr(n)) for n in closed_form_trades(kappa)]

    assert round(kappa, 7) == 0.0078456
    assert all(abs(s - e) <= 2 * STEP for s, e in zip(sizes(kernel), expected, strict=True))
    assert (sizes(kernel)[0], sizes(kernel)[-1]) == (D("0.44195"), D("0.14799"))


def test_no_risk_aversion_is_a_twap_and_more_is_more_front_loaded() -> None:
    """lambda = 0 gives kappa = 0: eight slices of 0.25 (the TWAP); lambda 1e-3 puts 52% of
    the parent in the first slice."""
    flat, _, _, _ = run(params(risk_aversion=0))
    eager, _, _, _ = run(params(risk_aversion=1e-3, volatility_bps=1.0))

    assert sizes(flat) == [D("0.25000")] * 8
    assert sizes(eager)[0] == D("1.03594")


def test_sells_follow_the_same_trajectory() -> None:
    """Selling 2 of 5 BTC with sigma fixed: the same sizes as the buy, each hitting the bid."""
    buy, _, _, _ = run(params(volatility_bps=1.0))
    sell, _, tca, _ = run(params(side="SELL", volatility_bps=1.0), base="5")

    assert sizes(sell) == sizes(buy)
    assert {o.side for o in sell.oms} == {Side.SELL}
    assert (tca[0].filled_qty, tca[0].reason) == (D(2), "")


def mid_series() -> tuple[np.ndarray, np.ndarray]:
    """(ts_init, mid) after every event once the book is in sync, replayed here."""
    sync, ts, mids = BookSync("BTCUSDT"), [], []
    for e in events():
        if isinstance(e, BookSnapshot | BookDelta):
            sync.apply(e)
        if sync.valid and (mid := sync.book.mid()) is not None:
            ts.append(e.ts_init)
            mids.append(float(mid))
    return np.array(ts), np.array(mids)


def test_sigma_is_estimated_from_the_mid() -> None:
    """The sigma of slice 6 (after 180 s) is the root mean squared 1 s log return of the mid,
    sampled here at the first event after each second: 0.68 bp/sqrt(s), within 2%."""
    _, _, _, log = run(params())
    logged = [f["volatility_bps"] for _, e, f in log.records if e == "shortfall_slice"]
    ts, mids = mid_series()
    grid = start_ns() + NS * np.arange(1, 181)
    sampled = np.concatenate(([ARRIVAL], mids[np.searchsorted(ts, grid)]))
    returns = np.diff(np.log(sampled))

    sigma_bps = math.sqrt(float(np.mean(returns**2))) * 1e4

    assert logged[:2] == [1.0, 1.0]  # the prior until 30 returns are seen
    assert logged[6] == pytest.approx(sigma_bps, rel=0.02)
    assert round(logged[6], 2) == 0.68


def test_kappa_and_shares_hold_at_the_limits() -> None:
    """kappa tends to sqrt(lambda sigma^2 / eta) as tau -> 0; the share is tau / R at kappa 0
    and 1 when kappa is huge (no overflow); the holdings fall from 1 to 0."""
    continuous = math.sqrt(1e-4 * (1e-4 * ARRIVAL) ** 2 / (10 * 1e-4 * ARRIVAL))

    assert ac_kappa(1e-4, 1.0, 10.0, ARRIVAL, 1e-3) == pytest.approx(continuous, rel=1e-9)
    assert ac_kappa(1e-4, 1.0, 10.0, ARRIVAL, 30) == pytest.approx(0.0078456, abs=1e-7)
    assert remaining_share(0.0, 240, 30) == 30 / 240
    assert remaining_share(1e3, 240, 30) == 1.0
    assert remaining_share(0.01, 120, 30) == pytest.approx(
        1 - math.sinh(0.01 * 90) / math.sinh(0.01 * 120), rel=1e-12
    )
    holdings = ac_holdings(0.0078456, 240, 8)
    assert (holdings[0], holdings[-1]) == (1.0, 0.0)
    assert holdings == sorted(holdings, reverse=True)


def test_a_restore_mid_parent_resumes_exactly() -> None:
    """Swapped for a fresh instance restored from its snapshot 100 s in, the strategy (its
    sigma estimator in the snapshot) sends the children of the uninterrupted run."""
    whole, _, _, _ = run(params())
    cut = tuple(e for e in events() if e.ts_init < start_ns() + 100 * NS)
    kernel, driver, _, _ = run(params(), cut, finish=False)

    kernel.replace_params(SID, params())
    driver.run(events()[len(cut) :])

    assert [(o.client_order_id, o.quantity) for o in kernel.oms] == [
        (o.client_order_id, o.quantity) for o in whole.oms
    ]


def test_registered_for_the_strategist_tier() -> None:
    """Registered as ``shortfall`` for the Strategist tier (ST-X3)."""
    spec = registry.get("shortfall")

    assert (spec.cls, spec.tiers, spec.spec_ids) == (
        Shortfall, (Tier.STRATEGIST,), ("ST-X3", "EX-3")
    )  # fmt: skip
