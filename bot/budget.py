"""One size budget for every message the app sends: roots, thread replies, command listings and
private messages alike. Pure: blocks in, blocks that fit out.

Slack's limits: 50 blocks a message; 3,000 characters of section text; context elements (at most
10) and button or option text (75) shorter; and an undocumented cap on the whole payload that
answers `msg_blocks_too_long` from about 12-13k characters of JSON. The budget stays well under
it (`MAX_JSON`, measured as the JSON slack_sdk sends, non-ASCII escaped), and `COMPACT_JSON` is the
tighter one a retry uses after Slack refused anyway. What had to be cut says so in a last line.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from bot.mrkdwn import clip, open_code

__all__ = [
    "COMPACT_JSON",
    "MAX_BLOCKS",
    "MAX_BUTTON",
    "MAX_CONTEXT",
    "MAX_JSON",
    "MAX_SECTION",
    "MAX_TEXT",
    "SHORTENED",
    "Block",
    "fit",
    "fit_text",
    "open_code",
    "size",
    "violations",
]

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000  # a section's text
MAX_CONTEXT = 2000  # one context element's text
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25  # elements of an actions block
MAX_BUTTON = 75  # a button's or an overflow option's text
MAX_OPTIONS = 5  # an overflow menu's options
MAX_TEXT = 3000  # the notification / fallback `text` (Slack cuts long ones at 4,000)
MAX_JSON = 10_000
COMPACT_JSON = 6_000
_FLOOR = 120  # a text is not shortened below this while other blocks can be dropped
SHORTENED = "✂ Some details were shortened to fit in a Slack message."


def size(blocks: Sequence[Block]) -> int:
    """The characters of the blocks' JSON as sent (non-ASCII as \\u escapes, like slack_sdk)."""
    return len(json.dumps(list(blocks)))


def fit_text(text: str, limit: int = MAX_TEXT) -> str:
    """A message's `text` within `limit` characters, still valid mrkdwn."""
    return clip(text, limit)


def _note(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT)}]}


def _clamp_text(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip(obj["text"], limit)


def _clamp(block: Block) -> Block:
    """One block within its own limits (a copy)."""
    b = copy.deepcopy(block)
    kind = b.get("type")
    if kind == "section":
        _clamp_text(b.get("text"), MAX_SECTION)
        if isinstance(b.get("fields"), list):
            b["fields"] = b["fields"][:10]
            for f in b["fields"]:
                _clamp_text(f, MAX_CONTEXT)
        acc = b.get("accessory")
        if isinstance(acc, dict):
            _clamp_element(acc)
    elif kind == "context":
        b["elements"] = list(b.get("elements") or [])[:MAX_CONTEXT_ELEMENTS]
        for e in b["elements"]:
            _clamp_text(e, MAX_CONTEXT)
    elif kind == "actions":
        b["elements"] = list(b.get("elements") or [])[:MAX_ACTIONS]
        for e in b["elements"]:
            _clamp_element(e)
    elif kind == "header":
        _clamp_text(b.get("text"), 150)
    return b


def _clamp_element(e: Block) -> None:
    _clamp_text(e.get("text"), MAX_BUTTON)
    if isinstance(e.get("options"), list):
        if e.get("type") == "overflow":
            e["options"] = e["options"][:MAX_OPTIONS]
        for o in e["options"]:
            _clamp_text(o.get("text"), MAX_BUTTON)


def _texts(block: Block) -> list[dict[str, Any]]:
    """The text objects of a block that may be shortened (section text, context elements)."""
    if block.get("type") == "section" and isinstance(block.get("text"), dict):
        return [block["text"]]
    if block.get("type") == "context":
        return [e for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return []


def _shrink(blocks: list[Block], excess: int) -> bool:
    """Shorten the longest text by at least `excess` characters (not below `_FLOOR`); False when
    every text is already that short."""
    longest: dict[str, Any] | None = None
    for b in blocks:
        for t in _texts(b):
            if longest is None or len(t["text"]) > len(longest["text"]):
                longest = t
    if longest is None or len(longest["text"]) <= _FLOOR:
        return False
    n = len(longest["text"])
    longest["text"] = clip(longest["text"], max(_FLOOR, min(n - excess, n * 3 // 4)))
    return True


def _drop(blocks: list[Block]) -> bool:
    """Drop the last block that is neither the first nor buttons; False when none is left."""
    for i in range(len(blocks) - 1, 0, -1):
        if blocks[i].get("type") != "actions":
            del blocks[i]
            return True
    if len(blocks) > 1:
        del blocks[-1]
        return True
    return False


def fit(blocks: Sequence[Block], *, limit: int = MAX_JSON, note: str = SHORTENED) -> list[Block]:
    """`blocks` within Slack's limits and `limit` characters of JSON.

    Each block is first held to its own limits (texts clipped with code spans closed); then, while
    the message is too big, the longest text is shortened, and when every text is short the last
    blocks (buttons last) are dropped. When anything was cut, `note` ends the message."""
    out = [_clamp(b) for b in blocks]
    cut = out != list(blocks)
    if len(out) > MAX_BLOCKS:
        out, cut = out[: MAX_BLOCKS - 1], True
    if not cut and size(out) <= limit:
        return out
    tail = _note(note)
    if len(out) >= MAX_BLOCKS:
        _drop(out)
    target = limit - size([tail]) - 2
    for _ in range(1000):  # each round shortens or drops something: bounded either way
        excess = size(out) - target
        if excess <= 0:
            break
        if not _shrink(out, excess) and not _drop(out):
            break
    return [*out, tail]


def violations(blocks: Sequence[Block], *, text: str = "", limit: int = MAX_JSON) -> list[str]:
    """What in a message breaks the budget (empty when it fits), for tests and logs."""
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    if size(blocks) > limit:
        found.append(f"{size(blocks)} characters of JSON > {limit}")
    if len(text) > MAX_TEXT:
        found.append(f"text of {len(text)} characters > {MAX_TEXT}")
    if open_code(text):
        found.append("a code span left open in the text")
    for i, b in enumerate(blocks):
        if _clamp(b) != b:
            found.append(f"block {i} ({b.get('type')}) is over one of its own limits")
        for t in _texts(b):
            if open_code(t["text"]):
                found.append(f"block {i} leaves a code span or block open")
    return found
