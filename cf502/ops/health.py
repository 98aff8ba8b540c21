"""Liveness and readiness over HTTP: `/healthz` and `/readyz`, for the bot and the workers.

* `/healthz` (liveness) answers 200 while the process's event loop answers at all; it reports Redis's
  state in the body but does not fail on it, because restarting a bot or worker never fixes Redis
  and an orchestrator would otherwise restart every pod during a Redis blip.
* `/readyz` (readiness) answers 503 unless Redis answers PING within a deadline, so a load balancer
  stops sending Slack's requests to a bot that cannot queue them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

__all__ = [
    "DEFAULT_TIMEOUT",
    "Pinger",
    "Readiness",
    "ReadyCheck",
    "add_health_routes",
    "redis_ready",
]

DEFAULT_TIMEOUT = 1.0


@dataclass(frozen=True)
class Readiness:
    """What a readiness probe found.

    Attributes:
        ready: True when the dependency answered in time.
        detail: "ok", "not configured" (embedded pool: nothing to wait for) or the failure.
        elapsed_ms: how long the probe took.
    """

    ready: bool
    detail: str
    elapsed_ms: float = 0.0


ReadyCheck = Callable[[], Awaitable[Readiness]]


class Pinger(Protocol):
    """What readiness needs from a Redis client (redis.asyncio.Redis satisfies it)."""

    def ping(self) -> Awaitable[object]: ...


def redis_ready(client: Pinger | None, timeout: float = DEFAULT_TIMEOUT) -> ReadyCheck:
    """A readiness check that PINGs Redis with a deadline; None means no Redis is used."""

    async def check() -> Readiness:
        if client is None:
            return Readiness(True, "not configured")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                await client.ping()
        except TimeoutError:
            return Readiness(False, f"redis did not answer PING within {timeout:g} s", _ms(started))
        except Exception as exc:  # any client error means "not ready", never a 500 with a traceback
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            return Readiness(False, f"redis: {reason}", _ms(started))
        return Readiness(True, "ok", _ms(started))

    return check


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def add_health_routes(app: web.Application, ready: ReadyCheck | None = None) -> None:
    """Add GET /healthz and GET /readyz to an aiohttp application (e.g. Bolt's `web_app()`)."""
    check = ready or redis_ready(None)

    async def healthz(_request: web.Request) -> web.Response:
        found = await check()
        return web.json_response({"status": "ok", "redis": found.detail})

    async def readyz(_request: web.Request) -> web.Response:
        found = await check()
        body = {
            "status": "ready" if found.ready else "not ready",
            "redis": found.detail,
            "elapsed_ms": found.elapsed_ms,
        }
        return web.json_response(body, status=200 if found.ready else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
