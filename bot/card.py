"""The report's root message: a verdict card. Pure: state in, plain dicts out.

Read at 3 a.m., top to bottom: what is wrong (status, target, what CloudFront answers and why, in
words), the fix in one sentence, where the fault lies; then only the checks that fail or warn,
each with its menu, and one line counting the rest. "Show all checks" redraws the same message
with every check listed (`ReportState.expanded`); "Hide" goes back. A failing report is about 8
blocks, a healthy one 4; `budget.fit` holds every variant to Slack's limits.
"""

from __future__ import annotations

import re

from bot.actions import ActionId, ButtonValue, Op
from bot.budget import Block, fit, fit_text
from bot.confirm import rerun_all_confirm, stop_watch_confirm
from bot.distribution import (
    ONLY_RERUN_ALL,
    cause_of,
    distribution_line,
    origin_lines,
    report_verdict,
    with_owner,
)
from bot.kit import PENDING, button, context, mark, section, user, when
from bot.mrkdwn import clip, code, escape, truncate
from bot.state import WATCH, Note, ReportState, Watch
from cf502.model import CheckResult, OriginReport, Status, Verdict
from cf502.render.cloudfront import site_lines
from cf502.settings import OriginSettings
from cf502.target import Target

__all__ = [
    "MAX_PROBLEM_LINES",
    "PROBLEMS",
    "SHORTENED_REPORT",
    "fault_place",
    "first_sentence",
    "note_text",
    "report_blocks",
    "report_text",
    "shown_name",
]

MAX_PROBLEM_LINES = 6  # problem checks with their own line and menu; more share one section
SHORTENED_REPORT = (
    "✂ Some details were shortened to fit in Slack; the full report (text and JSON) is "
    "attached in the thread."
)
PROBLEMS = (Status.FAIL, Status.ERROR, Status.WARN)
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
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
# Evidence labels that name the AWS resource an aws.* check is about.
_RESOURCE_LABELS = ("distribution", "load balancer", "security group", "function", "bucket")


def note_text(note: Note) -> str:
    """'rerun by @U at 14:02: now passes, was failing' (mrkdwn)."""
    if note.before is None:
        change = f"now {_NOW[note.after]}"
    elif note.before is note.after:
        change = f"still {_NOW[note.after]}"
    else:
        change = f"now {_NOW[note.after]}, was {_WAS[note.before]}"
    if note.via == WATCH:  # the watch's recheck is the watch's, not whoever started it
        return f"rechecked by the watch at {when(note.at)}: {change}"
    return f"rerun by {user(note.by)} at {when(note.at)}: {change}"


def shown_name(target: dict[str, object]) -> str:
    """The target as typed (Unicode) and, when DNS knows it by another name, its punycode."""
    host = str(target.get("host", "?"))
    try:
        typed = Target.from_dict(dict(target)).display_host
    except (KeyError, TypeError, ValueError):
        typed = host
    if typed == host:
        return code(host, 200)
    return f"{code(typed, 200)} ({code(host, 200)} in DNS)"


def first_sentence(text: str, limit: int = 300) -> str:
    """The first sentence of a plain-text remediation, at most `limit` characters."""
    return truncate(_SENTENCE_END.split(text.strip(), maxsplit=1)[0], limit)


def fault_place(state: ReportState, res: CheckResult, owner: OriginReport | None = None) -> str:
    """Where the fault lies, with the thing named (mrkdwn): origin, DNS, CloudFront setting, AWS
    resource. `owner`: the distribution's origin the check is of."""
    if owner is not None:
        place = _place(state, res, owner).removeprefix("origin: ")
        return f"origin {code(owner.id, 80)}: {place}"
    return _place(state, res, None)


