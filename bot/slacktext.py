"""Turn what Slack delivers back into what the user typed. Pure.

Slack rewrites message text: `origin.example.com` arrives as
`<http://origin.example.com|origin.example.com>`, a URL as `<https://x.example.com/path>`, a user
as `<@U123>`, `&`, `<`, `>` as entities, and many clients turn `--` into an em or en dash and quotes
into curly quotes. Slash-command text looks the same when "escape channels, users and links" is on.
"""

from __future__ import annotations

import re

__all__ = ["plain_text", "strip_mentions"]

# <target|label> or <target>; target never contains '>' or '|'.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_DASH_OPTION = re.compile(r"(^|\s)[—–―‒](?=[A-Za-z])")  # em/en/horizontal/figure dash
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})
_SPACES = str.maketrans({"\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u200b": ""})


def _markup(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):  # <@U123> or <@U123|name>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # <#C123|general>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S1|@team>, <!date^...|fallback>
        if label:
            return label
        return "@" + target[1:].split("^", 1)[0]
    if target.startswith("mailto:"):
        return label or target[len("mailto:") :]
    if label and _same_link(target, label):
        # Slack auto-linked what the user typed (`http://` added); the label is their own text.
        return label
    return target


def _same_link(url: str, label: str) -> bool:
    bare = re.sub(r"^[a-z]+://", "", _unescape(url), flags=re.IGNORECASE).rstrip("/")
    return bare.lower() == _unescape(label).rstrip("/").lower() or url == label


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain_text(text: str) -> str:
    """Slack message or command text as the user typed it."""
    out = _MARKUP.sub(lambda m: _markup(m), text)
    out = _unescape(out)
    out = out.translate(_QUOTES).translate(_SPACES)
    # `—host-header` was `--host-header` before the client "helped".
    return _DASH_OPTION.sub(lambda m: m.group(1) + "--", out)


def strip_mentions(text: str, user_id: str | None) -> str:
    """Drop mentions of `user_id` (the bot) from raw Slack text, before `plain_text`."""
    if not user_id:
        return re.sub(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>", "", text)
    return re.sub(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>", " ", text)
