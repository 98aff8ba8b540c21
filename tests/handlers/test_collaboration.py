"""Several people on one report, through the real app with signed requests: notifications carry
the verdict, duplicates post once, Show commands posts once, a watch's rechecks are the watch's,
stale notes go, others' watches and reports ask before acting, and reruns say what changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import reports as reports_module
from bot.actions import ActionId
from cf502.pool.limits import Limits
from tests.handlers.harness import ALICE, BOB, CHANNEL, Harness, harness
from tests.handlers.test_actions import buttons, origin_comes_back
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import FakeSlack, Message, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port

PERMALINK = "https://test.slack.com/archives/"


def roots(f: FakeSlack, channel: str = CHANNEL) -> list[Message]:
    """Report roots: top-level messages with a verdict block."""
    return [
        m
        for m in f.messages.values()
        if m.channel == channel
        and m.thread_ts is None
        and any(b.get("block_id") == "verdict" for b in m.blocks)
    ]


def answers(f: FakeSlack, needle: str) -> list[str]:
    """Texts sent privately (response URLs) containing `needle`."""
    return [
        str(c.args.get("text", ""))
        for c in f.calls_to("response_url")
        if needle in str(c.args.get("text", ""))
    ]


async def report(h: Harness, text: str) -> Message:
    await h.command(text)
    found = await h.slack.wait_for(lambda f: roots(f), what="root")
    await h.bot.services.background.drain()
    return h.slack.messages[found[0].ts]


def button_of(message: Message, action: ActionId) -> dict[str, Any]:
    for block in message.blocks:
        for e in block.get("elements", []):
            if e.get("action_id") == action:
                return dict(e)
    raise AssertionError(f"no {action} button")


# -- notifications -----------------------------------------------------------------------------


async def test_a_slow_diagnosis_names_its_requester_in_the_thread_with_the_verdict(
    fake_slack: FakeSlack, dns_world: DnsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # Given a quick diagnosis: nobody is pinged (they are looking at it)
        root = await report(h, f"www.example.test:{port}")
        assert not [m for m in fake_slack.thread(root.ts) if f"<@{ALICE}>" in m.text]
        # And the root's notification text is the verdict, not "checking…"
        assert "checking" not in root.text and "www.example.test" in root.text
        # When a diagnosis takes longer than the slow threshold
        monkeypatch.setattr(reports_module, "SLOW", 0.0)
        await h.command(f"www.example.test:{port} --path /slow", user=BOB)
        second = await fake_slack.wait_for(
            lambda f: [r for r in roots(f) if r.ts != root.ts], what="second root"
        )
        await h.bot.services.background.drain()
        # Then its requester is named in its thread, with the verdict the root shows
        (note,) = [m for m in fake_slack.thread(second[0].ts) if f"<@{BOB}>" in m.text]
        final = fake_slack.messages[second[0].ts]
        assert final.text.removeprefix("cf502: ") in note.text
        assert "@channel" not in note.text and "<!" not in note.text.replace("<!date", "")
        assert not note.broadcast


async def test_a_watch_credits_its_rechecks_to_itself_and_broadcasts_fixed(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=0.1, watch_limit=30) as h:
        root = await report(h, f"www.example.test:{port} --only tcp.https")
        # Given Bob reran everything while it still failed
        await h.click(ActionId.RERUN_ALL, buttons(root)[ActionId.RERUN_ALL][0], message_ts=root.ts)
        await fake_slack.wait_for(
            lambda f: "All checks rerun by" in text_of(f.messages[root.ts].blocks), what="rerun"
        )
        await h.bot.services.background.drain()
        # When Alice watches it and the origin comes back
        await h.click(ActionId.WATCH, buttons(root)[ActionId.WATCH][0], message_ts=root.ts)
        with origin_comes_back(port):
            fixed = await fake_slack.wait_for(
                lambda f: [m for m in f.thread(root.ts) if "Fixed" in m.text],
                what="fixed message",
                timeout=15,
            )
            await h.bot.services.background.drain()
        # Then "Fixed" names the watcher and is also shown in the channel
        assert fixed[0].broadcast
        assert f"<@{ALICE}>" in fixed[0].text and "www.example.test" in fixed[0].text
        assert "*HTTPS port* fixed" in fixed[0].text
        # And the check's details credit the recheck to the watch, not to a person
        reply = next(m for m in fake_slack.thread(root.ts) if "tcp.https" in text_of(m.blocks))
        detail = text_of(reply.blocks)
        assert "rechecked by the watch" in detail and "now passes, was failing" in detail
        assert f"rerun by <@{ALICE}>" not in detail
        # And the stale "All checks rerun … still fails" is gone next to the passing verdict
        final = text_of(fake_slack.messages[root.ts].blocks)
        assert "✔ pass" in final and "All checks rerun" not in final


# -- duplicates --------------------------------------------------------------------------------


async def test_the_same_command_twice_posts_one_report_and_points_to_it(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    limits = Limits(per_user=2, per_channel=0, coalesce=30)
    async with harness(fake_slack, dns_world, limits=limits) as h:
        # Given Alice's report
        root = await report(h, f"www.example.test:{port}")
        # When Bob sends the same command within the coalescing window
        sent = await h.command(f"www.example.test:{port}", user=BOB)
        assert sent.status == 200
        (told,) = await fake_slack.wait_for(
            lambda f: answers(f, "started this"), what="private pointer"
        )
        await h.bot.services.background.drain()
        # Then no second report is posted, and Bob is told privately who started it, with a link
        assert len(roots(fake_slack)) == 1
        assert f"<@{ALICE}> started this" in told and " s ago" in told
        assert f"<{PERMALINK}{CHANNEL}/p{root.ts.replace('.', '')}|" in told
        # And duplicates count for the rate limit: Bob's second one is his last
        await h.command(f"www.example.test:{port}", user=BOB)
        third = await h.command(f"www.example.test:{port}", user=BOB)
        assert "Rate limit reached" in third.json()["text"]
        await h.bot.services.background.drain()
        assert len(roots(fake_slack)) == 1
        assert len(fake_slack.calls_to("chat.getPermalink")) == 1  # the link is kept


async def test_the_same_check_asked_for_in_another_channel_gets_its_own_report(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    limits = Limits(per_user=0, per_channel=0, coalesce=30)
    async with harness(fake_slack, dns_world, limits=limits) as h:
        await report(h, f"www.example.test:{port}")
        await h.command(f"www.example.test:{port}", channel="C0OTHER01")
        await fake_slack.wait_for(lambda f: roots(f, "C0OTHER01"), what="second root")
        await h.bot.services.background.drain()
        assert not answers(fake_slack, "started this")


# -- Show commands -----------------------------------------------------------------------------


async def test_show_commands_clicked_twice_posts_once_and_links_to_it(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        root = await report(h, f"www.example.test:{port}")
        reply = next(m for m in fake_slack.thread(root.ts) if "tcp.https" in text_of(m.blocks))
        value = buttons(reply)[ActionId.SHOW_COMMANDS][0]
        # When Alice and then Bob click Show commands on the same check
        await h.click(ActionId.SHOW_COMMANDS, value, message_ts=reply.ts)
        await fake_slack.wait_for(
            lambda f: [m for m in f.thread(root.ts) if "Equivalent commands" in m.text],
            what="commands",
        )
        await h.bot.services.background.drain()
        await h.click(ActionId.SHOW_COMMANDS, value, message_ts=reply.ts, user=BOB)
        (told,) = await fake_slack.wait_for(lambda f: answers(f, "already"), what="private link")
        await h.bot.services.background.drain()
        # Then the commands are in the thread once, and Bob got a link to them
        posted = [m for m in fake_slack.thread(root.ts) if "Equivalent commands" in m.text]
        assert len(posted) == 1
        assert f"{PERMALINK}{CHANNEL}/p{posted[0].ts.replace('.', '')}" in told


# -- confirmations and what changed ------------------------------------------------------------


async def test_rerun_all_and_stop_ask_for_confirmation_naming_the_owner(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=30, watch_limit=60) as h:
        root = await report(h, f"www.example.test:{port} --only tcp.https")
        # Then Rerun all asks first, naming whose report it is (plain text: Slack's dialog)
        confirm = button_of(root, ActionId.RERUN_ALL)["confirm"]
        assert confirm["text"]["type"] == "plain_text"
        assert "alice's report on www.example.test" in confirm["text"]["text"]
        assert len(confirm["text"]["text"]) <= 300 and len(confirm["confirm"]["text"]) <= 30
        # And once watched, Stop asks too, naming whose watch it is
        await h.click(ActionId.WATCH, buttons(root)[ActionId.WATCH][0], message_ts=root.ts)
        watched = await fake_slack.wait_for(
            lambda f: ActionId.STOP_WATCH in buttons(f.messages[root.ts]) and f.messages[root.ts],
            what="stop button",
        )
        stop = button_of(watched, ActionId.STOP_WATCH)["confirm"]
        assert stop["style"] == "danger"
        assert "alice's watch of www.example.test" in stop["text"]["text"]
        await h.click(
            ActionId.STOP_WATCH, buttons(root)[ActionId.STOP_WATCH][0], message_ts=root.ts
        )
        await h.bot.services.background.drain()


async def test_reruns_say_what_changed_since_the_last_run(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        root = await report(h, f"www.example.test:{port} --connect-timeout 1 --read-timeout 1")
        reply = next(m for m in fake_slack.thread(root.ts) if "tcp.https" in text_of(m.blocks))
        # When Bob reruns the failing check unchanged
        rerun = buttons(reply)[ActionId.RERUN_CHECK][0]
        await h.click(ActionId.RERUN_CHECK, rerun, message_ts=reply.ts, user=BOB)
        (still,) = await fake_slack.wait_for(lambda f: answers(f, "still fails"), what="still")
        await h.bot.services.background.drain()
        # Then he is told it still fails, since the last run
        assert "*HTTPS port* still fails" in still and "<!date^" in still
        # When the port comes back and Bob reruns everything
        with origin_comes_back(port):
            value = buttons(root)[ActionId.RERUN_ALL][0]
            await h.click(ActionId.RERUN_ALL, value, message_ts=root.ts, user=BOB)
            said = await fake_slack.wait_for(
                lambda f: [m for m in f.thread(root.ts) if "All checks rerun" in m.text],
                what="rerun note",
            )
            await h.bot.services.background.drain()
        # Then the thread says what changed since the last run, and the verdict now
        assert "*HTTPS port* fixed" in said[0].text
        assert "Since <!date^" in said[0].text
        assert fake_slack.messages[root.ts].text.removeprefix("cf502: ") in said[0].text


def test_what_changed_is_a_pure_diff_of_statuses() -> None:
    from bot.changes import what_changed
    from cf502.model import CheckResult, Status

    def res(cid: str, status: Status) -> CheckResult:
        return CheckResult(cid, cid.upper(), status, "")

    before = {"a": Status.FAIL, "b": Status.FAIL, "c": Status.PASS, "d": Status.PASS}
    after = [res("a", Status.PASS), res("b", Status.FAIL), res("c", Status.FAIL)]
    after.append(res("d", Status.PASS))
    line = what_changed(before, after, 1_700_000_000.0)
    assert line.startswith("Since <!date^1700000000^{time}|22:13 UTC>: ")
    assert line.endswith("*A* fixed · *B* still fails · *C* now fails")
    assert what_changed(dict.fromkeys("d", Status.PASS), [res("d", Status.PASS)], None) == (
        "Nothing changed."
    )
    assert json.dumps(line)  # plain text, serialisable


async def test_a_watched_origin_that_changes_state_names_its_watcher_with_the_verdict(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=0.1, watch_limit=30) as h:
        options = "--only tcp.https --only tls.handshake --connect-timeout 1 --read-timeout 1"
        root = await report(h, f"www.example.test:{port} {options}")
        await h.click(ActionId.WATCH, buttons(root)[ActionId.WATCH][0], message_ts=root.ts)
        # When the port opens but nothing speaks TLS on it (still broken, differently)
        with origin_comes_back(port):
            (note,) = await fake_slack.wait_for(
                lambda f: [m for m in f.thread(root.ts) if m.text.startswith(":eyes:")],
                what="state change note",
                timeout=15,
            )
            value = buttons(root)[ActionId.STOP_WATCH][0]
            await h.click(ActionId.STOP_WATCH, value, message_ts=root.ts)
            await h.bot.services.background.drain()
        # Then the watcher is named in the thread with the new verdict and what changed
        assert note.text.startswith(f":eyes: <@{ALICE}> cf502: ✖ FAIL www.example.test")
        assert "*HTTPS port* fixed · *TLS handshake* now fails" in note.text
        assert not note.broadcast
