"""Who may use cf502 where: the operator's optional channel and user allowlists. Pure."""

from __future__ import annotations

from bot.settings import Settings

__all__ = ["refusal"]


def refusal(settings: Settings, user: str | None, channel: str | None) -> str | None:
    """Why `user` may not use cf502 in `channel`, or None when allowed (empty list: everyone)."""
    if settings.channel_allowlist and channel not in settings.channel_allowlist:
        return (
            "cf502 is not enabled in this channel; ask the operator to add it to "
            "CF502_CHANNEL_ALLOWLIST, or use a channel where it is enabled."
        )
    if settings.user_allowlist and user not in settings.user_allowlist:
        return "You are not on cf502's user allowlist; ask the operator (CF502_USER_ALLOWLIST)."
    return None
