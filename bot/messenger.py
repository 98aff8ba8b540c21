"""Private answers to the person who asked: a note only they see, or the apology for a failure.

Whatever answers one user rather than the channel goes through `Messenger`: the request's response
URL when it has one, else an ephemeral message (written, like everything else, by `bot.poster`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.poster import Poster

__all__ = ["APOLOGY", "Messenger", "Requester"]

APOLOGY = (
    ":warning: Sorry, something went wrong inside cf502. It has been logged; please try again."
)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked, where, and how to answer them privately."""

    user: str
    channel: str
    thread_ts: str | None = None
    response_url: str | None = None
    team: str = ""
    name: str = ""  # the user's Slack name when the payload gives it (for dialogs' plain text)
    in_dm: bool = False  # the conversation is a direct message (the bot may not be in it)


class Messenger:
    """Tells the requester things privately."""

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    async def tell(self, who: Requester, text: str) -> None:
        """A private note to the requester: via the response URL, else an ephemeral message."""
        if who.response_url and await self.poster.respond(who.response_url, text):
            return
        await self.poster.ephemeral(who.channel, who.user, text, thread_ts=who.thread_ts)

    async def apologise(self, who: Requester) -> None:
        """The one-line apology for an unexpected failure (only when there is someone to tell)."""
        if who.response_url and await self.poster.respond(who.response_url, APOLOGY):
            return
        if who.user and who.channel:
            await self.poster.ephemeral(who.channel, who.user, APOLOGY, thread_ts=who.thread_ts)
