"""Prometheus metrics: what the pool, the checks and the Slack app do, and how long it takes.

Series (all prefixed `cf502_`):

| series | type | labels |
|---|---|---|
| jobs_queued_total | counter | kind |
| jobs_running | gauge | |
| jobs_done_total / jobs_failed_total | counter | kind / kind, reason |
| check_results_total | counter | check, status |
| check_duration_seconds | histogram | check |
| diagnosis_duration_seconds | histogram | status (the verdict's) |
| slack_api_calls_total / slack_api_errors_total | counter | method / method, error |
| queue_depth, queue_oldest_pending_age_seconds | gauge | |

The default registry is used, so the process collector's `process_resident_memory_bytes` and
`process_cpu_seconds_total` come along. Queue gauges are refreshed at scrape time by an optional
async `refresh` callback (a Redis read), never by a background loop.

Served on the bot's own HTTP server (`add_metrics_route`) and, for workers and Socket Mode bots, on
a small port of their own (`start_metrics_server`, which also serves /healthz and /readyz).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from cf502.model import Report
from cf502.ops.health import ReadyCheck, add_health_routes
from cf502.pool.jobs import EventKind, JobEvent

__all__ = [
    "CHECK_DURATION",
    "CHECK_RESULTS",
    "DIAGNOSIS_DURATION",
    "JOBS_DONE",
    "JOBS_FAILED",
    "JOBS_QUEUED",
    "JOBS_RUNNING",
    "JOB_METRICS",
    "QUEUE_DEPTH",
    "QUEUE_OLDEST_AGE",
    "SLACK_API_CALLS",
    "SLACK_API_ERRORS",
    "JobMetrics",
    "MetricsServer",
    "QueueStats",
    "Refresh",
    "add_metrics_route",
    "failure_reason",
    "job_failed",
    "job_queued",
    "job_running",
    "metrics_handler",
    "observe_job_end",
    "observe_report",
    "record_slack_call",
    "set_queue_stats",
    "start_metrics_server",
]

log = logging.getLogger(__name__)

# Checks run from a few ms (DNS on a LAN) up to CloudFront's 180 s response-timeout ceiling.
_CHECK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 180)
_DIAGNOSIS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
_REFRESH_TIMEOUT = 1.0

JOBS_QUEUED = Counter("cf502_jobs_queued", "Jobs submitted to the pool.", ["kind"])
JOBS_RUNNING = Gauge("cf502_jobs_running", "Jobs this process is running now.")
JOBS_DONE = Counter("cf502_jobs_done", "Jobs that ended with a report.", ["kind"])
JOBS_FAILED = Counter(
    "cf502_jobs_failed",
    "Jobs that ended without a report (refused target, deadline, crash, dead-lettered).",
    ["kind", "reason"],
)
CHECK_RESULTS = Counter("cf502_check_results", "Check outcomes.", ["check", "status"])
CHECK_DURATION = Histogram(
    "cf502_check_duration_seconds", "Wall time of one check.", ["check"], buckets=_CHECK_BUCKETS
)
DIAGNOSIS_DURATION = Histogram(
    "cf502_diagnosis_duration_seconds",
    "Wall time of one diagnosis, by the verdict's status.",
    ["status"],
    buckets=_DIAGNOSIS_BUCKETS,
)
SLACK_API_CALLS = Counter("cf502_slack_api_calls", "Slack Web API calls made.", ["method"])
SLACK_API_ERRORS = Counter(
    "cf502_slack_api_errors", "Slack Web API calls that failed.", ["method", "error"]
)
QUEUE_DEPTH = Gauge("cf502_queue_depth", "Jobs waiting in the queue or not yet acknowledged.")
QUEUE_OLDEST_AGE = Gauge(
    "cf502_queue_oldest_pending_age_seconds",
    "Age of the oldest job not yet acknowledged (0 when the queue is empty).",
)

# Label values that come from outside (Slack error codes, method names) are squeezed into a small
# alphabet and length so a misbehaving peer cannot blow up the number of series.
_LABEL_RE = re.compile(r"[^a-zA-Z0-9_.]")


def _label(value: str, limit: int = 48) -> str:
    return _LABEL_RE.sub("_", value)[:limit] or "unknown"


def job_queued(kind: str) -> None:
    JOBS_QUEUED.labels(kind=_label(kind)).inc()


class _Outcome:
    """Set by `job_failed` so `job_running` does not also count the job as done."""

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed = False


_outcome: contextvars.ContextVar[_Outcome | None] = contextvars.ContextVar(
    "cf502_job_outcome", default=None
)


@contextmanager
def job_running(kind: str) -> Iterator[None]:
    """Count a job as running for the duration of the block, then as done.

    A job that ends without a report calls `job_failed` inside the block; one that raises counts as
    failed with reason "crash" ("cancelled" when it was cancelled).
    """
    JOBS_RUNNING.inc()
    marker = _Outcome()
    token = _outcome.set(marker)
    try:
        yield
    except BaseException as exc:
        if not marker.failed:
            # Cancelled: shutdown or taken over by another worker, and handed back; not a bug.
            reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else "crash"
            JOBS_FAILED.labels(kind=_label(kind), reason=reason).inc()
        raise
    else:
        if not marker.failed:
            JOBS_DONE.labels(kind=_label(kind)).inc()
    finally:
        JOBS_RUNNING.dec()
        _outcome.reset(token)


def job_failed(kind: str, reason: str) -> None:
    """Count a job that ended without a report (reason: a short word such as "refused")."""
    JOBS_FAILED.labels(kind=_label(kind), reason=_label(reason, 32)).inc()
    marker = _outcome.get()
    if marker is not None:
        marker.failed = True


def observe_report(report: Report) -> None:
    """Record every check's outcome and duration, and the diagnosis's duration."""
    for check in report.checks:
        CHECK_RESULTS.labels(check=_label(check.id), status=check.status.value).inc()
        CHECK_DURATION.labels(check=_label(check.id)).observe(check.duration_ms / 1000)
    DIAGNOSIS_DURATION.labels(status=report.verdict.status.value).observe(report.duration_ms / 1000)


def failure_reason(error: str) -> str:
    """A short, bounded reason label for a FAILED job's message."""
    low = error.lower()
    if "deadline" in low or "did not finish" in low:
        return "timeout"
    if "not configured to allow private" in low or "does not connect to it" in low:
        return "refused"
    if "stopped (shutting down)" in low:
        return "shutdown"
    if "cf502 failed while" in low:
        return "crash"
    return "invalid"


