"""The operator facade: mutations wait their turn in the trading loop, or are withdrawn."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genesis import resources
from genesis.api.errors import ApiError
from genesis.api.models import OrderRequest
from genesis.config.loader import load_strategy_configs
from genesis.core.instruments import load_exchange_info
from genesis.daemon.assemble import paper_daemon
from genesis.daemon.daemon import Daemon, DaemonConfig
from genesis.daemon.operator import Operator
from genesis.data.sources import DataSpec
from genesis.risk.limits import Tier

ROOT = Path(__file__).resolve().parents[3]


class _Log:
    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: None


def _daemon() -> Daemon:
    strategies = tuple(load_strategy_configs(ROOT / "tests" / "data" / "strategies"))
    bars = DataSpec(path=resources.BTCUSDT_1M_BARS, venue="binance", symbol="BTCUSDT")
    config = DaemonConfig(
        tier=Tier.SNIPER, strategies=strategies, data=(bars,),
        instruments=load_exchange_info(resources.EXCHANGE_INFO), cash=Decimal(1000),
    )  # fmt: skip
    return paper_daemon(config, None, None, log=_Log())


async def test_a_request_the_loop_never_takes_is_withdrawn_and_never_runs() -> None:
    """No trading loop: 503 daemon_busy after the timeout, and running the lane later is a no-op."""
    daemon = _daemon()
    operator = Operator(daemon, timeout_s=0.01)
    with pytest.raises(ApiError) as refused:
        await operator.enable("sniper-breakout-btc", False, "drill")
    assert (refused.value.status, refused.value.code) == (503, "daemon_busy")
    assert len(daemon.operator_lane) == 1
    await daemon.operator_lane.popleft()()  # the loop reaches it late
    assert daemon.kernel.guard.disabled == {}


async def test_a_kill_the_loop_does_not_take_in_time_stays_queued() -> None:
    """A kill is durable: after the timeout it is 'pending', and the loop still applies it."""
    daemon = _daemon()
    operator = Operator(daemon, timeout_s=0.01)
    with pytest.raises(ApiError) as pending:
        await operator.kill("global", "drill")
    assert (pending.value.status, pending.value.code) == (503, "pending")
    await daemon.operator_lane.popleft()()  # the loop reaches it late
    assert daemon.kernel.risk.switch.reason == "drill"


async def test_a_venue_kill_refuses_only_new_exposure_on_that_venue() -> None:
    """kill binance: an entry is refused with KILL_SWITCH naming the venue; reset: approved."""
    daemon = _daemon()
    operator = Operator(daemon)
    order = OrderRequest(instrument_id="BTCUSDT", side="BUY", quantity=Decimal("0.0004"),
                         price=Decimal(30000), confidence=0.9, stop_loss=Decimal(29000))  # fmt: skip
    daemon.kernel.portfolio.mark("BTCUSDT", Decimal(46000))
    before = operator.validate(order)
    daemon.driver.send(daemon.kernel.kill_venue("binance", "drill"))
    during = operator.validate(order)
    daemon.kernel.venue_kills.clear()
    after = operator.validate(order)
    assert before["verdict"] == after["verdict"] == "APPROVED", before
    assert (during["verdict"], during["code"]) == ("REFUSED", "KILL_SWITCH")
    assert during["detail"] == "new orders on binance are blocked: drill"


async def test_without_a_token_the_api_does_not_start_and_says_so_once() -> None:
    """serve_api with no GENESIS_API_TOKEN: returns at once, one api_disabled line."""
    from genesis.api.server import serve_api

    lines: list[str] = []

    class _Lines:
        def __getattr__(self, level: str) -> Any:
            return lambda event, **fields: lines.append(event)

    daemon = _daemon()
    daemon.log = _Lines()
    await serve_api(daemon)
    assert lines == ["api_disabled"]
