"""A check's evidence as Slack lines: failures first, many addresses grouped by what they did
("11 refused: …; 5 open"), at most a few lines with "+N more". Pure.

Evidence is plain text from the origin and the engine, so every label and value is escaped here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.mrkdwn import code, escape, truncate
from cf502.model import Evidence

__all__ = ["GROUP_FROM", "evidence_lines"]

GROUP_FROM = 5  # addresses listed one per line up to this many, grouped beyond
_LISTED = 4  # addresses named in a group before "+N more"
# Outcome words that mean the address did what CloudFront needs; any other outcome is a problem.
_GOOD = frozenset({"open", "ok", "authoritative", "connected", "valid", "answered", "matches"})
_PORT = re.compile(r"^(?P<addr>.+?) port (?P<port>\d+)$")
_NAMED = re.compile(r"^(?P<name>\S+) \((?P<addr>[^()]+)\)$")
_MS = re.compile(r"[\d.]+ ms")
_OUTCOME = re.compile(r"^(?P<word>[A-Za-z][\w-]*)(?: in [\d.]+ ms)?[:;]?\s*(?P<detail>.*)$")


@dataclass(frozen=True, slots=True)
class _Addressed:
    """One evidence line about one address: what it did (`word`) and how (`detail`)."""

    label: str  # the address (or "name (address)") without the port
    port: str
    word: str
    detail: str
    evidence: Evidence

    @property
    def good(self) -> bool:
        return self.word.lower() in _GOOD


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _addressed(e: Evidence) -> _Addressed | None:
    label, port = e.label, ""
    m = _PORT.match(label)
    if m:
        label, port = m.group("addr"), m.group("port")
    named = _NAMED.match(label)
    if not _is_address(label) and not (named and _is_address(named.group("addr"))):
        return None
    outcome = _OUTCOME.match(e.value)
    if outcome is None:
        return _Addressed(label, port, e.value, "", e)
    return _Addressed(label, port, outcome.group("word"), outcome.group("detail"), e)


def _line(e: Evidence) -> str:
    return f"• {escape(truncate(e.label, 80))}: {code(e.value, 300)}"


def _group(word: str, members: Sequence[_Addressed]) -> str:
    """'• *11 refused* on port 443 (connection refused (ECONNREFUSED)): `a`, `b`, … +7 more'."""
    ports = {m.port for m in members}
    on_port = f" on port {escape(next(iter(ports)))}" if len(ports) == 1 and members[0].port else ""
    details = [m.detail for m in members if m.detail]
    # The most frequent detail stands for the group (timings differ from address to address).
    detail = max(set(details), key=details.count) if details else ""
    detail = _MS.sub("… ms", detail)
    how = f" ({escape(truncate(detail, 120))})" if detail else ""
    names = ", ".join(code(m.label, 60) for m in members[:_LISTED])
    more = f", +{len(members) - _LISTED} more" if len(members) > _LISTED else ""
    return f"• *{len(members)} {escape(word)}*{on_port}{how}: {names}{more}"


def evidence_lines(evidence: Sequence[Evidence], max_lines: int = 12) -> list[str]:
    """mrkdwn lines: the facts that are not about one address, then the addresses, failures
    first, grouped by outcome when there are more than `GROUP_FROM`; at most `max_lines`, the
    rest counted in a last "+N more" line."""
    plain: list[Evidence] = []
    addressed: list[_Addressed] = []
    for e in evidence:
        a = _addressed(e)
        if a is None:
            plain.append(e)
        else:
            addressed.append(a)
    bad = [a for a in addressed if not a.good]
    good = [a for a in addressed if a.good]
    lines = [_line(e) for e in plain]
    if len(addressed) > GROUP_FROM:
        words: dict[str, list[_Addressed]] = {}
        for a in bad + good:  # dicts keep order: problem outcomes first
            words.setdefault(a.word.lower(), []).append(a)
        lines += [_group(word, members) for word, members in words.items()]
    else:
        lines += [_line(a.evidence) for a in bad + good]
    if len(lines) > max_lines:
        rest = len(lines) - (max_lines - 1)
        lines = [*lines[: max_lines - 1], f"_+{rest} more in the attached report_"]
    return lines
