"""The sandbox's chunked HTTP streams: prices and transactions, one JSON object per line.

Each connection owns a bounded queue the engine publishes into; the handler
writes queued lines and, when nothing was written for ``heartbeat_s``, a
``HEARTBEAT`` line (OANDA sends one every 5 seconds). A subscriber whose
queue is full is disconnected rather than allowed to stall the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from genesis.exchange.oanda_sandbox.faults import OandaFaultPlan

__all__ = ["StreamHub"]

_QUEUE = 10_000
_CLOSE = object()


class _Subscriber:
    def __init__(self, kind: str, instruments: frozenset[str]) -> None:
        self.kind = kind
        self.instruments = instruments
        self.queue: asyncio.Queue[object] = asyncio.Queue(_QUEUE)


class StreamHub:
    """The open price and transaction streams and what is published to them."""

    def __init__(
        self,
        faults: OandaFaultPlan,
        heartbeat_s: float,
        heartbeat: Callable[[str], dict[str, Any]],
        render: Callable[[Any, bool], Any],
    ) -> None:
        self.faults = faults
        self.heartbeat_s = heartbeat_s
        self._heartbeat = heartbeat  # kind -> the HEARTBEAT object
        self._render = render  # (object, unix times?) -> JSON-ready object
        self._subs: set[_Subscriber] = set()
        self.connections = 0  # accepted stream connections since start (tests count reconnects)

    def publish(self, kind: str, obj: dict[str, Any], instrument: str | None = None) -> None:
        for sub in list(self._subs):
            if sub.kind != kind or (instrument is not None and instrument not in sub.instruments):
                continue
            try:
                sub.queue.put_nowait(obj)
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: _Subscriber) -> None:
        self._subs.discard(sub)
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(_CLOSE)

    def close_all(self) -> None:
        for sub in list(self._subs):
            self._drop(sub)

    async def serve(
        self,
        request: web.Request,
        kind: str,
        instruments: frozenset[str],
        first: list[dict[str, Any]],
        unix: bool,
    ) -> web.StreamResponse:
        """Serve one stream: ``first`` lines (a snapshot), then published objects."""
        sub = _Subscriber(kind, instruments)
        self._subs.add(sub)
        self.connections += 1
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            for obj in first:
                await self._write(resp, obj, unix)
            await self._pump(resp, sub, kind, unix)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._subs.discard(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write_eof()
        return resp

    async def _pump(
        self, resp: web.StreamResponse, sub: _Subscriber, kind: str, unix: bool
    ) -> None:
        while True:
            try:
                obj = await asyncio.wait_for(sub.queue.get(), self.heartbeat_s)
            except TimeoutError:
                obj = self._heartbeat(kind)
            if obj is _CLOSE:
                return
            if self.faults.streams_silenced:
                self.faults.count("stream.silenced")
                continue
            frame = self.faults.take("stream.malformed")
            if frame is not None:
                await resp.write(self.faults.fuzz_frame(frame).encode() + b"\n")
            assert isinstance(obj, dict)
            await self._write(resp, obj, unix)
            if self.faults.take("stream.disconnect") is not None:
                return

    async def _write(self, resp: web.StreamResponse, obj: dict[str, Any], unix: bool) -> None:
        line = json.dumps(self._render(obj, unix), separators=(",", ":"))
        await resp.write(line.encode() + b"\n")
