"""The control API on loopback: submit/cancel latency and the kill switch under load (R15).

Starts a paper daemon (``python -m genesis``) on the bundled month of real BTCUSDT
bars with the busy Sniper of tests/data/strategies, paced at ``--speed`` events/s
so the strategy keeps placing, filling and cancelling orders; the journal is
SQLite in a temporary directory. Over one keep-alive HTTP connection it then
submits ``--orders`` resting manual orders (accepted by risk), cancels each, and
engages the global kill switch, then submits once more.

Figures (one JSON line):

* ``submit_ms`` / ``cancel_ms``: p50/p95/p99 round trip on loopback, each answered
  after the order's intent is committed and the command carried to the venue;
* ``kill_switch_latency_ms``: measured in the daemon, from the kill request
  reaching its handler to the switch engaged in the kernel (the request row
  committed first): the figure R15 bounds (<= 10 ms);
* ``kill_switch_roundtrip_ms``: the same seen by the client;
* ``first_refusal_after_ms``: from sending the kill to the answer of the first
  order refused with KILL_SWITCH;
* ``rss_mb``: the daemon's resident memory at the end.

Usage: ``python benchmarks/api.py [--orders N] [--speed EVENTS_PER_S]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ROOT / "tests" / "data" / "strategies"
ORDER = {"instrument_id": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.0004",
         "price": "30000", "confidence": 0.9, "stop_loss": "29000"}  # fmt: skip


def _start(data_dir: Path, token: str, speed: float) -> tuple[subprocess.Popen[bytes], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(
        GENESIS_DATA_DIR=str(data_dir), GENESIS_MARKET_DATA="recording", GENESIS_API_TOKEN=token,
        GENESIS_API_PORT="0", GENESIS_NATIVE=os.environ.get("GENESIS_NATIVE", "1"),
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    out = data_dir / "stdout.log"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "genesis", "--tier", "sniper", "--strategies", str(STRATEGIES),
             "--speed", str(speed), "--status-interval-s", "0"],
            stdout=stdout, stderr=subprocess.DEVNULL, cwd=data_dir, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in out.read_text().splitlines():
            if '"api_listening"' in line:
                return proc, int(json.loads(line)["port"])
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the daemon's API did not start")


class Client:
    """One keep-alive connection with the token."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """Status, JSON answer and round trip in ms."""
        data = None if body is None else json.dumps(body)
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        return response.status, json.loads(payload), elapsed


def _pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    cuts = (
        statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    )
    return {"p50": round(cuts[49], 3), "p95": round(cuts[94], 3), "p99": round(cuts[98], 3)}


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _orders(client: Client, n: int) -> tuple[list[float], list[float], int]:
    submits, cancels, refused = [], [], 0
    for _ in range(n):
        status, body, ms = client.call("POST", "/api/v1/orders", ORDER)
        submits.append(ms)
        if status != 201:
            refused += 1
            continue
        _, _, ms = client.call("PUT", f"/api/v1/orders/{body['client_order_id']}/cancel")
        cancels.append(ms)
    return submits, cancels, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="manual orders to submit")
    parser.add_argument("--speed", type=float, default=500.0, help="market events per second")
    args = parser.parse_args()
    token = secrets.token_hex(24)
    with tempfile.TemporaryDirectory(prefix="genesis-api-bench-") as tmp:
        proc, port = _start(Path(tmp), token, args.speed)
        try:
            client = Client(port, token)
            submits, cancels, refused = _orders(client, args.orders)
            sent = time.perf_counter()
            _, kill, kill_rt = client.call("POST", "/api/v1/risk/global/kill-switch?reason=bench")
            status, denial, _ = client.call("POST", "/api/v1/orders", ORDER)
            first_refusal = (time.perf_counter() - sent) * 1000
            rss = _rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print(json.dumps({
        "benchmark": "api", "python": platform.python_version(),
        "native": os.environ.get("GENESIS_NATIVE", "1") != "0",
        "market_events_per_s": args.speed, "orders": args.orders, "orders_refused": refused,
        "submit_ms": _pct(submits), "cancel_ms": _pct(cancels),
        "kill_switch_latency_ms": kill.get("latency_ms"),
        "kill_switch_engaged": kill.get("engaged"),
        "kill_switch_roundtrip_ms": round(kill_rt, 3),
        "first_refusal_after_ms": round(first_refusal, 3),
        "first_refusal_code": denial.get("error") if status == 422 else None,
        "rss_mb": rss,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
