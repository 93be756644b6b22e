"""The parameter search's pure parts: grid syntax, expansion, validation, ranking, cells."""

from __future__ import annotations

import pytest

from genesis.backtesting.optimize import (
    Axis,
    Row,
    check_names,
    check_objective,
    expand,
    format_value,
    parse_axis,
    rank,
    validate_points,
)
from genesis.errors import ConfigError
from genesis.strategies import registry

SMA = registry.get("sma_cross")


def test_integer_range_includes_its_end() -> None:
    """START..END:STEP counts from START by STEP up to and including END."""
    assert parse_axis("fast=5..20:5") == Axis("fast", ("5", "10", "15", "20"), "fast=5..20:5")


def test_integer_range_without_step_counts_by_one() -> None:
    """An integer range may leave out the step."""
    assert parse_axis("slow=3..6").values == ("3", "4", "5", "6")


def test_range_stops_at_the_last_step_below_the_end() -> None:
    """END is a bound, not a value to reach."""
    assert parse_axis("slow=20..65:10").values == ("20", "30", "40", "50", "60")


def test_decimal_range_is_exact_at_its_finest_precision() -> None:
    """Decimals are stepped exactly (no float drift) and written at one precision."""
    assert parse_axis("quantity=0.5..1:0.25").values == ("0.50", "0.75", "1.00")
    assert parse_axis("x=0.1..0.3:0.1").values == ("0.1", "0.2", "0.3")


def test_list_keeps_the_given_order_and_text() -> None:
    """NAME=V1,V2 gives those values as written, spaces trimmed."""
    assert parse_axis("mode= b, a ,c").values == ("b", "a", "c")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("fast", "expected NAME=START..END:STEP"),
        ("=5,10", "expected NAME=START..END:STEP"),
        ("9fast=5", "expected NAME=START..END:STEP"),
        ("fast=", "expected NAME=START..END:STEP"),
        ("fast=5..x", "bad range '5..x'"),
        ("fast=5..20:-5", "step must be > 0, was -5"),
        ("fast=5..20:0", "step must be > 0, was 0"),
        ("fast=20..5:5", "END 5 is below START 20"),
        ("q=0.5..1", "a decimal range needs a step"),
        ("fast=5,,10", "an empty value"),
        ("fast=5,10,5", "5 given more than once"),
        ("fast=1..1000000", "1,000,000 values, more than 100,000"),
    ],
)
def test_bad_grid_is_refused_with_the_reason(text: str, reason: str) -> None:
    """Every malformed axis names itself and what is wrong."""
    with pytest.raises(ConfigError, match="^--grid") as info:
        parse_axis(text)
    assert reason in str(info.value)


def test_expand_is_the_product_first_axis_slowest() -> None:
    """Points come in product order, each a dict of the axes' values."""
    points = expand([parse_axis("a=1,2"), parse_axis("b=x,y")])
    assert points == [
        {"a": "1", "b": "x"},
        {"a": "1", "b": "y"},
        {"a": "2", "b": "x"},
        {"a": "2", "b": "y"},
    ]


def test_expand_refuses_an_axis_given_twice() -> None:
    """The same parameter on two axes is a mistake, not a longer list."""
    with pytest.raises(ConfigError, match="--grid a: given more than once"):
        expand([parse_axis("a=1,2"), parse_axis("a=3")])


def test_expand_refuses_a_grid_too_large() -> None:
    """A product beyond 100,000 points is refused before anything runs."""
    with pytest.raises(ConfigError, match="1,000,000 points"):
        expand([parse_axis("a=1..1000"), parse_axis("b=1..1000")])


def test_unknown_parameter_names_the_strategy_parameters() -> None:
    """A typo in a grid axis lists the parameters the strategy has."""
    with pytest.raises(ConfigError, match="its parameters: fast, slow, quantity"):
        check_names(SMA, [parse_axis("fst=1,2")], {})


def test_parameter_on_grid_and_param_is_refused() -> None:
    """A name may be fixed or searched, not both."""
    with pytest.raises(ConfigError, match="--param fast: also a --grid axis"):
        check_names(SMA, [parse_axis("fast=1,2")], {"fast": "3"})


