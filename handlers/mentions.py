"""`@cf502 check <origin> [options]` anywhere, including inside an incident thread (the report then
goes into that thread); `@cf502 decode …` or a pasted log line is answered there at once. Slack
retries events it thinks were lost: each event_id is handled once. `handlers.messages` answers
the same words in a direct message to the bot."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.decode_blocks import decode_blocks, decode_text
from bot.kit import rate_limited, section
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.poster import PostError
from bot.request import USAGE, CommandError, Kind, Request, help_text, parse_mention
from bot.services import Services
from bot.slacktext import strip_mentions
from cf502.errors import Cf502Error
from cf502.pool.jobs import RateLimited

__all__ = ["EVENT_DEDUPE_TTL", "answer_words", "first_time", "register", "start_diagnosis"]

EVENT_DEDUPE_TTL = 3600.0  # Slack retries within minutes; an hour is plenty


async def first_time(services: Services, body: dict[str, Any]) -> bool:
    """False for a retry of an event already handled."""
    event_id = str(body.get("event_id") or "")
    return not event_id or await services.store.claim(f"event:{event_id}", EVENT_DEDUPE_TTL)


async def answer_words(services: Services, text: str, who: Requester, *, help_here: bool) -> None:
    """Answer `check …`, `decode …`, a paste or `help` (mention text without the bot's mention).
    `help_here`: help is posted in the conversation (a DM with the bot) instead of privately."""
    tell = services.messenger.tell
    try:
        request = parse_mention(text)
    except CommandError as exc:
        await tell(who, f":warning: {escape(exc)}\nUsage: `{escape(USAGE)}`")
        return
    if request.kind is Kind.HELP:
        if help_here:
            try:
                help_blocks = [section(help_text())]
                await services.poster.post(
                    who.channel, help_blocks, "cf502 help", thread_ts=who.thread_ts
                )
                return
            except PostError:
                pass
        await tell(who, help_text())
        return
    refused = refusal(services.settings, who.user, who.channel)
    if refused is not None:
        await tell(who, f":no_entry: {escape(refused)}")
        return
    if request.decoding is not None:
        d = request.decoding
        try:
            await services.poster.post(
                who.channel, decode_blocks(d), decode_text(d), thread_ts=who.thread_ts
            )
        except PostError:
            await tell(who, ":warning: I could not post the answer in this conversation.")
        return
    await start_diagnosis(services, request, who)


async def start_diagnosis(services: Services, request: Request, who: Requester) -> None:
    """Queue and follow `request`'s diagnosis, or tell `who` privately why it did not start."""
    tell = services.messenger.tell
    try:
        state = await services.reports.submit(request, who)
    except RateLimited as exc:
        await tell(who, rate_limited(exc, who.user))
        return
    except Cf502Error as exc:
        await tell(who, f":warning: Could not start the diagnosis: {escape(exc)}")
        return
    services.reports.launch(state)


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_mention")
    async def on_mention(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not await first_time(services, body):
            return  # a retry of an event already handled
        who = Requester(
            str(event.get("user", "")),
            str(event.get("channel", "")),
            event.get("thread_ts"),
            None,
            team=str(body.get("team_id") or ""),
        )
        text = strip_mentions(str(event.get("text", "")), context.bot_user_id)
        await answer_words(services, text, who, help_here=False)
