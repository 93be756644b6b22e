"""Triangular arbitrage (SPEC AN-2): the venue graph, the depth walk, the incremental
scanner against brute force on real recordings, and ``analyze triangles``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from genesis.__main__ import main
from genesis.analytics.triangles import (
    BookReplay,
    TriangleScanner,
    VenueGraph,
    evaluate_cycle,
    graph_from_symbols,
    load_exchange_info,
    read_book_events,
    replay,
    scan_all,
)
from genesis.core.enums import Side
from genesis.data.book import OrderBook
from genesis.errors import ConfigError
from genesis.resources import EXCHANGE_INFO, SPOT_CAPTURE

GEMINI = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "gemini-l2-btcusd-ethusd-ethbtc-2021-04-17.txt.gz"
)


@pytest.fixture(scope="module")
def binance() -> VenueGraph:
    return load_exchange_info(EXCHANGE_INFO)


@pytest.fixture(scope="module")
def gemini_events() -> list:
    kind, events = read_book_events(GEMINI)
    assert kind == "gemini"
    return events


@pytest.fixture(scope="module")
def gemini(gemini_events: list) -> VenueGraph:
    return graph_from_symbols(sorted({e.instrument_id for e in gemini_events}))


def _book(symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    book = OrderBook(symbol)
    book.apply_snapshot(
        [(Decimal(p), Decimal(q)) for p, q in bids], [(Decimal(p), Decimal(q)) for p, q in asks]
    )
    return book


# --- the graph ---------------------------------------------------------------------


def test_binance_graph_counts(binance: VenueGraph) -> None:
    """The 2021-10-12 exchangeInfo: 1,262 TRADING symbols, 385 assets, 1,982 triangles, 3,964 cycles."""
    counts = (len(binance.pairs), len(binance.assets), len(binance.triangles), len(binance.cycles))
    assert counts == (1262, 385, 1982, 3964)


def test_every_cycle_chains_its_legs(binance: VenueGraph) -> None:
    """Each leg starts where the previous ended, on a symbol joining exactly those assets."""
    for cycle in binance.cycles:
        assets = cycle.assets
        for k, leg in enumerate(cycle.legs):
            pair = binance.pairs[leg.symbol]
            assert (leg.source, leg.target) == (assets[k], assets[(k + 1) % 3])
            assert (pair.quote, pair.base) == (
                (leg.source, leg.target) if leg.buy else (leg.target, leg.source)
            )


def test_each_triangle_gives_both_directions_once(binance: VenueGraph) -> None:
    """Two directed cycles per triangle, starting at the smallest asset, none repeated."""
    keys = {cycle.assets for cycle in binance.cycles}
    assert len(keys) == len(binance.cycles) == 2 * len(binance.triangles)
    assert all(cycle.start == min(cycle.assets) for cycle in binance.cycles)


def test_cycles_through_a_symbol(binance: VenueGraph) -> None:
    """BTCUSDT is in 512 directed cycles; NKNUSDT, a capture symbol, in 2 (NKN/BTC/USDT)."""
    assert len(binance.cycles_through("BTCUSDT")) == 512
    assert [str(binance.cycles[i]) for i in binance.cycles_through("NKNUSDT")] == [
        "BTC->NKN->USDT->BTC",
        "BTC->USDT->NKN->BTC",
    ]


def test_gemini_symbols_make_one_triangle(gemini: VenueGraph) -> None:
    """The recording's 10 symbols split at the quote suffix; only BTC/ETH/USD is a triangle."""
    assert (gemini.pairs["ETHBTC"].base, gemini.pairs["ETHBTC"].quote) == ("ETH", "BTC")
    assert gemini.triangles == (("BTC", "ETH", "USD"),)
    assert [str(c) for c in gemini.cycles] == ["BTC->ETH->USD->BTC", "BTC->USD->ETH->BTC"]


def test_two_symbols_for_one_pair_are_refused() -> None:
    """Two symbols joining the same assets would make cycles ambiguous."""
    with pytest.raises(ConfigError, match="both join"):
        graph_from_symbols(["BTCUSD", "BTCGUSD", "GUSDUSD", "USDBTC"])


# --- sizing by depth (hand-made books, fee 0 unless stated) -------------------------


