"""Text and shell commands fitted to a terminal width. Pure.

Prose wraps at spaces (a word longer than the line is cut). A shell command keeps each option with
its value and breaks between them with ` \\` continuation lines, so the lines still paste into a
shell and run the same command; a single word too long for any line (a cipher list, a long name)
is cut with a backslash-newline at column 0, closing and reopening its quotes around the cut, which
the shell joins back into the same word.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

__all__ = ["clean", "shell_words", "wrap_command", "wrap_text"]

CONTINUATION_INDENT = 4
# Where a word is best cut, after one of these (a cipher list's colons, a URL's slashes...).
_CUT_AFTER = frozenset(" :,/&;=")
_MIN_CHUNK = 8


def clean(text: str) -> str:
    """Origin-supplied or pasted text must not drive the terminal (no escape sequences, one
    line)."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def wrap_text(text: str, width: int, first: str = "", rest: str | None = None) -> list[str]:
    """`first` + `text` wrapped to `width`; the lines after the first start with `rest` (default:
    as many spaces as `first` is long). A word longer than a line is cut."""
    rest = " " * len(first) if rest is None else rest
    if len(rest) + _MIN_CHUNK > width:  # a deep hanging indent must not squeeze the text out
        rest = ""
    lines = textwrap.wrap(
        first + text,
        max(width, _MIN_CHUNK),
        subsequent_indent=rest,
        break_on_hyphens=False,
    )
    return lines or [first.rstrip()]


def shell_words(command: str) -> list[str] | None:
    """The words of a command line as written (quotes kept), split at unquoted spaces; None when
    the quoting is not balanced."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for ch in command:
        if escaped:
            current.append(ch)
            escaped = False
        elif quote == "'":
            current.append(ch)
            quote = "" if ch == "'" else quote
        elif quote == '"':
            current.append(ch)
            escaped = ch == "\\"
            quote = "" if ch == '"' else quote
        elif ch == " ":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
            escaped = ch == "\\"
            quote = ch if ch in "'\"" else ""
    if quote or escaped:
        return None
    if current:
        words.append("".join(current))
    return words


def _states(word: str) -> list[str]:
    """The quoting in force before each character of `word`: "", "'" or '"' ("\\" after an
    escaping backslash)."""
    states = []
    quote = ""
    escaped = False
    for ch in word:
        states.append("\\" if escaped else quote)
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if ch == "'" else quote
        elif quote == '"':
            escaped = ch == "\\"
            quote = "" if ch == '"' else quote
        else:
            escaped = ch == "\\"
            quote = ch if ch in "'\"" else ""
    return states


def _cut(word: str, room: int) -> tuple[str, str]:
    """Cut `word` so that its first part, with the marks the cut needs, fits in `room` columns:
    (`first part` ending in a backslash, `rest` starting where the shell resumes the word)."""
    states = _states(word)

    def cost(i: int) -> int:  # the first part's width when cut before index i
        return i + (2 if states[i] == "'" else 1)

    cuts = [i for i in range(1, len(word)) if states[i] != "\\" and cost(i) <= room]
    if not cuts:
        cuts = [1]
    best = next((i for i in reversed(cuts) if word[i - 1] in _CUT_AFTER), None)
    i = best if best is not None and best > cuts[-1] // 2 else cuts[-1]
    if states[i] == "'":
        return word[:i] + "'\\", "'" + word[i:]
    return word[:i] + "\\", word[i:]


_OPERATORS = frozenset({"|", "||", "&&", ";", ">", ">>", "<", "2>", "&>"})


def _groups(words: Sequence[str]) -> list[str]:
    """Words kept together on one line: an option and the value after it, a pipe or redirection
    and the word after it."""
    groups: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        takes_next = word in _OPERATORS or (
            word.startswith("-") and i + 1 < len(words) and not words[i + 1].startswith("-")
        )
        if takes_next and i + 1 < len(words) and words[i + 1] not in _OPERATORS:
            groups.append(f"{word} {words[i + 1]}")
            i += 2
        else:
            groups.append(word)
            i += 1
    return groups


def wrap_command(command: str, width: int, first: str = "$ ", indent: str = "") -> list[str]:
    """`command` in lines of at most `width` columns (when any fit), starting with `first`, its
    continuation lines indented by `indent` plus CONTINUATION_INDENT; every line but the last
    ends with a backslash, so the lines paste into a shell as the same command."""
    if len(first) + len(command) <= width:
        return [first + command]
    words = shell_words(command)
    if words is None:
        return [first + command]
    cont = indent + " " * CONTINUATION_INDENT
    lines: list[str] = []
    line = first
    fresh = True  # nothing but the prefix on this line yet
    cut = False  # this line holds the end of a cut word: the next one starts a line of its own

    def put(text: str) -> None:
        nonlocal line, fresh, cut
        sep = "" if fresh else " "
        if not cut and len(line) + len(sep) + len(text) + 2 <= width:
            line += sep + text
            fresh = False
            return
        if not fresh:
            lines.append(line + " \\")
            line, fresh, cut = cont, True, False
            if len(line) + len(text) + 2 <= width:
                line += text
                fresh = False
                return
        # Too long for any line: cut it, continuing at column 0 (spaces there would split it).
        rest = text
        room = width - len(line)
        while len(rest) + 2 > room:
            head, rest = _cut(rest, room)
            lines.append(line + head)
            line, room = "", width
            cut = True
        line += rest
        fresh = False

    for group in _groups(words):
        put(group)
    lines.append(line)
    return lines
