"""The pieces every Block Kit message of the app is built from: sections, contexts, buttons,
mentions, times, and the status marks (a distinct glyph *and* a word, never colour alone). Pure."""

from __future__ import annotations

import math
import re
import time

from bot.actions import ActionId, ButtonValue
from bot.budget import MAX_CONTEXT, MAX_SECTION, Block
from bot.mrkdwn import clip, escape
from cf502.model import Status
from cf502.pool.jobs import RateLimited

__all__ = [
    "GLYPH",
    "PENDING",
    "WORD",
    "Block",
    "button",
    "context",
    "mark",
    "rate_limited",
    "section",
    "user",
    "when",
]

GLYPH = {
    Status.FAIL: "✖",
    Status.ERROR: "⊘",
    Status.WARN: "⚠",
    Status.PASS: "✔",
    Status.SKIP: "○",
}
WORD = {
    Status.FAIL: "FAIL",
    Status.ERROR: "ERROR",
    Status.WARN: "WARN",
    Status.PASS: "pass",
    Status.SKIP: "skipped",
}
PENDING = "⏳"
_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{2,30}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,30}$")


def mark(status: Status) -> str:
    """'✖ FAIL', '⚠ WARN', '✔ pass'…: read the same in any theme, by anyone."""
    return f"{GLYPH[status]} {WORD[status]}"


def user(user_id: str) -> str:
    """A mention of a real user id; anything else is shown as inert text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def rate_limited(exc: RateLimited, me: str = "") -> str:
    """A rate limit in words for Slack: who is limited as a mention ("you" for `me`), never a
    raw id."""
    if exc.scope == "user":
        who = "You" if exc.who == me else user(exc.who)
    elif exc.scope == "channel":
        who = f"<#{exc.who}>" if _CHANNEL_ID.match(exc.who) else "This conversation"
    else:  # raised without the facts: its own words, escaped
        return f":hourglass: {escape(exc)}"
    wait = max(1, math.ceil(exc.retry_after))
    n = f"{exc.limit} diagnos{'i' if exc.limit == 1 else 'e'}s"
    return (
        f":hourglass: Rate limit reached: {who} may start {n} per {exc.window:g} s; "
        f"try again in {wait} s."
    )


def when(at: float) -> str:
    """Slack renders this in each reader's own time zone; the fallback is UTC."""
    fallback = time.strftime("%H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{time}}|{fallback}>"


def section(text: str, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(t, MAX_CONTEXT)} for t in texts if t],
    }


def button(text: str, action: ActionId, value: ButtonValue, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action.value,
        "value": value.dumps(),
    }
    if style:
        b["style"] = style
    return b
