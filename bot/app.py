"""Wiring: settings -> Web API client, pool, state store, services, Bolt `AsyncApp` + listeners.

Imports go one way: `handlers/` (the listeners) import `bot`'s services, and `bot` never imports
`handlers/`. The listeners come in as `build_bot`'s `listeners` argument from the process entry
(`cf502 bot`, which `python -m bot` runs), so this module wires whatever it is given.

`build_bot` is what `cf502 bot` and the tests use; passing `pool`/`store` lets tests use their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.messenger import APOLOGY, Requester
from bot.poster import Poster, make_client
from bot.services import Services
from bot.settings import Settings
from bot.state import MemoryStore, RedisStore, StateStore
from bot.verify import MemoryReplays, ReplayGuard, RequestVerifier, StoreReplays
from cf502.ops.metrics import JOB_METRICS
from cf502.pool.jobs import Pool
from cf502.pool.limits import Limits
from cf502.pool.local import LocalPool

__all__ = ["VERIFIED", "Bot", "Listeners", "build_bot", "make_pool", "make_store"]

log = logging.getLogger(__name__)

# A burst of commands shares a few warm connections (a submit is one short round trip) rather
# than opening one each; the reports being followed share one more (the pool's events reader).
REDIS_CONNECTIONS = 8
# Set in a request's Bolt context by the HTTP endpoint once its signature checked out.
VERIFIED = "cf502_signature_verified"

# Registers the Bolt listeners on the app (`handlers.register`).
Listeners = Callable[[AsyncApp, Services], None]


@dataclass
class Bot:
    """The running parts of the Slack app."""

    app: AsyncApp
    services: Services
    pool: Pool
    store: StateStore
    client: AsyncWebClient
    settings: Settings
    # HTTP mode: None without a signing secret (then every HTTP request is refused).
    verifier: RequestVerifier | None = None
    replays: ReplayGuard = field(default_factory=MemoryReplays)

    async def close(self) -> None:
        await self.services.close()
        await self.pool.close()
        await self.store.close()


class _SameToken(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client given wins: it holds that
    very token, so the warning is noise (and a configuration error must stay one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_bolt_log = logging.getLogger("bot.bolt")
_bolt_log.addFilter(_SameToken())


def make_pool(settings: Settings) -> Pool:
    """Redis workers when REDIS_URL is set, else diagnoses run in this process."""
    limits = Limits(
        per_user=settings.user_rate,
        per_channel=settings.channel_rate,
        running_per_user=settings.user_concurrency,
    )
    if settings.redis_url:
        from cf502.pool.queue.client import QueueClient  # loads redis: only when it is used
        from cf502.pool.queue.config import QueueConfig

        return QueueClient(
            settings.redis_url,
            QueueConfig(limits=limits, max_connections=REDIS_CONNECTIONS),
            observer=JOB_METRICS,
        )
    return LocalPool(
        settings.engine,
        concurrency=settings.concurrency,
        limits=limits,
        observer=JOB_METRICS,
        aws=settings.aws,
    )


def make_store(settings: Settings) -> StateStore:
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.report_ttl)
    return MemoryStore(settings.report_ttl)


def _get(node: object, *path: str) -> str | None:
    """The string at `path` in nested dicts, or None (payload shapes vary; none is trusted)."""
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, str) and node else None


def _requester(body: object) -> Requester | None:
    """Where to apologise for a failed request, from any payload shape."""
    user = _get(body, "user_id") or _get(body, "user", "id") or _get(body, "event", "user")
    channel = (
        _get(body, "channel_id") or _get(body, "channel", "id") or _get(body, "event", "channel")
    )
    if not user or not channel:
        return None
    return Requester(user, channel, _get(body, "event", "thread_ts"), _get(body, "response_url"))


def _trusted(request: AsyncBoltRequest | None) -> bool:
    """Socket Mode requests come over the app token's connection; HTTP ones must be verified."""
    if request is None:
        return False
    return request.mode == "socket_mode" or request.context.get(VERIFIED) is True


def build_bot(
    settings: Settings,
    listeners: Listeners,
    *,
    pool: Pool | None = None,
    store: StateStore | None = None,
    client: AsyncWebClient | None = None,
) -> Bot:
    client = client or make_client(settings.bot_token, settings.api_url)
    pool = pool or make_pool(settings)
    store = store or make_store(settings)
    extra = (settings.response_url_base,) if settings.response_url_base else ()
    services = Services.build(settings, pool, store, Poster(client, extra))
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret or "",
        # Socket Mode requests are not signed (the app-level token is the credential there).
        request_verification_enabled=bool(settings.signing_secret),
        # Listeners ack, queue and return at once (slow work runs in background tasks), so Bolt may
        # answer as soon as the listener returns, without polling for the ack.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        logger=_bolt_log,
    )
    listeners(app, services)

    @app.error
    async def on_error(
        error: Exception,
        body: object,
        request: AsyncBoltRequest | None,
        response: BoltResponse | None,
    ) -> BoltResponse | None:
        # The one place unexpected listener errors end: logged with context (never the body,
        # which may hold tokens), and the user gets one polite line, never a traceback.
        try:
            if not _trusted(request):
                # Nothing in an unverified body is acted on: no apology, no response_url.
                log.warning(
                    "refused a Slack request that was not verified (%s)", type(error).__name__
                )
                return BoltResponse(status=401, body="") if response is not None else None
            log.error(
                "unhandled error in a Slack listener",
                exc_info=(type(error), error, error.__traceback__),
                extra={"slack_type": _get(body, "type") or _get(body, "command")},
            )
            if response is not None and _get(body, "command"):
                # Not acknowledged yet: the apology is the ack itself, shown only to the user.
                payload = {"response_type": "ephemeral", "text": APOLOGY}
                return BoltResponse(
                    status=200,
                    body=json.dumps(payload),
                    headers={"content-type": "application/json"},
                )
            who = _requester(body)
            if who is not None:
                await services.messenger.apologise(who)
        except Exception as exc:  # the error handler must never raise itself
            log.error("the Slack error handler failed: %s", type(exc).__name__)
        # 200 even so: a 5xx would make Slack retry an event or show the user an error code.
        return BoltResponse(status=200, body="") if response is not None else None

    verifier = RequestVerifier(settings.signing_secret) if settings.signing_secret else None
    # With Redis, replicas share the signatures they have seen (SET NX EX); else this process's.
    replays: ReplayGuard = StoreReplays(store) if isinstance(store, RedisStore) else MemoryReplays()
    return Bot(app, services, pool, store, client, settings, verifier, replays)
