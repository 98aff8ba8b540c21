"""The easier ways in, through the real app with signed requests: `/cf502` alone opens a form, the
"Diagnose with cf502" message shortcut, the App Home tab, direct messages to the bot, and a
direct message between people where the bot can't post."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from bot.check_modal import CHECK_MODAL
from bot.shortcut import SHORTCUT
from tests.decode.logs import w3c
from tests.handlers.harness import (
    ALICE,
    BOB,
    CHANNEL,
    Harness,
    Sent,
    command_payload,
    harness,
    mention_payload,
)
from tests.handlers.test_collaboration import PERMALINK, roots
from tests.handlers.test_origin_modal import submission
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import BOT_USER, TEAM, FakeSlack, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port

DM = "D0ALICEBOT"  # Alice's direct message with the bot
PEOPLE_DM = "D0ALICEBOB"  # Alice's direct message with Bob (the bot is not in it)


async def form_post(h: Harness, payload: dict[str, Any]) -> Sent:
    return await h.post(
        urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )


def event_payload(event: dict[str, Any]) -> dict[str, Any]:
    """An event callback as Slack POSTs it, around `event`."""
    payload = mention_payload("x")
    payload["event"] = event
    return payload


def im_event(text: str, **extra: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel": DM,
        "user": ALICE,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
        **extra,
    }
    return event_payload(event)


def shortcut_payload(h: Harness, text: str, *, ts: str = "1700000000.000200") -> dict[str, Any]:
    """A message shortcut (`message_action`) used on a message saying `text`."""
    return {
        "type": "message_action",
        "callback_id": SHORTCUT,
        "trigger_id": "1337.44.abcdef",
        "action_ts": f"{time.time():.6f}",
        "message_ts": ts,
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": ALICE, "username": "alice", "name": "alice", "team_id": TEAM},
        "channel": {"id": CHANNEL, "name": "incident"},
        "message": {"type": "message", "user": "U0CAROL03", "ts": ts, "text": text},
        "response_url": h.slack.response_url(f"sc-{uuid.uuid4().hex[:8]}"),
        "token": "legacy-verification-token",
    }


# -- /cf502 alone: a form ---------------------------------------------------------------------


async def test_the_slash_command_alone_opens_a_form_whose_answers_are_diagnosed(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When Alice types /cf502 with nothing after it
        sent = await h.command("")
        assert sent.status == 200 and sent.body == "" and sent.seconds < 3
        # Then a form opens for that command, asking for the target and its settings
        (view,) = await fake_slack.wait_for(lambda f: f.views, what="views.open")
        assert view["trigger_id"] == "1337.42.abcdef" and view["callback_id"] == CHECK_MODAL
        ids = [b.get("block_id") for b in view["blocks"] if b["type"] == "input"]
        assert ids[:6] == [
            "target",
            "protocol_policy",
            "host_header",
            "path",
            "cloudfront_domain",
            "origin",
        ]
        assert {"connect_timeout", "connection_attempts", "read_timeout"} <= set(ids)
        # When she gives a timeout CloudFront does not allow, Then it is refused on that field
        target = f"www.example.test:{port}"
        refused = await h.post(
            submission(view, {"target": target, "connect_timeout": "99"}),
            "application/x-www-form-urlencoded",
        )
        answer = refused.json()
        assert answer["response_action"] == "errors" and list(answer["errors"]) == [
            "connect_timeout"
        ]
        assert h.pool.jobs == []
        # When she gives good answers
        good = {"target": target, "protocol_policy": "https-only", "path": "/health"}
        accepted = await h.post(submission(view, good), "application/x-www-form-urlencoded")
        assert accepted.status == 200 and accepted.body == ""
        # Then they are diagnosed as the typed command would be, in the channel she was in
        await fake_slack.wait_for(lambda f: roots(f), what="root")
        await h.bot.services.background.drain()
        (job,) = h.pool.jobs
        assert job.target["host"] == "www.example.test" and job.origin["path"] == "/health"
        assert job.requested_by == {
            "user": ALICE,
            "channel": CHANNEL,
            "report": job.requested_by["report"],
        }


# -- the message shortcut ---------------------------------------------------------------------


async def test_the_shortcut_diagnoses_the_site_a_message_names_in_its_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When the shortcut is used on an alert naming a URL (as Slack marks links up)
        text = f"Pager: 502s on <https://www.example.test:{port}/checkout> since 03:12"
        payload = shortcut_payload(h, text)
        sent = await form_post(h, payload)
        assert sent.status == 200 and sent.seconds < 3
        # Then that site is diagnosed, with the URL's path, in the message's thread
        report = await fake_slack.wait_for(
            lambda f: [m for m in f.messages.values() if m.thread_ts == payload["message_ts"]],
            what="report in the thread",
        )
        await h.bot.services.background.drain()
        (job,) = h.pool.jobs
        assert job.target["host"] == "www.example.test" and job.origin["path"] == "/checkout"
        assert any(b.get("block_id") == "verdict" for b in report[0].blocks)


async def test_the_shortcut_decodes_a_log_line_and_explains_an_empty_message(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When it is used on a pasted CloudFront log line
        payload = shortcut_payload(h, w3c("OriginConnectError", 502))
        await form_post(h, payload)
        decoded = await fake_slack.wait_for(
            lambda f: [m for m in f.messages.values() if m.thread_ts == payload["message_ts"]],
            what="decoding in the thread",
        )
        # Then the decoding is posted in its thread, and nothing is diagnosed
        assert "OriginConnectError" in text_of(decoded[0].blocks)
        # When it is used on a message with nothing to work on
        await form_post(h, shortcut_payload(h, "anyone else seeing this?"))
        (told,) = await fake_slack.wait_for(
            lambda f: [
                c for c in f.calls_to("response_url") if "found no hostname" in c.args["text"]
            ],
            what="private answer",
        )
        await h.bot.services.background.drain()
        # Then the asker alone is told what the shortcut looks for, and nothing runs
        assert told.args["response_type"] == "ephemeral"
        assert h.pool.jobs == []


# -- App Home and direct messages -------------------------------------------------------------


async def test_the_home_tab_lists_the_viewers_reports_with_links(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        await h.command(f"www.example.test:{port}")
        (root,) = await fake_slack.wait_for(lambda f: roots(f), what="root")
        await h.bot.services.background.drain()
        # When Alice, then Bob, open the app's Home tab
        for who in (ALICE, BOB):
            ts = f"{time.time():.6f}"
            event = {"type": "app_home_opened", "user": who, "channel": DM, "tab": "home"}
            sent = await h.event(event_payload({**event, "event_ts": ts}))
            assert sent.status == 200
        await fake_slack.wait_for(lambda f: len(f.homes) == 2, what="views.publish")
        # Then Alice's lists her report, with its verdict and a link to it
        alice = text_of(fake_slack.homes[ALICE]["blocks"])
        assert fake_slack.homes[ALICE]["type"] == "home"
        assert "`www.example.test`" in alice and "✖ FAIL" in alice
        assert f"<{PERMALINK}{CHANNEL}/p{root.ts.replace('.', '')}|open the report>" in alice
        # And Bob's does not show Alice's report
        assert "www.example.test" not in text_of(fake_slack.homes[BOB]["blocks"])


async def test_a_direct_message_to_the_bot_checks_and_decodes(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # When Alice writes `check …` to the bot
        await h.event(im_event(f"check www.example.test:{port}"))
        await fake_slack.wait_for(lambda f: roots(f, DM), what="report in the DM")
        # And `decode …`
        await h.event(im_event(f"decode {w3c('OriginDnsError', 502)}"))
        decoded = await fake_slack.wait_for(
            lambda f: [m for m in f.messages.values() if "OriginDnsError" in m.text],
            what="decoding in the DM",
        )
        await h.bot.services.background.drain()
        # Then the report and the decoding are posted in the DM
        assert decoded[0].channel == DM
        assert len(h.pool.jobs) == 1
        # When an edit, a bot's message or a retry arrives, Then nothing more happens
        posted = len(fake_slack.messages)
        await h.event(im_event(f"check www.example.test:{port}", subtype="message_changed"))
        await h.event(im_event(f"check www.example.test:{port}", bot_id="B0002"))
        await h.event(im_event(f"check www.example.test:{port}", user=BOT_USER))
        await h.bot.services.background.drain()
        assert len(h.pool.jobs) == 1 and len(fake_slack.messages) == posted


async def test_in_a_dm_between_people_the_hint_neither_says_invite_nor_shows_codes(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    # Given a direct message between Alice and Bob, where Slack won't let the bot post
    fake_slack.fail("chat.postMessage", "channel_not_found")
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        payload = command_payload(fake_slack, f"www.example.test:{port}", channel=PEOPLE_DM)
        payload["channel_name"] = "directmessage"
        sent = await h.post(urlencode(payload), "application/x-www-form-urlencoded")
        assert sent.status == 200
        await h.bot.services.background.drain()
        # Then the private hint makes sense there, without Slack's error code
        hint, *_, delivered = fake_slack.calls_to("response_url")
        assert "/invite" not in hint.args["text"] and "channel_not_found" not in hint.args["text"]
        assert "direct message" in hint.args["text"]
        # And the report still reaches Alice, privately, with a hint that fits
        text = text_of(delivered.args["blocks"])
        assert "✖ FAIL" in text and "Invite @cf502" not in text
        assert delivered.args["response_type"] == "ephemeral"
