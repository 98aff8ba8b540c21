"""The parts of a report card for a site diagnosed through its distribution (read from AWS). Pure.

The distribution and its behavior in one line, then one compact line per origin (its verdict and
cause); the origins' failing checks are detailed in thread replies, one per origin. Check ids
repeat across origins, so a single check cannot be rerun from Slack here: only "Rerun all" (which
reads the distribution again) is offered.
"""

from __future__ import annotations

from bot.kit import mark
from bot.mrkdwn import code, escape, truncate
from bot.state import ReportState
from cf502.model import CheckResult, OriginReport, Status, Verdict
from cf502.verdict import decide

__all__ = [
    "ONLY_RERUN_ALL",
    "cause_of",
    "distribution_line",
    "origin_head",
    "origin_key",
    "origin_lines",
    "origin_problems",
    "report_verdict",
    "with_owner",
]

ONLY_RERUN_ALL = (
    "A single check of a distribution's report cannot be rerun from Slack: ↻ Rerun all reads "
    "the distribution again and diagnoses every origin."
)
PROBLEMS = (Status.FAIL, Status.ERROR, Status.WARN)


def report_verdict(state: ReportState) -> Verdict:
    """The verdict the card shows: the report's overall one for a distribution (it weighs the
    origins' checks too), else the one the current results give."""
    if state.distribution is not None and state.verdict is not None:
        return state.verdict
    return decide(state.ordered_results, only=state.only)


def with_owner(state: ReportState) -> list[tuple[CheckResult, OriginReport | None]]:
    """Every result of the report with the origin it belongs to (None: the distribution's)."""
    every: list[tuple[CheckResult, OriginReport | None]] = [
        (r, None) for r in state.ordered_results
    ]
    return every + [(c, o) for o in state.origins for c in o.checks]


def cause_of(
    state: ReportState, verdict: Verdict
) -> tuple[CheckResult, OriginReport | None] | None:
    """The verdict's likely cause and whose it is (the first of that id and status, as the
    overall verdict names it)."""
    for res, owner in with_owner(state):
        if res.id == verdict.likely_cause and res.status is verdict.status:
            return res, owner
    return None


def origin_key(o: OriginReport) -> str:
    """The key of an origin's thread reply in `ReportState.replies` (never a check id)."""
    return f"origin:{o.id}"


def origin_problems(o: OriginReport) -> list[CheckResult]:
    return [c for c in o.checks if c.status in PROBLEMS]


def distribution_line(state: ReportState) -> str:
    """':cloud: Distribution `E1` (`d1.cloudfront.net`) · behavior `/api/*` → `api-origin`'."""
    d = state.distribution or {}
    line = (
        f":cloud: Distribution {code(str(d.get('id') or '?'), 40)}"
        f" ({code(str(d.get('domain') or '?'), 120)}), read from AWS"
    )
    behavior = d.get("behavior")
    if behavior is not None:
        line += f" · behavior {code(str(behavior), 120)}"
        if d.get("path") and str(d.get("path")) != str(behavior):
            line += f" for {code(str(d['path']), 120)}"
        line += f" → {code(str(d.get('target_origin_id') or '?'), 120)}"
    return line


def origin_head(o: OriginReport, n: int, total: int) -> str:
    """'✖ FAIL · origin 1 of 2 `web` (`web.example.com`)'."""
    return (
        f"{mark(o.verdict.status)} · origin {n} of {total} {code(o.id, 80)} ({code(o.domain, 120)})"
    )


def _origin_cause(o: OriginReport) -> str:
    cause = next((c for c in o.checks if c.id == o.verdict.likely_cause), None)
    if cause is not None and cause.status in PROBLEMS:
        return f"*{escape(cause.title)}:* {escape(truncate(cause.summary, 200))}"
    warn = next((c for c in o.checks if c.status is Status.WARN), None)
    if warn is not None:
        return f"*{escape(warn.title)}:* {escape(truncate(warn.summary, 200))}"
    return escape(truncate(o.verdict.summary, 200))


def origin_lines(state: ReportState) -> list[str]:
    """One line per origin: its verdict and cause, and where its details are."""
    total = len(state.origins)
    lines = []
    for n, o in enumerate(state.origins, start=1):
        line = f"{origin_head(o, n, total)} — {_origin_cause(o)}"
        if origin_problems(o) and origin_key(o) in state.replies:
            line += " _(details in the thread)_"
        lines.append(line)
    return lines
