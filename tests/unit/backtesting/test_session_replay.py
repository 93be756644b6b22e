"""The pieces of a session replay: journaled settings, the session log, detection, export rows."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from genesis import resources
from genesis.__main__ import main
from genesis.backtesting.session import is_session_log
from genesis.config.models import StrategyConfig
from genesis.core.enums import LiquiditySide, Side
from genesis.core.events import OrderFilled, TradeTick
from genesis.core.instruments import Instrument, load_exchange_info
from genesis.daemon.daemon import DaemonConfig
from genesis.daemon.journal_export import fill_from
from genesis.daemon.market import MarketSource
from genesis.daemon.records import event_record
from genesis.daemon.session_record import paper_config, paper_detail
from genesis.data.session_log import SessionLog, read_session_log
from genesis.data.sources import DataSpec, open_sources
from genesis.errors import ConfigError
from genesis.risk.config import load_risk_config
from genesis.risk.limits import Tier
from genesis.storage.factory import open_repository

ROOT = Path(__file__).resolve().parents[3]
D = Decimal


def _config() -> DaemonConfig:
    table = load_exchange_info(resources.EXCHANGE_INFO)
    inferred = Instrument(
        symbol="BTCUSD", base="BTC", quote="USD", tick_size=D("0.1"), step_size=D("0.001"),
        venue="bybit", source="inferred",
    )  # fmt: skip
    strategies = (  # not in id order: the kernel's order is the daemon's
        StrategyConfig(id="z-breakout", strategy="momentum_breakout", tier=Tier.SNIPER,
                       instruments=("BTCUSDT",)),
        StrategyConfig(id="a-sma", strategy="sma_cross", tier=Tier.SNIPER,
                       instruments=("bybit:BTCUSD",), params={"fast": 5, "slow": 20}),
    )  # fmt: skip
    return DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, instruments=table.merged([inferred]),
        cash=D("2000.50"), fee_bps=D("7.5"), venue_fee_bps={"bybit": D("2")},
        max_daily_loss_pct=D("0.03"), risk=load_risk_config(ROOT / "config" / "risk.yaml"),
    )  # fmt: skip


def test_paper_settings_read_back_exactly() -> None:
    """What session_started journals rebuilds the same config: order, money, risk, instruments."""
    config = _config()

    back = paper_config({"configs": {c.id: c.model_dump(mode="json") for c in config.strategies},
                         "paper": paper_detail(config)}, "genesis.db")  # fmt: skip

    assert back.strategies == config.strategies
    assert (back.tier, back.cash, back.fee_bps) == (Tier.SNIPER, D("2000.50"), D("7.5"))
    assert back.venue_fee_bps == {"bybit": D("2")}
    assert back.max_daily_loss_pct == D("0.03")
    assert back.risk == config.risk
    assert back.instrument_ids == ("BTCUSDT", "bybit:BTCUSD")
    assert back.instruments.get("bybit:BTCUSD") == config.instruments.get("bybit:BTCUSD")
    assert back.instruments.get("BTCUSDT") == config.instruments.get("BTCUSDT")


def test_a_journal_without_paper_settings_is_refused_by_name() -> None:
    """An older (or live) session_started row: a ConfigError that says what is missing."""
    with pytest.raises(ConfigError, match=r"^j\.db: the session_started row has no paper"):
        paper_config({"configs": {}}, "j.db")


def _tick(n: int) -> TradeTick:
    return TradeTick(
        ts_event=n, ts_init=n, instrument_id="BTCUSDT", price=D("60000.5") + n,
        size=D("0.01"), aggressor_side=Side.BUY, trade_id=str(n),
    )  # fmt: skip


def test_session_log_counts_its_lines_and_cuts_a_torn_tail(tmp_path: Path) -> None:
    """Reopened after a crash: the torn last line is gone, the complete ones are counted."""
    path = tmp_path / "session-BTCUSDT.jsonl"
    log = SessionLog(path)
    for n in (1, 2, 3):
        log.append(_tick(n))
    log.close()
    with path.open("ab") as handle:
        handle.write(b'{"type": "TradeTick", "ev')

    again = SessionLog(path)
    again.close()

    assert again.lines == 3
    assert list(read_session_log(path)) == [_tick(1), _tick(2), _tick(3)]


def test_is_session_log_tells_it_from_recordings(tmp_path: Path) -> None:
    """Only a file whose first line is a logged event is a session log."""
    path = tmp_path / "any-name.jsonl"
    log = SessionLog(path)
    log.append(_tick(1))
    log.close()
    (tmp_path / "empty.jsonl").write_bytes(b"")

    assert is_session_log(path)
    assert not is_session_log(tmp_path / "empty.jsonl")
    assert not is_session_log(resources.SPOT_CAPTURE)
    assert not is_session_log(resources.BTCUSDT_1M_BARS)
    assert not is_session_log(tmp_path / "missing.jsonl")


async def _consume(source: MarketSource, skip: int) -> int:
    n = 0
    async for _ in source.events(skip):
        n += 1
    source.close()
    return n


def _source(path: Path, max_events: int) -> MarketSource:
    spec = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    return MarketSource(recording=(spec,), instrument_ids=("BTCUSDT",), session_path=path,
                        log=None, speed=0.0, max_events=max_events)  # fmt: skip


async def test_a_recording_session_writes_its_log_and_a_restart_appends_only_new_events(
    tmp_path: Path,
) -> None:
    """5 events, a restart that had processed 3 of them, on to 8: the log is the first 8."""
    path = tmp_path / "session-BTCUSDT.jsonl"
    spec = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")

    first = await _consume(_source(path, 5), 0)
    resumed = await _consume(_source(path, 8), 3)

    expected = [e for _, e in zip(range(8), open_sources((spec,)), strict=False)]
    assert (first, resumed) == (5, 5)
    assert list(read_session_log(path)) == expected


def test_an_export_row_gives_back_the_fill() -> None:
    """fill_from reads an OrderFilled journal row into the same fill (its time as ts_init)."""
    fill = OrderFilled(
        ts_event=1_723_161_451_930_538_417, ts_init=1_723_161_451_930_538_417,
        client_order_id="imbalance-btc-1-1", strategy_id="imbalance-btc",
        instrument_id="BTCUSDT", venue="PAPER", trade_id="SIM-7", side=Side.SELL,
        last_qty=D("0.00310"), last_px=D("60123.45"), fee=D("0.186382695"),
        fee_currency="USDT", liquidity=LiquiditySide.MAKER, venue_order_id="SIM-3",
    )  # fmt: skip

    assert fill_from(event_record(fill)) == fill


def test_backtest_of_a_session_log_needs_its_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No genesis.db beside the log: exit 2, one line naming the file and --journal."""
    log = SessionLog(tmp_path / "session-BTCUSDT.jsonl")
    log.append(_tick(1))
    log.close()

    code = main(["backtest", "--data", str(log.path), "--out", str(tmp_path / "out")])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path / 'genesis.db'} does not exist; pass --journal FILE" in err
    assert not (tmp_path / "out").exists()