def _triangle() -> VenueGraph:
    # BTC->ETH->USD->BTC: buy ETH with BTC (ETHBTC asks), sell ETH (ETHUSD bids), buy BTC (BTCUSD asks)
    return graph_from_symbols(["BTCUSD", "ETHUSD", "ETHBTC"])


def test_size_stops_where_the_marginal_rate_falls_below_one() -> None:
    """Top rate 20 * 110 / 2000 = 1.1; the 4 ETH at 110 run out at 0.2 BTC, then 20 * 90 / 2000 < 1."""
    cycle = _triangle().cycles[0]
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "10"), ("0.06", "10")]),
        "ETHUSD": _book("ETHUSD", [("110", "4"), ("90", "100")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1"), ("2500", "10")]),
    }
    found = evaluate_cycle(cycle, books, fee_bps=0)
    assert found is not None
    assert (found.rate, found.start_amount, found.end_amount) == pytest.approx(
        (1.1, 0.2, 0.22), rel=1e-12
    )
    assert found.profit == pytest.approx(0.02, rel=1e-12)
    assert found.profit_rate == pytest.approx(0.1, rel=1e-12)
    assert not found.depth_limited


def test_size_follows_the_bottleneck_across_legs() -> None:
    """Legs 1 and 2 run out together at 0.2 BTC; then leg 3's 1,560 USD left buy 0.78 BTC at rate 1.0286."""
    cycle = _triangle().cycles[0]
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "4"), ("0.0525", "100")]),
        "ETHUSD": _book("ETHUSD", [("110", "4"), ("108", "100")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1"), ("2500", "10")]),
    }
    found = evaluate_cycle(cycle, books, fee_bps=0)
    assert found is not None
    # start: 0.2 + 1560 USD / (108 USD/ETH / 0.0525 BTC/ETH) = 0.2 + 0.758333... BTC
    assert found.start_amount == pytest.approx(0.2 + 1560 * 0.0525 / 108, rel=1e-12)
    assert found.end_amount == pytest.approx(0.22 + 0.78, rel=1e-12)


def test_size_is_limited_by_visible_depth() -> None:
    """Forty profitable ETHBTC asks at 0.0500..0.0539 (1 ETH each) all fill: 2.078 BTC in, 2.2 BTC out."""
    cycle = _triangle().cycles[0]
    asks = [(f"{Decimal('0.05') + Decimal('0.0001') * i}", "1") for i in range(40)]
    books = {
        "ETHBTC": _book("ETHBTC", [], asks),
        "ETHUSD": _book("ETHUSD", [("110", "1000")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1000")]),
    }
    found = evaluate_cycle(cycle, books, fee_bps=0)
    assert found is not None
    assert (found.start_amount, found.end_amount) == pytest.approx((2.078, 2.2), rel=1e-12)
    assert found.depth_limited


def test_fee_applies_to_every_leg() -> None:
    """At 100 bps a leg the top rate is 1.1 * 0.99^3; the 4 ETH at 110 now take 4 / (20 * 0.99) BTC.

    Fees come off what each leg receives: 4 ETH -> 4 * 110 * 0.99 USD -> that / 2000 * 0.99 BTC.
    """
    cycle = _triangle().cycles[0]
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "10")]),
        "ETHUSD": _book("ETHUSD", [("110", "4"), ("90", "100")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1")]),
    }
    found = evaluate_cycle(cycle, books, fee_bps=100)
    assert found is not None
    assert (found.rate, found.start_amount, found.end_amount) == pytest.approx(
        (1.1 * 0.99**3, 4 / (20 * 0.99), 4 * 110 * 0.99 / 2000 * 0.99), rel=1e-12
    )


def test_threshold_stops_the_walk_earlier() -> None:
    """With a 600 bps threshold the second ETHUSD level (rate 1.05) no longer counts: 0.2 BTC, not 0.5."""
    cycle = _triangle().cycles[0]
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "10")]),
        "ETHUSD": _book("ETHUSD", [("110", "4"), ("105", "100")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1"), ("2500", "10")]),
    }
    without = evaluate_cycle(cycle, books, fee_bps=0)
    with_threshold = evaluate_cycle(cycle, books, fee_bps=0, threshold_bps=600)
    assert without is not None
    assert with_threshold is not None
    assert (without.start_amount, without.end_amount) == pytest.approx((0.5, 0.535), rel=1e-12)
    assert (with_threshold.start_amount, with_threshold.end_amount) == pytest.approx(
        (0.2, 0.22), rel=1e-12
    )


def test_scanner_resizes_when_depth_below_the_top_changes() -> None:
    """A new ETHUSD bid at 105 under the top changes no rate but grows the size from 0.2 to 0.5 BTC."""
    graph = _triangle()
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "10"), ("0.06", "10")]),
        "ETHUSD": _book("ETHUSD", [("110", "4"), ("90", "100")], []),
        "BTCUSD": _book("BTCUSD", [], [("2000", "1"), ("2500", "10")]),
    }
    scanner = TriangleScanner(graph, fee_bps=0)
    for symbol, book in books.items():
        scanner.update(symbol, book)
    before = scanner.opportunities[0]
    books["ETHUSD"].update(Side.BUY, Decimal("105"), Decimal("100"))
    scanner.update("ETHUSD", books["ETHUSD"])
    after = scanner.opportunities[0]
    assert (before.start_amount, after.start_amount, after.end_amount) == pytest.approx(
        (0.2, 0.5, 0.535), rel=1e-12
    )
    assert dict(scanner.opportunities) == scan_all(graph, books, fee_bps=0)


