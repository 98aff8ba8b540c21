"""The operator's surface: /metrics stays off the public Slack port unless asked for, and
configuration mistakes (`--env-file`, `SLACK_API_URL`, `--redis-url`) are one-line errors, exit 2."""

from __future__ import annotations

import aiohttp

from bot.settings import Mode, load_settings
from tests.handlers.harness import harness
from tests.servers.dns import DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import BOT_TOKEN, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture


async def _get(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status


async def test_metrics_are_served_on_the_slack_port_only_when_the_operator_asks(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given the HTTP-mode app with default settings
    async with harness(fake_slack, dns_world) as h:
        base = f"http://127.0.0.1:{h.server.port}"
        # When /metrics is asked for on Slack's (public) port, Then it is not there
        assert await _get(f"{base}/metrics") == 404
        # And the health checks still are
        assert await _get(f"{base}/healthz") == 200
    # Given the operator's explicit opt-in
    async with harness(fake_slack, dns_world, metrics_on_slack_port=True) as h:
        # Then /metrics is served there too
        assert await _get(f"http://127.0.0.1:{h.server.port}/metrics") == 200


def test_the_metrics_opt_in_is_a_setting() -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s"}
    assert not load_settings(Mode.HTTP, env, dotenv=None).metrics_on_slack_port
    opted = {**env, "CF502_METRICS_ON_SLACK_PORT": "true"}
    assert load_settings(Mode.HTTP, opted, dotenv=None).metrics_on_slack_port
