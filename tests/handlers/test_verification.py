"""Nothing from an unverified Slack request is acted on: forged, stale, malformed and replayed
requests to the real /slack/events endpoint, with loopback listeners standing in for the Web API
and for a `response_url` target, which must see no connection at all."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from bot.actions import ActionId
from tests.handlers.harness import (
    ALICE,
    CHANNEL,
    SECRET,
    Harness,
    Sent,
    command_payload,
    harness,
)
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.redis import RedisServer
from tests.servers.redis import redis_server_fixture as redis_server_fixture
from tests.servers.slack_api import FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port


class Listener:
    """A loopback TCP listener that only counts the connections it is offered."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest_asyncio.fixture
async def listeners() -> AsyncIterator[tuple[Listener, Listener]]:
    """(web_api, target): stand-ins for Slack's Web API and for a response_url's host."""
    web_api, target = await Listener().start(), await Listener().start()
    try:
        yield web_api, target
    finally:
        await web_api.close()
        await target.close()


async def raw_post(h: Harness, body: bytes, headers: Mapping[str, str]) -> Sent:
    started = time.perf_counter()
    async with h.session.post(h.url, data=body, headers=dict(headers)) as resp:
        return Sent(resp.status, await resp.text(), time.perf_counter() - started)


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's signature over the raw bytes (slack_sdk's helper only takes UTF-8 text)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


FORM = "application/x-www-form-urlencoded"


def hostile_command(target: Listener) -> bytes:
    """A slash command naming the target as its response_url, for a channel and user."""
    payload = command_payload(FakeSlack(), "www.example.test")
    payload["response_url"] = f"{target.url}latest/meta-data/iam"
    return urlencode(payload).encode()


def _cases(target: Listener) -> dict[str, tuple[bytes, dict[str, str]]]:
    now = str(int(time.time()))
    body = hostile_command(target)
    stale, future = str(int(time.time()) - 400), str(int(time.time()) + 400)
    action = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": ALICE},
                    "channel": {"id": CHANNEL},
                    "response_url": f"{target.url}x",
                    "actions": [{"action_id": ActionId.RERUN_ALL.value, "value": "{}"}],
                }
            )
        }
    ).encode()

    def form(ts: str, sig: str, data: bytes = body) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
        return data, headers

    bogus = "v0=" + "0" * 64
    return {
        "non-integer timestamp": form("abc", bogus),
        "non-integer timestamp, action": form("abc", bogus, action),
        "unicode digits timestamp": form("١٧٠٠٠٠٠٠٠٠", bogus),
        "signed timestamp with a plus sign": form(f"+{now}", sign(body, f"+{now}")),
        "timestamp with an underscore": form(f"{now[:4]}_{now[4:]}", bogus),
        "no signature headers": (body, {"Content-Type": FORM}),
        "empty signature": form(now, ""),
        "malformed signature": form(now, "v0=zz"),
        "stale, correctly signed": form(stale, sign(body, stale)),
        "future, correctly signed": form(future, sign(body, future)),
        "wrong secret": form(now, sign(body, now, "not-the-secret")),
        "invalid UTF-8, unsigned": form(now, bogus, b"text=\xff\xfe\xfd&command=%2Fcf502"),
        "payload not JSON, unsigned": form(now, bogus, b"payload=%7Bnot+json"),
        "JSON list, unsigned": (
            b'[{"type": "url_verification", "challenge": "x"}]',
            {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": now,
                "X-Slack-Signature": bogus,
            },
        ),
    }


async def test_unverified_requests_get_401_and_cause_no_outbound_connection(
    fake_slack: FakeSlack,
    dns_world: DnsWorld,
    listeners: tuple[Listener, Listener],
    caplog: pytest.LogCaptureFixture,
) -> None:
    web_api, target = listeners
    # Given the app whose Web API is a counting listener, and which would even accept the
    # target's URLs as response URLs: only the signature check stands in the way
    async with harness(
        fake_slack, dns_world, api_url=f"{web_api.url}api/", response_url_base=target.url
    ) as h:
        # When each forged, stale or malformed request is POSTed to /slack/events
        answers = {}
        for name, (body, headers) in _cases(target).items():
            answers[name] = (await raw_post(h, body, headers)).status
        await h.bot.services.background.drain()
        # Then every one is refused with 401
        assert answers == dict.fromkeys(answers, 401)
        # And nothing was queued, and neither listener was ever connected to
        assert h.pool.jobs == []
        assert (web_api.connections, target.connections) == (0, 0)
    assert fake_slack.calls == []
    # And no traceback was logged
    assert not [r for r in caplog.records if r.exc_info]


async def test_signed_but_malformed_payloads_get_a_clean_answer_and_one_log_line(
    fake_slack: FakeSlack,
    dns_world: DnsWorld,
    listeners: tuple[Listener, Listener],
    caplog: pytest.LogCaptureFixture,
) -> None:
    web_api, target = listeners
    caplog.set_level(logging.INFO)
    async with harness(fake_slack, dns_world, api_url=f"{web_api.url}api/") as h:
        answers = []
        # When correctly signed bodies that Slack never sends arrive
        for body, ctype in (
            (b"payload=%7Bnot+json", FORM),
            (b"[1, 2, 3]", "application/json"),
            (b'"just a string"', "application/json"),
            (b"payload=%5B1%2C2%5D", FORM),
            (b"text=\xff\xfe", FORM),
        ):
            now = str(int(time.time()))
            headers = {
                "Content-Type": ctype,
                "X-Slack-Request-Timestamp": now,
                "X-Slack-Signature": sign(body, now),
            }
            answers.append(await raw_post(h, body, headers))
        await h.bot.services.background.drain()
    # Then each gets a clean 4xx (never a 500), one log line each, no traceback
    assert [a.status for a in answers] == [400, 400, 400, 400, 401]
    assert all("Traceback" not in a.body for a in answers)
    assert not [r for r in caplog.records if r.exc_info]
    lines = [r for r in caplog.records if r.name.startswith("bot.")]
    assert len(lines) == 5 and all("\n" not in r.getMessage() for r in lines)
    # And nothing went out
    assert (web_api.connections, target.connections) == (0, 0)


