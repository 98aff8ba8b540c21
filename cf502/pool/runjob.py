"""Run one Job under the operator's EngineSettings and turn it into events.

The single job function shared by the Redis worker (`cf502.worker`) and the in-process pool
(`cf502.pool`). The job brings the CloudFront origin settings; the operator's EngineSettings decide
safety: the job's settings are validated (`OriginSettings.from_dict`), its timeouts clamped
(`EngineSettings.bound`), and a wish for looser safety than the operator's is refused
(`EngineSettings.restrict`). Every refusal or timeout ends as one FAILED event with a readable
message; only a bug escapes as an exception (the worker retries, then dead-letters it).

A job may ask to be diagnosed through its distribution (`wants_aws`); with the operator's read-only
AWS access on (`AwsSettings`), its site's name is then looked up as a CloudFront distribution's
and, when one serves it, diagnosed origin by origin with its configuration's settings
(`cf502.aws.diagnose`). The job never carries credentials, roles or endpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cf502.deadlines import Deadlines
from cf502.engine import diagnose, selection
from cf502.errors import Cf502Error, InvalidSetting, InvalidTarget
from cf502.model import CheckResult, Report
from cf502.pool.jobs import EventKind, Job, JobEvent, JobKind
from cf502.settings import AwsSettings, EngineSettings, OriginSettings
from cf502.settings.aws import JOB_REQUEST
from cf502.target import Target, check_port, normalise_hostname

__all__ = ["Publish", "RunJob", "job_deadline", "prepare", "run_job", "wants_aws"]

Publish = Callable[[JobEvent], Awaitable[None]]
RunJob = Callable[..., Awaitable[JobEvent]]
"""`run_job`'s shape: (job, engine, *, publish=None, deadline=None, aws=None) -> terminal JobEvent."""


def job_deadline(origin: OriginSettings, engine: EngineSettings, cap: float | None = None) -> float:
    """Seconds a whole diagnosis may take before it is stopped and reported as timed out.

    Checks run concurrently but wait for their prerequisites, and each is bounded by the engine's
    per-check deadline; two of those cover DNS + connect + handshake + response chains with room to
    spare. `cap` is the operator's upper bound (`--job-timeout`).
    """
    bound = Deadlines.of(origin, engine).diagnosis
    return min(bound, cap) if cap is not None else bound


def _target(job: Job) -> Target:
    try:
        target = Target.from_dict(job.target)
        host = normalise_hostname(target.host)
        if target.port is not None:
            check_port(target.port)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidTarget(f"the job's target is malformed ({type(exc).__name__}).") from None
    if host != target.host:
        raise InvalidTarget(f"the job's target host {target.host!r} is not in normal form.")
    return target


def prepare(job: Job, engine: EngineSettings) -> tuple[Target, OriginSettings, EngineSettings]:
    """Validate a job against the operator's settings: (target, bounded origin, effective engine).

    Raises a Cf502Error (InvalidTarget, InvalidSetting, TargetNotAllowed) with a one-line reason.
    """
    if job.kind is JobKind.RERUN and not job.only:
        raise InvalidSetting("a rerun must name the checks to rerun.")
    target = _target(job)
    origin = engine.bound(OriginSettings.from_dict(job.origin))
    effective = engine.restrict(allow_private=job.allow_private)
    selection(job.only, origin)  # unknown check ids are refused before any connection
    return target, origin, effective


def _failed(job: Job, message: str) -> JobEvent:
    return JobEvent(job.job_id, EventKind.FAILED, error=message)


def wants_aws(job: Job) -> bool:
    """A site's job asking for AWS (`--origin` jobs name their origin: never redirected)."""
    asked = job.requested_by.get(JOB_REQUEST[0]) == JOB_REQUEST[1]
    return asked and job.kind is JobKind.DIAGNOSE and not job.origin.get("cloudfront_domain")


async def _through_aws(
    job: Job,
    target: Target,
    origin: OriginSettings,
    engine: EngineSettings,
    aws: AwsSettings,
    on_result: Callable[[CheckResult], Awaitable[None]],
) -> Report | None:
    """The site's report through its distribution, or None when AWS finds none (or cannot be
    asked): then the name is diagnosed as given."""
    from cf502.aws.diagnose import diagnose_distribution
    from cf502.aws.read.distribution import NotInAccount
    from cf502.aws.session import AwsFailed, Denied

    try:
        return await diagnose_distribution(
            target.host, path=origin.path, engine=engine, aws=aws, target=target,
            only=job.only or None, on_result=on_result,
        )  # fmt: skip
    except (NotInAccount, Denied, AwsFailed):
        return None


async def run_job(
    job: Job,
    engine: EngineSettings,
    *,
    publish: Publish | None = None,
    deadline: float | None = None,
    aws: AwsSettings | None = None,
) -> JobEvent:
    """Diagnose `job`'s target, publishing one CHECK event per finished check; returns the DONE
    or FAILED event (not published: the caller stores it together with the job's completion).

    `deadline` caps the whole diagnosis (default: `job_deadline`). `aws`: the operator's AWS
    access; when on, a job that asks for it is diagnosed through its distribution.
    """
    try:
        target, origin, effective = prepare(job, engine)
    except Cf502Error as exc:
        return _failed(job, str(exc))
    limit = job_deadline(origin, effective, deadline)

    async def on_result(res: CheckResult) -> None:
        if publish is not None:
            await publish(JobEvent(job.job_id, EventKind.CHECK, check=res))

    try:
        async with asyncio.timeout(limit) as scope:
            report = None
            if aws is not None and aws.enabled and wants_aws(job):
                report = await _through_aws(job, target, origin, effective, aws, on_result)
            if report is None:
                report = await diagnose(
                    target, origin, effective, only=job.only or None, on_result=on_result
                )
    except TimeoutError:
        if not scope.expired():
            raise
        return _failed(
            job,
            f"The diagnosis of {target.host} did not finish within {limit:g} s "
            "(the job's deadline) and was stopped.",
        )
    except Cf502Error as exc:
        return _failed(job, str(exc))
    return JobEvent(job.job_id, EventKind.DONE, report=report)
