"""Users never see a traceback, and tokens never reach the logs."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator

from bot.actions import ActionId
from bot.app import build_bot
from bot.run import serve_http
from cf502.ops.logs import setup_logging
from cf502.pool.jobs import Job, JobEvent
from handlers import register
from tests.handlers.harness import (
    CHANNEL,
    SECRET,
    Harness,
    RecordingPool,
    harness,
    mention_payload,
    settings_for,
)
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import APP_TOKEN, BOT_TOKEN, BOT_USER, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port


class BrokenPool:
    """A pool with a bug: every call raises something unexpected."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    async def submit(self, job: Job) -> str:
        raise RuntimeError("internal detail /srv/cf502/secret.py line 12")

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        raise RuntimeError("never")

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        raise RuntimeError("never")

    async def close(self) -> None:
        return None


async def test_a_crashing_command_gets_a_polite_ephemeral_not_a_traceback(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    import aiohttp

    # Given an app whose pool has a bug
    bot = build_bot(settings_for(fake_slack, dns_world), register, pool=BrokenPool())
    server = await serve_http(bot, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            h = Harness(fake_slack, bot, server, session, RecordingPool(None), dns_world)  # type: ignore[arg-type]
            # When /cf502 hits the bug
            sent = await h.command("www.example.test")
            # Then the ack is a 200 with one polite line, nothing internal
            assert sent.status == 200
            reply = sent.json()
            assert reply["response_type"] == "ephemeral"
            assert "Sorry, something went wrong" in reply["text"]
            assert "Traceback" not in sent.body and "secret.py" not in sent.body
            # And a mention hitting the same bug gets the same apology, privately
            await h.event(mention_payload(f"<@{BOT_USER}> check www.example.test"))
            note = await fake_slack.wait_for(
                lambda f: f.calls_to("chat.postEphemeral"), what="apology"
            )
            assert "Sorry, something went wrong" in note[0].args["text"]
    finally:
        await server.close()
        await bot.close()


async def test_tokens_and_secrets_never_reach_the_logs(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given the app's logging at DEBUG, with Slack's and our own libraries logging everything
    stream = io.StringIO()
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    settings = settings_for(fake_slack, dns_world)
    handler = setup_logging("DEBUG", fmt="json", stream=stream, secrets=settings.secrets)
    port = closed_port(ORIGIN_ADDRESS)
    try:
        async with harness(fake_slack, dns_world) as h:
            # When a whole report, a button and a forged request go through
            await h.command(f"www.example.test:{port}")
            await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
            await h.bot.services.background.drain()
            await h.click(ActionId.RERUN_ALL, '{"r":"' + "0" * 32 + '"}', message_ts="1.1")
            await h.command("www.example.test", secret="wrong-secret")
            await h.bot.services.background.drain()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for old in old_handlers:
            if old not in root.handlers:
                root.addHandler(old)
    logs = stream.getvalue()
    # Then plenty was logged, but no token or secret
    assert "chat.postMessage" in logs
    for secret in (BOT_TOKEN, APP_TOKEN, SECRET):
        assert secret not in logs
