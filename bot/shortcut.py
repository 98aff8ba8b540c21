"""The "Diagnose with cf502" message shortcut: what to do with the message it was used on. Pure.

A CloudFront error page, a log line or a block of response headers is decoded (it already says
what went wrong); otherwise the first URL or hostname in the message is diagnosed, with its path
when a URL gave one. Slack's link markup is read back to what was typed first (`bot.slacktext`).
"""

from __future__ import annotations

import re

from bot.request import MAX_PASTE, CommandError, Kind, Request, parse_command
from bot.slacktext import plain_text
from cf502.decode import NotRecognised, decode

__all__ = ["SHORTCUT", "first_target", "request_from_message"]

SHORTCUT = "cf502-diagnose-message"  # the message shortcut's callback_id

_URL = re.compile(r"\bhttps?://[^\s<>|\"'`()\[\]{}]+", re.IGNORECASE)
_HOST = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}[a-z0-9])"
    r"(?::\d{1,5})?(?![\w-])(?:/[^\s<>|\"'`()\[\]{}]*)?",
    re.IGNORECASE,
)
# Names that look like hosts but are files people paste next to them.
_FILE_ENDINGS = frozenset(
    "html htm php js css json txt log py png jpg jpeg gif svg xml yml yaml md sh conf pem crt "
    "key csv gz zip tar".split()
)
_CF_ID = re.compile(r"x-amz-cf-id", re.IGNORECASE)
NOTHING = (
    "I found no hostname, URL, CloudFront error page, log line or X-Cache header in that message."
)
ID_ONLY = (
    "An X-Amz-Cf-Id alone does not say what went wrong; use the shortcut on the response headers "
    "(with X-Cache), the error page or the log line, or on a message naming the site."
)


def first_target(text: str) -> str | None:
    """The first URL, else the first hostname (with its port and path), in plain `text`; None
    if none."""
    url = _URL.search(text)
    if url is not None:
        return url.group(0).rstrip(".,;:!?")
    for m in _HOST.finditer(text):
        name = m.group(1)
        if name.rsplit(".", 1)[-1].lower() not in _FILE_ENDINGS:
            return m.group(0).rstrip(".,;:!?")  # with its port and path, as typed
    return None


def request_from_message(text: str) -> Request:
    """The request the shortcut makes of a message: a decoding, else a diagnosis of the first
    URL or hostname. Raises CommandError (one line) when the message has neither."""
    plain = plain_text(text[:MAX_PASTE])
    try:
        return Request(Kind.DECODE, decoding=decode(plain))
    except NotRecognised:
        pass
    target = first_target(plain)
    if target is None:
        raise CommandError(ID_ONLY if _CF_ID.search(plain) else NOTHING)
    req = parse_command(target)
    if req.kind is not Kind.CHECK:  # cannot come from one URL or name; never run it
        raise CommandError(NOTHING)
    return req
