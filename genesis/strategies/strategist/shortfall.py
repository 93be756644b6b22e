"""``shortfall`` (Strategist, SPEC ST-X3): implementation shortfall on the Almgren-Chriss path.

Almgren and Chriss (2000) trade ``X`` over ``[0, T]`` minimising
``E[cost] + lambda Var[cost]`` under a linear temporary impact (a child
traded at the rate ``v`` pays ``eta v`` per unit over the price) and a
random-walk price of volatility ``sigma``. Without permanent impact the
optimal holdings at ``t_k`` are::

    x_k = X sinh(kappa (T - t_k)) / sinh(kappa T)

and each slice trades ``x_k - x_{k+1}``: front-loaded, more so the more the
trader fears the price risk of waiting (``lambda``) or the more volatile the
market, less so the dearer it is to trade fast (``eta``). As ``kappa -> 0``
it is the TWAP. For slices of length ``tau`` the discrete solution has
``cosh(kappa tau) = 1 + tau^2 kappa_hat^2 / 2`` with ``kappa_hat^2 = lambda
sigma^2 / eta`` (it tends to ``kappa_hat`` as ``tau -> 0``).

Units (``P`` = the arrival mid, quote per base):

* ``risk_aversion`` ``lambda``: per unit of quote currency (1/USDT);
* ``volatility_bps`` ``sigma``: bps of the price per square root of a second,
  so ``sigma = volatility_bps 1e-4 P`` quote per base per sqrt(s); ``None``
  estimates it from the mid (below);
* ``impact_bps`` ``eta``: bps of the price paid per unit of trading rate
  (base units per second), ``eta = impact_bps 1e-4 P``;
* hence ``kappa_hat^2 = lambda volatility_bps^2 1e-4 P / impact_bps`` per s^2.

With the defaults (1e-4 /USDT, 10 bps per BTC/s) and BTC at 61,838 USDT, a
volatility of 1 bp/sqrt(s) gives ``kappa_hat`` = 0.0079/s: over 240 s in 8
slices the first slice does 22% of the parent, the last 7%.

Volatility. Unless given, ``sigma`` is estimated from the mid sampled on a
1-second grid since the parent started (the square root of the mean squared
log return per second, over the last ``volatility_window_s`` seconds); until
``volatility_min_samples`` returns are seen, ``volatility_prior_bps`` is used.

Re-planning. Each slice does ``1 - x_{k+1}/x_k`` of what is still open, with
``kappa`` from the current estimate of ``sigma``. With ``sigma`` fixed this is
exactly the optimal path (the AC path is time-consistent: re-solving from
``(t_k, x_k)`` gives the same trajectory), and after an under-fill it is the
optimal path for what is left; with ``sigma`` re-estimated, the path bends as
the market's volatility is learnt. Slices are otherwise worked as in
``parent.py`` (capped to the book within ``max_slippage_bps``, the deficit
carried forward).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pydantic import Field

from genesis.risk.limits import Tier
from genesis.strategies.registry import register
from genesis.strategies.strategist.parent import ExecutionParams, SlicedExecution

__all__ = ["Shortfall", "ShortfallParams", "ac_holdings", "ac_kappa", "remaining_share"]

_NS = 1_000_000_000


class ShortfallParams(ExecutionParams):
    """The parent order, the slicing settings, and the Almgren-Chriss inputs (units above)."""

    risk_aversion: float = Field(default=1e-4, ge=0, le=1e3)  # lambda, per unit of quote
    impact_bps: float = Field(default=10.0, gt=0, le=1e6)  # eta, bps per (base unit / s)
    volatility_bps: float | None = Field(default=None, gt=0, le=1e4)  # sigma, bps per sqrt(s)
    volatility_prior_bps: float = Field(default=1.0, gt=0, le=1e4)
    volatility_window_s: int = Field(default=300, ge=10, le=86_400)
    volatility_min_samples: int = Field(default=30, ge=2, le=86_400)


def ac_kappa(
    risk_aversion: float, volatility_bps: float, impact_bps: float, price: float, tau_s: float
) -> float:
    """The discrete Almgren-Chriss ``kappa`` (per second) for slices of ``tau_s``."""
    kappa_hat_sq = risk_aversion * volatility_bps**2 * 1e-4 * price / impact_bps
    x = 0.5 * tau_s**2 * kappa_hat_sq
    return math.log1p(x + math.sqrt(x * (2.0 + x))) / tau_s  # acosh(1 + x), exact for small x


def remaining_share(kappa: float, remaining_s: float, tau_s: float) -> float:
    """``1 - sinh(kappa (R - tau)) / sinh(kappa R)``: the share of what is open to trade
    in the next ``tau_s`` with ``remaining_s`` to go (``tau_s / R`` as ``kappa -> 0``)."""
    a, b = kappa * remaining_s, kappa * tau_s
    if a < 1e-9:
        return tau_s / remaining_s
    # sinh(a - b) / sinh(a) without overflow: e^-b (1 - e^-2(a-b)) / (1 - e^-2a)
    return 1.0 - math.exp(-b) * -math.expm1(-2.0 * (a - b)) / -math.expm1(-2.0 * a)


def ac_holdings(kappa: float, horizon_s: float, slices: int) -> list[float]:
    """``x_k / X`` for ``k = 0..slices``: the optimal holdings at each slice's start."""
    shares = [remaining_share(kappa, (slices - k) * horizon_s / slices, horizon_s / slices)
              for k in range(slices)]  # fmt: skip
    holdings = [1.0]
    for share in shares:
        holdings.append(holdings[-1] * (1.0 - share))
    return holdings


