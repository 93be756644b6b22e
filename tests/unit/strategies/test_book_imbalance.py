"""book_imbalance sizes its entries by the book's liquidity (AN-4) on the real BTCUSDT streams.

Data: the bundled 2024-08-08 Binance spot BTCUSDT recording (depth diffs, bookTicker,
trades, a REST snapshot). With 10 million USDT and the whole equity as the target
size (~170 BTC), the asks within a budget decide how much each entry may buy.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from genesis import resources
from genesis.__main__ import main


def _first_entry(tmp_path: Path, budget_bps: str) -> tuple[str, Decimal]:
    """The first buy order's time and the quantity it filled (summed over its fills)."""
    out = tmp_path / budget_bps
    argv = ["backtest", "--strategy", "book_imbalance", "--cash", "10000000",
            "--data", f"BTCUSDT={resources.BTCUSDT_STREAMS}", "--param", "position_pct=1",
            "--param", f"max_slippage_bps={budget_bps}", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    with (out / "fills.csv").open(newline="") as fh:
        buys = [r for r in csv.DictReader(fh) if r["side"] == "BUY"]
    first = buys[0]["client_order_id"]
    filled = sum(
        (Decimal(r["quantity"]) for r in buys if r["client_order_id"] == first), Decimal(0)
    )
    return buys[0]["time"], filled


def test_a_tighter_slippage_budget_buys_less(tmp_path: Path) -> None:
    """The same first signal at 23:54:17.439: at 0 bps it buys only what the best ask holds
    (0.25339 BTC), at 1,000 bps 128.29068 BTC (below the ~170 BTC equity target: the
    asks within 10% of the touch in the recorded book, past its first 1,000 levels)."""
    touch, wide = _first_entry(tmp_path, "0"), _first_entry(tmp_path, "1000")

    assert touch == ("2024-08-08 23:54:17.439246", Decimal("0.25339"))
    assert wide == ("2024-08-08 23:54:17.439246", Decimal("128.29068"))
