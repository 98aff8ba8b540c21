"""/cf502 through the real HTTP endpoint, signed like Slack signs it, against a fake Web API."""

from __future__ import annotations

import time

from bot.actions import ActionId
from bot.budget import COMPACT_JSON, size
from tests.handlers.harness import ALICE, CHANNEL, harness
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port


async def test_command_acks_fast_then_root_thread_reply_and_final_update(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given an origin whose HTTPS port refuses connections
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When Slack delivers `/cf502 www.example.test:PORT`
        sent = await h.command(f"www.example.test:{port}")
        # Then the command is acknowledged at once, with nothing shown but the report to come
        assert sent.status == 200
        assert sent.seconds < 3
        assert sent.body == ""
        # And a root message names the target and who asked, in the channel (not a thread)
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root message")
        root = roots[0]
        assert root.thread_ts is None
        # And a reply in its thread explains the failing check with evidence, fix and buttons
        replies = await fake_slack.wait_for(lambda f: f.thread(root.ts), what="thread reply")
        await h.bot.services.background.drain()
        detail = text_of(replies[0].blocks)
        assert "tcp.https" in detail
        assert "refused" in detail
        assert "Fix:" in detail
        ids = {
            e["action_id"]
            for b in replies[0].blocks
            for e in b.get("elements", [])
            if "action_id" in e
        }
        assert {ActionId.RERUN_CHECK, ActionId.SHOW_COMMANDS} <= ids
        # And the final update of the root is the card: the verdict and CloudFront's answer
        final = text_of(fake_slack.messages[root.ts].blocks)
        assert f"<@{ALICE}>" in final
        assert "`www.example.test`" in final
        assert "*✖ FAIL*" in final
        assert "*CloudFront 502:* 127.0.0.10 refused port" in final
        assert "OriginConnectError" in detail  # the access-log value is in the details
        # And the whole report cost at most 6 Web API calls, replies before the final update
        calls = fake_slack.web_api_calls()
        assert len(calls) <= 6, [c.method for c in calls]
        assert calls[-1].method == "chat.update"


async def test_bad_target_gets_an_ephemeral_error_with_usage_and_no_job(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When the target is an IP address (CloudFront origins are DNS names)
        sent = await h.command("192.0.2.1 --path /")
        # Then the ack itself carries a one-line error and the usage, shown only to the user
        assert sent.status == 200
        reply = sent.json()
        assert reply.get("response_type", "ephemeral") == "ephemeral"
        assert "IP address" in reply["text"] and "Usage:" in reply["text"]
        assert "Traceback" not in reply["text"]
        # And nothing was queued or posted
        assert h.pool.jobs == []
        assert fake_slack.web_api_calls() == []


async def test_operator_only_options_are_refused_by_name(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        for option in ("--allow-private", "--resolver=1.1.1.1", "--ca-file /etc/passwd"):
            # When a user tries to loosen the operator's safety settings from Slack
            sent = await h.command(f"www.example.test {option}")
            # Then it is refused, naming the option, and nothing runs
            assert option.split("=")[0].split()[0] in sent.json()["text"]
            assert "operator setting" in sent.json()["text"]
        assert h.pool.jobs == []


async def test_unknown_option_and_bad_value_are_one_line_errors(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When options are misspelt or out of CloudFront's range
        unknown = (await h.command("www.example.test --hostheader x")).json()["text"]
        bad = (await h.command("www.example.test --connect-timeout 99")).json()["text"]
        # Then each answer says what is wrong, in one line plus usage
        assert "--hostheader" in unknown
        assert "1-10" in bad
        assert h.pool.jobs == []


async def test_help_lists_usage_and_options(fake_slack: FakeSlack, dns_world: DnsWorld) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When the user asks for help
        text = (await h.command("help")).json()["text"]
        # Then the usage, the origin options and the check ids are shown, and nothing runs
        assert "/cf502 &lt;origin&gt; [options]" in text  # not link markup
        assert "--host-header" in text and "--protocol-policy" in text
        assert "`tcp.https`" in text
        assert "--allow-private" not in text
        assert h.pool.jobs == []


async def test_forged_or_stale_signature_is_401_and_does_nothing(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When a request is signed with the wrong secret, or replayed 10 minutes later
        forged = await h.command("www.example.test", secret="not-the-signing-secret")
        stale = await h.command("www.example.test", timestamp=int(time.time()) - 600)
        # Then both are rejected with 401 before any listener runs
        assert forged.status == 401
        assert stale.status == 401
        assert h.pool.jobs == []
        assert fake_slack.web_api_calls() == []


async def test_user_text_cannot_ping_the_channel_or_inject_links(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given a path carrying Slack control markup (typed escaped, as Slack delivers it)
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        text = f"www.example.test:{port} --path /&lt;!channel&gt;&lt;http://evil.example|click&gt;"
        # When it is diagnosed
        await h.command(text)
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
        await h.bot.services.background.drain()
        # Then the job got exactly what the user meant
        assert h.pool.jobs[0].origin["path"] == "/<!channel><http://evil.example|click>"
        # And the report shows it inert: escaped, never as Slack markup
        rendered = text_of(fake_slack.messages[roots[0].ts].blocks)
        assert "&lt;!channel&gt;" in rendered
        assert "<!channel>" not in rendered
        assert "<http://evil.example" not in rendered


async def test_channel_allowlist_refuses_other_channels(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world, channel_allowlist=frozenset({"C0ONCALL1"})) as h:
        # When someone uses /cf502 in a channel that is not on the operator's allowlist
        sent = await h.command("www.example.test")
        # Then they get a polite ephemeral refusal and nothing runs
        assert "not enabled in this channel" in sent.json()["text"]
        assert h.pool.jobs == []


async def test_pool_rate_limit_is_a_friendly_ephemeral(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    from cf502.pool.limits import Limits

    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, limits=Limits(per_user=1, coalesce=0)) as h:
        # Given a user who already started their one diagnosis this minute
        first = await h.command(f"www.example.test:{port}")
        # When they start another one
        second = await h.command(f"www.example.test:{port} --path /other")
        await h.bot.services.background.drain()
        # Then the second ack explains the limit instead of running it
        assert first.body == ""
        assert "Rate limit reached" in second.json()["text"]
        assert len(fake_slack.roots(CHANNEL)) == 1


async def test_not_in_channel_gives_an_invite_hint_and_still_delivers_the_report(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given a channel the bot is not a member of
    fake_slack.fail("chat.postMessage", "not_in_channel")
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When /cf502 is used there
        sent = await h.command(f"www.example.test:{port}")
        assert sent.status == 200
        await h.bot.services.background.drain()
        # Then the user is told how to invite the bot, privately
        answers = fake_slack.calls_to("response_url")
        assert "/invite @cf502" in answers[0].args["text"]
        # And the complete report still reaches them through the response URL
        report = text_of(answers[-1].args["blocks"])
        assert "*✖ FAIL*" in report and "tcp.https" in report
        assert answers[-1].args["response_type"] == "ephemeral"


async def test_rate_limited_web_api_call_is_retried_after_retry_after(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given Slack answers the first chat.postMessage with 429 Retry-After: 0
    fake_slack.rate_limit("chat.postMessage", retry_after=0)
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When a report is posted
        await h.command(f"www.example.test:{port}")
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root after 429")
        await h.bot.services.background.drain()
        # Then the call was retried and the root message exists once
        posts = fake_slack.calls_to("chat.postMessage")
        assert posts[0].status == 429
        assert posts[1].status == 200
        assert len(roots) == 1


async def test_message_too_long_falls_back_to_the_compact_layout(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given Slack refuses the first root message as too long
    fake_slack.fail("chat.postMessage", "msg_too_long")
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When a report is posted
        await h.command(f"www.example.test:{port}")
        roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="compact root")
        await h.bot.services.background.drain()
        # Then it was posted again in the compact layout (within the compact budget, no menus)
        refused, accepted = fake_slack.calls_to("chat.postMessage")[:2]
        assert refused.error == "msg_too_long"
        assert size(accepted.args["blocks"]) <= COMPACT_JSON
        assert not any("accessory" in b for b in accepted.args["blocks"])
        assert len(roots) == 1
