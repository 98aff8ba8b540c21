"""`cf502 check --redis-url URL`: run the diagnosis on the worker pool and wait for its report.

Useful to check an origin from the workers' network position. The job carries only the CloudFront
origin settings; the workers' own safety settings apply, so the operator-only options (resolver,
CA file, DNS port/timeout) cannot be sent, and `--allow-private` is only a request that a worker
not configured for it refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

from cf502.errors import QueueError
from cf502.jobs import EventKind, Job
from cf502.model import CheckResult, Report
from cf502.queue import QueueConfig, RedisPool

__all__ = ["remote_check", "wait_for_report"]


async def wait_for_report(
    pool: RedisPool, job_id: str, on_result: Callable[[CheckResult], object] | None = None
) -> Report:
    """Follow the job's events to its report; a FAILED job raises QueueError with its reason."""
    async with aclosing(pool.events(job_id)) as events:
        async for event in events:
            if event.kind is EventKind.CHECK and event.check is not None:
                if on_result is not None:
                    on_result(event.check)
            elif event.kind is EventKind.DONE and event.report is not None:
                return event.report
            elif event.kind is not EventKind.CHECK:
                raise QueueError(event.error or "the worker could not diagnose the origin.")
    raise QueueError(f"job {job_id} ended without a report.")


async def remote_check(
    url: str,
    job: Job,
    on_result: Callable[[CheckResult], object] | None = None,
    config: QueueConfig | None = None,
) -> Report:
    """Submit `job` to the pool at `url` and return the report a worker produced."""
    pool = RedisPool(url, config)
    try:
        job_id = await pool.submit(job)
        return await wait_for_report(pool, job_id, on_result)
    finally:
        await pool.close()