def test_backtest_of_a_session_log_refuses_its_own_strategy_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--strategy/--param with a session log: refused, the session's own are replayed."""
    log = SessionLog(tmp_path / "session-BTCUSDT.jsonl")
    log.append(_tick(1))
    log.close()

    code = main(["backtest", "--data", str(log.path), "--strategy", "sma_cross",
                 "--param", "fast=5"])  # fmt: skip

    assert code == 2
    assert "drop --strategy, --param" in capsys.readouterr().err


def test_backtest_without_a_strategy_says_it_is_required(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bars file and no --strategy: exit 2 with the rule."""
    code = main(["backtest", "--data", str(resources.BTCUSDT_1M_BARS)])

    assert code == 2
    assert "--strategy is required (except with a session log as --data)" in (
        capsys.readouterr().err
    )


async def _journal(db: Path, detail: dict[str, object], *actions: str) -> None:
    repo = await open_repository(None, db.parent)
    try:
        await repo.append_audit(1, "daemon", "session_started", json.dumps(detail))
        for n, action in enumerate(actions, 2):
            await repo.append_audit(n, "api", action, json.dumps({"event_index": 1}))
    finally:
        await repo.close()


def test_a_session_with_control_api_orders_replays_and_says_what_it_cannot_repeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An api_order row: the replay runs the journaled session (exit 0, its files written)
    and says on stderr that the operator's order is not repeated."""
    config = _config()
    strategies = config.strategies[:1]
    detail = {"mode": "paper", "configs": {c.id: c.model_dump(mode="json") for c in strategies},
              "paper": {**paper_detail(config), "strategies": [strategies[0].id]}}  # fmt: skip
    asyncio.run(_journal(tmp_path / "genesis.db", detail, "api_order"))
    log = SessionLog(tmp_path / "session-BTCUSDT.jsonl")
    for n in (1, 2, 3):
        log.append(_tick(n))
    log.close()

    code = main(["backtest", "--data", str(log.path), "--out", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert code == 0
    assert "api_order rows, an operator action a replay cannot repeat" in err
    assert "strategies    z-breakout\n" in out
    assert "tier sniper, cash 2000.50, fee 7.5 bps" in out
    assert (tmp_path / "out" / "orders.csv").read_text().startswith("time,instrument,")
    assert (tmp_path / "out" / "fills.csv").read_text().startswith("time,venue,")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["final_equity"] == "2000.50"
    assert (tmp_path / "out" / "equity.csv").read_text().splitlines()[1:] == [
        "1970-01-01 00:00:01,2000.50"  # the grid point after the last event (ts 3 ns)
    ]


def test_a_live_journal_is_not_replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A live session's journal: exit 2, the venue's fills are not the simulator's."""
    asyncio.run(_journal(tmp_path / "genesis.db", {"mode": "live", "configs": {}}))
    log = SessionLog(tmp_path / "live-session-BTCUSDT.jsonl")
    log.append(_tick(1))
    log.close()

    code = main(["backtest", "--data", str(log.path), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "a live session; only a paper session's fills" in capsys.readouterr().err


def test_journal_export_without_a_journal_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No genesis.db in the data directory: exit 2 naming it, and no empty journal is made."""
    monkeypatch.setenv("GENESIS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GENESIS_DATABASE_URL", raising=False)

    code = main(["journal", "export", "--out", str(tmp_path / "out")])

    assert code == 2
    assert f"no journal at {tmp_path / 'genesis.db'}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
