"""A fake Slack Socket Mode server: a websocket endpoint on loopback (aiohttp, port 0).

The fake Web API's `apps.connections.open` hands out `server.ws_url`; the app's Socket Mode client
connects, gets Slack's `hello`, and then receives envelopes the test sends with `send(...)`. Acks
(`{"envelope_id": ..., "payload": ...}`) are recorded; `wait_ack(envelope_id)` waits for one.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import WSMsgType, web

__all__ = ["Ack", "FakeSocketMode", "fake_socket_mode_fixture"]


@dataclass(frozen=True, slots=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float  # from sending the envelope to receiving its ack


@dataclass
class FakeSocketMode:
    port: int = 0
    acks: dict[str, Ack] = field(default_factory=dict)
    connections: int = 0
    _sent: dict[str, float] = field(default_factory=dict)
    _socket: web.WebSocketResponse | None = None
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    async def start(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._socket is not None and not self._socket.closed:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with self._cond:
            self._socket = ws
            self.connections += 1
            self._cond.notify_all()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                "connection_info": {"app_id": "A0001"},
            }
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            envelope_id = str(data.get("envelope_id", ""))
            sent = self._sent.get(envelope_id)
            if sent is None:
                continue
            async with self._cond:
                self.acks[envelope_id] = Ack(
                    envelope_id, data.get("payload"), time.perf_counter() - sent
                )
                self._cond.notify_all()
        return ws

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(lambda: self._socket is not None and not self._socket.closed)

    async def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Send one envelope (`slash_commands`, `events_api`, `interactive`); returns its id."""
        await self.wait_connected()
        assert self._socket is not None
        envelope_id = uuid.uuid4().hex
        self._sent[envelope_id] = time.perf_counter()
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(lambda: envelope_id in self.acks)
            return self.acks[envelope_id]


@pytest_asyncio.fixture(name="fake_socket_mode")
async def fake_socket_mode_fixture() -> AsyncIterator[FakeSocketMode]:
    """`fake_socket_mode`: a fake Socket Mode websocket server for one test."""
    server = await FakeSocketMode().start()
    try:
        yield server
    finally:
        await server.close()
