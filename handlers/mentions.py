"""`@cf502 check <origin> [options]` anywhere, including inside an incident thread (the report then
goes into that thread); `@cf502 decode …` or a pasted log line is answered there at once. Slack
retries events it thinks were lost: each event_id is handled once."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.decode_blocks import decode_blocks, decode_text
from bot.kit import rate_limited
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.poster import PostError
from bot.request import USAGE, CommandError, Kind, help_text, parse_mention
from bot.services import Services
from bot.slacktext import strip_mentions
from cf502.errors import Cf502Error
from cf502.pool.jobs import RateLimited

__all__ = ["EVENT_DEDUPE_TTL", "register"]

EVENT_DEDUPE_TTL = 3600.0  # Slack retries within minutes; an hour is plenty


def register(app: AsyncApp, services: Services) -> None:
    reports, settings, store = services.reports, services.settings, services.store
    tell = services.messenger.tell

    @app.event("app_mention")
    async def on_mention(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        event_id = str(body.get("event_id") or "")
        if event_id and not await store.claim(f"event:{event_id}", EVENT_DEDUPE_TTL):
            return  # a retry of an event already handled
        user, channel = str(event.get("user", "")), str(event.get("channel", ""))
        who = Requester(user, channel, event.get("thread_ts"), None)
        text = strip_mentions(str(event.get("text", "")), context.bot_user_id)
        try:
            request = parse_mention(text)
        except CommandError as exc:
            await tell(who, f":warning: {escape(exc)}\nUsage: `{USAGE}`")
            return
        if request.kind is Kind.HELP:
            await tell(who, help_text())
            return
        refused = refusal(settings, user, channel)
        if refused is not None:
            await tell(who, f":no_entry: {escape(refused)}")
            return
        if request.decoding is not None:
            d = request.decoding
            try:
                await services.messenger.poster.post(
                    channel, decode_blocks(d), decode_text(d), thread_ts=who.thread_ts
                )
            except PostError as exc:
                await tell(who, f":warning: Could not post the answer here ({escape(exc.code)}).")
            return
        try:
            state = await reports.submit(request, who)
        except RateLimited as exc:
            await tell(who, rate_limited(exc, who.user))
            return
        except Cf502Error as exc:
            await tell(who, f":warning: Could not start the diagnosis: {escape(exc)}")
            return
        reports.launch(state)
