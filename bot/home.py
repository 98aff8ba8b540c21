"""The App Home tab: how to ask, the viewer's recent reports and the watches running on their
reports, each with a link to the report. Pure: states in, a `home` view out.

Only reports the viewer asked for or watches are listed: a workspace's App Home is seen by
everyone in it, and a report from a private channel must not show its target to people outside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.blocks import user
from bot.budget import Block
from bot.kit import mark, when
from bot.mrkdwn import code, truncate
from bot.state import ReportState
from cf502.model import Status
from cf502.verdict import decide

__all__ = ["MAX_LISTED", "home_view", "mine"]

MAX_LISTED = 10  # reports listed; a home view may hold 100 blocks, a glance needs far fewer


def mine(states: Sequence[ReportState], viewer: str) -> list[ReportState]:
    """The reports `viewer` asked for or watches, in the order given (the newest first)."""
    return [
        s
        for s in states
        if s.requested_by == viewer or (s.watch is not None and s.watch.by == viewer)
    ]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 2900)}}


def _status(state: ReportState) -> str:
    if state.phase == "running":
        return "⏳ running"
    if state.phase == "failed":
        return mark(Status.ERROR)
    return mark(decide(state.ordered_results, only=state.only).status)


def _link(state: ReportState, links: Mapping[str, str]) -> str:
    link = links.get(state.report_id)
    return f" · <{link}|open the report>" if link else ""


def _line(state: ReportState, links: Mapping[str, str]) -> str:
    where = f"<#{state.channel}>" if not state.in_dm else "a direct message"
    return (
        f"*{_status(state)}* · {code(state.target_host, 120)} in {where}, "
        f"{when(state.requested_at)}{_link(state, links)}"
    )


def home_view(states: Sequence[ReportState], viewer: str, links: Mapping[str, str]) -> Block:
    """The viewer's App Home: `states` are the workspace's recent reports (the newest first),
    `links` report id -> permalink."""
    own = mine(states, viewer)[:MAX_LISTED]
    watched = [(s, s.watch) for s in own if s.watch is not None and s.watch.active]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "cf502"}},
        _section(
            "Why does CloudFront answer 502 or 504? cf502 connects to the origin the way "
            "CloudFront does and tells you which check fails and how to fix it.\n"
            "• `/cf502 origin.example.com` in a channel (or `/cf502` alone for a form)\n"
            "• `@cf502 check origin.example.com` in an incident thread\n"
            "• here, in *Messages*: `check origin.example.com` or `decode <log line>`\n"
            "• on any message: ⋮ → *Diagnose with cf502*"
        ),
        {"type": "divider"},
        _section("*Watches running*"),
    ]
    if watched:
        for s, w in watched:
            blocks.append(
                _section(
                    f":eyes: {code(s.target_host, 120)}: rechecking every {w.interval:g} s "
                    f"until {when(w.until)} (started by {user(w.by)}){_link(s, links)}"
                )
            )
    else:
        blocks.append(_section("_None of your reports is being watched._"))
    blocks.append(_section("*Your recent reports*"))
    if own:
        blocks.append(_section("\n".join(_line(s, links) for s in own)))
    else:
        blocks.append(_section("_No reports of yours in the last while: try `/cf502`._"))
    return {"type": "home", "blocks": blocks}