@register("shortfall", tiers=(Tier.STRATEGIST,), spec=("ST-X3", "EX-3"))
class Shortfall(SlicedExecution[ShortfallParams]):
    """Slices along the Almgren-Chriss trajectory, ``kappa`` re-estimated at each slice."""

    Params = ShortfallParams
    algo = "shortfall"

    def on_start(self) -> None:
        super().on_start()
        self.returns: deque[tuple[float, float]] = deque(maxlen=self.params.volatility_window_s)
        self.grid_ns = -1
        self.grid_mid = 0.0
        self.arrival = 0.0

    @property
    def tau_s(self) -> float:
        return self.params.horizon_s / self.params.slices

    def volatility_bps(self) -> float:
        """The sigma in use: the parameter, the estimate, or the prior (module essay)."""
        p = self.params
        if p.volatility_bps is not None:
            return p.volatility_bps
        if len(self.returns) < p.volatility_min_samples:
            return p.volatility_prior_bps
        squares = sum(r * r for r, _ in self.returns)
        seconds = sum(dt for _, dt in self.returns)
        return math.sqrt(squares / seconds) * 1e4

    def kappa(self) -> float:
        p = self.params
        return ac_kappa(
            p.risk_aversion, self.volatility_bps(), p.impact_bps, self.arrival, self.tau_s
        )

    def plan(self) -> None:
        mid = self.ctx.market.mid(self.inst)
        self.arrival = float(mid) if mid is not None else 0.0
        self.grid_ns, self.grid_mid = self.start_ns, self.arrival
        kappa = self.kappa()
        holdings = ac_holdings(kappa, self.params.horizon_s, self.params.slices)
        self.ctx.log.info(
            "shortfall_trajectory", strategy_id=self.id, parent_id=self.parent_id,
            kappa=round(kappa, 8), volatility_bps=round(self.volatility_bps(), 6),
            holdings=[round(x, 6) for x in holdings],
        )  # fmt: skip

    def observe(self) -> None:
        now = self.ctx.clock.now_ns()
        if now < self.grid_ns + _NS:
            return
        mid = self.ctx.market.mid(self.inst)
        if mid is None or self.grid_mid <= 0:
            return
        steps = (now - self.grid_ns) // _NS
        value = float(mid)
        self.returns.append((math.log(value / self.grid_mid), float(steps)))
        self.grid_ns += steps * _NS
        self.grid_mid = value

    def share(self, k: int) -> float:
        kappa = self.kappa()
        share = remaining_share(kappa, (self.params.slices - k) * self.tau_s, self.tau_s)
        self.ctx.log.info(
            "shortfall_slice", strategy_id=self.id, parent_id=self.parent_id, slice=k,
            kappa=round(kappa, 8), volatility_bps=round(self.volatility_bps(), 6),
            share=round(share, 6),
        )  # fmt: skip
        return share

    def plan_state(self) -> dict[str, Any]:
        return {
            "returns": [list(r) for r in self.returns],
            "grid_ns": self.grid_ns,
            "grid_mid": self.grid_mid,
            "arrival": self.arrival,
        }

    def load_plan(self, state: dict[str, Any]) -> None:
        self.returns.extend((float(r), float(dt)) for r, dt in state.get("returns", []))
        self.grid_ns = int(state.get("grid_ns", -1))
        self.grid_mid = float(state.get("grid_mid", 0.0))
        self.arrival = float(state.get("arrival", 0.0))
