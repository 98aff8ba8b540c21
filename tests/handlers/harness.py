"""Drive the real Slack app exactly as Slack does: signed requests to its real HTTP endpoint.

`harness(...)` starts the app's aiohttp server on 127.0.0.1:0 with its Web API client pointed at the
fake Slack (`tests.servers.slack_api`) and an in-process pool whose diagnoses resolve names through
the loopback DNS world (`tests.servers.dns`). Payload builders follow Slack's documented shapes.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.app import Bot, build_bot, make_pool
from bot.run import EVENTS_PATH, HttpServer, serve_http
from bot.settings import Settings
from bot.state import StateStore
from cf502.pool.jobs import Job, JobEvent, Pool
from cf502.pool.limits import Limits
from cf502.pool.local import LocalPool
from cf502.settings import EngineSettings
from handlers import register
from tests.servers.dns import DnsWorld
from tests.servers.slack_api import APP_TOKEN, BOT_TOKEN, BOT_USER, TEAM, FakeSlack

__all__ = [
    "SECRET",
    "Harness",
    "RecordingPool",
    "Sent",
    "action_payload",
    "command_payload",
    "harness",
    "mention_payload",
    "settings_for",
]

SECRET = "8f7e6d5c4b3a29180716f5e4d3c2b1a0"
ALICE, BOB = "U0ALICE01", "U0BOB0002"
CHANNEL = "C0INCIDENT"


def settings_for(slack: FakeSlack, world: DnsWorld, **overrides: Any) -> Settings:
    """App settings pointed at the fake Slack and the DNS world (private targets allowed)."""
    base = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SECRET,
        app_token=APP_TOKEN,
        api_url=slack.url,
        response_url_base=slack.response_base,
        engine=EngineSettings(
            resolver=f"127.0.0.1:{world.port}",
            dns_port=world.port,
            dns_timeout=1.0,
            allow_private=True,
        ),
        update_interval=0.2,
    )
    return replace(base, **overrides)


class RecordingPool:
    """The in-process pool, recording what was submitted (to count jobs)."""

    def __init__(self, inner: Pool) -> None:
        self.inner = inner
        self.jobs: list[Job] = []

    async def submit(self, job: Job) -> str:
        self.jobs.append(job)
        return await self.inner.submit(job)

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        return self.inner.events(job_id)

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        return await self.inner.result(job_id, timeout)

    async def close(self) -> None:
        await self.inner.close()


@dataclass(frozen=True, slots=True)
class Sent:
    """Slack's view of one request: the HTTP answer and how long it took."""

    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def command_payload(
    slack: FakeSlack, text: str, *, user: str = ALICE, channel: str = CHANNEL
) -> dict[str, str]:
    """A slash command as Slack POSTs it (form-encoded fields)."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "incident",
        "user_id": user,
        "user_name": "alice",
        "command": "/cf502",
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": slack.response_url(f"cmd-{uuid.uuid4().hex[:8]}"),
        "trigger_id": "1337.42.abcdef",
    }


def mention_payload(
    text: str,
    *,
    user: str = ALICE,
    channel: str = CHANNEL,
    ts: str | None = None,
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An `app_mention` event callback as Slack POSTs it (JSON)."""
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def action_payload(
    slack: FakeSlack,
    action_id: str,
    value: str,
    *,
    message_ts: str,
    user: str = ALICE,
    channel: str = CHANNEL,
    overflow: bool = False,
) -> dict[str, Any]:
    """A `block_actions` payload (a button click, or an overflow menu choice)."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "b1",
        "action_ts": f"{time.time():.6f}",
    }
    if overflow:
        action.update(type="overflow", selected_option={"text": {}, "value": value})
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "x"})
    message = slack.messages.get(message_ts)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "1337.42.abcdef",
        "team": {"id": TEAM, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "incident"},
        "message": {
            "type": "message",
            "ts": message_ts,
            "text": message.text if message else "",
            "blocks": message.blocks if message else [],
            **({"thread_ts": message.thread_ts} if message and message.thread_ts else {}),
        },
        "state": {"values": {}},
        "response_url": slack.response_url(f"act-{uuid.uuid4().hex[:8]}"),
        "actions": [action],
    }


@dataclass
class Harness:
    slack: FakeSlack
    bot: Bot
    server: HttpServer
    session: aiohttp.ClientSession
    pool: RecordingPool
    world: DnsWorld
    secret: str = SECRET
    sent: list[Sent] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{EVENTS_PATH}"

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Sent:
        """POST `body` to /slack/events, signed like Slack signs it (with `secret`)."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret or self.secret).generate_signature(
            timestamp=ts, body=body
        )
        all_headers: dict[str, str] = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
            **(headers or {}),
        }
        started = time.perf_counter()
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as resp:
            text = await resp.text()
            sent = Sent(resp.status, text, time.perf_counter() - started)
        self.sent.append(sent)
        return sent

    async def command(self, text: str, **kw: Any) -> Sent:
        secret = kw.pop("secret", None)
        timestamp = kw.pop("timestamp", None)
        body = urlencode(command_payload(self.slack, text, **kw))
        return await self.post(
            body, "application/x-www-form-urlencoded", secret=secret, timestamp=timestamp
        )

    async def event(self, payload: dict[str, Any], *, retry_num: int | None = None) -> Sent:
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(json.dumps(payload), "application/json", headers=headers)

    async def click(self, action_id: str, value: str, *, message_ts: str, **kw: Any) -> Sent:
        payload = action_payload(self.slack, action_id, value, message_ts=message_ts, **kw)
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")


@asynccontextmanager
async def harness(
    slack: FakeSlack,
    world: DnsWorld,
    *,
    limits: Limits | None = None,
    store: StateStore | None = None,
    inner: Pool | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """The app on a real HTTP port, wired to `slack` and `world` (see the module docstring)."""
    settings = settings_for(slack, world, **overrides)
    if inner is not None:  # a pool the test built (e.g. its own run_job)
        pass
    elif settings.redis_url:  # the production wiring: Redis queue (workers run elsewhere) + store
        inner = make_pool(settings)
    else:
        inner = LocalPool(
            settings.engine,
            concurrency=8,
            limits=limits or Limits(per_user=0, per_channel=0, coalesce=0),
        )
    pool = RecordingPool(inner)
    bot = build_bot(settings, register, pool=pool, store=store)
    server = await serve_http(bot, "127.0.0.1", 0)
    session = aiohttp.ClientSession()
    try:
        yield Harness(slack, bot, server, session, pool, world)
    finally:
        await session.close()
        await server.close()
        await bot.close()
