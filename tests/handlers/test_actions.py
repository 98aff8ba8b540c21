"""Buttons through the real HTTP endpoint: rerun a check, show commands, rerun all, watch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.actions import ActionId, ButtonValue, Op
from cf502.checks import BY_ID
from tests.handlers.harness import ALICE, BOB, CHANNEL, Harness, harness
from tests.servers.dns import ORIGIN_ADDRESS, DnsWorld
from tests.servers.dns import dns_world_fixture as dns_world_fixture
from tests.servers.slack_api import FakeSlack, Message, text_of
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture
from tests.servers.tcp import closed_port, listening_port


def buttons(message: Message) -> dict[str, list[str]]:
    """action_id -> button values (overflow options included) in a message."""
    found: dict[str, list[str]] = {}
    for block in message.blocks:
        elements = list(block.get("elements", []))
        if "accessory" in block:
            elements.append(block["accessory"])
        for e in elements:
            if "action_id" not in e:
                continue
            values = [o["value"] for o in e.get("options", [])] or [e.get("value", "")]
            found.setdefault(e["action_id"], []).extend(values)
    return found


async def reported(h: Harness, port: int, text: str = "") -> tuple[Message, Message]:
    """Run /cf502 on the origin at `port`; returns (root, reply of tcp.https) once complete."""
    await h.command(f"www.example.test:{port} {text}")
    roots = await h.slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
    await h.bot.services.background.drain()
    root = h.slack.messages[roots[0].ts]
    reply = next(m for m in h.slack.thread(root.ts) if "tcp.https" in text_of(m.blocks))
    return root, reply


@contextmanager
def origin_comes_back(port: int) -> Iterator[None]:
    """The origin's HTTPS port starts accepting connections (the fix)."""
    with listening_port(ORIGIN_ADDRESS, port):
        yield


def line_of(message: Message, check_id: str) -> str:
    block = next(b for b in message.blocks if b.get("block_id") == f"check:{check_id}")
    return str(block["text"]["text"])


