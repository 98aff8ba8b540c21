"""Job envelopes and the pool interface shared by the CLI, the worker pool and the Slack app.

JSON only, never pickle: the queue is shared between processes and machines. No Slack or Redis
imports here; `cf502.pool.queue.client` (Redis Streams) and `cf502.pool.local` (in-process)
implement `Pool`, and tell a `JobObserver` what their jobs do.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from cf502.errors import Cf502Error
from cf502.model import CheckResult, Report

__all__ = [
    "UNOBSERVED",
    "EventKind",
    "Job",
    "JobEvent",
    "JobKind",
    "JobObserver",
    "Pool",
    "RateLimited",
]


class RateLimited(Cf502Error):
    """Raised by `Pool.submit` when a user or channel is over its rate limit.

    Attributes (for renderers that word it their own way, e.g. a Slack mention):
        scope: "user" or "channel"; who: its id; limit: jobs per `window` seconds;
        retry_after: seconds until one more is allowed.
    """

    def __init__(
        self,
        message: str,
        *,
        scope: str = "",
        who: str = "",
        limit: int = 0,
        window: float = 0.0,
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.scope = scope
        self.who = who
        self.limit = limit
        self.window = window
        self.retry_after = retry_after


class JobKind(StrEnum):
    DIAGNOSE = "diagnose"  # a full diagnosis (or the `only` subset)
    RERUN = "rerun"  # rerun of checks of an earlier report (`only` names them)


@dataclass(frozen=True)
class Job:
    """One unit of work for the pool.

    Attributes:
        target: `Target.to_dict()` of the origin.
        origin: `OriginSettings.to_dict()`: the CloudFront settings to reproduce.
        only: check ids to run (empty: all).
        allow_private: the requester's safety wish; a worker only honours it when its own operator
            allows private targets (None: no wish, use the worker's setting).
        requested_by: free-form context (user, channel, thread) for logs and replies.
        parent_job: for reruns, the job whose report is being rechecked.
    """

    kind: JobKind
    target: dict[str, Any]
    origin: dict[str, Any]
    only: tuple[str, ...] = ()
    allow_private: bool | None = None
    requested_by: dict[str, str] = field(default_factory=dict)
    parent_job: str | None = None
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def dedupe_key(self) -> str:
        """Identical requests (same target, settings, checks, safety wish) share this key."""
        ident = {
            "kind": self.kind.value,
            "target": self.target,
            "origin": self.origin,
            "only": sorted(self.only),
            "allow_private": self.allow_private,
        }
        blob = json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind.value,
            "target": self.target,
            "origin": self.origin,
            "only": list(self.only),
            "allow_private": self.allow_private,
            "requested_by": dict(self.requested_by),
            "parent_job": self.parent_job,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        allow = d.get("allow_private")
        parent = d.get("parent_job")
        return cls(
            job_id=str(d["job_id"]),
            kind=JobKind(d["kind"]),
            target=dict(d["target"]),
            origin=dict(d["origin"]),
            only=tuple(str(c) for c in d.get("only", ())),
            allow_private=bool(allow) if allow is not None else None,
            requested_by={str(k): str(v) for k, v in dict(d.get("requested_by", {})).items()},
            parent_job=str(parent) if parent is not None else None,
        )


class EventKind(StrEnum):
    CHECK = "check"  # one check finished (progress)
    DONE = "done"  # the report is complete
    FAILED = "failed"  # the job could not produce a report (refused target, deadline, crash)


@dataclass(frozen=True)
class JobEvent:
    """Progress or completion of a job, as published by the worker."""

    job_id: str
    kind: EventKind
    check: CheckResult | None = None
    report: Report | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind.value,
            "check": self.check.to_dict() if self.check else None,
            "report": self.report.to_dict() if self.report else None,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobEvent:
        check = d.get("check")
        report = d.get("report")
        error = d.get("error")
        return cls(
            job_id=str(d["job_id"]),
            kind=EventKind(d["kind"]),
            check=CheckResult.from_dict(check) if check else None,
            report=Report.from_dict(report) if report else None,
            error=str(error) if error is not None else None,
        )


class Pool(Protocol):
    """Where diagnoses run: Redis-backed workers (`cf502.pool.queue.client`) or in-process (`cf502.pool.local`)."""

    async def submit(self, job: Job) -> str:
        """Queue `job`; returns the id that will carry its events (an identical job submitted a
        moment earlier is coalesced: its id is returned). Raises RateLimited or QueueError."""
        ...

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Progress events of the job, ending with one DONE or FAILED event."""
        ...

    async def result(self, job_id: str, timeout: float) -> JobEvent | None:
        """The DONE/FAILED event of a finished job (kept for a TTL), waiting up to `timeout`."""
        ...

    async def close(self) -> None: ...


class JobObserver(Protocol):
    """What the pools and the worker report about their jobs as they go.

    `cf502.ops.metrics.JOB_METRICS` counts them for Prometheus; the process that serves /metrics
    passes it in, so the pool layer needs no metrics library (`cf502 check --redis-url` has none).
    """

    def queued(self, kind: str) -> None:
        """A new job was queued (a coalesced duplicate is not)."""

    def running(self, kind: str) -> AbstractContextManager[None]:
        """Wraps one run of a job: counted as done at the end unless `failed` was called inside,
        or it raised."""
        ...

    def ended(self, kind: str, event: JobEvent) -> None:
        """Inside `running`: the job's final event (its report, or why it had none)."""

    def failed(self, kind: str, reason: str) -> None:
        """The job ended without a report (reason: a short word such as "crash")."""


class _Unobserved:
    """A `JobObserver` that records nothing (tests, the CLI)."""

    def queued(self, kind: str) -> None:
        pass

    def running(self, kind: str) -> AbstractContextManager[None]:
        return nullcontext()

    def ended(self, kind: str, event: JobEvent) -> None:
        pass

    def failed(self, kind: str, reason: str) -> None:
        pass


UNOBSERVED: JobObserver = _Unobserved()
