"""Block Kit for reports. Pure: state in, plain dicts out (no client, no store, no clock).

Every user- or origin-supplied string passes through `mrkdwn.escape`/`code` here, at the point of
rendering; results themselves hold plain text. Messages stay within Slack's limits: 50 blocks,
3,000 characters per section, ~12,000 characters in all (`msg_blocks_too_long` is observed above
~13k), button values of ids only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from bot.actions import ActionId, ButtonValue, Op
from bot.mrkdwn import code, code_block, escape, truncate
from bot.state import Note, ReportState, Watch
from cf502.model import CheckResult, Status
from cf502.render.cloudfront import site_lines
from cf502.verdict import decide

__all__ = [
    "MAX_BLOCKS",
    "MAX_CHECKS_PER_REPLY",
    "Block",
    "commands_blocks",
    "note_text",
    "reply_blocks",
    "reply_text",
    "report_blocks",
    "report_text",
    "standalone_blocks",
    "user",
]

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_TOTAL = 12_000
BLOCKS_PER_CHECK_REPLY = 6
MAX_CHECKS_PER_REPLY = MAX_BLOCKS // BLOCKS_PER_CHECK_REPLY

EMOJI = {
    Status.PASS: ":large_green_circle:",
    Status.WARN: ":large_yellow_circle:",
    Status.FAIL: ":red_circle:",
    Status.ERROR: ":warning:",
    Status.SKIP: ":white_circle:",
}
PENDING = ":hourglass_flowing_sand:"
_NOW = {
    Status.PASS: "passes",
    Status.WARN: "warns",
    Status.FAIL: "fails",
    Status.ERROR: "could not run",
    Status.SKIP: "is skipped",
}
_WAS = {
    Status.PASS: "passing",
    Status.WARN: "warning",
    Status.FAIL: "failing",
    Status.ERROR: "not running",
    Status.SKIP: "skipped",
}
_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{2,30}$")


def user(user_id: str) -> str:
    """A mention of a real user id; anything else is shown as inert text."""
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else escape(user_id)


def _when(at: float) -> str:
    """Slack renders this in each reader's own time zone; the fallback is UTC."""
    fallback = time.strftime("%H:%M UTC", time.gmtime(at))
    return f"<!date^{int(at)}^{{time}}|{fallback}>"


def _section(text: str, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)},
    }
    if block_id:
        block["block_id"] = block_id
    if accessory:
        block["accessory"] = accessory
    return block


def _context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }


def _button(text: str, action: ActionId, value: ButtonValue, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action.value,
        "value": value.dumps(),
    }
    if style:
        button["style"] = style
    return button


def note_text(note: Note) -> str:
    """ "rerun by @U at 14:02: now passes, was failing" (mrkdwn)."""
    if note.before is None:
        change = f"now {_NOW[note.after]}"
    elif note.before is note.after:
        change = f"still {_NOW[note.after]}"
    else:
        change = f"now {_NOW[note.after]}, was {_WAS[note.before]}"
    return f"rerun by {user(note.by)} at {_when(note.at)}: {change}"


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else escape(value)


def _settings_line(state: ReportState) -> str:
    o = state.origin
    parts = [escape(o.protocol_policy.value)]
    if o.protocol_policy.uses_https:
        parts.append(f"HTTPS port {escape(o.https_port)}")
    if o.protocol_policy.uses_http:
        parts.append(f"HTTP port {escape(o.http_port)}")
    if o.host_header:
        parts.append(f"Host {code(o.host_header, 120)}")
    parts.append(f"path {code(o.path, 120)}")
    parts.append(
        f"connect {_num(o.connect_timeout)} s × {_num(o.connection_attempts)}"
        f" · response {_num(o.read_timeout)} s"
    )
    if o.cloudfront_domain:
        parts.append(f"via {code(o.cloudfront_domain, 120)}")
    if state.only:
        parts.append("only " + ", ".join(code(c, 40) for c in state.only))
    return " · ".join(parts)