def _place(state: ReportState, res: CheckResult, owner: OriginReport | None) -> str:
    host = code(owner.domain if owner else state.target_host, 120)
    cid = res.id
    labels = {e.label.lower(): e.value for e in res.evidence}
    if cid.startswith("aws."):
        named = next((labels[k] for k in _RESOURCE_LABELS if k in labels), "")
        what = escape(res.title.lower())
        return f"AWS resource: {what}" + (f" {code(named, 120)}" if named else "")
    if cid.startswith("dns."):
        zone = labels.get("zone")
        if zone and cid == "dns.authoritative":
            return f"DNS: the name servers of {code(zone, 120)}"
        return f"DNS: the records of {host}"
    if cid.startswith("cloudfront."):
        domain = state.cloudfront.domain or state.origin.cloudfront_domain
        return "CloudFront: the distribution" + (f" {code(domain, 120)}" if domain else "")
    o = state.origin
    if owner is not None:
        try:
            o = OriginSettings.from_dict(owner.settings)
        except (KeyError, TypeError, ValueError):
            pass  # the defaults name the ports well enough
    if cid.startswith("tcp."):
        port = o.https_port if cid == "tcp.https" else o.http_port
        return f"origin: {host} port {escape(port)} (web server or firewall)"
    if cid.startswith("tls.cert"):
        return f"origin: the certificate {host} serves"
    if cid.startswith("tls."):
        return f"origin: the TLS set-up of {host} (or the distribution's origin SSL protocols)"
    if cid.startswith("http."):
        return f"origin: the web server or application behind {host}"
    return f"origin: {host}"


def _cloudfront_says(verdict: Verdict, seen: bool) -> str:
    if verdict.cloudfront_status is None:
        return ""
    # The edge's own answer is seen, not predicted.
    return f"CloudFront {'answered ' if seen else ''}{verdict.cloudfront_status}"


def _head(state: ReportState, verdict: Verdict) -> str:
    """Lines 1-3: status, target and what is wrong; the fix; where the fault lies."""
    name = shown_name(state.target)
    found = cause_of(state, verdict)
    cause, owner = found if found else (None, None)
    if cause is not None and verdict.status in (Status.FAIL, Status.ERROR):
        says = _cloudfront_says(verdict, seen=cause.id == "cloudfront.edge")
        what = escape(truncate(cause.summary, 300))
        line1 = f"*{mark(verdict.status)}* · {name} — " + (
            f"*{says}:* {what}" if says else f"*{escape(cause.title)}:* {what}"
        )
        lines = [line1]
        if cause.remediation:
            lines.append(f"*Fix:* {escape(first_sentence(cause.remediation))}")
        lines.append(f"*Where:* {fault_place(state, cause, owner)}")
        return "\n".join(lines)
    if verdict.status is Status.WARN:
        warned = next(((r, o) for r, o in with_owner(state) if r.status is Status.WARN), None)
        warn, owner = warned if warned else (None, None)
        lines = [
            f"*{mark(Status.WARN)}* · {name} — no failure found; "
            + (f"*{escape(warn.title)}:* {escape(truncate(warn.summary, 300))}" if warn else "")
        ]
        if warn is not None and warn.remediation:
            lines.append(f"*Fix:* {escape(first_sentence(warn.remediation))}")
        if warn is not None:
            lines.append(f"*Where:* {fault_place(state, warn, owner)}")
        return "\n".join(lines)
    if verdict.status is Status.SKIP:
        return f"*{mark(Status.SKIP)}* · {name} — no check ran."
    if (
        verdict.partial or state.distribution is not None
    ):  # a pass on part of the checks is not "CloudFront can use this origin"
        return f"*{mark(Status.PASS)}* · {name} — {escape(truncate(verdict.summary, 600))}"
    return (
        f"*{mark(Status.PASS)}* · {name} — no problem found: CloudFront should be able to use "
        "this origin."
    )


def _check_line(
    state: ReportState, res: CheckResult, limit: int = 200, *, cause: bool = False
) -> str:
    # The likely cause's summary is the card's first line already: not twice.
    said = "the likely cause, above" if cause else escape(truncate(res.summary, limit))
    line = f"{mark(res.status)} *{escape(res.title)}* — {said}"
    note = state.notes.get(res.id)
    if note is not None:
        line += f"\n_↻ {note_text(note)}_"
    return line


def _menu(report_id: str, check_id: str) -> Block:
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


def _counts(state: ReportState) -> str:
    """'9 passed · 4 not reached · 1 not used' (the problems have their own lines)."""
    results = state.ordered_results
    n = {
        "failed": sum(r.status is Status.FAIL for r in results),
        "could not run": sum(r.status is Status.ERROR for r in results),
        "warned": sum(r.status is Status.WARN for r in results),
        "passed": sum(r.status is Status.PASS for r in results),
        "not reached": sum(r.status is Status.SKIP and r.applies for r in results),
        "not used": sum(r.status is Status.SKIP and not r.applies for r in results),
        "pending": len(state.check_ids) - len(results),
    }
    return " · ".join(f"{count} {what}" for what, count in n.items() if count)


