"""`/cf502 decode …` and a mention with a pasted line, through the real HTTP endpoint signed like
Slack signs it, against the fake Web API: answered at once, with no job."""

from __future__ import annotations

from tests.decode.logs import SITE, w3c
from tests.handlers.harness import CHANNEL, harness, mention_payload
from tests.servers.dns import DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import BOT_USER, FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture

INCIDENT_THREAD = "1700000000.000100"


async def test_slash_decode_answers_in_the_channel_within_the_ack(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When someone pastes a log line after /cf502 decode
        sent = await h.command(f"decode {w3c('OriginConnectError', 502)}")
        # Then the ack itself carries the decoding, for the whole channel, well within 3 s
        assert sent.status == 200
        assert sent.seconds < 3
        reply = sent.json()
        assert reply["response_type"] == "in_channel"
        text = text_of(reply["blocks"])
        assert "OriginConnectError · 502 Bad Gateway" in text
        assert f"`/cf502 {SITE} --path /api/orders`" in text
        assert "OriginConnectError" in reply["text"]
        # And no diagnosis was queued, no Web API call made
        assert h.pool.jobs == []
        assert fake_slack.web_api_calls() == []


async def test_slash_decode_of_junk_is_a_private_one_line_error(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        reply = (await h.command("decode \x1b[31mnot a log line")).json()
        assert reply.get("response_type", "ephemeral") == "ephemeral"
        assert "is not something cf502 decode reads" in reply["text"]
        assert "Traceback" not in reply["text"]
        assert h.pool.jobs == []


async def test_a_pasted_line_in_an_incident_thread_is_decoded_in_that_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given an incident thread where someone mentions the bot with a pasted log line
    line = w3c("OriginDnsError", 502).replace(SITE, f"<http://{SITE}|{SITE}>")
    payload = mention_payload(f"<@{BOT_USER}> ```{line}```", thread_ts=INCIDENT_THREAD)
    async with harness(fake_slack, dns_world) as h:
        # When Slack delivers the event
        sent = await h.event(payload)
        assert sent.status == 200
        # Then the decoding is posted in that thread, and no diagnosis runs
        replies = await fake_slack.wait_for(
            lambda f: f.thread(INCIDENT_THREAD), what="decoding in the thread"
        )
        assert replies[0].channel == CHANNEL
        text = text_of(replies[0].blocks)
        assert "OriginDnsError · 502 Bad Gateway" in text
        assert "`dns.resolve`" in text
        assert f"`cf502 check {SITE} --path /api/orders`" in text
        assert h.pool.jobs == []


async def test_a_mention_with_decode_and_an_x_cache_value(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        await h.event(mention_payload(f"<@{BOT_USER}> decode X-Cache: Error from cloudfront"))
        posted = await fake_slack.wait_for(
            lambda f: [m for m in f.messages.values() if "decode" in m.text], what="decoding"
        )
        assert posted[0].thread_ts is None  # at top level, like a report
        assert "x-edge-detailed-result-type" in text_of(posted[0].blocks)
