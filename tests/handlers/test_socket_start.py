"""A real `cf502 bot` process in Socket Mode against the fake Web API and Socket Mode servers: a
refused app token is a one-line configuration error (exit 2), outages retry with growing delays
and one log line each, and SIGTERM/SIGINT stop the bot promptly whatever it is waiting for."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.socket_mode import SocketClient
from tests.servers.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.socket_mode import FakeSocketMode
from tests.servers.socket_mode import fake_socket_mode_fixture as fake_socket_mode_fixture

RETRY = "cannot open the Socket Mode connection"
PROMPT = 2.0  # seconds a stop request may take, start-up and shutdown of a real process included


class BotProcess:
    """`python -m cf502 bot` (Socket Mode) with its stderr collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            async with self._cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()

    async def wait_for_events(self, prefix: str, count: int, timeout: float = 30) -> None:
        """Wait until `count` log events starting with `prefix` were written."""

        def seen() -> bool:
            return len([e for e in self.events() if e.startswith(prefix)]) >= count

        try:
            async with asyncio.timeout(timeout), self._cond:
                await self._cond.wait_for(seen)
        except TimeoutError:
            raise AssertionError(
                f"no {count} {prefix!r} lines in {timeout} s: {self.lines}"
            ) from None

    async def wait(self, timeout: float) -> int:
        """The exit status; fails the test if the process is still running after `timeout`."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"still running after {timeout} s; stderr: {self.lines}") from None
        await self._reader
        return code

    def events(self) -> list[str]:
        return [json.loads(line)["event"] for line in self.lines if line.startswith("{")]


@asynccontextmanager
async def cf502_bot(slack: FakeSlack, tmp_path: Path, app_token: str) -> AsyncIterator[BotProcess]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": app_token,
        "SLACK_API_URL": slack.url,
        "CF502_LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cf502",
        "bot",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    bot = BotProcess(proc)
    try:
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_refused_app_token_exits_2_with_one_line(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # Given an app token Slack answers invalid_auth for (the bot token is fine)
    async with cf502_bot(fake_slack, tmp_path, "xapp-1-A0001-9999-revoked") as bot:
        # When the bot starts, Then it stops by itself with exit status 2
        code = await bot.wait(timeout=30)
    assert code == 2
    # And says in one line what to fix, without a traceback or the token
    assert bot.lines == [bot.lines[0]]
    line = bot.lines[0]
    assert line.startswith("cf502: error: SLACK_APP_TOKEN was refused by Slack (invalid_auth)")
    assert "connections:write" in line and "Socket Mode" in line
    assert "9999-revoked" not in line
    # And it asked Slack once: a refusal is not retried
    assert len(fake_slack.calls_to("apps.connections.open")) == 1


@pytest.mark.parametrize("code", ["not_allowed_token_type", "missing_scope"])
async def test_other_refusals_are_configuration_errors_too(
    fake_slack: FakeSlack, tmp_path: Path, code: str
) -> None:
    fake_slack.fail("apps.connections.open", code)
    async with cf502_bot(fake_slack, tmp_path, APP_TOKEN) as bot:
        assert await bot.wait(timeout=30) == 2
    assert len(bot.lines) == 1 and f"refused by Slack ({code})" in bot.lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_outages_retry_with_backoff_and_a_signal_stops_the_wait(
    fake_slack: FakeSlack, tmp_path: Path, sig: signal.Signals
) -> None:
    # Given Slack failing apps.connections.open with a temporary error
    fake_slack.fail("apps.connections.open", "internal_error", times=100)
    async with cf502_bot(fake_slack, tmp_path, APP_TOKEN) as bot:
        # When the bot has tried three times
        await bot.wait_for_events(RETRY, 3)
        times = [c.at for c in fake_slack.calls_to("apps.connections.open")]
        # And the signal comes while it waits before the fourth (4 s)
        sent = time.monotonic()
        bot.proc.send_signal(sig)
        code = await bot.wait(timeout=10)
        took = time.monotonic() - sent
    # Then it stopped promptly and cleanly
    assert took < PROMPT, f"took {took:.2f} s to stop"
    assert code == 0
    # And the delays between attempts grew (1 s, then 2 s)
    assert times[2] - times[1] > (times[1] - times[0]) * 1.5
    # And each failed attempt was one log line, none with a traceback
    retries = [e for e in bot.events() if e.startswith(RETRY)]
    assert len(retries) == len(fake_slack.calls_to("apps.connections.open"))
    assert not [line for line in bot.lines if "Traceback" in line or not line.startswith("{")]


async def test_sigterm_stops_the_bot_while_slack_does_not_answer(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # Given apps.connections.open that never answers
    fake_slack.hang("apps.connections.open")
    async with cf502_bot(fake_slack, tmp_path, APP_TOKEN) as bot:
        await fake_slack.wait_for(lambda f: f.calls_to("apps.connections.open"), 30, "the call")
        # When SIGTERM comes while the bot waits for the answer
        sent = time.monotonic()
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.wait(timeout=10)
        took = time.monotonic() - sent
    # Then it stops at once
    assert took < PROMPT, f"took {took:.2f} s to stop"
    assert code == 0


async def test_sigterm_stops_a_connected_bot(
    fake_slack: FakeSlack, fake_socket_mode: FakeSocketMode, tmp_path: Path
) -> None:
    # Given the bot connected over Socket Mode
    fake_slack.ws_url = fake_socket_mode.ws_url
    async with cf502_bot(fake_slack, tmp_path, APP_TOKEN) as bot:
        await fake_socket_mode.wait_connected(timeout=30)
        # When SIGTERM comes
        sent = time.monotonic()
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.wait(timeout=10)
        took = time.monotonic() - sent
    # Then it stops promptly and cleanly
    assert took < PROMPT, f"took {took:.2f} s to stop"
    assert code == 0
    assert "cf502 bot connected to Slack (Socket Mode)" in bot.events()
    # And it said nothing its operator could not act on: no warning at all on a clean start
    levels = [json.loads(line)["level"] for line in bot.lines if line.startswith("{")]
    assert [level for level in levels if level not in ("debug", "info")] == [], bot.lines


async def test_the_delay_between_attempts_is_capped(fake_slack: FakeSlack) -> None:
    # Given a client whose delays start at 10 ms and are capped at 40 ms
    fake_slack.fail("apps.connections.open", "service_unavailable", times=6)
    from bot.poster import make_client

    refused: list[object] = []
    client = SocketClient(
        APP_TOKEN,
        make_client(BOT_TOKEN, fake_slack.url),
        refused.append,
        first_delay=0.01,
        backoff_cap=0.04,
    )
    try:
        # When it opens a connection through six failures
        fake_slack.ws_url = "ws://127.0.0.1:1/"
        url = await asyncio.wait_for(client.issue_new_wss_url(), 10)
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    times = [c.at for c in fake_slack.calls_to("apps.connections.open")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Then it got there, and no wait was much longer than the cap
    assert url == "ws://127.0.0.1:1/" and not refused
    assert len(times) == 7
    assert max(gaps) < 0.5
