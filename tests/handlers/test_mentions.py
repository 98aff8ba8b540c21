"""`@cf502 check …` events through the real HTTP endpoint: threads, Slack markup, retries."""

from __future__ import annotations

from tests.handlers.harness import ALICE, CHANNEL, harness, mention_payload
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import BOT_USER, FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port

INCIDENT_THREAD = "1700000000.000100"


async def test_mention_inside_an_incident_thread_reports_into_that_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given an incident thread where someone mentions the bot
    port = closed_port(ORIGIN_ADDRESS)
    payload = mention_payload(
        f"<@{BOT_USER}> check www.example.test:{port}", thread_ts=INCIDENT_THREAD
    )
    async with harness(fake_slack, dns_world) as h:
        # When Slack delivers the event
        sent = await h.event(payload)
        assert sent.status == 200
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="report in thread")
        await h.bot.services.background.drain()
        # Then the report and its details are replies in that same thread
        assert roots[0].thread_ts == INCIDENT_THREAD
        details = [m for m in fake_slack.thread(INCIDENT_THREAD) if m.ts != roots[0].ts]
        assert any("tcp.https" in text_of(m.blocks) for m in details)
        assert all(m.channel == CHANNEL for m in fake_slack.messages.values())


async def test_mention_at_top_level_starts_its_own_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When the bot is mentioned outside any thread
        await h.event(mention_payload(f"<@{BOT_USER}> check www.example.test:{port}"))
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        # Then the report is a new message and the details are in its thread
        assert roots[0].thread_ts is None
        assert fake_slack.thread(roots[0].ts)


async def test_slack_markup_is_read_as_the_user_meant_it(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given a mention as Slack delivers it: auto-linked host, em dash for --, an entity
    port = closed_port(ORIGIN_ADDRESS)
    text = (
        f"<@{BOT_USER}> check <http://www.example.test:{port}|www.example.test:{port}> "
        "—path /health?a=1&amp;b=2 –host-header <http://Www.Example.Test|Www.Example.Test>"
    )
    async with harness(fake_slack, dns_world) as h:
        # When it arrives
        await h.event(mention_payload(text))
        await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        # Then the job has the target and options the user typed
        job = h.pool.jobs[0]
        assert job.target["host"] == "www.example.test"
        assert job.target["port"] == port
        assert job.origin["path"] == "/health?a=1&b=2"
        assert job.origin["host_header"] == "www.example.test"
        assert job.requested_by["user"] == ALICE


async def test_a_retried_event_runs_one_job(fake_slack: FakeSlack, dns_world: DnsWorld) -> None:
    # Given one mention event that Slack delivers twice (the retry carries X-Slack-Retry-Num)
    port = closed_port(ORIGIN_ADDRESS)
    payload = mention_payload(f"<@{BOT_USER}> check www.example.test:{port}", event_id="Ev0RETRY1")
    async with harness(fake_slack, dns_world) as h:
        # When both deliveries arrive
        first = await h.event(payload)
        second = await h.event(payload, retry_num=1)
        await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        # Then both are acknowledged but only one diagnosis runs and one report is posted
        assert first.status == second.status == 200
        assert len(h.pool.jobs) == 1
        assert len(fake_slack.roots(CHANNEL)) == 1


async def test_mention_without_a_target_gets_an_ephemeral_hint(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When the bot is mentioned with `check` but no origin, and with an unknown verb
        await h.event(mention_payload(f"<@{BOT_USER}> check", thread_ts=INCIDENT_THREAD))
        await h.event(mention_payload(f"<@{BOT_USER}> dance"))
        hints = await fake_slack.wait_for(
            lambda f: (
                len(f.calls_to("chat.postEphemeral")) >= 2 and f.calls_to("chat.postEphemeral")
            ),
            what="two ephemeral hints",
        )
        # Then only the mentioning user sees a hint with the usage (in the thread they used)
        assert hints[0].args["user"] == ALICE
        assert hints[0].args["thread_ts"] == INCIDENT_THREAD
        assert "Which origin?" in hints[0].args["text"]
        assert "dance" in hints[1].args["text"]
        assert h.pool.jobs == []
        assert fake_slack.calls_to("chat.postMessage") == []