def test_cycle_without_a_book_is_no_opportunity() -> None:
    """A missing leg book (or an empty side) means the cycle is not evaluated."""
    cycle = _triangle().cycles[0]
    books = {
        "ETHBTC": _book("ETHBTC", [], [("0.05", "10")]),
        "ETHUSD": _book("ETHUSD", [("110", "4")], []),
    }
    assert evaluate_cycle(cycle, books, fee_bps=0) is None
    books["BTCUSD"] = _book("BTCUSD", [("1", "1")], [])
    assert evaluate_cycle(cycle, books, fee_bps=0) is None


@pytest.mark.parametrize(
    ("fee_bps", "threshold_bps"), [(-1, 0), (10_000, 0), (10, -10_000), (float("nan"), 0)]
)
def test_out_of_range_options_are_refused(fee_bps: float, threshold_bps: float) -> None:
    """A fee outside [0, 10000) bps or a threshold <= -100% is a ValueError."""
    with pytest.raises(ValueError, match="invalid"):
        TriangleScanner(_triangle(), fee_bps=fee_bps, threshold_bps=threshold_bps)


# --- incremental == brute force on real recordings ---------------------------------


def _check_replay(graph: VenueGraph, events: list, fee_bps: float, threshold_bps: float) -> int:
    """Replay; after every update compare with brute force; return updates with an opportunity."""
    scanner = TriangleScanner(graph, fee_bps=fee_bps, threshold_bps=threshold_bps)
    books = BookReplay()
    with_opportunity = 0
    for event in events:
        scanner.update(event.instrument_id, books.apply(event))
        expected = scan_all(graph, books.books, fee_bps=fee_bps, threshold_bps=threshold_bps)
        assert dict(scanner.opportunities) == expected, event
        with_opportunity += bool(expected)
    return with_opportunity


def test_binance_capture_incremental_equals_brute_force(binance: VenueGraph) -> None:
    """All 181 book updates of the spot capture on the full graph: none of its four books shares a cycle."""
    _, events = read_book_events(SPOT_CAPTURE)
    assert len(events) == 181
    assert _check_replay(binance, events, fee_bps=10, threshold_bps=0) == 0


@pytest.mark.parametrize(
    ("fee_bps", "threshold_bps", "updates_with_opportunity"),
    [(10, 0, 0), (0, 0, 12), (10, -35, 539), (0, -5, 539), (10, -40, 919), (10, -100, 929)],
)
def test_gemini_incremental_equals_brute_force(
    gemini: VenueGraph,
    gemini_events: list,
    fee_bps: float,
    threshold_bps: float,
    updates_with_opportunity: int,
) -> None:
    """Gemini's complete BTC/ETH/USD triangle: after every one of 935 updates, the same sized opportunities."""
    assert len(gemini_events) == 935
    assert _check_replay(gemini, gemini_events, fee_bps, threshold_bps) == updates_with_opportunity


