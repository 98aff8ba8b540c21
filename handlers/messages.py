"""Direct messages to the bot (its Messages tab): `check <origin> [options]`, `decode …`, a pasted
log line or `help`, answered in the DM as a mention would be. Edits, deletions, bots' messages
(the bot's own included) and messages in other conversations are ignored; each event is handled
once."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.messenger import Requester
from bot.services import Services
from bot.slacktext import strip_mentions
from handlers.mentions import answer_words, first_time

__all__ = ["register"]


def _from_a_person(event: dict[str, Any], bot_user: str | None) -> bool:
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")  # message_changed, message_deleted, bot_message, ...
        and not event.get("bot_id")
        and bool(event.get("user"))
        and event.get("user") != bot_user
    )


def register(app: AsyncApp, services: Services) -> None:
    @app.event("message")
    async def on_message(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if not _from_a_person(event, context.bot_user_id):
            return
        if not await first_time(services, body):
            return
        who = Requester(
            str(event["user"]),
            str(event.get("channel", "")),
            event.get("thread_ts"),
            None,
            team=str(body.get("team_id") or ""),
            in_dm=True,
        )
        text = strip_mentions(str(event.get("text", "")), context.bot_user_id)
        await answer_words(services, text, who, help_here=True)
