"""Run the Slack app: Socket Mode (`cf502 bot`) or HTTP mode (`cf502 bot --http --host H --port P`).

HTTP mode serves `POST /slack/events` (commands, events and interactivity) plus `GET /healthz` and
`GET /readyz`; `GET /metrics` only with CF502_METRICS_ON_SLACK_PORT (it is unauthenticated; the
metrics port is the place for it). Each request's signature is checked on the raw bytes before
the body is parsed: a missing, malformed, stale or wrong one gets 401 and nothing else happens; a
correctly signed request seen before (a replay) is answered without running again.

The listeners are a parameter (`bot` never imports `handlers/`): the process entry, `cf502 bot`,
passes `handlers.register`; `python -m bot` runs that same entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import VERIFIED, Bot, Listeners, build_bot
from bot.settings import Mode, Settings, load_settings
from bot.socket_mode import SocketHandler
from bot.verify import Unverified
from cf502.errors import Cf502Error, ConfigError, error_line
from cf502.ops.health import ReadyCheck, add_health_routes, redis_ready
from cf502.ops.logs import setup_logging
from cf502.ops.metrics import MetricsServer, add_metrics_route, start_metrics_server

__all__ = ["EVENTS_PATH", "HttpServer", "check_token", "run", "serve_http", "start", "web_app"]

log = logging.getLogger(__name__)

T = TypeVar("T")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads (block_actions carry the whole message) stay far below


def _ready(bot: Bot) -> ReadyCheck:
    redis = getattr(bot.pool, "redis", None)
    return redis_ready(redis)


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


async def _verified_request(bot: Bot, request: web.Request) -> AsyncBoltRequest | web.Response:
    """The Bolt request for a verified, first-seen, well-formed POST; else the answer to give."""
    raw = await request.read()
    if bot.verifier is None:  # no signing secret: nothing can be verified, so nothing is served
        return _refuse(401, "invalid request")
    try:
        verified = bot.verifier.verify(request.headers, raw)
    except Unverified as exc:
        log.info("refused an unverified request to %s: %s", EVENTS_PATH, exc.reason)
        return _refuse(401, "invalid request")
    if not await bot.replays.first_time(verified.signature, bot.verifier.seconds_left(verified)):
        # Already handled: a 200 so a duplicate delivery is not retried, and nothing runs again.
        log.warning("ignored a replayed Slack request (signature already seen)")
        return _refuse(200, "")
    try:
        bolt_request = AsyncBoltRequest(
            body=verified.body,
            query=request.query_string,
            headers=dict(request.headers),
            context={VERIFIED: True},
        )
    except Exception as exc:  # signed but not a payload Slack sends (bad JSON, odd shapes)
        log.warning("a signed Slack request could not be parsed: %s", type(exc).__name__)
        return _refuse(400, "malformed request")
    body: object = bolt_request.body  # typed as a dict, but JSON may hold a list or a string
    if not isinstance(body, dict):
        log.warning("a signed Slack request was not an object: %s", type(body).__name__)
        return _refuse(400, "malformed request")
    return bolt_request


def web_app(bot: Bot) -> web.Application:
    """The HTTP-mode application: Slack's one endpoint plus health checks."""

    async def events(request: web.Request) -> web.Response:
        with bot.services.background.acknowledging():
            checked = await _verified_request(bot, request)
            if isinstance(checked, web.Response):
                return checked
            return await to_aiohttp_response(await bot.app.async_dispatch(checked))

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(EVENTS_PATH, events)
    add_health_routes(app, _ready(bot))
    if bot.settings.metrics_on_slack_port:  # the operator's explicit choice: it is public here
        add_metrics_route(app)
    return app