def _chunks(lines: list[str], limit: int = 2900) -> list[str]:
    """Lines joined into as few section texts of at most `limit` characters as they fit in."""
    out: list[str] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > limit:
            out.append("\n".join(chunk))
            chunk = []
        chunk.append(clip(line, limit))
    if chunk:
        out.append("\n".join(chunk))
    return out


def _others(state: ReportState, shown: set[str]) -> list[str]:
    """The lines of "Show all checks" (but the `shown` ones): passes one by one, skips grouped
    by why."""
    lines: list[str] = []
    unreached: list[CheckResult] = []
    for res in state.ordered_results:
        if res.id in shown:
            continue
        if res.status is Status.PASS:
            lines.append(_check_line(state, res, 160))
        elif res.status is Status.SKIP and res.applies:
            unreached.append(res)
        elif res.status is Status.SKIP:
            lines.append(f"○ not used *{escape(res.title)}* — {escape(truncate(res.summary, 160))}")
    if unreached:
        titles = ", ".join(escape(r.title) for r in unreached)
        why = escape(truncate(unreached[0].summary, 160))
        lines.append(f"○ not reached — {titles}: {why}")
    pending = [state.titles.get(c, c) for c in state.check_ids if c not in state.results]
    if pending:
        lines.append(f"{PENDING} pending — " + ", ".join(escape(t) for t in pending))
    return lines


def _watch_text(watch: Watch) -> str:
    if watch.active:
        return (
            f":eyes: Watching until fixed: rechecking every {watch.interval:g} s until "
            f"{when(watch.until)} (started by {user(watch.by)}, {watch.runs} rechecks so far)."
        )
    outcome = {
        "fixed": ":white_check_mark: Watch ended: fixed",
        "gave-up": ":hourglass: Watch ended: still failing at the time limit",
        "stopped": ":octagonal_sign: Watch stopped"
        + (f" by {user(watch.stopped_by)}" if watch.stopped_by else ""),
        "failed": ":x: Watch ended: the recheck could not run",
    }.get(str(watch.outcome), "Watch ended")
    return f"{outcome} after {watch.runs} recheck{'s' if watch.runs != 1 else ''}."


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else escape(value)


def _settings(state: ReportState) -> str:
    o = state.origin
    parts = [escape(o.protocol_policy.value)]
    if o.protocol_policy.uses_https:
        parts.append(f"HTTPS port {escape(o.https_port)}")
    if o.protocol_policy.uses_http:
        parts.append(f"HTTP port {escape(o.http_port)}")
    if o.host_header:
        parts.append(f"Host {code(o.host_header, 120)}")
    if o.path != "/":
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


def _footer(state: ReportState, ttl: int | None) -> str:
    parts = [f"Asked by {user(state.requested_by)}"]
    if state.distribution is None:  # a distribution's origins have their own (in the report)
        parts.append(_settings(state))
    if state.rerun_all is not None:
        parts.append(f"↻ All checks {note_text(state.rerun_all).replace(': now', ': verdict now')}")
    if state.duration_ms is not None and state.phase == "done":
        parts.append(f"finished in {state.duration_ms / 1000:.1f} s")
    if state.addresses:
        shown = ", ".join(code(a, 45) for a in state.addresses[:4])
        more = f" +{len(state.addresses) - 4} more" if len(state.addresses) > 4 else ""
        parts.append(f"addresses {shown}{more}")
    if ttl:
        parts.append(
            f"buttons work for {ttl // 3600 or 1} h"
            if ttl >= 3600
            else f"buttons work for {ttl // 60} min"
        )
    return " · ".join(parts)


def _site(state: ReportState) -> str:
    """':cloud: www.example.com is served by CloudFront (d111abc.cloudfront.net)…', or ""."""
    site = state.origin.cloudfront_domain
    lines = site_lines(
        state.cloudfront, site or state.target_host, state.target_host if site else None
    )
    return ":cloud: " + "\n".join(escape(line) for line in lines) if lines else ""


def _running(state: ReportState) -> list[Block]:
    done, total = len(state.results), len(state.check_ids)
    head = f"{PENDING} Checking {shown_name(state.target)}… {done} of {total} checks finished."
    problems = [r for r in state.ordered_results if r.status in PROBLEMS]
    blocks = [section(head, block_id="verdict")]
    if problems:
        lines = ["So far:"] + [_check_line(state, r, 200) for r in problems]
        blocks += [section(t) for t in _chunks(lines)][:3]
    return blocks


