"""Reading the behavior's edge functions' recent errors: CloudWatch metrics (us-east-1) and log
lines from the Regions where Lambda@Edge ran.

Lambda@Edge writes to `/aws/lambda/us-east-1.<name>` in each Region where it ran, and CloudFront
writes validation errors to `/aws/cloudfront/LambdaEdge/<distribution id>` there; CloudFront
Functions log to `/aws/cloudfront/function/<name>` in us-east-1. No API lists the Regions, so every
Region enabled in the account (or the operator's list) is searched at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from cf502.aws.config import Behavior, Distribution, EdgeFunction
from cf502.aws.judge.edge_functions import ERROR_METRICS, EdgeReading, LogLine
from cf502.aws.read._fanout import fan_out
from cf502.aws.read._metrics import metric_data
from cf502.aws.session import Account, AwsFailed, Denied, NotFound, call
from cf502.shell import sh

__all__ = ["ERROR_PATTERN", "read_edge", "regions_of"]

# CloudWatch Logs filter syntax: any of these terms. The lines are filtered again here, so a log
# service that matches more (or an emulator) changes nothing.
ERROR_PATTERN = '?ERROR ?Error ?Exception ?"Task timed out"'
_ERROR_LINE = re.compile(r"error|exception|task timed out", re.IGNORECASE)
MAX_LINES = 20
MAX_REGIONS = 40


def regions_of(account: Account, configured: tuple[str, ...]) -> tuple[str, ...]:
    """The operator's Regions, else every Region enabled in the account (us-east-1 first)."""
    if configured:
        return configured
    answer = call(account.client("ec2"), "describe_regions")
    names = sorted(
        str(r.get("RegionName")) for r in answer.get("Regions", []) if r.get("RegionName")
    )
    ordered = ["us-east-1", *[n for n in names if n != "us-east-1"]]
    return tuple(ordered[:MAX_REGIONS])


def _lines(
    account: Account, region: str, group: str, start_ms: int, pattern: str | None
) -> list[LogLine]:
    params: dict[str, object] = {"logGroupName": group, "startTime": start_ms, "limit": 50}
    if pattern:
        params["filterPattern"] = pattern
    try:
        answer = call(account.client("logs", region), "filter_log_events", **params)
    except NotFound:
        return []  # the function never ran in this Region
    return [
        LogLine(region, group, int(e.get("timestamp", 0)), str(e.get("message", "")))
        for e in answer.get("events", []) or []
        if pattern is None or _ERROR_LINE.search(str(e.get("message", "")))
    ]


def _metric_queries(
    distribution: Distribution, functions: tuple[EdgeFunction, ...]
) -> list[tuple[str, str, dict[str, str], str]]:
    queries = []
    if any(f.runtime == "lambda" for f in functions):
        dims = {"DistributionId": distribution.id, "Region": "Global"}
        queries += [(n, n, dims, "Sum") for n in ERROR_METRICS if n.startswith("Lambda")]
    for f in functions:
        if f.runtime == "cloudfront":
            dims = {"FunctionName": f.name, "Region": "Global"}
            queries += [
                (f"{n} {f.name}", n, dims, "Sum") for n in ERROR_METRICS if n.startswith("Function")
            ]
    return queries


def _log_groups(
    distribution: Distribution, functions: tuple[EdgeFunction, ...], regions: tuple[str, ...]
) -> list[tuple[str, str, str | None]]:
    """(Region, log group, filter pattern) to search; no pattern: every line is an error."""
    found: list[tuple[str, str, str | None]] = []
    lambdas = [f for f in functions if f.runtime == "lambda"]
    for region in regions if lambdas else ():
        found += [(region, f"/aws/lambda/us-east-1.{f.name}", ERROR_PATTERN) for f in lambdas]
        found.append((region, f"/aws/cloudfront/LambdaEdge/{distribution.id}", None))
    found += [
        ("us-east-1", f"/aws/cloudfront/function/{f.name}", ERROR_PATTERN)
        for f in functions
        if f.runtime == "cloudfront"
    ]
    return found


def read_edge(
    account: Account,
    distribution: Distribution,
    behavior: Behavior,
    regions: tuple[str, ...],
    now: datetime,
    deadline: float,
    minutes: int = 60,
) -> EdgeReading:
    functions = behavior.functions
    if not functions:
        return EdgeReading((), minutes, {})
    denied: list[str] = []
    unreadable: list[str] = []
    errors: dict[str, float] = {}
    start_ms = int((now - timedelta(minutes=minutes)).timestamp() * 1000)
    try:
        queries = _metric_queries(distribution, functions)
        series = metric_data(account.client("cloudwatch"), queries, now, minutes)
        errors = {key: sum(v.values()) for key, v in series.items()}
    except Denied as exc:
        denied.append(exc.action)
    except AwsFailed as exc:
        unreadable.append(f"metrics: {exc}")
    searched: tuple[str, ...] = ()
    if any(f.runtime == "lambda" for f in functions):
        try:
            searched = regions_of(account, regions)
        except (Denied, AwsFailed) as exc:
            (denied if isinstance(exc, Denied) else unreadable).append(
                exc.action if isinstance(exc, Denied) else f"Regions: {exc}"
            )
            searched = regions or ("us-east-1",)
    groups = _log_groups(distribution, functions, searched)
    jobs: list[Callable[[], list[LogLine]]] = [
        partial(_lines, account, region, group, start_ms, pattern)
        for region, group, pattern in groups
    ]
    results, late = fan_out(jobs, deadline)
    lines: list[LogLine] = []
    answered = 0
    for outcome in results:
        if isinstance(outcome, Denied):
            denied.append(outcome.action)
        elif isinstance(outcome, BaseException):
            unreadable.append(str(outcome)[:200])
        else:
            answered += 1
            lines += outcome
    if late:
        unreadable.append(f"{late} log groups did not answer in time")
    lines.sort(key=lambda ln: ln.timestamp_ms, reverse=True)
    return EdgeReading(
        functions=functions,
        minutes=minutes,
        errors=errors,
        lines=tuple(lines[:MAX_LINES]),
        regions=tuple(dict.fromkeys(region for region, _, _ in groups)),
        groups_read=answered,
        unreadable=tuple(dict.fromkeys(unreadable)),
        denied=tuple(sorted(set(denied))),
        commands=_commands(distribution, functions, start_ms, now),
    )


def _commands(
    d: Distribution, functions: tuple[EdgeFunction, ...], start_ms: int, now: datetime
) -> tuple[str, ...]:
    out = []
    for f in functions:
        group = (
            f"/aws/lambda/us-east-1.{f.name}"
            if f.runtime == "lambda"
            else f"/aws/cloudfront/function/{f.name}"
        )
        out.append(
            sh(
                "aws",
                "logs",
                "filter-log-events",
                "--region",
                "us-east-1",
                "--log-group-name",
                group,
                "--start-time",
                start_ms,
                "--filter-pattern",
                ERROR_PATTERN,
            )
        )
    if any(f.runtime == "lambda" for f in functions):
        out.append(
            sh(
                "aws",
                "cloudwatch",
                "get-metric-statistics",
                "--region",
                "us-east-1",
                "--namespace",
                "AWS/CloudFront",
                "--metric-name",
                "LambdaExecutionError",
                "--dimensions",
                f"Name=DistributionId,Value={d.id}",
                "Name=Region,Value=Global",
                "--statistics",
                "Sum",
                "--period",
                "60",
                "--start-time",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_ms / 1000)),
                "--end-time",
                now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
    return tuple(out)
