"""Wiring: settings -> Web API client, pool, state store, reports, Bolt `AsyncApp` with `handlers/`.

`build_bot` is what `cf502 bot` and the tests use; passing `pool`/`store` lets tests use their own.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.poster import Poster, make_client
from bot.reports import APOLOGY, Reports, Requester
from bot.settings import Settings
from bot.state import MemoryStore, RedisStore, StateStore
from cf502.jobs import Pool
from cf502.limits import Limits

__all__ = ["Bot", "build_bot", "make_pool", "make_store"]

log = logging.getLogger(__name__)

# A burst of commands shares a few warm connections (a submit is one short round trip) rather
# than opening one each; the reports being followed share one more (the pool's events reader).
REDIS_CONNECTIONS = 8


@dataclass
class Bot:
    """The running parts of the Slack app."""

    app: AsyncApp
    reports: Reports
    pool: Pool
    store: StateStore
    client: AsyncWebClient
    settings: Settings

    async def close(self) -> None:
        await self.reports.close()
        await self.pool.close()
        await self.store.close()


def make_pool(settings: Settings) -> Pool:
    """Redis workers when REDIS_URL is set, else diagnoses run in this process."""
    limits = Limits(per_user=settings.user_rate, per_channel=settings.channel_rate)
    if settings.redis_url:
        from cf502.queue import QueueConfig, RedisPool

        return RedisPool(
            settings.redis_url, QueueConfig(limits=limits, max_connections=REDIS_CONNECTIONS)
        )
    from cf502.pool import LocalPool

    return LocalPool(settings.engine, concurrency=settings.concurrency, limits=limits)


def make_store(settings: Settings) -> StateStore:
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.report_ttl)
    return MemoryStore(settings.report_ttl)


def _requester(body: dict[str, Any]) -> Requester | None:
    """Where to apologise for a failed request, from any payload shape."""
    event = body.get("event") or {}
    user = body.get("user_id") or (body.get("user") or {}).get("id") or event.get("user")
    channel = (
        body.get("channel_id") or (body.get("channel") or {}).get("id") or event.get("channel")
    )
    if not user or not channel:
        return None
    return Requester(str(user), str(channel), event.get("thread_ts"), body.get("response_url"))


def build_bot(
    settings: Settings,
    *,
    pool: Pool | None = None,
    store: StateStore | None = None,
    client: AsyncWebClient | None = None,
) -> Bot:
    client = client or make_client(settings.bot_token, settings.api_url)
    pool = pool or make_pool(settings)
    store = store or make_store(settings)
    reports = Reports(pool, store, Poster(client), settings)
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret or "",
        # Socket Mode requests are not signed (the app-level token is the credential there).
        request_verification_enabled=bool(settings.signing_secret),
        # Listeners ack, queue and return at once (slow work runs in background tasks), so Bolt may
        # answer as soon as the listener returns, without polling for the ack.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        logger=logging.getLogger("bot.bolt"),
    )
    handlers.register(app, reports, settings)

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        # The one place unexpected listener errors end: logged with context (never the body,
        # which may hold tokens), and the user gets one polite line, never a traceback.
        log.error(
            "unhandled error in a Slack listener",
            exc_info=(type(error), error, error.__traceback__),
            extra={"slack_type": body.get("type") or body.get("command")},
        )
        who = _requester(body)
        if response is not None and body.get("command"):
            # Not acknowledged yet: the apology is the ack itself, shown only to the user.
            payload = {"response_type": "ephemeral", "text": APOLOGY}
            return BoltResponse(
                status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
            )
        if who is not None:
            await reports.apologise(who)
        # 200 even so: a 5xx would make Slack retry an event or show the user an error code.
        return BoltResponse(status=200, body="") if response is not None else None

    return Bot(app, reports, pool, store, client, settings)