@dataclass
class HttpServer:
    runner: web.AppRunner
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve_http(bot: Bot, host: str, port: int) -> HttpServer:
    """Start the HTTP-mode server in the running loop; `port` 0 picks a free port."""
    runner = web.AppRunner(web_app(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return HttpServer(runner, bound)


async def check_token(bot: Bot) -> None:
    """Fail fast, in one line, when Slack rejects the bot token or can't be reached."""
    try:
        await bot.client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error", "error")
        raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({code}).") from None
    except (SlackClientError, OSError, TimeoutError) as exc:
        where = bot.settings.api_url
        raise ConfigError(
            f"cannot reach the Slack API at {where} ({type(exc).__name__})."
        ) from None


@dataclass
class _Parts:
    """What start-up has opened so far, so a stop at any moment closes exactly that."""

    http: HttpServer | None = None
    socket_mode: SocketHandler | None = None
    metrics: MetricsServer | None = None

    async def close(self) -> None:
        if self.socket_mode is not None:
            await self.socket_mode.client.close()  # type: ignore[no-untyped-call]
        if self.http is not None:
            await self.http.close()
        if self.metrics is not None:
            await self.metrics.close()


async def _start(
    bot: Bot,
    mode: Mode,
    host: str,
    port: int,
    parts: _Parts,
    on_refused: Callable[[ConfigError], None],
) -> int:
    """Open everything; returns the HTTP port (0 in Socket Mode). Raises ConfigError."""
    settings = bot.settings
    await check_token(bot)
    if settings.metrics_port is not None:
        parts.metrics = await start_metrics_server(settings.metrics_port, ready=_ready(bot))
    if mode is Mode.HTTP:
        parts.http = await serve_http(bot, host, port)
        log.info(
            "cf502 bot listening", extra={"url": f"http://{host}:{parts.http.port}{EVENTS_PATH}"}
        )
        return parts.http.port
    parts.socket_mode = SocketHandler(bot.app, settings.app_token or "", bot.client, on_refused)
    await parts.socket_mode.client.connect()  # type: ignore[no-untyped-call]  # slack_sdk lacks hints here
    if parts.socket_mode.client.refused is not None:
        raise parts.socket_mode.client.refused
    log.info("cf502 bot connected to Slack (Socket Mode)")
    return 0


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None when `stop` is set first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None


async def run(
    settings: Settings,
    listeners: Listeners,
    mode: Mode,
    host: str = "127.0.0.1",
    port: int = 3000,
    stop: asyncio.Event | None = None,
    ready: asyncio.Future[int] | None = None,
) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM), then shut down in order.

    A stop request ends start-up too, whatever it is waiting for (Slack, a retry's backoff).
    `ready` gets the HTTP port (0 in Socket Mode) once Slack's requests can be served. Raises
    ConfigError when Slack refuses a token, even after start-up (a revoked app token)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    refused: list[ConfigError] = []

    def on_refused(error: ConfigError) -> None:
        refused.append(error)
        stop.set()

    bot = build_bot(settings, listeners)
    parts = _Parts()
    try:
        bound = await _unless_stopped(stop, _start(bot, mode, host, port, parts, on_refused))
        if bound is not None and not stop.is_set():
            # Start-up objects (Bolt, slack_sdk, aiohttp, the registry) live as long as the
            # process: keep them out of the garbage collector's full passes, which would
            # otherwise stall acks.
            gc.collect()
            gc.freeze()
            if ready is not None:
                ready.set_result(bound)
            await stop.wait()
        if refused:
            raise refused[0]
    finally:
        await parts.close()
        await bot.close()


def _dotenv(env_file: str | None) -> Path:
    """The settings file: `.env` is optional, but a file the operator names must exist."""
    if env_file is None:
        return Path(".env")
    path = Path(env_file)
    if not path.exists():
        raise ConfigError(f"--env-file {env_file!r}: no such file.")
    if path.is_dir():
        raise ConfigError(f"--env-file {env_file!r} is a directory, not a settings file.")
    return path


def start(
    listeners: Listeners, http: bool, host: str, port: int, env_file: str | None = None
) -> int:
    """Load the settings, then serve; returns the exit status (2: configuration problem).

    `env_file` None reads `.env` when there is one; a named file must exist."""
    mode = Mode.HTTP if http else Mode.SOCKET
    if not 0 <= port <= 65535:
        sys.stderr.write(error_line(f"--port {port} is not a port number."))
        return 2
    try:
        settings = load_settings(mode, dotenv=_dotenv(env_file))
        root = logging.getLogger()
        for handler in list(root.handlers):  # e.g. the CLI's basicConfig: one handler, redacting
            root.removeHandler(handler)
        setup_logging(settings.log_level, fmt=settings.log_format, secrets=settings.secrets)
        asyncio.run(run(settings, listeners, mode, host, port))
    except Cf502Error as exc:
        sys.stderr.write(error_line(str(exc)))
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
