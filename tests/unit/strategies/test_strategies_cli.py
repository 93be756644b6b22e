"""``python -m genesis strategies [--json]``: the registry as a user reads it."""

from __future__ import annotations

import json

import pytest

from genesis.__main__ import main


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["strategies", "--json"]) == 0
    parsed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return parsed


def test_every_tier_strategy_is_listed_with_its_spec_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_name = {s["name"]: s for s in _json(capsys)}

    assert {"momentum_breakout", "cross_venue_arbitrage", "mean_reversion", "pairs_trading",
            "multi_pair_portfolio", "sma_cross", "book_imbalance"} <= set(by_name)  # fmt: skip
    assert by_name["momentum_breakout"]["tiers"] == ["sniper"]
    assert by_name["momentum_breakout"]["spec"] == ["ST-S2", "ST-S3"]
    assert by_name["mean_reversion"]["tiers"] == ["hunter"]


def test_parameters_come_from_the_pydantic_model(capsys: pytest.CaptureFixture[str]) -> None:
    """Type, default and range as the model states them; factory defaults resolved."""
    by_name = {s["name"]: s for s in _json(capsys)}
    params = {p["name"]: p for p in by_name["momentum_breakout"]["params"]}  # type: ignore[union-attr]
    regime = {p["name"]: p for p in by_name["mean_reversion"]["params"]}["regime"]  # type: ignore[union-attr]

    assert params["max_risk_per_trade"] == {
        "name": "max_risk_per_trade", "type": "Decimal", "default": "0.02",
        "range": {"gt": 0, "le": "0.02"}, "description": "",
    }  # fmt: skip
    assert params["lookback"]["range"] == {"ge": 2, "le": 10_000}
    assert regime["default"]["adx_period"] == 14  # type: ignore[index]


def test_the_table_names_each_strategy_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    assert out.count("\nmomentum_breakout  (sniper)") + out.startswith("momentum_breakout") == 1
    assert "max_risk_per_trade" in out
