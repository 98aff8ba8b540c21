"""The thread messages that notify people: a slow diagnosis has finished, a rerun or a watched
origin changed. Pure: texts in, mrkdwn out.

They name one person (the requester, the rerunner, the watcher) and never the channel: the verdict
line comes from the origin's own words, so `@channel`, `@here` and `@everyone` in it are broken
up as well as escaped.
"""

from __future__ import annotations

import re

from bot.blocks import user
from bot.mrkdwn import escape, truncate

__all__ = ["SLOW", "done_note", "quiet", "rerun_note", "watch_note"]

SLOW = 5.0  # seconds: a diagnosis that took longer notifies its requester when it finishes
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_JOINER = "\u2060"  # invisible: "@\u2060here" reads as "@here" and mentions nobody


def quiet(text: str) -> str:
    """`text` with every channel-wide mention word broken up (it stays readable)."""
    return _BROADCAST.sub(lambda m: "@" + _JOINER + m.group(1), text)


def done_note(who: str, verdict: str) -> str:
    """`who`'s slow diagnosis has finished (`verdict`: the report's escaped verdict line)."""
    return quiet(f":bell: {user(who)} {verdict}")


def rerun_note(verdict: str, changed: str, *, by: str = "", mention: str | None = None) -> str:
    """A rerun of every check has finished: its verdict and what changed. `mention` (a user id)
    is notified (the rerun took a while); otherwise `by` (a name, as text) is only named."""
    if mention:
        head = f"↻ {user(mention)} all checks rerun: "
    elif by:
        head = f"↻ All checks rerun by {escape(truncate(by, 80))}: "
    else:
        head = "↻ All checks rerun: "
    return quiet(f"{head}{verdict}\n{changed}")


def watch_note(watcher: str, verdict: str, changed: str) -> str:
    """A watched origin changed state: its watcher is told what it is now and what changed."""
    return quiet(f":eyes: {user(watcher)} {verdict}\n{changed}")