def test_unknown_objective_lists_the_known_ones() -> None:
    """The error names every metric the table can be ranked by."""
    with pytest.raises(ConfigError, match="expected one of total_return, annual_return, sharpe"):
        check_objective("sharp")


def test_points_the_model_rejects_become_invalid_rows() -> None:
    """sma_cross's fast < slow rule splits the grid; the reason is the model's."""
    points = expand([parse_axis("fast=10,30"), parse_axis("slow=20,30")])
    valid, invalid = validate_points(SMA, points, {"quantity": "1"})
    assert valid == [{"fast": "10", "slow": "20"}, {"fast": "10", "slow": "30"}]
    assert [(r.grid, r.status) for r in invalid] == [
        ({"fast": "30", "slow": "20"}, "invalid"),
        ({"fast": "30", "slow": "30"}, "invalid"),
    ]
    assert invalid[0].detail == "grid (model): Value error, fast (30) must be less than slow (20)"


def _ok(fast: str, sharpe: float | None, fees: str = "1") -> Row:
    return Row({"fast": fast}, "ok", "", {"sharpe": sharpe, "fees": fees})


def test_rank_best_first_ties_by_parameters_numerically() -> None:
    """Higher is better; equal objectives go by the parameter value as a number (5 < 10)."""
    axes = [parse_axis("fast=5,10,40")]
    rows = [_ok("40", 1.0), _ok("10", 2.0), _ok("5", 2.0)]
    assert [r.grid["fast"] for r in rank(rows, "sharpe", axes)] == ["5", "10", "40"]


def test_rank_puts_missing_values_then_errors_then_invalid_last() -> None:
    """Rows without the objective, disabled strategies and invalid points follow the rest."""
    axes = [parse_axis("fast=1..6")]
    rows = [
        Row({"fast": "1"}, "invalid", "no"),
        Row({"fast": "2"}, "strategy_error", "boom", {"sharpe": 9.0}),
        _ok("3", None),
        _ok("4", -3.0),
        _ok("5", -1.0),
    ]
    assert [r.grid["fast"] for r in rank(rows, "sharpe", axes)] == ["5", "4", "3", "2", "1"]


def test_rank_lower_is_better_for_fees() -> None:
    """fees (a Decimal string) rank smallest first."""
    axes = [parse_axis("fast=1,2,3")]
    rows = [_ok("1", 0.0, "10.5"), _ok("2", 0.0, "9.75"), _ok("3", 0.0, "100")]
    assert [r.grid["fast"] for r in rank(rows, "fees", axes)] == ["2", "1", "3"]


def test_rank_ignores_the_order_rows_arrive_in() -> None:
    """Completion order differs between executors; the ranking does not."""
    axes = [parse_axis("fast=1..4")]
    rows = [_ok("1", 0.5), _ok("2", 0.5), _ok("3", None), _ok("4", 0.7)]
    assert rank(rows, "sharpe", axes) == rank(list(reversed(rows)), "sharpe", axes)


def test_cells_are_shortest_round_trip_floats_and_empty_for_none() -> None:
    """Floats as repr (numpy scalars as plain floats), None empty, the rest as text."""
    np = pytest.importorskip("numpy")
    assert format_value(0.1 + 0.2) == "0.30000000000000004"
    assert format_value(np.float64(-57.517413458641485)) == "-57.517413458641485"
    assert format_value(None) == ""
    assert format_value(945) == "945"


def test_progress_bar_counts_finished_runs() -> None:
    """The stderr bar shows the share of runs finished and clears its line when closed."""
    import io

    from genesis.backtesting.optimize_cli import _Progress

    out = io.StringIO()
    bar = _Progress(4, out)
    bar.update(2)
    bar.close()
    shown = out.getvalue().split("\r")
    assert shown[1].startswith("[" + "." * 30 + "] 0/4 runs")
    assert shown[2].startswith("[" + "#" * 15 + "." * 15 + "] 2/4 runs")
    assert shown[-1] == ""