async def test_a_replayed_command_does_not_run_again(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # Given one correctly signed /cf502 request
        body = urlencode(command_payload(fake_slack, f"www.example.test:{port}"))
        ts = int(time.time())
        first = await h.post(body, FORM, timestamp=ts)
        await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        # When the same bytes and headers are sent again within Slack's 5-minute window
        again = [await h.post(body, FORM, timestamp=ts) for _ in range(3)]
        await h.bot.services.background.drain()
    # Then the first ran, the copies were answered without running anything
    assert first.status == 200
    assert [(a.status, a.body) for a in again] == [(200, "")] * 3
    assert len(h.pool.jobs) == 1
    assert len(fake_slack.roots(CHANNEL)) == 1


async def test_a_replay_to_another_replica_sharing_redis_does_not_run(
    fake_slack: FakeSlack, dns_world: DnsWorld, redis_server: RedisServer
) -> None:
    # Given two bot replicas sharing one Redis
    async with (
        harness(fake_slack, dns_world, redis_url=redis_server.url) as one,
        harness(fake_slack, dns_world, redis_url=redis_server.url) as two,
    ):
        body = urlencode(command_payload(fake_slack, "www.example.test"))
        ts = int(time.time())
        # When a signed request reaches the first and its copy reaches the second
        await one.post(body, FORM, timestamp=ts)
        copy = await two.post(body, FORM, timestamp=ts)
    # Then the second replica recognises the replay and runs nothing
    assert len(one.pool.jobs) == 1
    assert (copy.status, copy.body) == (200, "")
    assert two.pool.jobs == []


async def test_response_urls_that_are_not_slack_s_are_never_used(
    fake_slack: FakeSlack, dns_world: DnsWorld, listeners: tuple[Listener, Listener]
) -> None:
    _, target = listeners
    # Given the app cannot post in the channel (so it would answer through the response URL)
    fake_slack.fail("chat.postMessage", "not_in_channel", times=5)
    async with harness(fake_slack, dns_world) as h:
        # When a verified command names a response_url that is not Slack's
        payload = command_payload(fake_slack, "www.example.test")
        payload["response_url"] = f"{target.url}respond"
        sent = await h.post(urlencode(payload), FORM)
        await fake_slack.wait_for(
            lambda f: f.calls_to("chat.postEphemeral"), what="the hint as an ephemeral"
        )
        await h.bot.services.background.drain()
    # Then the hint went out as an ephemeral message, and the other host saw nothing
    assert sent.status == 200
    assert target.connections == 0


async def test_the_error_handler_does_not_answer_through_a_foreign_response_url(
    fake_slack: FakeSlack,
    dns_world: DnsWorld,
    listeners: tuple[Listener, Listener],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, target = listeners
    async with harness(fake_slack, dns_world) as h:
        # When a verified button click makes the listener fail (`channel` is not an object),
        # its payload naming a response_url that is not Slack's
        payload = {
            "type": "block_actions",
            "user": {"id": ALICE, "name": "alice"},
            "channel": CHANNEL,
            "channel_id": CHANNEL,
            "team": {"id": "T0001"},
            "response_url": f"{target.url}x",
            "actions": [{"action_id": ActionId.RERUN_ALL.value, "value": "{}", "type": "button"}],
        }
        sent = await h.post(urlencode({"payload": json.dumps(payload)}), FORM)
        note = await fake_slack.wait_for(
            lambda f: f.calls_to("chat.postEphemeral"), what="the apology as an ephemeral"
        )
        await h.bot.services.background.drain()
    # Then the error handler ran, apologised privately, and nothing reached the foreign host
    assert any(r.getMessage() == "unhandled error in a Slack listener" for r in caplog.records)
    assert sent.status == 200
    assert "Sorry, something went wrong" in note[0].args["text"]
    assert target.connections == 0


def test_only_slack_s_response_urls_are_accepted() -> None:
    from bot.poster import is_response_url

    good = "https://hooks.slack.com/commands/T0001/1234/abcd"
    assert is_response_url(good)
    for bad in (
        "http://hooks.slack.com/commands/T0001/1/x",
        "https://hooks.slack.com.evil.test/commands",
        "https://hooks.slack.com@evil.test/commands",
        "https://evil.test/https://hooks.slack.com/",
        "http://169.254.169.254/latest/meta-data/",
        "https://hooks.slack.com\\@evil.test/",
        "https://hooks.slack.com/\n",
        None,
        42,
    ):
        assert not is_response_url(bad), bad
    # And a configured extra base (tests, a proxy) is accepted only below itself
    base = "http://127.0.0.1:8080/respond/"
    assert is_response_url("http://127.0.0.1:8080/respond/x", (base,))
    assert not is_response_url("http://127.0.0.1:8080/other/x", (base,))
    assert not is_response_url("http://127.0.0.1:8081/respond/x", (base,))
