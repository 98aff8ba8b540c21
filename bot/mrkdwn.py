"""Slack mrkdwn helpers: every user- or origin-supplied string goes through `escape` when rendered.

Slack only gives `<`, `>` and `&` a meaning (`<!channel>`, `<@U123>`, `<http://x|label>`), so
escaping those three as entities makes any text inert: a hostname or an origin's header value can
neither ping the channel nor smuggle a disguised link. Pure functions.
"""

from __future__ import annotations

__all__ = ["code", "code_block", "escape", "truncate"]

ELLIPSIS = "…"


def escape(text: object) -> str:
    """Text shown verbatim: Slack's three control characters become entities."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut (never cuts an entity)."""
    if limit < 1:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    # An entity cut in half (`&am`) would show as garbage; drop the partial entity.
    if amp != -1 and ";" not in cut[amp:] and len(cut) - amp < 6:
        cut = cut[:amp]
    return cut + ELLIPSIS


def code(text: object, limit: int = 300) -> str:
    """Inline code: shown monospace and never auto-linked, so a hostname can't become a link."""
    # A backtick would end the span early; the modifier-letter grave looks the same.
    plain = str(text).replace("`", "ˋ").replace("\n", " ")
    return f"`{truncate(escape(plain), limit)}`" if plain else "` `"


def code_block(lines: list[str] | tuple[str, ...], limit: int = 2900) -> str:
    """A fenced code block of `lines`, escaped, within `limit` characters."""
    body = escape("\n".join(lines)).replace("```", "ˋˋˋ")
    body = truncate(body, max(limit - 8, 1))
    return f"```\n{body}\n```"
