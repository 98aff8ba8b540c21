"""The "Diagnose with cf502" message shortcut: on a message holding a CloudFront error page, a
log line or response headers it posts the decoding in the message's thread; on one naming a site
(a URL or hostname) it diagnoses it there (`bot.shortcut` decides which)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.decode_blocks import decode_blocks, decode_text
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.poster import PostError
from bot.request import CommandError
from bot.services import Services
from bot.shortcut import SHORTCUT, request_from_message
from handlers.mentions import start_diagnosis

__all__ = ["message_text", "register"]

_MAX_PARTS = 20  # attachments read from one message (alerts from other bots use them)


def message_text(message: dict[str, Any]) -> str:
    """The message's text, with the text of its attachments (a monitoring bot's alert)."""
    parts = [str(message.get("text") or "")]
    attachments = message.get("attachments")
    if isinstance(attachments, list):
        for a in attachments[:_MAX_PARTS]:
            if isinstance(a, dict):
                parts += [str(a.get(k) or "") for k in ("title", "title_link", "text")]
    return "\n".join(p for p in parts if p)


def requester(body: dict[str, Any], message: dict[str, Any]) -> Requester:
    """Who used the shortcut; the answer goes in the message's thread."""
    channel = str((body.get("channel") or {}).get("id", ""))
    channel_name = str((body.get("channel") or {}).get("name", ""))
    user = body.get("user") or {}
    return Requester(
        str(user.get("id", "")),
        channel,
        message.get("thread_ts") or message.get("ts"),
        body.get("response_url"),
        team=str((body.get("team") or {}).get("id", "")),
        name=str(user.get("username") or user.get("name") or ""),
        in_dm=channel.startswith("D") or channel_name.startswith("mpdm-"),
    )


def register(app: AsyncApp, services: Services) -> None:
    tell = services.messenger.tell

    async def run(message: dict[str, Any], who: Requester) -> None:
        refused = refusal(services.settings, who.user, who.channel)
        if refused is not None:
            await tell(who, f":no_entry: {escape(refused)}")
            return
        try:
            request = request_from_message(message_text(message))
        except CommandError as exc:
            await tell(who, f":warning: {escape(exc)}")
            return
        if request.decoding is not None:
            d = request.decoding
            try:
                await services.poster.post(
                    who.channel, decode_blocks(d), decode_text(d), thread_ts=who.thread_ts
                )
            except PostError:  # a conversation the bot can't write in: only to the asker
                if who.response_url:
                    await services.poster.respond(
                        who.response_url, decode_text(d), blocks=decode_blocks(d)
                    )
            return
        await start_diagnosis(services, request, who)

    @app.shortcut(SHORTCUT)
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        message = body.get("message") or {}
        if not isinstance(message, dict):
            message = {}
        who = requester(body, message)
        services.background.spawn(run(message, who), who)
