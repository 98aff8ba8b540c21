"""The full report as files for its thread: the terminal text (every check, all its evidence and
commands) and the JSON of `cf502 check --json`, so nothing Slack's size limits cut is lost. Pure."""

from __future__ import annotations

import datetime as dt
import re

from bot.poster import Upload
from bot.state import ReportState
from cf502.model import Report
from cf502.render.json_output import report_json
from cf502.render.text import report_text
from cf502.verdict import decide

__all__ = ["as_report", "report_files"]

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def as_report(state: ReportState) -> Report:
    """The report a finished state holds, as the engine would have returned it."""
    results = tuple(state.ordered_results)
    return Report(
        target=dict(state.target),
        settings=state.origin.to_dict(),
        checks=results,
        verdict=state.verdict
        if state.distribution is not None and state.verdict is not None
        else decide(results, only=state.only),
        duration_ms=state.duration_ms or 0,
        started_at=dt.datetime.fromtimestamp(state.requested_at, dt.UTC).isoformat(),
        addresses=state.addresses,
        cloudfront=state.cloudfront,
        distribution=state.distribution,
        origins=state.origins,
    )


def report_files(state: ReportState) -> list[Upload]:
    """`cf502-HOST-TIME.txt` and `.json` for a finished report."""
    report = as_report(state)
    stamp = dt.datetime.fromtimestamp(state.requested_at, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"cf502-{_UNSAFE.sub('_', state.target_host)[:80]}-{stamp}"
    return [
        Upload(f"{base}.txt", report_text(report, verbose=True, width=100) + "\n", "Full report"),
        Upload(f"{base}.json", report_json(report) + "\n", "Full report (JSON)"),
    ]
