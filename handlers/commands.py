"""`/cf502 <origin> [options]`: parse, queue, ack (within Slack's 3 s), then report in the channel.
`/cf502` alone opens a form asking for the same things (`bot.check_modal`); `/cf502 decode …` (or
a pasted log line) is answered in the ack itself, in the channel."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.check_modal import Place, check_modal
from bot.decode_blocks import decode_blocks, decode_text
from bot.kit import rate_limited
from bot.messenger import Requester
from bot.mrkdwn import escape
from bot.policy import refusal
from bot.poster import PostError
from bot.request import USAGE, CommandError, Kind, help_text, parse_command
from bot.services import Services
from cf502.errors import Cf502Error
from cf502.pool.jobs import RateLimited

__all__ = ["COMMAND", "register", "requester"]

COMMAND = "/cf502"
# The slash command's `channel_name` in a direct message, or a group one ("mpdm-…").
_DM_NAMES = ("directmessage",)


def requester(command: dict[str, Any]) -> Requester:
    """Who ran the command, where, and how to answer them privately."""
    name = str(command.get("channel_name", ""))
    return Requester(
        str(command.get("user_id", "")),
        str(command.get("channel_id", "")),
        None,
        command.get("response_url"),
        team=str(command.get("team_id", "")),
        name=str(command.get("user_name", "")),
        in_dm=name in _DM_NAMES or name.startswith("mpdm-"),
    )


def register(app: AsyncApp, services: Services) -> None:
    reports, settings = services.reports, services.settings

    async def open_form(trigger_id: str, who: Requester) -> None:
        place = Place(who.channel, None, who.in_dm, who.response_url)
        try:
            await services.poster.open_view(trigger_id, check_modal(place))
        except PostError:
            await services.messenger.tell(
                who,
                f":warning: Could not open the form; type the command instead: `{escape(USAGE)}`",
            )

    @app.command(COMMAND)
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        async def answer(text: str) -> None:
            await ack(text=text, response_type="ephemeral")  # only the requester sees it

        who = requester(command)
        text = str(command.get("text", ""))
        if not text.strip():
            refused = refusal(settings, who.user, who.channel)
            if refused is not None:
                await answer(f":no_entry: {escape(refused)}")
                return
            await ack()
            trigger = str(command.get("trigger_id", ""))
            services.background.spawn(open_form(trigger, who), who)
            return
        try:
            request = parse_command(text)
        except CommandError as exc:
            await answer(f":warning: {escape(exc)}\nUsage: `{escape(USAGE)}` (see `/cf502 help`)")
            return
        if request.kind is Kind.HELP:
            await answer(help_text(COMMAND))
            return
        refused = refusal(settings, who.user, who.channel)
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
