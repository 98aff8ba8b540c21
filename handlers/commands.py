"""`/cf502 <origin> [options]`: parse, queue, ack (within Slack's 3 s), then report in the channel.
`/cf502 decode …` (or a pasted log line) is answered in the ack itself, in the channel."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.decode_blocks import decode_blocks, decode_text
from bot.kit import rate_limited
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.request import USAGE, CommandError, Kind, help_text, parse_command
from bot.services import Services
from cf502.errors import Cf502Error
from cf502.pool.jobs import RateLimited

__all__ = ["COMMAND", "register"]

COMMAND = "/cf502"


def register(app: AsyncApp, services: Services) -> None:
    reports, settings = services.reports, services.settings

    @app.command(COMMAND)
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        async def answer(text: str) -> None:
            await ack(text=text, response_type="ephemeral")  # only the requester sees it

        user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
        who = Requester(user, channel, None, command.get("response_url"))
        try:
            request = parse_command(str(command.get("text", "")))
        except CommandError as exc:
            await answer(f":warning: {escape(exc)}\nUsage: `{USAGE}` (see `/cf502 help`)")
            return
        if request.kind is Kind.HELP:
            await answer(help_text(COMMAND))
            return
        refused = refusal(settings, user, channel)
        if refused is not None:
            await answer(f":no_entry: {escape(refused)}")
            return
        if request.decoding is not None:
            # Pure and fast: no job, the answer goes in the ack.
            d = request.decoding
            await ack(response_type="in_channel", text=decode_text(d), blocks=decode_blocks(d))
            return
        try:
            # Queue first (fast: no Slack call, no origin I/O), so the ack can say if it failed.
            state = await reports.submit(request, who)
        except RateLimited as exc:
            await answer(rate_limited(exc, who.user))
            return
        except Cf502Error as exc:
            await answer(f":warning: Could not start the diagnosis: {escape(exc)}")
            return
        await ack()
        reports.launch(state)
