"""Record Binance spot public market data to a capture file that ``capture check`` trusts.

Theory of operation
===================

Output. The file has the format of the bundled 2021 recording, read by
``read_spot_capture`` and ``genesis.data.sources.open_events``: one JSON
object per line, ``{"recv_ts": <s>, "kind": "ws", "data": <frame>}`` for a
combined-stream frame and ``{"recv_ts": <s>, "kind": "rest", "path":
"/api/v3/depth?symbol=S&limit=L", "data": <body>}`` for a depth snapshot.
``<frame>`` and ``<body>`` are the venue's bytes verbatim (only raw line
breaks, which JSON allows only as whitespace, become spaces), so every price
string is exactly what Binance sent. ``recv_ts`` is the local wall clock
(``time.time``) with 6 decimals, taken when the frame or response arrived.
A name ending in ``.gz`` is gzipped, any other is plain text.

Connections. Public market data needs no key: the defaults are Binance's
data-only hosts (REST ``https://data-api.binance.vision``, WS
``wss://data-stream.binance.vision``), overridable for tests. One combined
stream ``/stream?streams=<s>@depth@100ms/<s>@bookTicker/<s>@trade/...``
carries every symbol (§9.1). aiohttp answers the server's pings; our own
heartbeat detects a dead peer. ``serverShutdown`` triggers an immediate
reconnect; any other drop reconnects after ``min(cap, base * 2**n)`` seconds
scaled by a jitter in [0.5, 1] (``reconnect_backoff``, a ``genesis.retry``
policy), with ``n`` reset by a connection that lived ``reset_after_s``.

The book procedure. Every written line is parsed back by the same parser
``capture check`` uses, and its book events are fed to one ``BookSync`` per
symbol in write order, so the recorder sees the file exactly as the checker
will. A depth snapshot is fetched when a symbol's book is invalid and no fetch
is in flight: after its first diff (as in the 2021 recording), after a gap or
a crossed book, and after a reconnect (every book is reset, §10 step 8). A
snapshot that does not heal the book (older than the buffered diffs) is
fetched again after a backoff delay. The snapshot line is written when its
response arrives, between the frames around it, exactly where the book
procedure needs it.

Durability. The writer flushes every ``flush_interval_s`` (a gzip sync
flush: everything written so far decompresses). On SIGINT/SIGTERM, the
duration or the message budget, reading stops, in-flight snapshot fetches
get ``final_snapshot_timeout_s`` to land (so the file does not end on an
unhealed gap), and the gzip trailer is written. A crash loses at most the
last interval; ``capture check`` reports the truncated tail with its line
number as a warning and checks everything before it.

Bad input never stops the recorder: a frame that is not a JSON object
with ``stream`` and ``data``, or that fails the capture parser, is counted
(``bad_frames``), logged without its content and not written. Snapshot fetch
failures are counted and retried with backoff. No credentials are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import urlencode

import aiohttp
import msgspec
import structlog

from genesis.core.events import BookDelta, BookSnapshot
from genesis.data.book import BookSync
from genesis.data.capture_check import CaptureLineError, decode_capture_line
from genesis.errors import ConfigError
from genesis.retry import Backoff, BackoffPolicy

__all__ = [
    "DEFAULT_REST_URL",
    "DEFAULT_STREAMS",
    "DEFAULT_WS_URL",
    "CaptureWriter",
    "Recorder",
    "RecorderConfig",
    "RecorderSummary",
    "reconnect_backoff",
]

log = structlog.get_logger(__name__)

DEFAULT_REST_URL: Final = "https://data-api.binance.vision"
DEFAULT_WS_URL: Final = "wss://data-stream.binance.vision"
DEFAULT_STREAMS: Final = ("depth@100ms", "bookTicker", "trade")
_DEPTH_STREAMS: Final = ("depth", "depth@100ms")
_DECODER: Final = msgspec.json.Decoder()


def reconnect_backoff(base_s: float = 0.5, cap_s: float = 30.0) -> BackoffPolicy:
    """Delays ``min(cap, base * 2**n)`` scaled by a jitter in [0.5, 1], reset after 60 s up.

    Raises:
        ConfigError: ``base_s`` <= 0 or above ``cap_s``.
    """
    try:
        return BackoffPolicy(initial_s=base_s, cap_s=cap_s, floor_s=base_s / 2, jitter=0.5)
    except ValueError as exc:
        raise ConfigError(f"reconnect delays: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecorderConfig:
    """Everything one recording run needs; validated at construction.

    Raises:
        ConfigError: no symbols, no depth stream, or a non-positive bound.
    """

    symbols: tuple[str, ...]
    out: Path
    rest_url: str = DEFAULT_REST_URL
    ws_url: str = DEFAULT_WS_URL
    streams: tuple[str, ...] = DEFAULT_STREAMS
    depth_limit: int = 1000
    duration_s: float | None = None
    max_messages: int | None = None
    flush_interval_s: float = 1.0
    backoff: BackoffPolicy = field(default_factory=reconnect_backoff)
    request_timeout_s: float = 10.0
    heartbeat_s: float = 20.0
    final_snapshot_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.symbols or any(not s.isalnum() for s in self.symbols):
            raise ConfigError(f"symbols {list(self.symbols)!r}; expected names like BTCUSDT")
        if not any(s in _DEPTH_STREAMS for s in self.streams):
            raise ConfigError(
                f"streams {list(self.streams)!r} have no depth stream; "
                "expected depth@100ms or depth (the book needs it)"
            )
        if not 1 <= self.depth_limit <= 5000:
            raise ConfigError(f"depth limit {self.depth_limit}; expected 1..5000")
        for name in ("duration_s", "max_messages"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} {value}; expected > 0")

    def stream_names(self) -> list[str]:
        """Combined-stream names, lower-case symbols (§9.2)."""
        return [f"{s.lower()}@{kind}" for s in self.symbols for kind in self.streams]

    def stream_url(self) -> str:
        return f"{self.ws_url.rstrip('/')}/stream?streams={'/'.join(self.stream_names())}"

    def depth_path(self, symbol: str) -> str:
        return f"/api/v3/depth?{urlencode({'symbol': symbol, 'limit': self.depth_limit})}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecorderSummary:
    """What one run wrote; ``as_dict`` is the CLI's final JSON line."""

    out: str
    messages: dict[str, int]
    snapshots: int
    gaps: int
    reconnects: int
    snapshot_errors: int
    bad_frames: int
    lines: int
    bytes: int
    bytes_uncompressed: int
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "messages": dict(sorted(self.messages.items())),
            "snapshots": self.snapshots,
            "gaps": self.gaps,
            "reconnects": self.reconnects,
            "snapshot_errors": self.snapshot_errors,
            "bad_frames": self.bad_frames,
            "lines": self.lines,
            "bytes": self.bytes,
            "bytes_uncompressed": self.bytes_uncompressed,
            "duration_s": round(self.duration_s, 3),
        }


