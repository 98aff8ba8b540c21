"""Block Kit for reports. Pure: state in, plain dicts out (no client, no store, no clock).

The root message is a verdict card (`bot.card`); this module adds what goes in its thread (a
check's evidence, fix and buttons; its equivalent commands) and the whole report in one private
message. Every user- or origin-supplied string passes through `mrkdwn.escape`/`code` at the point
of rendering; results themselves hold plain text. Every message goes through `budget.fit`, so it
stays within Slack's limits whatever the origin said.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.actions import ActionId, ButtonValue
from bot.budget import MAX_BLOCKS, MAX_JSON, MAX_SECTION, Block, fit, fit_text, size
from bot.card import PROBLEMS, SHORTENED_REPORT, note_text, report_blocks, report_text
from bot.distribution import origin_head, origin_problems
from bot.evidence import evidence_lines
from bot.kit import button, context, mark, section, user
from bot.mrkdwn import code, code_block, escape, truncate
from bot.state import ReportState
from cf502.model import CheckResult, OriginReport

__all__ = [
    "MAX_BLOCKS",
    "MAX_CHECKS_PER_REPLY",
    "Block",
    "commands_blocks",
    "note_text",
    "origin_reply_blocks",
    "origin_reply_text",
    "reply_blocks",
    "reply_text",
    "report_blocks",
    "report_text",
    "standalone_blocks",
    "user",
]

MAX_CHECKS_PER_REPLY = 6
_EVIDENCE_STEPS = (12, 6, 3, 0)  # evidence lines per check, fewer until the message fits
_LONG = 1500  # characters of a summary or fix shown in a reply


def _cloudfront_line(status: int | None, error: str | None) -> str:
    if status is None:
        return ""
    line = f"CloudFront would answer *{escape(status)}*"
    if error:
        line += f" (access log `x-edge-detailed-result-type`: {code(error, 60)})"
    return line + "."


def _one_check(
    state: ReportState, res: CheckResult, interactive: bool, evidence: int
) -> list[Block]:
    head = (
        f"{mark(res.status)} *{escape(res.title)}* ({code(res.id, 40)})"
        f"\n{escape(truncate(res.summary, _LONG))}"
    )
    blocks = [section(head)]
    lines = evidence_lines(res.evidence, evidence) if evidence else []
    if lines:
        blocks.append(section("*Evidence*\n" + "\n".join(lines)))
    elif res.evidence:
        blocks.append(context(f"{len(res.evidence)} evidence lines in the attached report"))
    if res.remediation:
        blocks.append(section(f"*Fix:* {escape(truncate(res.remediation, _LONG))}"))
    extras = [x for x in (_cloudfront_line(res.cloudfront_status, res.cloudfront_error),) if x]
    note = state.notes.get(res.id)
    if note is not None:
        extras.append(f"↻ {note_text(note)}")
    if extras:
        blocks.append(context(" · ".join(extras)))
    if interactive:
        value = ButtonValue(state.report_id, res.id)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"reply:{res.id}",
                "elements": [
                    button("↻ Rerun", ActionId.RERUN_CHECK, value),
                    button("Show commands", ActionId.SHOW_COMMANDS, value),
                ],
            }
        )
    return blocks


def _details(
    state: ReportState, results: Sequence[CheckResult], interactive: bool, budget: int
) -> list[Block]:
    """The checks' details with as much evidence as fits in `budget` characters of JSON; a last
    line says so when anything had to be left out."""
    blocks: list[Block] = []
    for lines in _EVIDENCE_STEPS:
        blocks = []
        for res in results:
            if blocks:
                blocks.append({"type": "divider"})
            blocks.extend(_one_check(state, res, interactive, lines))
        if size(blocks) <= budget and len(blocks) <= MAX_BLOCKS:
            break
    long = any(len(r.summary) > _LONG or len(r.remediation) > _LONG for r in results)
    if long or lines < _EVIDENCE_STEPS[0]:
        blocks.append(context(SHORTENED_REPORT))
    return blocks


def reply_blocks(
    state: ReportState, results: Sequence[CheckResult], *, interactive: bool = True
) -> list[Block]:
    """A thread reply for one check (or, when grouped, several): evidence, fix, buttons."""
    shown = list(results[:MAX_CHECKS_PER_REPLY])
    blocks = _details(state, shown, interactive, MAX_JSON - 400)
    rest = len(results) - len(shown)
    if rest > 0:
        blocks.append(context(f"…and {rest} more; use the report's menu on each check."))
    return fit(blocks, note=SHORTENED_REPORT)


def origin_reply_blocks(state: ReportState, origins: Sequence[OriginReport]) -> list[Block]:
    """A thread reply for one origin of a distribution (or, when grouped, several): its head,
    then its failing and warning checks' evidence and fixes (no buttons: only Rerun all)."""
    total = len(state.origins)
    blocks: list[Block] = []
    budget = (MAX_JSON - 400) // max(1, len(origins))
    for o in origins:
        n = next((i for i, x in enumerate(state.origins, start=1) if x.id == o.id), 0)
        problems = origin_problems(o)
        verdict = escape(truncate(o.verdict.summary, 500))
        if blocks:
            blocks.append({"type": "divider"})
        blocks.append(section(f"*{origin_head(o, n, total)}*\n{verdict}"))
        shown = problems[:MAX_CHECKS_PER_REPLY]
        if shown:
            blocks += _details(state, shown, False, budget)
        if len(problems) > len(shown):
            rest = len(problems) - len(shown)
            blocks.append(context(f"…and {rest} more in the attached report."))
    return fit(blocks, note=SHORTENED_REPORT)


def origin_reply_text(origins: Sequence[OriginReport]) -> str:
    return fit_text(
        escape(
            truncate(
                "; ".join(
                    f"origin {o.id}: {o.verdict.status.value} — {o.verdict.summary}"
                    for o in origins
                ),
                300,
            )
        )
    )


def reply_text(results: Sequence[CheckResult]) -> str:
    return fit_text(
        escape(
            truncate("; ".join(f"{r.title}: {r.status.value} — {r.summary}" for r in results), 300)
        )
    )


def commands_blocks(state: ReportState, res: CheckResult, requested_by: str) -> list[Block]:
    """The equivalent shell commands of one check, for everyone in the thread."""
    head = (
        f"Equivalent commands for *{escape(res.title)}* ({code(res.id, 40)}) on "
        f"{code(state.target_host, 200)}, asked by {user(requested_by)}:"
    )
    if not res.commands:
        return fit([section(head + "\n_This check has no equivalent shell command._")])
    return fit(
        [section(head), section(code_block(res.commands, MAX_SECTION - 100))],
        note=SHORTENED_REPORT,
    )


def standalone_blocks(state: ReportState) -> list[Block]:
    """The whole report in one message without buttons (sent privately via the response URL
    when the bot can't post in the conversation): the card, then the failing checks' details
    while they fit."""
    hint = (
        "Run it in a channel or in a direct message to @cf502 for live threaded reports."
        if state.in_dm  # nobody can invite the bot into other people's direct messages
        else "Invite @cf502 to this channel for live threaded reports."
    )
    blocks = [*report_blocks(state, interactive=False), context(f":information_source: {hint}")]
    for res in state.ordered_results:
        if res.status not in PROBLEMS:
            continue
        more = [{"type": "divider"}, *_details(state, [res], False, MAX_JSON // 3)]
        if len(blocks) + len(more) > MAX_BLOCKS or size(blocks + more) > MAX_JSON:
            break
        blocks.extend(more)
    return fit(blocks, note=SHORTENED_REPORT)