def observe_job_end(kind: str, event: JobEvent) -> None:
    """Record a job's final event inside `job_running`: its report, or why it had none."""
    if event.kind is EventKind.FAILED:
        job_failed(kind, failure_reason(event.error or ""))
    elif event.report is not None:
        observe_report(event.report)


class JobMetrics:
    """The pools' `JobObserver` that counts their jobs in the series above."""

    def queued(self, kind: str) -> None:
        job_queued(kind)

    def running(self, kind: str) -> AbstractContextManager[None]:
        return job_running(kind)

    def ended(self, kind: str, event: JobEvent) -> None:
        observe_job_end(kind, event)

    def failed(self, kind: str, reason: str) -> None:
        job_failed(kind, reason)


JOB_METRICS = JobMetrics()


def record_slack_call(method: str, error: str | None = None) -> None:
    """Count one Slack Web API call; `error` is Slack's error code or the exception's kind."""
    SLACK_API_CALLS.labels(method=_label(method)).inc()
    if error is not None:
        SLACK_API_ERRORS.labels(method=_label(method), error=_label(error, 40)).inc()


@dataclass(frozen=True)
class QueueStats:
    """The queue's backlog: jobs not yet acknowledged, and the oldest one's age in seconds."""

    depth: int
    oldest_age: float | None


Refresh = Callable[[], Awaitable[QueueStats | None]]


def set_queue_stats(stats: QueueStats) -> None:
    QUEUE_DEPTH.set(stats.depth)
    QUEUE_OLDEST_AGE.set(stats.oldest_age or 0.0)


async def _refresh(refresh: Refresh | None) -> None:
    if refresh is None:
        return
    try:
        async with asyncio.timeout(_REFRESH_TIMEOUT):
            stats = await refresh()
    except Exception as exc:  # a scrape must still answer when Redis does not
        log.warning("queue statistics unavailable for /metrics: %s", exc)
        return
    if stats is not None:
        set_queue_stats(stats)


def metrics_handler(
    refresh: Refresh | None = None, registry: CollectorRegistry = REGISTRY
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler serving the Prometheus text format."""

    async def handle(_request: web.Request) -> web.Response:
        await _refresh(refresh)
        # aiohttp refuses a charset inside content_type=, so the header is set whole.
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return handle


def add_metrics_route(app: web.Application, refresh: Refresh | None = None) -> None:
    """Add GET /metrics to an aiohttp application (the bot's HTTP-mode server)."""
    app.router.add_get("/metrics", metrics_handler(refresh))


@dataclass
class MetricsServer:
    """A running metrics/health server; `port` is the bound port (useful when asked for 0)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_metrics_server(
    port: int,
    host: str = "0.0.0.0",  # noqa: S104  (scraped from other hosts; put a NetworkPolicy in front)
    *,
    ready: ReadyCheck | None = None,
    refresh: Refresh | None = None,
) -> MetricsServer:
    """Serve /metrics, /healthz and /readyz on `host:port` in the running event loop."""
    app = web.Application()
    add_metrics_route(app, refresh)
    add_health_routes(app, ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    # Asked for port 0 (tests), the real port is the one the runner bound.
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return MetricsServer(runner, host, bound)
