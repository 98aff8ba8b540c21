"""Background work: it waits for a burst of acks, and a failure is apologised for, not raised."""

from __future__ import annotations

import asyncio

from bot.background import Background
from bot.messenger import APOLOGY, Messenger, Requester
from bot.poster import Poster, make_client
from tests.servers.slack_api import BOT_TOKEN, FakeSlack
from tests.servers.slack_api import fake_slack_fixture as fake_slack_fixture


def _background(fake_slack: FakeSlack) -> Background:
    return Background(Messenger(Poster(make_client(BOT_TOKEN, fake_slack.url))))


async def test_work_starts_after_the_request_being_acknowledged(fake_slack: FakeSlack) -> None:
    background = _background(fake_slack)
    order: list[str] = []

    async def work() -> None:
        order.append("work")

    # Given a request being acknowledged, When work is spawned meanwhile
    with background.acknowledging():
        background.spawn(work())
        await asyncio.sleep(0.05)
        order.append("ack")
    await background.drain()
    # Then the work ran only once the ack was done
    assert order == ["ack", "work"]


async def test_a_failure_is_logged_and_apologised_for(fake_slack: FakeSlack) -> None:
    background = _background(fake_slack)

    async def broken() -> None:
        raise RuntimeError("boom")

    # When work spawned for a requester fails
    background.spawn(broken(), Requester("U1", "C1"))
    await background.drain()
    # Then the requester gets the one-line apology (privately)
    texts = [c.args.get("text") for c in fake_slack.calls_to("chat.postEphemeral")]
    assert texts == [APOLOGY]
    await background.close()
