"""`aws.edge_functions`: the Lambda@Edge and CloudFront Functions on the behavior, and their recent
errors from CloudWatch metrics and logs. Pure.

Errors of a function make CloudFront answer 502 (LambdaExecutionError, LambdaValidationError, a
CloudFront Function's execution error) or 503 (throttling), whatever the origin does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cf502.aws.config import EdgeFunction
from cf502.aws.judge._result import cannot_see, make
from cf502.model import CheckResult, Status

__all__ = ["ERROR_METRICS", "EdgeReading", "LogLine", "judge_edge_functions"]

ID = "aws.edge_functions"
# AWS/CloudFront error metrics: Lambda@Edge (DistributionId dimension) and CloudFront Functions
# (FunctionName dimension), with the access-log result type each one means.
ERROR_METRICS = {
    "LambdaExecutionError": "LambdaExecutionError",
    "LambdaValidationError": "LambdaValidationError",
    "LambdaLimitExceededErrors": "LambdaLimitExceeded",
    "FunctionExecutionErrors": "FunctionExecutionError",
    "FunctionValidationErrors": "FunctionValidationError",
    "FunctionThrottles": "FunctionThrottles",
}
_STATUS = {"LambdaLimitExceeded": 503, "FunctionThrottles": 503}
SHOWN_LINES = 5


@dataclass(frozen=True)
class LogLine:
    """One error line from a function's log group."""

    region: str
    group: str
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class EdgeReading:
    """What was read about the behavior's functions over the last `minutes`.

    Attributes:
        errors: metric name -> sum over the window (only the error metrics that were read).
        lines: the latest error lines, newest first.
        regions: the Regions whose log groups were searched.
        groups_read: how many log group searches answered (a group that does not exist counts).
        unreadable: Regions or groups that could not be read, with the reason.
        denied: the IAM actions refused.
        commands: the equivalent `aws` command lines.
    """

    functions: tuple[EdgeFunction, ...]
    minutes: int
    errors: dict[str, float]
    lines: tuple[LogLine, ...] = ()
    regions: tuple[str, ...] = ()
    groups_read: int = 0
    unreadable: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()


def _names(functions: Sequence[EdgeFunction]) -> str:
    return ", ".join(
        f"{f.name}{':' + f.version if f.version else ''} ({'Lambda@Edge' if f.runtime == 'lambda' else 'CloudFront Function'}, {f.event_type})"
        for f in functions
    )


def judge_edge_functions(reading: EdgeReading) -> CheckResult:
    r = reading
    if not r.functions:
        return make(ID, Status.PASS, "No Lambda@Edge or CloudFront Functions run on this behavior.")
    read_anything = bool(r.errors) or r.groups_read > 0
    if not read_anything and r.denied:
        return cannot_see(ID, r.denied, r.commands)
    evidence: list[tuple[str, object]] = [("functions", _names(r.functions))]
    evidence += [(f"{name} ({r.minutes} min)", f"{value:g}") for name, value in r.errors.items()]
    evidence += [
        (f"log {line.region} {line.group}", line.message[:300]) for line in r.lines[:SHOWN_LINES]
    ]
    if r.regions:
        evidence.append(("Regions searched", ", ".join(r.regions)))
    evidence += [("not read", u) for u in r.unreadable]
    evidence += [("denied", a) for a in r.denied]
    failing = {name: v for name, v in r.errors.items() if v > 0}
    if failing or r.lines:
        worst = max(failing, key=lambda n: failing[n]) if failing else None
        result_type = ERROR_METRICS.get(worst, "LambdaExecutionError") if worst else None
        if result_type is None:
            validation = any("/aws/cloudfront/LambdaEdge/" in ln.group for ln in r.lines)
            result_type = "LambdaValidationError" if validation else "LambdaExecutionError"
        counts = ", ".join(f"{v:g} {n}" for n, v in failing.items())
        latest = r.lines[0].message.strip().splitlines()[0][:160] if r.lines else ""
        summary = f"Edge function errors in the last {r.minutes} min"
        summary += f": {counts}" if counts else f": {len(r.lines)} error lines in the logs"
        summary += f"; latest: {latest}" if latest else ""
        return make(
            ID,
            Status.FAIL,
            summary + ".",
            evidence=evidence,
            remediation=(
                "Fix the function (its latest errors are above) or roll the behavior back to the "
                "previous function version; CloudFront answers 502 for every request whose "
                "function fails, whatever the origin does."
            ),
            commands=r.commands,
            cloudfront_status=_STATUS.get(result_type, 502),
            cloudfront_error=result_type,
        )
    read = (["metrics"] if r.errors else []) + (
        [f"logs in {len(r.regions)} Regions"] if r.groups_read else []
    )
    what = " and ".join(read)
    status = Status.PASS
    summary = f"{_names(r.functions)}: no errors in the last {r.minutes} min ({what})."
    if r.denied:
        summary = summary[:-1] + f"; could not read {', '.join(sorted(set(r.denied)))}."
    return make(ID, status, summary, evidence=evidence, commands=r.commands)
