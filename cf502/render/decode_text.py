"""Decoding -> text for the terminal, within 80 columns. Pure: no printing here."""

from __future__ import annotations

import textwrap

from cf502.decode import Decoding
from cf502.render.wrap import clean

__all__ = ["WIDTH", "decoding_text"]

WIDTH = 80
_LABEL = 15  # "Edge location  " and the like
_VALUE_CAP = 300  # a pasted value is shown, never in full when it is huge


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    return textwrap.wrap(
        clean(text),
        WIDTH,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=True,
    )


def _labelled(label: str, value: str) -> list[str]:
    shown = value if len(value) <= _VALUE_CAP else value[: _VALUE_CAP - 1] + "…"
    return _wrap(shown, " " * _LABEL, f"{label:<{_LABEL - 1}} ")


def _counts_line(d: Decoding) -> str:
    total = sum(n for _, n in d.counts)
    parts = ", ".join(f"{n} {kind}" for kind, n in d.counts)
    return f"{total} log lines: {parts}. Explained: {d.result_type or 'the first'}."


def decoding_text(d: Decoding) -> str:
    """The decoding for people: the result type and status, the cause, what the input said,
    what to look at next, the checks that confirm it and the command to run."""
    lines = [clean(d.headline)]
    lines += _wrap(d.cause)
    if d.counts:
        lines += _wrap(_counts_line(d))
    if d.facts:
        lines.append("")
        for label, value in d.facts:
            lines += _labelled(label, value)
    if d.next_step:
        lines.append("")
        lines += _wrap(d.next_step, "  ", "Next: ")
    if d.checks:
        lines += _wrap(", ".join(d.checks), "  ", "Confirmed by: ")
    lines += ["", "Run:", f"  {clean(d.command)}"]
    for note in d.notes:
        lines += _wrap(note[:1].upper() + note[1:] + ".", "    ", "  - ")
    return "\n".join(lines) + "\n"
