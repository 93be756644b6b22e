"""The logging chain: JSON lines, exact decimals, and no configured secret in any output."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
import structlog

from genesis.logs import REDACTED, configure, get_logger

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # Binance's documented example key
API_SECRET = (
    "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"  # ditto, from the API docs
)


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure(level="debug", stream=stream, secrets=[API_KEY, API_SECRET])
    yield stream
    structlog.reset_defaults()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_iso_utc_time(out: io.StringIO) -> None:
    """Each event is one JSON line with a constant event name, level and ISO UTC timestamp."""
    get_logger().info("order_submitted", client_order_id="sma-1-1")
    (line,) = _lines(out)
    assert line["event"] == "order_submitted"
    assert line["level"] == "info"
    assert str(line["timestamp"]).endswith("Z")


def test_decimals_are_exact_strings(out: io.StringIO) -> None:
    """A Decimal price is written as its exact string, never as a float."""
    get_logger().info(
        "fill", price=Decimal("46319.00"), fees=[Decimal("0.046319")], tiny=Decimal("1E-8")
    )
    (line,) = _lines(out)
    assert (line["price"], line["fees"], line["tiny"]) == ("46319.00", ["0.046319"], "0.00000001")


def test_no_secret_in_any_output(out: io.StringIO) -> None:
    """Secrets in values, nested data, secret-named keys, messages and tracebacks never reach the output."""
    log = get_logger()
    log.info("connect", url=f"https://api.binance.com/?apiKey={API_KEY}")
    log.info("headers", headers={"X-MBX-APIKEY": API_KEY, "nested": [API_SECRET]})
    log.warning("config", api_secret="anything", password="hunter22", token=API_KEY)
    try:
        raise RuntimeError(f"signature check failed for {API_SECRET}")
    except RuntimeError:
        log.exception("request_failed")
    text = out.getvalue()
    assert API_KEY not in text
    assert API_SECRET not in text
    assert "hunter22" not in text
    assert text.count(REDACTED) >= 6


def test_debug_is_filtered_below_the_level() -> None:
    """Below the configured level nothing is written."""
    stream = io.StringIO()
    configure(level="warning", stream=stream)
    get_logger().info("quiet")
    get_logger().warning("loud")
    structlog.reset_defaults()
    assert [json.loads(x)["event"] for x in stream.getvalue().splitlines()] == ["loud"]


def test_unknown_level_is_refused() -> None:
    """A typo in the level is an error naming the accepted ones."""
    with pytest.raises(ValueError, match="must be one of debug, info"):
        configure(level="verbose")
