"""The product as the golden tests see it: the ONLY module in tests/golden/ that imports `cf502`
or `bot`. When modules move, update the imports here; the golden files must not change.

Two entry points, both in terms of plain data (JSON text in, JSON-able dicts out):

* `diagnosis_json`: a real diagnosis by the real engine, rendered as `cf502 check --json` prints it;
* `slack_payloads`: every Block Kit payload the Slack app would send for that report.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.blocks import (
    commands_blocks,
    reply_blocks,
    reply_text,
    report_blocks,
    report_text,
    standalone_blocks,
)
from bot.state import Note, ReportState, Watch
from cf502.engine import diagnose
from cf502.model import CheckResult, Report, Status
from cf502.render.json_output import report_json
from cf502.settings import EngineSettings, OriginSettings
from cf502.target import parse_target

__all__ = ["diagnosis_json", "slack_payloads"]

# Who and where, as the Slack app would have them (fixed so the payloads are reproducible).
REPORT_ID = "0123456789abcdef0123456789abcdef"
CHANNEL = "C0GOLDEN1"
REQUESTED_BY = "U0GOLDEN1"
RERUN_BY = "U0GOLDEN2"
ROOT_TS = "1780315200.000100"
TTL = 86_400
_DETAIL = ("fail", "warn")  # the statuses that get a thread reply


async def diagnosis_json(
    target: str,
    *,
    dns_port: int,
    ca_file: str,
    now: dt.datetime,
    **origin: Any,
) -> str:
    """`cf502 check TARGET --json` with the loopback resolver and name servers on `dns_port`, the
    test root in `ca_file`, private targets allowed, and the clock stopped at `now`.

    `origin` takes the CloudFront origin options by their CLI names (`https_port`, `http_port`,
    `protocol_policy`, `path`, `connect_timeout`, `read_timeout`, ...).
    """
    parsed = parse_target(target)
    engine = EngineSettings(
        allow_private=True,
        resolver=f"127.0.0.1:{dns_port}",
        dns_port=dns_port,
        dns_timeout=1.0,
        ca_file=ca_file,
    )
    report = await diagnose(
        parsed, OriginSettings.for_target(parsed, **origin), engine, now=lambda: now
    )
    return report_json(report)


def _state(
    report: Report, at: float, results: tuple[CheckResult, ...] | None = None
) -> ReportState:
    done = results is None
    shown = report.checks if results is None else results
    return ReportState(
        report_id=REPORT_ID,
        channel=CHANNEL,
        requested_by=REQUESTED_BY,
        requested_at=at,
        target=dict(report.target),
        origin=OriginSettings.from_dict(report.settings),
        only=(),
        check_ids=tuple(c.id for c in report.checks),
        titles={c.id: c.title for c in report.checks},
        job_id="golden-job",
        root_ts=ROOT_TS,
        thread_ts=ROOT_TS,
        results={c.id: c for c in shown},
        phase="done" if done else "running",
        duration_ms=report.duration_ms if done else None,
        addresses=report.addresses if done else (),
    )


def _expanded(report: Report, at: float) -> ReportState:
    """The root after "Show all checks"."""
    state = _state(report, at)
    state.expanded = True
    return state


def _message(blocks: list[dict[str, Any]], text: str) -> dict[str, Any]:
    return {"text": text, "blocks": blocks}


def slack_payloads(
    report_text_json: str, *, at: dt.datetime, followups: bool = False
) -> dict[str, Any]:
    """The Slack app's messages for a finished report requested at `at`: the root message (full,
    compact, with every check shown, and half-way through the run), one thread reply per failing/warning check (and, when
    there are several, all of them in one), "Show commands" for every check, and the private
    standalone report.

    With `followups`, also the root and a reply after reruns by someone else while "Watch until
    fixed" runs, and the root once the watch gave up.
    """
    report = Report.from_json(report_text_json)
    t = at.timestamp()
    state = _state(report, t)
    detail = [c for c in report.checks if c.status.value in _DETAIL]
    running = _state(report, t, report.checks[: len(report.checks) // 2])
    payloads: dict[str, Any] = {
        "root": _message(report_blocks(state, ttl=TTL), report_text(state)),
        "root_compact": report_blocks(state, ttl=TTL, compact=True),
        "root_expanded": report_blocks(_expanded(report, t), ttl=TTL),
        "root_running": _message(report_blocks(running, ttl=TTL), report_text(running)),
        "replies": [_message(reply_blocks(state, [c]), reply_text([c])) for c in detail],
        "commands": {c.id: commands_blocks(state, c, RERUN_BY) for c in report.checks},
        "standalone": _message(standalone_blocks(state), report_text(state)),
    }
    if len(detail) > 1:
        payloads["replies_grouped"] = _message(reply_blocks(state, detail), reply_text(detail))
    if not followups:
        return payloads

    # After a rerun: the focus check (the likely cause, else the first) reran by someone else,
    # everything reran, a watch running; then the same report once the watch gave up.
    focus = report.check(report.verdict.likely_cause or "") or report.checks[0]
    after = _state(report, t)
    after.notes[focus.id] = Note(RERUN_BY, t + 120, focus.status, focus.status)
    after.rerun_all = Note(RERUN_BY, t + 180, Status.FAIL, report.verdict.status)
    after.watch = Watch(by=RERUN_BY, started=t + 200, until=t + 3800, interval=60.0, runs=2)
    payloads["after_rerun"] = {
        "root": report_blocks(after, ttl=TTL),
        "reply": reply_blocks(after, [focus]),
    }
    after.watch = Watch(
        by=RERUN_BY, started=t + 200, until=t + 3800, interval=60.0, runs=60, outcome="gave-up"
    )
    payloads["after_watch"] = report_blocks(after, ttl=TTL)
    return payloads
