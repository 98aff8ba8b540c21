"""`cf502 check --redis-url URL`: run the diagnosis on the worker pool and wait for its report.

Useful to check an origin from the workers' network position. The job carries only the CloudFront
origin settings; the workers' own safety settings apply, so the operator-only options (resolver,
CA file, DNS port/timeout) cannot be sent, and `--allow-private` is only a request that a worker
not configured for it refuses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import aclosing

from cf502.config import OriginSettings
from cf502.errors import QueueError
from cf502.jobs import EventKind, Job, JobKind
from cf502.model import CheckResult, Report
from cf502.options import UsageError
from cf502.queue import QueueConfig, RedisPool
from cf502.target import Target

__all__ = ["job_from_args", "remote_check", "wait_for_report"]

_WORKER_ONLY = ("resolver", "ca_file", "dns_port", "dns_timeout")


def job_from_args(args: argparse.Namespace, target: Target, origin: OriginSettings) -> Job:
    """The job `cf502 check --redis-url` submits; refuses the operator-only options."""
    for name in _WORKER_ONLY:
        if getattr(args, name, None) is not None:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} is a worker setting: with --redis-url the workers' own settings apply."
            )
    return Job(
        JobKind.DIAGNOSE,
        target=target.to_dict(),
        origin=origin.to_dict(),
        only=tuple(args.only or ()),
        allow_private=True if getattr(args, "allow_private", None) else None,
        requested_by={"via": "cli"},
    )


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
