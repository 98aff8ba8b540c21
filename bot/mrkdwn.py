"""Slack mrkdwn helpers: every user- or origin-supplied string goes through `escape` when rendered.

Slack only gives `<`, `>` and `&` a meaning (`<!channel>`, `<@U123>`, `<http://x|label>`), so
escaping those three as entities makes any text inert: a hostname or an origin's header value can
neither ping the channel nor smuggle a disguised link. Pure functions.
"""

from __future__ import annotations

__all__ = ["clip", "code", "code_block", "entities", "escape", "open_code", "truncate"]

ELLIPSIS = "…"
# A backtick would open or close a code span; the modifier-letter grave looks the same.
_GRAVE = "ˋ"
_FENCE = "```"


def entities(text: object) -> str:
    """Slack's three control characters as entities: for the app's own mrkdwn (help, usage),
    whose formatting must stay but whose `<placeholder>`s must not be read as links."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: object) -> str:
    """Text shown verbatim: Slack's three control characters become entities, so the text can
    form no mention or link. Backticks that pair up stay (`ssl_certificate` in a fix reads as
    code); an odd one would open a code span to the end of the message, so then (and for any
    run of backticks) all of them become a look-alike."""
    plain = str(text)
    if "``" in plain or open_code(plain):  # fences and runs are the app's own, never the text's
        plain = plain.replace("`", _GRAVE)
    return entities(plain)


def open_code(text: str) -> bool:
    """True when mrkdwn leaves a code block (odd fences) or an inline span (an odd number of
    backticks outside code blocks) open. Inside a code block a backtick is just a character."""
    if text.count(_FENCE) % 2:
        return True
    return "".join(text.split(_FENCE)[::2]).count("`") % 2 == 1


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
    plain = str(text).replace("`", _GRAVE).replace("\n", " ")
    return f"`{truncate(escape(plain), limit)}`" if plain else "` `"


def code_block(lines: list[str] | tuple[str, ...], limit: int = 2900) -> str:
    """A fenced code block of `lines`, escaped, within `limit` characters."""
    body = entities("\n".join(lines)).replace(_FENCE, _GRAVE * 3)
    body = truncate(body, max(limit - 8, 1))
    return f"```\n{body}\n```"


def clip(text: str, limit: int) -> str:
    """Rendered mrkdwn cut to at most `limit` characters so that it still renders: an ellipsis
    where it was cut, an inline code span or code block open at the cut closed again, and no
    entity or `<...>` markup (a mention, a date) cut in half."""
    if len(text) <= limit:
        return text
    if limit < 8:
        return ELLIPSIS[:limit]
    cut = text[: limit - 5]  # room for "…" and a closing "\n```"
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:] and len(cut) - amp < 6:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    # A backtick at the cut may be half a fence or a span's end: decide without it.
    cut = cut.rstrip("`")
    if cut.count(_FENCE) % 2:
        return cut + ELLIPSIS + "\n" + _FENCE
    outside = "".join(cut.split(_FENCE)[::2])  # the text between code blocks
    if outside.count("`") % 2:
        return cut + ELLIPSIS + "`"
    return cut + ELLIPSIS
