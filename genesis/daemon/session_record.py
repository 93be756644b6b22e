"""What a paper session was started with, journaled so that its session log can be replayed.

The ``session_started`` audit row of a paper journal carries, beside the strategy
configs (``configs``) and the market data, a ``paper`` object: everything else
the session's kernel and simulated venues were built from.

* ``strategies``: the strategy ids in the order the daemon loaded them (the
  audit row's JSON sorts its keys, and the kernel's order decides which
  strategy acts first on an event);
* ``tier``, ``cash``, ``fee_bps``, ``venue_fee_bps``, ``max_daily_loss_pct``;
* ``risk``: the risk config's limits (``config/risk.yaml``), or null;
* ``instruments``: each traded instrument's increments and limits, as the
  session resolved them (a recording can bring an instrument the venue
  metadata lacks, with its tick size inferred from the data).

``paper_config`` reads it back into the ``DaemonConfig`` that
``daemon.assemble.paper_parts`` builds the same kernel and venues from. Decimals
are written as strings and read back exactly.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from genesis.config.models import StrategyConfig
from genesis.core.instruments import Instrument, InstrumentTable
from genesis.daemon.daemon import DaemonConfig
from genesis.errors import ConfigError
from genesis.risk.config import RiskConfig
from genesis.risk.limits import Tier

__all__ = ["paper_config", "paper_detail"]

# every field that is not text is a Decimal (or None); read off the field types by what
# they are not, because compiled (``genesis.native``) an optional Decimal's type reads
# back as ``type``, not as text naming Decimal
_DECIMAL_FIELDS = frozenset(
    f.name for f in dataclasses.fields(Instrument) if f.type not in (str, "str")
)


def paper_detail(config: DaemonConfig) -> dict[str, Any]:
    """The ``paper`` object of a paper session's ``session_started`` row (see above)."""
    return {
        "strategies": [c.id for c in config.strategies],
        "tier": config.tier.value,
        "cash": str(config.cash),
        "fee_bps": str(config.fee_bps),
        "venue_fee_bps": {v: str(b) for v, b in sorted(config.venue_fee_bps.items())},
        "max_daily_loss_pct": _text(config.max_daily_loss_pct),
        "risk": None if config.risk is None else config.risk.model_dump(mode="json"),
        "instruments": {
            iid: _instrument_fields(config.instruments.get(iid)) for iid in config.instrument_ids
        },
    }


def paper_config(detail: dict[str, Any], where: str) -> DaemonConfig:
    """The session's ``DaemonConfig`` from its ``session_started`` detail.

    Raises:
        ConfigError: a journal from before sessions recorded their settings, or a
            detail that does not read back (``where`` names the journal).
    """
    paper = detail.get("paper")
    if not isinstance(paper, dict):
        raise ConfigError(
            f"{where}: the session_started row has no paper settings (a session started by an"
            " older Genesis, or a live session); replay it with backtest's own options instead"
        )
    try:
        configs = detail["configs"]
        strategies = tuple(StrategyConfig.model_validate(configs[i]) for i in paper["strategies"])
        return DaemonConfig(
            tier=Tier(paper["tier"]),
            strategies=strategies,
            instruments=InstrumentTable(
                _instrument(fields) for fields in paper["instruments"].values()
            ),
            cash=Decimal(paper["cash"]),
            fee_bps=Decimal(paper["fee_bps"]),
            venue_fee_bps={v: Decimal(b) for v, b in paper["venue_fee_bps"].items()},
            max_daily_loss_pct=_decimal(paper["max_daily_loss_pct"]),
            risk=None if paper["risk"] is None else RiskConfig.model_validate(paper["risk"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ConfigError(
            f"{where}: the session's paper settings do not read back ({type(exc).__name__}: {exc})"
        ) from None


def _instrument_fields(inst: Instrument) -> dict[str, Any]:
    """The instrument's fields as text; a spot instrument's ``margin_rate`` (None) is left
    out, so a crypto session's row reads as it did before margin existed."""
    return {
        f.name: _text(getattr(inst, f.name)) if f.name in _DECIMAL_FIELDS else getattr(inst, f.name)
        for f in dataclasses.fields(inst)
        if not (f.name == "margin_rate" and inst.margin_rate is None)
    }


def _instrument(fields: dict[str, Any]) -> Instrument:
    return Instrument(**{k: _decimal(v) if k in _DECIMAL_FIELDS else v for k, v in fields.items()})


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: Any) -> Any:
    return None if text is None else Decimal(str(text))