def _buttons(state: ReportState, problems: list[CheckResult]) -> Block:
    root = ButtonValue(state.report_id)
    # Both act for everyone in the conversation: a dialog names whose report or watch it is.
    rerun = button("↻ Rerun all", ActionId.RERUN_ALL, root)
    buttons = [{**rerun, "confirm": rerun_all_confirm(state)}]
    if state.watch is not None and state.watch.active:
        stop = button("Stop watching", ActionId.STOP_WATCH, root, "danger")
        buttons.append({**stop, "confirm": stop_watch_confirm(state)})
    elif any(r.status in (Status.FAIL, Status.ERROR) for r in problems) or (
        state.distribution is not None
        and report_verdict(state).status in (Status.FAIL, Status.ERROR)
    ):
        buttons.append(button(":eyes: Watch until fixed", ActionId.WATCH, root, "primary"))
    if (
        state.cloudfront.detected
        and not state.origin.cloudfront_domain
        and state.distribution is None  # its origins are diagnosed already
    ):
        buttons.append(button("Diagnose origin…", ActionId.DIAGNOSE_ORIGIN, root))
    if state.expanded:
        buttons.append(button("Hide other checks", ActionId.HIDE_CHECKS, root))
    elif len(state.results) > len(problems):
        buttons.append(button("Show all checks", ActionId.SHOW_ALL, root))
    return {"type": "actions", "block_id": "root", "elements": buttons}


def report_blocks(
    state: ReportState, *, interactive: bool = True, compact: bool = False, ttl: int | None = None
) -> list[Block]:
    """The root card (see the module docstring). `compact`: no menus and no expanded list, for
    the retry after Slack refused the message's size; non-`interactive`: no buttons at all."""
    expanded = state.expanded and not compact
    blocks: list[Block] = []
    if state.phase == "running":
        blocks = _running(state)
    elif state.phase == "failed":
        why = escape(truncate(state.error or "unknown error", 1500))
        blocks = [
            section(
                f"*{mark(Status.ERROR)}* · {shown_name(state.target)} — the diagnosis could not "
                f"run: {why}",
                block_id="verdict",
            )
        ]
    else:
        verdict = report_verdict(state)
        blocks = [section(_head(state, verdict), block_id="verdict")]
    site = distribution_line(state) if state.distribution is not None else _site(state)
    if site:  # what the target is comes right after the verdict
        blocks.append(context(site))
    problems = [r for r in state.ordered_results if r.status in PROBLEMS]
    # A check rerun since the report keeps its line (its change is news), whatever its status.
    shown = [r for r in state.ordered_results if r.status in PROBLEMS or r.id in state.notes]
    if state.phase != "running" and state.distribution is not None:
        blocks += [section(t, f"origins:{i}") for i, t in enumerate(_chunks(origin_lines(state)))]
    if state.phase != "running":
        # A distribution's checks share ids across origins: no per-check rerun (ONLY_RERUN_ALL).
        menus = interactive and not compact and state.distribution is None
        own, rest = shown[:MAX_PROBLEM_LINES], shown[MAX_PROBLEM_LINES:]
        if compact:
            own, rest = [], shown
        cause_id = report_verdict(state).likely_cause
        for res in own:
            menu = _menu(state.report_id, res.id) if menus else None
            line = _check_line(state, res, 500, cause=res.id == cause_id)
            blocks.append(section(line, f"check:{res.id}", menu))
        blocks += [section(t) for t in _chunks([_check_line(state, r, 150) for r in rest])]
        if expanded:
            blocks += [
                section(t, f"others:{i}")
                for i, t in enumerate(_chunks(_others(state, {r.id for r in shown})))
            ]
        counts = _counts(state)
        if counts:
            blocks.append(context(counts))
        if interactive:
            blocks.append(_buttons(state, problems))
            if state.distribution is not None:
                blocks.append(context(ONLY_RERUN_ALL))
    if state.watch is not None:
        blocks.append(context(_watch_text(state.watch)))
    blocks.append(context(_footer(state, ttl if interactive else None)))
    return fit(blocks, note=SHORTENED_REPORT)


def report_text(state: ReportState) -> str:
    """The notification / fallback text of the root: the current verdict in one line (escaped)."""
    host = state.target_host
    if state.phase == "running":
        return escape(f"cf502: checking {host}…")
    if state.phase == "failed":
        return escape(truncate(f"cf502: {host}: the diagnosis could not run", 300))
    verdict = report_verdict(state)
    line = f"cf502: {mark(verdict.status)} {host}: {verdict.summary}"
    return fit_text(escape(truncate(line, 300)))