async def test_rerun_updates_the_check_in_place_and_notes_the_change(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # Given a report where tcp.https fails
        root, reply = await reported(h, port)
        assert line_of(root, "tcp.https").startswith("✖ FAIL")
        rerun = buttons(reply)[ActionId.RERUN_CHECK][0]
        updates_before = root.updates
        with origin_comes_back(port):
            # When Bob fixes the origin and clicks Rerun on that check
            sent = await h.click(ActionId.RERUN_CHECK, rerun, message_ts=reply.ts, user=BOB)
            assert sent.status == 200 and sent.seconds < 3
            await fake_slack.wait_for(
                lambda f: f.messages[root.ts].updates > updates_before, what="root redrawn"
            )
            await h.bot.services.background.drain()
        # Then only that check was rerun, with the report's settings
        job = h.pool.jobs[-1]
        assert job.only == ("tcp.https",) and job.kind == "rerun"
        assert job.origin == h.pool.jobs[0].origin
        # And the check is updated in place with who, when and the change
        line = line_of(fake_slack.messages[root.ts], "tcp.https")
        assert line.startswith("✔ pass")  # still on the card: its change is news
        assert f"rerun by <@{BOB}>" in line and "<!date^" in line
        assert "now passes, was failing" in line
        # And its thread reply shows the new result too
        assert "now passes, was failing" in text_of(fake_slack.messages[reply.ts].blocks)
        assert len(fake_slack.roots()) == 1


async def test_show_commands_posts_a_code_block_in_the_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        root, reply = await reported(h, port)
        # When someone clicks "Show commands" on the failing check
        value = buttons(reply)[ActionId.SHOW_COMMANDS][0]
        await h.click(ActionId.SHOW_COMMANDS, value, message_ts=reply.ts, user=BOB)
        posted = await fake_slack.wait_for(
            lambda f: [m for m in f.thread(root.ts) if "Equivalent commands" in text_of(m.blocks)],
            what="commands in thread",
        )
        # Then the check's equivalent commands are in a code block, visible to the channel
        text = text_of(posted[0].blocks)
        assert "```" in text
        assert f"nc -vz -w 10 {ORIGIN_ADDRESS} {port}" in text
        assert f"<@{BOB}>" in text


async def test_the_root_menu_offers_rerun_and_commands_for_the_failing_check(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        root, _ = await reported(h, port)
        # Given the overflow menus of the card: on the failing check only
        options = [ButtonValue.loads(v) for v in buttons(root)[ActionId.CHECK_MENU]]
        assert {o.check_id for o in options} == {"tcp.https"}
        mine = [o for o in options if o.check_id == "tcp.https"]
        assert {o.op for o in mine} == {Op.RERUN, Op.COMMANDS}
        commands = next(o for o in mine if o.op is Op.COMMANDS)
        # When "Show commands" is chosen there
        await h.click(ActionId.CHECK_MENU, commands.dumps(), message_ts=root.ts, overflow=True)
        posted = await fake_slack.wait_for(
            lambda f: [m for m in f.thread(root.ts) if "Equivalent commands" in text_of(m.blocks)],
            what="commands in thread",
        )
        # Then that check's commands are posted (nc for a port)
        assert f"nc -vz -w 10 {ORIGIN_ADDRESS} {port}" in text_of(posted[0].blocks)


async def test_rerun_all_redraws_every_check_and_notes_who(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world) as h:
        # Given a report (short timeouts: the "fixed" origin accepts TCP but never answers HTTP)
        root, reply = await reported(h, port, "--connect-timeout 1 --read-timeout 1")
        value = buttons(root)[ActionId.RERUN_ALL][0]
        reported_ids = set(BY_ID)
        with origin_comes_back(port):
            # When Bob clicks "Rerun all" after fixing the port
            await h.click(ActionId.RERUN_ALL, value, message_ts=root.ts, user=BOB)
            await fake_slack.wait_for(
                lambda f: "All checks rerun by" in text_of(f.messages[root.ts].blocks),
                what="rerun-all note",
            )
            await h.bot.services.background.drain()
        # Then every check of the report ran again with the same settings
        job = h.pool.jobs[-1]
        assert set(job.only) == reported_ids
        assert job.origin == h.pool.jobs[0].origin
        # And the changes are noted in place, on the root and in the existing reply
        final = fake_slack.messages[root.ts]
        assert "now passes, was failing" in line_of(final, "tcp.https")
        assert f"<@{BOB}>" in text_of(final.blocks)
        assert "now passes, was failing" in text_of(fake_slack.messages[reply.ts].blocks)


async def test_watch_rechecks_until_fixed_then_says_so_in_the_thread(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=0.1, watch_limit=30) as h:
        root, _ = await reported(h, port, "--only tcp.https")
        value = buttons(root)[ActionId.WATCH][0]
        # When Alice clicks "Watch until fixed"
        await h.click(ActionId.WATCH, value, message_ts=root.ts)
        # Then the root shows the watch and a Stop button, and rechecks start
        await fake_slack.wait_for(
            lambda f: "1 recheck" in text_of(f.messages[root.ts].blocks), what="first recheck"
        )
        assert ActionId.STOP_WATCH in buttons(fake_slack.messages[root.ts])
        # And once the origin is fixed, the next recheck ends the watch with a note in the thread
        with origin_comes_back(port):
            done = await fake_slack.wait_for(
                lambda f: [m for m in f.thread(root.ts) if "Fixed" in m.text],
                what="fixed message",
                timeout=15,
            )
            await h.bot.services.background.drain()
        assert f"<@{ALICE}>" in done[0].text
        final = fake_slack.messages[root.ts]
        assert "Watch ended: fixed" in text_of(final.blocks)
        assert ActionId.WATCH not in buttons(final)  # nothing fails: nothing to watch
        assert "now passes, was failing" in line_of(final, "tcp.https")


async def test_stop_ends_the_watch_and_one_watch_per_report(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=0.1, watch_limit=30) as h:
        root, _ = await reported(h, port, "--only tcp.https")
        value = buttons(root)[ActionId.WATCH][0]
        await h.click(ActionId.WATCH, value, message_ts=root.ts)
        await fake_slack.wait_for(
            lambda f: "1 recheck" in text_of(f.messages[root.ts].blocks), what="watching"
        )
        # When Bob also asks to watch it, then stops it
        await h.click(ActionId.WATCH, value, message_ts=root.ts, user=BOB)
        refusal = await fake_slack.wait_for(
            lambda f: [
                c
                for c in f.calls_to("response_url")
                if "Already being watched" in c.args.get("text", "")
            ],
            what="second watch refused",
        )
        await h.click(ActionId.STOP_WATCH, value, message_ts=root.ts, user=BOB)
        stopped = await fake_slack.wait_for(
            lambda f: [m for m in f.thread(root.ts) if "Watch stopped" in m.text],
            what="stop message",
        )
        await h.bot.services.background.drain()
        # Then the second watch was refused, and the stop is announced and shown on the root
        assert refusal
        assert f"<@{BOB}>" in stopped[0].text
        assert "Watch stopped by" in text_of(fake_slack.messages[root.ts].blocks)
        assert not h.bot.services.watches._tasks


async def _answers(fake: FakeSlack, needle: str) -> list[Any]:
    found: list[Any] = await fake.wait_for(
        lambda f: [c for c in f.calls_to("response_url") if needle in c.args.get("text", "")],
        what=needle,
    )
    return found


async def test_a_button_of_an_expired_report_explains_politely(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When a button of a report the app no longer knows is clicked
        value = ButtonValue("0" * 32, "tcp.https").dumps()
        sent = await h.click(ActionId.RERUN_CHECK, value, message_ts="1700000000.000001")
        # Then the click is acknowledged and the user is told the report expired
        assert sent.status == 200
        answer = await _answers(fake_slack, "expired")
        assert "/cf502" in answer[0].args["text"]
        assert h.pool.jobs == []


async def test_a_tampered_button_value_is_refused(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    async with harness(fake_slack, dns_world) as h:
        # When a button value is not one cf502 produced
        sent = await h.click(
            ActionId.RERUN_CHECK, '{"r":"../../etc","c":"x"}', message_ts="1700000000.000001"
        )
        # Then nothing runs and the user gets one line
        assert sent.status == 200
        await _answers(fake_slack, "does not name a cf502 report")
        assert h.pool.jobs == []


async def test_a_watch_gives_up_at_its_time_limit(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    port = closed_port(ORIGIN_ADDRESS)
    async with harness(fake_slack, dns_world, watch_interval=0.1, watch_limit=0.35) as h:
        root, _ = await reported(h, port, "--only tcp.https")
        # When a watch is started on an origin that stays broken
        await h.click(ActionId.WATCH, buttons(root)[ActionId.WATCH][0], message_ts=root.ts)
        # Then it stops at its time limit and says what still fails
        gave_up = await fake_slack.wait_for(
            lambda f: [m for m in f.thread(root.ts) if "Stopped watching" in m.text],
            what="gave-up message",
        )
        await h.bot.services.background.drain()
        assert "Still failing: HTTPS port" in gave_up[0].text
        assert "still failing at the time limit" in text_of(fake_slack.messages[root.ts].blocks)


async def test_watching_a_report_where_nothing_fails_is_declined(
    fake_slack: FakeSlack, dns_world: DnsWorld
) -> None:
    with listening_port(ORIGIN_ADDRESS) as port:
        async with harness(fake_slack, dns_world) as h:
            await h.command(f"www.example.test:{port} --only tcp.https")
            roots = await fake_slack.wait_for(lambda f: f.roots(CHANNEL), what="root")
            await h.bot.services.background.drain()
            root = fake_slack.messages[roots[0].ts]
            # Then a report that passes offers no "Watch until fixed"
            assert ActionId.WATCH not in buttons(root)
            # When such a click comes anyway (an older message, or a hand-made payload)
            value = buttons(root)[ActionId.RERUN_ALL][0]
            await h.click(ActionId.WATCH, value, message_ts=root.ts)
            # Then the user is told there is nothing to watch, and no recheck runs
            await _answers(fake_slack, "nothing to watch")
            assert len(h.pool.jobs) == 1
