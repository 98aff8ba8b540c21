"""Starting the app as `cf502 bot` does: configuration errors, HTTP mode, Socket Mode, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import replace
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.run import run
from bot.settings import Mode
from cf502.errors import ConfigError
from handlers import register
from tests.handlers.harness import CHANNEL, command_payload, settings_for
from tests.servers.dns import DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.socket_mode import FakeSocketMode
from tests.servers.socket_mode import fake_socket_mode_fixture as fake_socket_mode_fixture


def test_cf502_bot_without_settings_exits_2_with_one_line(tmp_path: os.PathLike[str]) -> None:
    # Given no Slack settings at all (and no .env in the working directory)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    # When `cf502 bot --http` starts
    proc = subprocess.run(
        [sys.executable, "-m", "cf502", "bot", "--http"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Then it stops at once, naming the missing variable in one line
    assert proc.returncode == 2
    assert proc.stderr.startswith("cf502: error: SLACK_BOT_TOKEN is not set")
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


async def test_a_refused_token_stops_start_up(fake_slack: FakeSlack, dns_world: DnsWorld) -> None:
    # Given a bot token Slack does not accept
    settings = replace(settings_for(fake_slack, dns_world), bot_token="xoxb-revoked-0000")
    # When the app starts, Then it refuses to run, saying why in one line
    with pytest.raises(ConfigError, match=r"SLACK_BOT_TOKEN was refused by Slack \(invalid_auth\)"):
        await run(settings, register, Mode.HTTP, "127.0.0.1", 0)


async def test_http_mode_serves_events_and_health_until_stopped(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    settings = settings_for(fake_slack, dns_world)
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    # Given the app started in HTTP mode on a free port
    server = asyncio.create_task(run(settings, register, Mode.HTTP, "127.0.0.1", 0, stop, ready))
    port = await asyncio.wait_for(ready, 10)
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        # When its health endpoint and Slack's endpoint are called
        async with session.get(f"{base}/healthz") as resp:
            health = (resp.status, await resp.json())
        body = urlencode(command_payload(fake_slack, "help"))
        async with session.post(
            f"{base}/slack/events",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            unsigned = resp.status
    stop.set()
    await asyncio.wait_for(server, 10)
    # Then health is fine (no Redis configured), and an unsigned request is refused
    assert health == (200, {"status": "ok", "redis": "not configured"})
    assert unsigned == 401


async def test_socket_mode_connects_with_the_app_token_and_answers(
    fake_slack: FakeSlack, dns_world: DnsWorld, fake_socket_mode: FakeSocketMode
) -> None:
    fake_slack.ws_url = fake_socket_mode.ws_url
    settings = replace(settings_for(fake_slack, dns_world), signing_secret=None)
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    # Given the app started in Socket Mode
    task = asyncio.create_task(run(settings, register, Mode.SOCKET, stop=stop, ready=ready))
    await asyncio.wait_for(ready, 10)
    # When Slack sends `/cf502 help` over the socket
    envelope = await fake_socket_mode.send("slash_commands", command_payload(fake_slack, "help"))
    ack = await fake_socket_mode.wait_ack(envelope)
    stop.set()
    await asyncio.wait_for(task, 10)
    # Then the help comes back in the ack, and nothing was posted in the channel
    assert ack.payload is not None and "Usage" in json.dumps(ack.payload)
    assert not fake_slack.roots(CHANNEL)
