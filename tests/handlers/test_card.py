"""The verdict card and the size budget through the real app: signed requests in, the fake Web API
(which refuses what Slack refuses) out."""

from __future__ import annotations

import json
from typing import Any

from bot.actions import ActionId
from bot.budget import MAX_JSON, size, violations
from cf502.pool.limits import Limits
from tests.handlers.harness import ALICE, CHANNEL, Harness, harness
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import Call, FakeSlack, Message, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port

SENT = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")


def sent(fake: FakeSlack) -> list[Call]:
    """Every message the app sent (accepted or not)."""
    return [c for c in fake.calls if c.method in SENT]


def value_of(message: Message, action: ActionId) -> str:
    for block in message.blocks:
        for e in block.get("elements", []):
            if e.get("action_id") == action:
                return str(e["value"])
    raise AssertionError(f"no {action} button in {text_of(message.blocks)[:300]}")


async def closed_port_report(h: Harness) -> Message:
    port = closed_port(ORIGIN_ADDRESS)
    await h.command(f"www.example.test:{port}")
    roots = await h.slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
    await h.bot.services.background.drain()
    return h.slack.messages[roots[0].ts]


async def test_a_failing_report_is_a_compact_card_and_every_message_fits(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When a closed port is diagnosed
        root = await closed_port_report(h)
        # Then the root is a card: the verdict in its text and first line, a handful of blocks
        assert root.text.startswith("cf502: ✖ FAIL www.example.test: HTTPS port:")
        first = root.blocks[0]["text"]["text"]
        assert first.startswith("*✖ FAIL* · `www.example.test` — *CloudFront 502:*")
        assert "\n*Fix:* Start the web server" in first and "\n*Where:* origin:" in first
        assert len(root.blocks) <= 8 and size(root.blocks) < 3000
        assert "not reached" in text_of(root.blocks)
        # And every message the app sent is within the budget
        for call in sent(fake_slack):
            blocks = call.args.get("blocks") or []
            assert violations(blocks, text=str(call.args.get("text", ""))) == [], call.method
            assert size(blocks) <= MAX_JSON


async def test_show_all_checks_expands_the_same_message_and_hide_folds_it(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        root = await closed_port_report(h)
        folded = len(root.blocks)
        updates = root.updates
        # When Alice clicks "Show all checks" on the card
        reply = await h.click(
            ActionId.SHOW_ALL, value_of(root, ActionId.SHOW_ALL), message_ts=root.ts
        )
        assert reply.status == 200 and reply.seconds < 3
        await fake_slack.wait_for(
            lambda f: f.messages[root.ts].updates > updates, what="expanded root"
        )
        await h.bot.services.background.drain()
        # Then the same message lists every check, the passes and the unreached ones included
        shown = fake_slack.messages[root.ts]
        text = text_of(shown.blocks)
        assert "✔ pass *DNS resolution*" in text and "○ not reached — TLS handshake" in text
        assert len(shown.blocks) > folded and len(fake_slack.roots()) == 1
        # When she clicks "Hide other checks"
        updates = shown.updates
        await h.click(
            ActionId.HIDE_CHECKS, value_of(shown, ActionId.HIDE_CHECKS), message_ts=root.ts
        )
        await fake_slack.wait_for(lambda f: f.messages[root.ts].updates > updates, what="folded")
        await h.bot.services.background.drain()
        # Then the card is back to the problems only
        back = fake_slack.messages[root.ts]
        assert len(back.blocks) == folded
        assert ActionId.SHOW_ALL in json.dumps(back.blocks)


async def test_every_kind_of_message_is_retried_compact_when_slack_says_too_long(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given a Slack that refuses any message over 1,000 characters of blocks
    fake_slack.max_blocks_json = 1000
    async with harness(fake_slack, dns_world) as h:
        # When a closed port is diagnosed
        root = await closed_port_report(h)
        # Then the root (posted and updated) and the thread reply were refused, then sent compact
        refused = [c for c in sent(fake_slack) if c.error == "msg_blocks_too_long"]
        assert {c.method for c in refused} >= {"chat.postMessage", "chat.update"}
        for call in refused:  # each refusal is followed by a smaller try of the same message
            retry = fake_slack.calls[fake_slack.calls.index(call) + 1]
            assert retry.method == call.method
            assert size(retry.args["blocks"]) < size(call.args["blocks"])
        accepted = [c for c in sent(fake_slack) if c.error is None and c.args.get("blocks")]
        assert accepted and all(size(c.args["blocks"]) <= 1000 for c in accepted)
        # And the details still reached the thread, saying they were shortened
        (reply,) = [m for m in fake_slack.thread(root.ts)]
        assert "HTTPS port" in text_of(reply.blocks)
        assert "Shortened" in text_of(reply.blocks)
        assert "✖ FAIL" in text_of(fake_slack.messages[root.ts].blocks)


async def test_the_full_report_is_attached_to_the_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        root = await closed_port_report(h)
        files = await fake_slack.wait_for(lambda f: f.files, what="files")
        # Then the text and the JSON report are shared in the report's thread
        assert {(f.channel, f.thread_ts) for f in files} == {(CHANNEL, root.ts)}
        by_ext = {f.name.rsplit(".", 1)[1]: f for f in files}
        assert set(by_ext) == {"txt", "json"}
        assert by_ext["txt"].name.startswith("cf502-www.example.test-")
        report: dict[str, Any] = json.loads(by_ext["json"].content)
        https = next(c for c in report["checks"] if c["id"] == "tcp.https")
        assert https["status"] == "fail" and https["evidence"]
        assert "tcp.https" in by_ext["txt"].content.decode()
        # Through files.uploadV2's three steps
        methods = [c.method for c in fake_slack.calls]
        assert methods.count("files.getUploadURLExternal") == 2 and methods.count("upload") == 2
        assert methods.index("files.completeUploadExternal") > methods.index("upload")


async def test_a_rate_limit_names_no_raw_id(fake_slack: FakeSlack, dns_world: DnsWorld) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(
        fake_slack, dns_world, limits=Limits(per_user=1, per_channel=0, coalesce=0)
    ) as h:
        await h.command(f"www.example.test:{port}")
        # When Alice asks again within the window
        answer = (await h.command(f"other.example.test:{port}")).json()["text"]
        await h.bot.services.background.drain()
        # Then she is told in words, with no user id shown
        assert answer.startswith(":hourglass: Rate limit reached: You may start 1 diagnosis per")
        assert ALICE not in answer