class CaptureWriter:
    """Appends capture lines to a plain or gzipped file and flushes on a schedule.

    A gzip flush is a sync flush: every line written before it decompresses
    even if the process dies before ``close`` writes the trailer.

    Raises:
        ConfigError: the file cannot be created.
    """

    def __init__(self, path: Path, flush_interval_s: float, monotonic: Callable[[], float]) -> None:
        try:
            self._raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
        self._gzip = (
            gzip.GzipFile(filename=path.name, mode="wb", fileobj=self._raw)
            if path.name.endswith(".gz")
            else None
        )
        self._interval_s = flush_interval_s
        self._monotonic = monotonic
        self._last_flush = monotonic()
        self.lines = 0
        self.bytes_uncompressed = 0
        self.bytes_written = 0

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        (self._gzip or self._raw).write(data)
        self.lines += 1
        self.bytes_uncompressed += len(data)
        self.flush_if_due()

    def flush_if_due(self) -> None:
        if self._monotonic() - self._last_flush >= self._interval_s:
            self.flush()

    def flush(self) -> None:
        if self._gzip is not None:
            self._gzip.flush()
        self._raw.flush()
        self._last_flush = self._monotonic()

    def close(self) -> None:
        if self._raw.closed:
            return
        if self._gzip is not None:
            self._gzip.close()  # writes the gzip trailer; leaves the raw file open
        self.bytes_written = self._raw.tell()
        self._raw.close()