def _site_text(state: ReportState) -> str:
    """'www.example.com is served by CloudFront (d111abc.cloudfront.net)…' (mrkdwn), or ""."""
    site = state.origin.cloudfront_domain
    lines = site_lines(
        state.cloudfront, site or state.target_host, state.target_host if site else None
    )
    if not lines:
        return ""
    return ":cloud: " + "\n".join(escape(line) for line in lines)


def _cloudfront_line(status: int | None, error: str | None, *, seen: bool = False) -> str:
    if status is None:
        return ""
    # The edge's own answer is seen, not predicted.
    line = f"CloudFront {'answers' if seen else 'would answer'} *{escape(status)}*"
    if error:
        line += f" (access log `x-edge-detailed-result-type`: {code(error, 60)})"
    return line + "."


def _verdict_text(state: ReportState) -> str:
    results = state.ordered_results
    if state.phase == "failed":
        return f":x: *The diagnosis could not run:* {escape(truncate(state.error or 'unknown error', 1500))}"
    if state.phase == "running":
        head = f"{PENDING} Checking… {len(results)} of {len(state.check_ids)} checks finished."
        failing = next((r for r in results if r.status is Status.FAIL), None)
        if failing is not None:
            head += f"\nSo far: {EMOJI[Status.FAIL]} *{escape(failing.title)}* fails."
        return head
    verdict = decide(results, only=state.only)
    if verdict.status in (Status.FAIL, Status.ERROR) and verdict.likely_cause:
        cause = state.results.get(verdict.likely_cause)
        title = escape(cause.title) if cause else code(verdict.likely_cause)
        summary = escape(truncate(cause.summary, 1200)) if cause else ""
        text = f"{EMOJI[verdict.status]} *Likely cause: {title}*\n{summary}"
        cf = _cloudfront_line(
            verdict.cloudfront_status,
            verdict.cloudfront_error,
            seen=verdict.likely_cause == "cloudfront.edge",
        )
        return text + (f"\n{cf}" if cf else "")
    if verdict.status is Status.WARN:
        return f"{EMOJI[Status.WARN]} *No failure found*, with warnings:\n{escape(truncate(verdict.summary, 1200))}"
    if verdict.status is Status.SKIP:
        return f"{EMOJI[Status.SKIP]} *No check ran.*"
    if verdict.partial:  # a pass on part of the checks is not "CloudFront can use this origin"
        return f"{EMOJI[Status.PASS]} {escape(truncate(verdict.summary, 1200))}"
    return f"{EMOJI[Status.PASS]} *No problem found*: CloudFront should be able to use this origin."


def _check_line(state: ReportState, check_id: str, limit: int) -> str:
    res = state.results.get(check_id)
    title = escape(state.titles.get(check_id, check_id))
    if res is None:
        return f"{PENDING} *{title}*"
    line = f"{EMOJI[res.status]} *{title}* — {escape(truncate(res.summary, limit))}"
    note = state.notes.get(check_id)
    if note is not None:
        line += f"\n_↻ {note_text(note)}_"
    return line


def _check_menu(report_id: str, check_id: str) -> Block:
    return {
        "type": "overflow",
        "action_id": ActionId.CHECK_MENU.value,
        "options": [
            {
                "text": {"type": "plain_text", "text": "↻ Rerun this check"},
                "value": ButtonValue(report_id, check_id, Op.RERUN).dumps(),
            },
            {
                "text": {"type": "plain_text", "text": "Show commands"},
                "value": ButtonValue(report_id, check_id, Op.COMMANDS).dumps(),
            },
        ],
    }


