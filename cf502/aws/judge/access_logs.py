"""`aws.access_logs`: recent 502/504 in the distribution's standard logs, counted by
`x-edge-detailed-result-type` and explained as `cf502 decode` explains them. Pure.

Standard logs arrive up to an hour late, so they tell what happened in the last hours, not now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cf502.aws.judge._result import make
from cf502.cloudfront_errors import cause_for
from cf502.decode.logline import LogRecord
from cf502.model import CheckResult, Status

__all__ = ["LogReading", "judge_access_logs"]

ID = "aws.access_logs"
SHOWN_IDS = 5


@dataclass(frozen=True)
class LogReading:
    """The 5xx records found in the logs of the last `hours`.

    Attributes:
        where: the destination read ("s3://bucket/prefix", "CloudWatch Logs group …"), or None
            when standard logging is off.
        files: how many log files (or log events) were read; `truncated`: the reading stopped
            at its bound.
        records: the records with status 502 or 504.
        unreadable: a destination cf502 cannot read back (e.g. Firehose), with why.
    """

    where: str | None
    hours: int
    files: int = 0
    records: tuple[LogRecord, ...] = ()
    truncated: bool = False
    unreadable: str | None = None
    commands: tuple[str, ...] = ()


def judge_access_logs(reading: LogReading) -> CheckResult:
    r = reading
    if r.where is None:
        return make(
            ID,
            Status.SKIP,
            "Standard logging is off for this distribution: no access logs to read.",
            remediation="Turn on standard logging to see each failed request's result type.",
            applies=False,
        )
    if r.unreadable:
        return make(
            ID, Status.SKIP, f"Access logs go to {r.where}: {r.unreadable}.", commands=r.commands
        )
    evidence: list[tuple[str, object]] = [
        (
            "logs",
            f"{r.where}, last {r.hours} h, {r.files} read"
            + (" (stopped at the bound)" if r.truncated else ""),
        ),
    ]
    by_type = Counter(rec.result_type or "unknown" for rec in r.records)
    by_status = Counter(rec.status for rec in r.records)
    for result_type, count in by_type.most_common():
        cause = cause_for(result_type)
        evidence.append(
            (f"{result_type} ×{count}", cause.cause if cause else "not a documented result type")
        )
    ids = [rec.get("x-edge-request-id") for rec in r.records if rec.get("x-edge-request-id")]
    evidence += [("request id", i) for i in ids[:SHOWN_IDS]]
    if not r.records:
        return make(
            ID,
            Status.PASS,
            f"No 502 or 504 in the access logs of the last {r.hours} h ({r.files} read; logs "
            "arrive up to an hour late).",
            evidence=evidence,
            commands=r.commands,
        )
    top, count = by_type.most_common(1)[0]
    cause = cause_for(top)
    statuses = ", ".join(f"{n} × {s}" for s, n in sorted(by_status.items(), key=lambda kv: -kv[1]))
    return make(
        ID,
        Status.FAIL,
        f"{len(r.records)} requests failed in the last {r.hours} h ({statuses}); most often "
        f"{top} ({count}).",
        evidence=evidence,
        commands=r.commands,
        remediation=(
            cause.next_step
            if cause and cause.next_step
            else "Explain a logged line with cf502 decode, then run the checks it names."
        ),
        cloudfront_status=(
            cause.status
            if cause and cause.status in (502, 503, 504)
            else max(by_status, key=lambda s: by_status[s] or 0) or None
        ),
        cloudfront_error=top if cause else None,
    )