class _Reconnect(Exception):
    """The server announced a shutdown: reconnect without waiting."""


class Recorder:
    """Records one combined stream plus depth snapshots into a capture file (see the essay).

    ``run()`` returns when ``stop()`` is called, the duration elapses or the
    message budget is spent; it never raises for venue trouble.
    """

    def __init__(
        self,
        config: RecorderConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng or random.Random(0)  # noqa: S311 - jitter, not cryptography
        self._syncs = {s: BookSync(s) for s in config.symbols}
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._messages: Counter[str] = Counter()
        self._written = 0
        self._snapshots = self._gaps = self._reconnects = 0
        self._snapshot_errors = self._bad_frames = 0
        self._writer: CaptureWriter | None = None
        self._session: aiohttp.ClientSession | None = None

    def stop(self) -> None:
        """Ask ``run()`` to finish: safe from a signal handler on the loop."""
        self._stop.set()

    async def run(self) -> RecorderSummary:
        """Record until stopped; close the file properly and return the summary."""
        started = self._monotonic()
        self._writer = writer = CaptureWriter(
            self.config.out, self.config.flush_interval_s, self._monotonic
        )
        try:
            async with aiohttp.ClientSession() as session:
                self._session = session
                streaming = asyncio.create_task(self._connections(session))
                flushing = asyncio.create_task(self._flush_regularly(writer))
                try:
                    await self._wait_for_stop(streaming)
                finally:
                    streaming.cancel()
                    flushing.cancel()
                    await asyncio.gather(streaming, flushing, return_exceptions=True)
                    await self._drain_fetches()
        finally:
            writer.close()
        error = None if streaming.cancelled() else streaming.exception()
        if error is not None:
            raise error  # a bug, not venue trouble (that is retried): the file is closed
        return self._summary(writer, self._monotonic() - started)

    # --- run control ----------------------------------------------------------

    async def _wait_for_stop(self, streaming: asyncio.Task[None]) -> None:
        """Until stop(), the duration, or the stream task dying of an unexpected error."""
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait(
                (stopped, streaming),
                timeout=self.config.duration_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopped.cancel()

    async def _flush_regularly(self, writer: CaptureWriter) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            writer.flush_if_due()

    async def _drain_fetches(self) -> None:
        pending = [t for t in self._fetching.values() if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.config.final_snapshot_timeout_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("recorder_snapshot_abandoned", count=len(late))
                await asyncio.wait(late)

    async def _sleep_unless_stopped(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay_s)

    # --- the combined stream ------------------------------------------------------

    async def _connections(self, session: aiohttp.ClientSession) -> None:
        backoff = Backoff(self.config.backoff, rng=self._rng)
        while not self._stop.is_set():
            connected = self._monotonic()
            delay: float | None = None
            try:
                await self._stream(session)
            except _Reconnect:
                delay = 0.0
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.warning("recorder_stream_failed", error=type(exc).__name__, reason=str(exc))
            if self._stop.is_set():
                return
            if self._monotonic() - connected >= self.config.backoff.reset_after_s:
                backoff.reset()
            if delay is None:
                delay = backoff.next_delay()
            self._reconnects += 1
            for sync in self._syncs.values():
                sync.reset()  # §10 step 8: every book on the socket starts over
            log.info("recorder_reconnecting", attempt=backoff.failures, delay_s=round(delay, 3))
            await self._sleep_unless_stopped(delay)

    async def _stream(self, session: aiohttp.ClientSession) -> None:
        url = self.config.stream_url()
        async with session.ws_connect(url, heartbeat=self.config.heartbeat_s) as ws:
            log.info("recorder_connected", streams=len(self.config.stream_names()))
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._on_frame(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    self._bad_frame("binary frame")
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    raise aiohttp.ClientError(f"websocket error: {ws.exception()}")
                if self._stop.is_set():
                    return
        log.warning("recorder_stream_closed", code=ws.close_code)

    def _on_frame(self, text: str) -> None:
        try:
            message = _DECODER.decode(text)
        except msgspec.DecodeError:
            self._bad_frame("invalid JSON")
            return
        if not isinstance(message, dict):
            self._bad_frame("not an object")
            return
        stream, payload = message.get("stream"), message.get("data")
        if not isinstance(stream, str) or not isinstance(payload, dict):
            if "result" in message or "id" in message:
                return  # a control reply: not market data
            self._bad_frame("no stream/data")
            return
        if payload.get("e") == "serverShutdown" or stream == "!serverShutdown":
            log.warning("recorder_server_shutdown")
            raise _Reconnect
        if self._record("ws", text, stream=stream):
            self._messages[stream] += 1
            self._written += 1
            if self.config.max_messages is not None and self._written >= self.config.max_messages:
                self.stop()

    def _bad_frame(self, reason: str) -> None:
        self._bad_frames += 1
        log.warning("recorder_bad_frame", reason=reason, count=self._bad_frames)

    # --- writing and the book procedure ---------------------------------------------

    def _record(self, kind: str, body: str, *, stream: str = "", path: str = "") -> bool:
        """Write one line and feed its book event to the symbol's sync; False if refused."""
        assert self._writer is not None
        recv_ts = f"{self._clock():.6f}"
        body = body.strip().replace("\r", " ").replace("\n", " ")
        if kind == "ws":
            line = f'{{"recv_ts": {recv_ts}, "kind": "ws", "data": {body}}}'
        else:
            line = f'{{"recv_ts": {recv_ts}, "kind": "rest", "path": "{path}", "data": {body}}}'
        try:
            _, event = decode_capture_line(line)
        except CaptureLineError as exc:
            self._bad_frame(f"{kind} {stream or path}: {exc}")
            return False
        self._writer.write_line(line)
        if isinstance(event, BookSnapshot | BookDelta):
            self._on_book_event(event)
        return True

    def _on_book_event(self, event: BookSnapshot | BookDelta) -> None:
        sync = self._syncs.get(event.instrument_id)
        if sync is None:
            return  # a symbol we did not subscribe to: written, not tracked
        outcome = sync.apply(event)
        if isinstance(event, BookSnapshot):
            self._snapshots += 1
        if outcome.needs_snapshot:
            self._gaps += 1
            log.warning(
                "recorder_book_gap",
                symbol=event.instrument_id,
                outcome=outcome.value,
                last_update_id=sync.last_update_id,
            )
        if not sync.valid and event.instrument_id not in self._fetching:
            self._fetching[event.instrument_id] = asyncio.create_task(
                self._fetch_snapshot(event.instrument_id)
            )

    # --- depth snapshots -----------------------------------------------------------------

    async def _fetch_snapshot(self, symbol: str) -> None:
        """Fetch until the symbol's book is valid (or the run stops), with backoff between tries."""
        attempt, backoff = 0, Backoff(self.config.backoff, rng=self._rng)
        try:
            while not self._syncs[symbol].valid:
                if attempt:
                    await self._sleep_unless_stopped(backoff.next_delay())
                    if self._stop.is_set() and attempt > 1:
                        return
                attempt += 1
                body = await self._get_depth(symbol)
                if body is not None:
                    self._record("rest", body, path=self.config.depth_path(symbol))
        finally:
            self._fetching.pop(symbol, None)

    async def _get_depth(self, symbol: str) -> str | None:
        assert self._session is not None
        url = self.config.rest_url.rstrip("/") + self.config.depth_path(symbol)
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        try:
            async with self._session.get(url, timeout=timeout) as response:
                text = await response.text()
                if response.status != 200:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status, message=text[:200]
                    )
                return text
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._snapshot_errors += 1
            log.warning("recorder_snapshot_failed", symbol=symbol, error=type(exc).__name__)
            return None

    def _summary(self, writer: CaptureWriter, duration_s: float) -> RecorderSummary:
        return RecorderSummary(
            out=str(self.config.out),
            messages=dict(self._messages),
            snapshots=self._snapshots,
            gaps=self._gaps,
            reconnects=self._reconnects,
            snapshot_errors=self._snapshot_errors,
            bad_frames=self._bad_frames,
            lines=writer.lines,
            bytes=writer.bytes_written,
            bytes_uncompressed=writer.bytes_uncompressed,
            duration_s=duration_s,
        )
