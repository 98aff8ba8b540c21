"""Block Kit for `/cf502 decode` and a pasted log line. Pure: a Decoding in, plain dicts out.

Everything taken from the paste (hosts, paths, request ids, unknown result types) goes through
`mrkdwn.escape`/`code`: a pasted line can neither ping the channel nor smuggle a link. Within
Slack's limits: a handful of blocks, held to the app's one size budget (`bot.budget`).
"""

from __future__ import annotations

from bot.budget import Block, fit, fit_text
from bot.mrkdwn import code, escape, truncate
from cf502.decode import Decoding

__all__ = ["decode_blocks", "decode_text", "slash_form"]

MAX_SECTION = 3000
_CLI_PREFIX = "cf502 check "
_FACT_LIMIT = 200


def slash_form(command: str) -> str:
    """`cf502 check SITE --path /p` as it is typed in Slack: `/cf502 SITE --path /p`."""
    return "/cf502 " + command[len(_CLI_PREFIX) :] if command.startswith(_CLI_PREFIX) else command


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}}


def _context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }


def _sentence(note: str) -> str:
    return note[:1].upper() + note[1:] + "."


def decode_text(d: Decoding) -> str:
    """The notification / fallback text (plain, escaped)."""
    return fit_text(escape(truncate(f"cf502 decode: {d.headline}: {d.cause}", 300)))


def decode_blocks(d: Decoding) -> list[Block]:
    """The decoding: headline and cause, what the paste said, the next step, the confirming
    checks and the command to run (as typed in Slack and in a terminal)."""
    blocks: list[Block] = [_section(f":mag: *{escape(d.headline)}*\n{escape(d.cause)}")]
    if d.counts:
        total = sum(n for _, n in d.counts)
        counts = ", ".join(f"{n} {escape(kind)}" for kind, n in d.counts)
        blocks.append(_context(f"{total} log lines: {counts}. Explained: the most frequent error."))
    if d.facts:
        facts = " · ".join(
            f"{escape(label)} {code(value, _FACT_LIMIT)}" for label, value in d.facts
        )
        blocks.append(_context(facts))
    if d.next_step:
        blocks.append(_section(f"*Next:* {escape(d.next_step)}"))
    if d.checks:
        blocks.append(_section("*Confirmed by:* " + " ".join(code(c) for c in d.checks)))
    run = f"*Run:* {code(slash_form(d.command), 500)}  (terminal: {code(d.command, 500)})"
    blocks.append(_section(run))
    if d.notes:
        blocks.append(_context(" ".join(escape(_sentence(n)) for n in d.notes)))
    return fit(blocks)
