"""Socket Mode: the app dials the fake Socket Mode server (URL from apps.connections.open) and
handles envelopes there exactly like HTTP requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import Bot, build_bot
from cf502.pool.limits import Limits
from cf502.pool.local import LocalPool
from handlers import register
from tests.handlers.harness import CHANNEL, command_payload, mention_payload, settings_for
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import BOT_USER, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.socket_mode import FakeSocketMode
from tests.servers.socket_mode import fake_socket_mode_fixture as fake_socket_mode_fixture
from tests.servers.tcp import closed_port


@asynccontextmanager
async def connected(
    slack: FakeSlack, world: DnsWorld, socket: FakeSocketMode
) -> AsyncIterator[Bot]:
    # Socket Mode has no signing secret: the app-level token is the credential.
    settings = replace(settings_for(slack, world), signing_secret=None)
    pool = LocalPool(settings.engine, limits=Limits(per_user=0, per_channel=0, coalesce=0))
    bot = build_bot(settings, register, pool=pool)
    slack.ws_url = socket.ws_url
    handler = AsyncSocketModeHandler(bot.app, settings.app_token, web_client=bot.client)
    await handler.client.connect()  # type: ignore[no-untyped-call]
    try:
        await socket.wait_connected()
        yield bot
    finally:
        await handler.client.close()  # type: ignore[no-untyped-call]
        await bot.close()


async def test_slash_command_over_socket_mode_is_acked_and_reported(
    fake_slack: FakeSlack, dns_world: DnsWorld, fake_socket_mode: FakeSocketMode
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with connected(fake_slack, dns_world, fake_socket_mode) as bot:
        # Given the app connected with its app-level token
        opened = fake_slack.calls_to("apps.connections.open")
        assert opened and opened[0].token == fake_slack.app_token
        # When Slack sends /cf502 as a Socket Mode envelope
        envelope = await fake_socket_mode.send(
            "slash_commands", command_payload(fake_slack, f"www.example.test:{port}")
        )
        # Then the envelope is acked well within 3 s, and the report is posted
        ack = await fake_socket_mode.wait_ack(envelope)
        assert ack.seconds < 3
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await bot.services.background.drain()
        assert fake_slack.thread(roots[0].ts)


async def test_bad_input_over_socket_mode_is_answered_in_the_ack(
    fake_slack: FakeSlack, dns_world: DnsWorld, fake_socket_mode: FakeSocketMode
) -> None:
    async with connected(fake_slack, dns_world, fake_socket_mode):
        # When the command text is not a usable origin
        envelope = await fake_socket_mode.send(
            "slash_commands", command_payload(fake_slack, "not_a_host")
        )
        # Then the ack's payload carries the ephemeral error
        ack = await fake_socket_mode.wait_ack(envelope)
        assert ack.payload is not None
        assert ack.payload["response_type"] == "ephemeral"
        assert "Usage:" in ack.payload["text"]


async def test_mention_over_socket_mode_dedupes_retries(
    fake_slack: FakeSlack, dns_world: DnsWorld, fake_socket_mode: FakeSocketMode
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    payload = mention_payload(f"<@{BOT_USER}> check www.example.test:{port}", event_id="Ev0SOCK1")
    async with connected(fake_slack, dns_world, fake_socket_mode) as bot:
        # When the same event arrives twice (a retry)
        first = await fake_socket_mode.send("events_api", payload)
        second = await fake_socket_mode.send("events_api", payload, retry_attempt=1)
        await fake_socket_mode.wait_ack(first)
        await fake_socket_mode.wait_ack(second)
        await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await bot.services.background.drain()
        # Then one report is posted
        assert len(fake_slack.roots(CHANNEL)) == 1
