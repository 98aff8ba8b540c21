"""The operator's surface: /metrics stays off the public Slack port unless asked for, and
configuration mistakes (`--env-file`, `SLACK_API_URL`, `--redis-url`) are one-line errors, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.settings import Mode, load_settings
from tests.handlers.harness import harness
from tests.servers.dns import DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack
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


def cf502(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A real `cf502` process with only `env` set (and no .env unless the test writes one)."""
    return subprocess.run(
        [sys.executable, "-m", "cf502", *args],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_env_file_named_on_the_command_line_is_an_error(tmp_path: Path) -> None:
    # Given settings in the environment that would otherwise get past the .env step
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    # When the bot is told to read a settings file that is not there
    proc = cf502(["bot", "--env-file", "prod.env"], tmp_path, **env)
    # Then it stops at once with one line naming the file
    assert proc.returncode == 2
    assert proc.stderr == "cf502: error: --env-file 'prod.env': no such file.\n"
    # And a directory is refused the same way
    proc = cf502(["bot", "--env-file", str(tmp_path)], tmp_path, **env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "is a directory" in proc.stderr


def test_an_env_file_named_on_the_command_line_is_read(tmp_path: Path) -> None:
    # Given a settings file with a malformed setting in it
    (tmp_path / "prod.env").write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nSLACK_APP_TOKEN={APP_TOKEN}\nCF502_CONCURRENCY=lots\n"
    )
    # When the bot reads it, Then the setting from the file is what stops it
    proc = cf502(["bot", "--env-file", "prod.env"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("cf502: error: CF502_CONCURRENCY must be a whole number")


@pytest.mark.parametrize(
    "url", ["https://user:hunter22@slack.example/api/", "https://:hunter22@slack.example/api/"]
)
def test_slack_api_url_with_credentials_is_a_one_line_configuration_error(
    tmp_path: Path, url: str
) -> None:
    # When the Slack API URL carries a user and password
    proc = cf502(
        ["bot"], tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=url
    )
    # Then it is a configuration error (exit 2, one line) that does not repeat the password
    assert proc.returncode == 2
    assert proc.stderr == (
        "cf502: error: SLACK_API_URL must not contain credentials (user:password@): remove them.\n"
    )


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("localhostgarbage", "'localhostgarbage'"),
        ("redis//localhost:6379/0", "'redis//localhost:6379/0'"),
        ("redis://:hunter22@localhost:notaport/0", "'redis://:[redacted]@localhost:notaport/0'"),
    ],
)
def test_a_malformed_redis_url_is_echoed_as_typed(tmp_path: Path, typed: str, shown: str) -> None:
    # When `cf502 check --redis-url` gets a URL Redis cannot use
    proc = cf502(["check", "origin.example.com", "--redis-url", typed], tmp_path)
    # Then the one-line error shows it as typed (the password masked), exit 2
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"cf502: error: Invalid Redis URL {shown}: ")
    assert proc.stderr.count("\n") == 1 and "hunter22" not in proc.stderr