def test_invalid_book_removes_its_opportunities(gemini: VenueGraph, gemini_events: list) -> None:
    """A leg whose book becomes invalid (None) takes every opportunity through it away."""
    scanner = TriangleScanner(gemini, fee_bps=10, threshold_bps=-100)
    books = BookReplay()
    for event in gemini_events:
        scanner.update(event.instrument_id, books.apply(event))
    assert len(scanner.opportunities) == 2
    scanner.update("ETHBTC", None)
    assert dict(scanner.opportunities) == {}


def test_gemini_replay_report_at_zero_fee(gemini: VenueGraph, gemini_events: list) -> None:
    """Without fees BTC->USD->ETH->BTC beats 1 after 12 updates, at best by 0.16 bp, for 0.00039 BTC."""
    report = replay(TriangleScanner(gemini, fee_bps=0), gemini_events)
    assert (report.updates, report.updates_with_opportunity, len(report.evaluated_cycles)) == (
        935,
        12,
        2,
    )
    assert report.best_rate == pytest.approx(1.0000159885982902, rel=1e-12)
    [record] = report.cycles.values()
    assert (str(record.cycle), record.updates) == ("BTC->USD->ETH->BTC", 12)
    assert record.best.start_amount == pytest.approx(0.00038974267856087594, rel=1e-9)


# --- the command line ----------------------------------------------------------------


def _json_run(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["analyze", "triangles", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_binance_graph_and_capture(capsys: pytest.CaptureFixture[str]) -> None:
    """--json on the bundled files: the graph's counts and the capture's 181 updates, no opportunity."""
    result = _json_run(capsys, "--exchange-info", str(EXCHANGE_INFO), "--data", str(SPOT_CAPTURE))
    assert {k: result[k] for k in ("symbols", "assets", "triangles", "directed_cycles")} == {
        "symbols": 1262, "assets": 385, "triangles": 1982, "directed_cycles": 3964,
    }  # fmt: skip
    assert (result["data_format"], result["updates"], result["data_symbols_in_graph"]) == (
        "binance-capture",
        181,
        4,
    )
    assert (
        result["evaluated_cycles"],
        result["updates_with_opportunity"],
        result["best_rate"],
    ) == (0, 0, None)


def test_cli_gemini_recording_brings_its_graph(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --exchange-info a Gemini recording's symbols make the graph; fee 0 finds one cycle."""
    result = _json_run(capsys, "--data", str(GEMINI), "--fee-bps", "0")
    assert (result["symbols"], result["triangles"], result["directed_cycles"]) == (10, 1, 2)
    assert (result["updates"], result["updates_with_opportunity"]) == (935, 12)
    assert [o["cycle"] for o in result["opportunities"]] == ["BTC->USD->ETH->BTC"]
    assert result["best_rate"] == pytest.approx(1.0000159885982902, rel=1e-12)


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the graph prints as a table with thousands separators."""
    assert main(["analyze", "triangles", "--exchange-info", str(EXCHANGE_INFO)]) == 0
    out = capsys.readouterr().out
    rows = {line[:34].strip(): line[34:].strip() for line in out.splitlines()}
    assert (rows["currency triangles"], rows["directed cycles"]) == ("1,982", "3,964")


def test_cli_table_lists_opportunities(capsys: pytest.CaptureFixture[str]) -> None:
    """The table lists each cycle that was an opportunity with its best size and profit rate."""
    assert main(["analyze", "triangles", "--data", str(GEMINI), "--fee-bps", "0"]) == 0
    assert "BTC->USD->ETH->BTC" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "invalid JSON"),
        ('{"rateLimits": []}', "no `symbols` list"),
    ],
)
def test_cli_bad_exchange_info_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    """A missing, non-JSON or non-exchangeInfo file is a ConfigError: one line on stderr, exit 2."""
    path = tmp_path / "info.json"
    if content is not None:
        path.write_text(content)
    assert main(["analyze", "triangles", "--exchange-info", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_cli_needs_a_graph(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --exchange-info nor a Gemini recording: exit 2 naming the option."""
    assert main(["analyze", "triangles", "--data", str(SPOT_CAPTURE)]) == 2
    assert "--exchange-info" in capsys.readouterr().err


def test_unknown_recording_format_is_a_config_error(tmp_path: Path) -> None:
    """A data file that is none of the known recordings is refused before any replay."""
    path = tmp_path / "x.txt"
    path.write_text("hello world\n")
    with pytest.raises(ConfigError, match="no known recording"):
        read_book_events(path)