def _watch_text(watch: Watch) -> str:
    if watch.active:
        return (
            f":eyes: Watching until fixed: rechecking every {watch.interval:g} s until "
            f"{_when(watch.until)} (started by {user(watch.by)}, {watch.runs} rechecks so far)."
        )
    outcome = {
        "fixed": ":white_check_mark: Watch ended: fixed",
        "gave-up": ":hourglass: Watch ended: still failing at the time limit",
        "stopped": ":octagonal_sign: Watch stopped"
        + (f" by {user(watch.stopped_by)}" if watch.stopped_by else ""),
        "failed": ":x: Watch ended: the recheck could not run",
    }.get(str(watch.outcome), "Watch ended")
    return f"{outcome} after {watch.runs} recheck{'s' if watch.runs != 1 else ''}."


def _footer(state: ReportState, ttl: int | None) -> str:
    parts: list[str] = []
    if state.rerun_all is not None:
        parts.append(f"↻ All checks {note_text(state.rerun_all).replace(': now', ': verdict now')}")
    if state.duration_ms is not None and state.phase == "done":
        parts.append(f"finished in {state.duration_ms / 1000:.1f} s")
    if state.addresses:
        parts.append("addresses " + ", ".join(code(a, 45) for a in state.addresses[:4]))
    if ttl:
        parts.append(
            f"buttons work for {ttl // 3600 or 1} h"
            if ttl >= 3600
            else f"buttons work for {ttl // 60} min"
        )
    return " · ".join(parts)


def report_blocks(
    state: ReportState, *, interactive: bool = True, compact: bool = False, ttl: int | None = None
) -> list[Block]:
    """The root message: who asked for what, the verdict, one line per check, the root buttons.

    Falls back to a compact layout (check lines grouped, no per-check menus) when the full one
    would exceed Slack's block or size limits.
    """
    blocks: list[Block] = [
        _section(
            f":mag: *CloudFront origin check* of {code(state.target_host, 200)}"
            f" — asked by {user(state.requested_by)}"
        ),
        _context(_settings_line(state)),
    ]
    site = _site_text(state)
    if site:  # what the target is comes before anything said about it
        blocks.append(_section(site, block_id="site"))
    blocks += [
        _section(_verdict_text(state), block_id="verdict"),
        {"type": "divider"},
    ]
    menus = interactive and not compact and state.phase != "running"
    if compact:
        lines = [_check_line(state, cid, 120) for cid in state.check_ids]
        chunk: list[str] = []
        for line in lines:
            if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION - 10 and chunk:
                blocks.append(_section("\n".join(chunk)))
                chunk = []
            chunk.append(line)
        if chunk:
            blocks.append(_section("\n".join(chunk)))
    else:
        for cid in state.check_ids:
            accessory = (
                _check_menu(state.report_id, cid) if menus and cid in state.results else None
            )
            blocks.append(_section(_check_line(state, cid, 300), f"check:{cid}", accessory))
    blocks.append({"type": "divider"})
    if interactive and state.phase != "running":
        root = ButtonValue(state.report_id)
        buttons = [_button("↻ Rerun all", ActionId.RERUN_ALL, root)]
        if state.watch is not None and state.watch.active:
            buttons.append(_button("Stop watching", ActionId.STOP_WATCH, root, "danger"))
        else:
            buttons.append(_button(":eyes: Watch until fixed", ActionId.WATCH, root, "primary"))
        if state.cloudfront.detected and not state.origin.cloudfront_domain:
            buttons.append(_button("Diagnose origin…", ActionId.DIAGNOSE_ORIGIN, root))
        blocks.append({"type": "actions", "block_id": "root", "elements": buttons})
    if state.watch is not None:
        blocks.append(_context(_watch_text(state.watch)))
    footer = _footer(state, ttl if interactive else None)
    if footer:
        blocks.append(_context(footer))
    if not compact and (len(blocks) > MAX_BLOCKS or _size(blocks) > MAX_TOTAL):
        return report_blocks(state, interactive=interactive, compact=True, ttl=ttl)
    return blocks


