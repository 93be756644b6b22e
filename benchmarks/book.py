"""Replay real Binance depth diffs through BookSync and print one JSON line.

Events: the 2021 spot capture (NKNUSDT, BLZETH, LRCBTC, RUNEEUR) and the
2024 BTCUSDT stream recording, parsed once before timing. Each repetition
replays every snapshot and diff, in arrival order, into fresh ``BookSync``
objects; the best of ``--repeat`` runs is reported.

Output keys: ``depth_updates_per_s`` (diffs per second), ``levels_per_s``
(price levels inside those diffs per second), ``diffs``, ``levels``,
``us_per_diff``, ``repeat``, ``python``.

Usage: ``python benchmarks/book.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from genesis.core.events import BookDelta, BookSnapshot  # noqa: E402 (after the path fix)
from genesis.data.book import BookSync  # noqa: E402
from genesis.data.capture import read_binance_streams, read_spot_capture  # noqa: E402
from genesis.resources import SPOT_CAPTURE  # noqa: E402

STREAMS = ROOT / "tests" / "data" / "binance-spot-btcusdt-streams-2024-08-08.txt.gz"


def load_events() -> list[BookSnapshot | BookDelta]:
    """All book events of both recordings, in arrival order per file."""
    events = [*read_spot_capture(SPOT_CAPTURE), *read_binance_streams(STREAMS)]
    return [e for e in events if isinstance(e, BookSnapshot | BookDelta)]


def replay_s(events: list[BookSnapshot | BookDelta]) -> float:
    """Seconds to replay ``events`` into fresh syncs; asserts the replay had no gap."""
    syncs: dict[str, BookSync] = {e.instrument_id: BookSync(e.instrument_id) for e in events}
    start = time.perf_counter()
    for event in events:
        syncs[event.instrument_id].apply(event)
    elapsed = time.perf_counter() - start
    assert all(s.statistics().gaps == 0 and s.valid for s in syncs.values())
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    events = load_events()
    diffs = [e for e in events if isinstance(e, BookDelta)]
    levels = sum(len(d.bids) + len(d.asks) for d in diffs)
    best = min(replay_s(events) for _ in range(args.repeat))
    print(
        json.dumps(
            {
                "depth_updates_per_s": round(len(diffs) / best),
                "levels_per_s": round(levels / best),
                "diffs": len(diffs),
                "levels": levels,
                "us_per_diff": round(best / len(diffs) * 1e6, 2),
                "repeat": args.repeat,
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