def _size(blocks: Sequence[Block]) -> int:
    total = 0
    for b in blocks:
        if "text" in b:
            total += len(b["text"]["text"])
        for e in b.get("elements", ()):
            total += len(e.get("text", "")) if isinstance(e.get("text"), str) else 0
    return total


def report_text(state: ReportState) -> str:
    """The notification / fallback text of the root message (plain, escaped)."""
    host = state.target_host
    if state.phase == "running":
        return escape(f"cf502: checking {host}…")
    if state.phase == "failed":
        return escape(truncate(f"cf502: {host}: the diagnosis could not run", 300))
    verdict = decide(state.ordered_results, only=state.only)
    return escape(truncate(f"cf502: {host}: {verdict.summary}", 300))


def _one_check(state: ReportState, res: CheckResult, interactive: bool) -> list[Block]:
    head = (
        f"{EMOJI[res.status]} *{escape(res.title)}* ({code(res.id, 40)}): *{res.status.value}*"
        f"\n{escape(truncate(res.summary, 2500))}"
    )
    blocks = [_section(head)]
    if res.evidence:
        lines = [
            f"• {escape(truncate(e.label, 80))}: {code(e.value, 300)}" for e in res.evidence[:25]
        ]
        blocks.append(_section("*Evidence*\n" + "\n".join(lines)))
    if res.remediation:
        blocks.append(_section(f"*Fix:* {escape(truncate(res.remediation, 2800))}"))
    extras = [x for x in (_cloudfront_line(res.cloudfront_status, res.cloudfront_error),) if x]
    note = state.notes.get(res.id)
    if note is not None:
        extras.append(f"↻ {note_text(note)}")
    if extras:
        blocks.append(_context(" · ".join(extras)))
    if interactive:
        value = ButtonValue(state.report_id, res.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"reply:{res.id}",
                "elements": [
                    _button("↻ Rerun", ActionId.RERUN_CHECK, value),
                    _button("Show commands", ActionId.SHOW_COMMANDS, value),
                ],
            }
        )
    return blocks


def reply_blocks(
    state: ReportState, results: Sequence[CheckResult], *, interactive: bool = True
) -> list[Block]:
    """A thread reply for one check (or, when grouped, several): evidence, fix, buttons."""
    blocks: list[Block] = []
    for res in results[:MAX_CHECKS_PER_REPLY]:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(_one_check(state, res, interactive))
    rest = len(results) - MAX_CHECKS_PER_REPLY
    if rest > 0:
        blocks.append(_context(f"…and {rest} more; use the report's menu on each check."))
    return blocks[:MAX_BLOCKS]


def reply_text(results: Sequence[CheckResult]) -> str:
    return escape(
        truncate("; ".join(f"{r.title}: {r.status.value} — {r.summary}" for r in results), 300)
    )


def commands_blocks(state: ReportState, res: CheckResult, requested_by: str) -> list[Block]:
    """The equivalent shell commands of one check, for everyone in the thread."""
    head = (
        f"Equivalent commands for *{escape(res.title)}* ({code(res.id, 40)}) on "
        f"{code(state.target_host, 200)}, asked by {user(requested_by)}:"
    )
    if not res.commands:
        return [_section(head + "\n_This check has no equivalent shell command._")]
    return [_section(head), _section(code_block(res.commands, MAX_SECTION))]


def standalone_blocks(state: ReportState) -> list[Block]:
    """The whole report in one message without buttons (sent privately via the response URL
    when the bot can't post in the conversation): the summary, then the failing checks' details
    while they fit."""
    blocks = report_blocks(state, interactive=False)
    blocks.append(
        _context(":information_source: Invite @cf502 to this channel for live threaded reports.")
    )
    for res in state.ordered_results:
        if res.status not in (Status.FAIL, Status.WARN):
            continue
        more = [{"type": "divider"}, *_one_check(state, res, interactive=False)]
        if len(blocks) + len(more) > MAX_BLOCKS or _size(blocks + more) > MAX_TOTAL:
            break
        blocks.extend(more)
    return blocks
